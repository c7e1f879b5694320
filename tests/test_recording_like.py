"""benchmarks.recording_like: the room, the noise floor and the channels, each measured with
an independent estimate (Schroeder's backward integration, Welch's PSD, a plain delay)."""

import numpy as np
import pytest
from scipy import signal

from benchmarks import recording_like

SR = 8000


def _tone(seconds=2.0, f=220.0):
    t = np.arange(int(seconds * SR)) / SR
    return np.sin(2 * np.pi * f * t) * np.hanning(t.size)


def test_without_room_or_noise_the_channels_are_the_wave_and_its_delayed_copy():
    x = _tone()
    out = recording_like.as_recording(x, SR, wet=0.0, snr_db=None, delay_s=5 / SR, right_gain=0.5)
    assert out.shape == (x.size, 2) and out.dtype == np.float32
    left = x * recording_like.PEAK / np.max(np.abs(x))
    np.testing.assert_allclose(out[:, 0], left, atol=1e-6)
    np.testing.assert_allclose(out[5:, 1], 0.5 * left[:-5], atol=1e-6)
    assert not out[:5, 1].any()


def test_room_response_decays_60_db_in_rt60():
    """Schroeder's energy decay curve of the response, a straight line fitted from -5 to -25 dB,
    extrapolated to -60 dB: the reverberation time."""
    sr = 16000
    ir = recording_like.room_response(sr, np.random.default_rng(0), rt60_s=0.5)
    assert ir[0] == 0.0 and np.sum(ir**2) == pytest.approx(1.0)
    edc = 10 * np.log10(np.cumsum(ir[::-1] ** 2)[::-1] / np.sum(ir**2))
    fit = (edc <= -5) & (edc >= -25)
    slope = np.polyfit(np.arange(ir.size)[fit] / sr, edc[fit], 1)[0]  # dB per second
    assert -60.0 / slope == pytest.approx(0.5, rel=0.1)


def test_pink_noise_has_equal_power_per_octave_and_the_asked_snr():
    n = 2**17
    noise = recording_like.pink_noise(n, SR, np.random.default_rng(1))
    assert np.mean(noise**2) == pytest.approx(1.0)
    f, psd = signal.welch(noise, SR, nperseg=4096)
    octave = [np.sum(psd[(f >= lo) & (f < 2 * lo)]) for lo in (250.0, 500.0, 1000.0)]
    assert 10 * np.log10(max(octave) / min(octave)) < 1.0  # white noise would double per octave
    # the noise added is snr_db below the (dry) signal's power: the difference of two calls
    x = _tone(seconds=8.0)
    clean = recording_like.as_recording(x, SR, wet=0.0, snr_db=None).astype(np.float64)
    noisy = recording_like.as_recording(x, SR, wet=0.0, snr_db=20.0).astype(np.float64)
    c, y = clean[:, 0], noisy[:, 0]
    kept = c * (y @ c) / (c @ c)  # the signal in the noisy output (least squares: peaks differ)
    snr = 10 * np.log10(np.mean(kept**2) / np.mean((y - kept) ** 2))
    assert snr == pytest.approx(20.0, abs=0.5)


def test_the_room_spreads_a_click_over_the_reverberation_time():
    x = np.zeros(SR)
    x[100] = 1.0
    out = recording_like.as_recording(x, SR, wet=0.5, snr_db=None, rt60_s=0.3)[:, 0]
    out = out.astype(np.float64)
    tail = out[101:]
    energy_after = np.cumsum(tail[::-1] ** 2)[::-1]
    # Schroeder's curve of a response that ends at rt60: halfway, 10^-3 - 10^-6 of the energy
    # is left, about -30 dB (within 6 dB: one noise draw); at rt60 nothing is
    level = 10 * np.log10(energy_after[int(0.15 * SR)] / energy_after[0])
    assert -36.0 < level < -24.0
    assert np.max(np.abs(tail[int(0.3 * SR) :])) < 1e-12  # FFT convolution round-off only
    assert np.argmax(np.abs(out)) == 100  # the direct sound stays the loudest sample


def test_dry_and_reverberant_parts_are_mixed_at_equal_rms_times_the_wet_share():
    x = _tone(seconds=1.0, f=110.0)
    out = recording_like.as_recording(x, SR, seed=3, wet=0.25, snr_db=None)[:, 0].astype(np.float64)
    reverb = signal.fftconvolve(x, recording_like.room_response(SR, np.random.default_rng(3)))[: x.size]
    (a, b), *_ = np.linalg.lstsq(np.stack([x, reverb], axis=1), out, rcond=None)
    dry_part, wet_part = np.sqrt(np.mean((a * x) ** 2)), np.sqrt(np.mean((b * reverb) ** 2))
    assert wet_part / dry_part == pytest.approx(0.25 / 0.75, rel=1e-3)
