"""Tests for mst_jax.signals: shapes, peaks, positions and determinism of the test signals."""

import numpy as np
import pytest

from mst_jax import signals

SR = 22050  # Hz


def test_shapes_peaks_and_determinism():
    for wave in (
        signals.tone(440.0, duration_s=0.5, sr=SR),
        signals.chord([60, 64, 67], duration_s=0.5, sr=SR),
        signals.click_track(bpm=120.0, duration_s=2.0, sr=SR),
        signals.drum_pattern(bpm=120.0, duration_s=2.0, sr=SR),
    ):
        assert wave.dtype == np.float32 and wave.ndim == 1
        assert np.max(np.abs(wave)) <= 1.0
    assert signals.tone(100.0, duration_s=0.25, sr=SR).shape == (SR // 4,)
    a = signals.drum_pattern(duration_s=2.0, sr=SR, seed=3)
    np.testing.assert_array_equal(a, signals.drum_pattern(duration_s=2.0, sr=SR, seed=3))
    assert not np.array_equal(a, signals.drum_pattern(duration_s=2.0, sr=SR, seed=4))
    with pytest.raises(ValueError, match="pattern"):
        signals.drum_pattern(duration_s=1.0, pattern="waltz")


def test_click_track_positions():
    wave = signals.click_track(bpm=120.0, duration_s=2.0, sr=SR, offset_s=0.1)
    starts = np.flatnonzero((np.abs(wave) > 0.9) & (np.abs(np.roll(wave, 1)) < 0.01))
    np.testing.assert_array_equal(
        starts, [round(0.1 * SR), round(0.6 * SR), round(1.1 * SR), round(1.6 * SR)]
    )


def test_drum_pattern_kicks_on_the_grid():
    # "four": a kick on every beat; its 150 -> 50 Hz sweep dominates the low band.
    wave = signals.drum_pattern(bpm=120.0, duration_s=2.0, sr=SR, pattern="four")
    low = np.convolve(np.abs(wave), np.ones(64) / 64, mode="same")
    beats = [round(k * 0.5 * SR) for k in range(4)]
    assert all(low[b + 200] > 4 * low[b - 300] for b in beats[1:])  # onset at each beat


def test_tone_and_chord_spectral_peaks():
    def peak_hz(w):
        spec = np.abs(np.fft.rfft(w * np.hanning(len(w))))
        return np.fft.rfftfreq(len(w), 1 / SR)[np.argmax(spec)]

    assert peak_hz(signals.tone(523.25, duration_s=1.0, sr=SR)) == pytest.approx(523.25, abs=1.0)
    # A single chord note: the fundamental is the largest of its three harmonics.
    assert peak_hz(signals.chord([69], duration_s=1.0, sr=SR)) == pytest.approx(440.0, abs=1.0)


def test_tone_is_a_sine_with_5_ms_linear_fades_by_hand():
    sr, n = 8000, 800
    t = np.arange(n) / sr
    m = int(0.005 * sr)  # 40 samples of fade at each end
    env = np.ones(n)
    env[:m] = np.arange(m) / m
    env[n - m:] = np.arange(m)[::-1] / m
    hand = 0.5 * np.sin(2 * np.pi * 440.0 * t) * env
    np.testing.assert_allclose(signals.tone(440.0, duration_s=0.1, sr=sr), hand, atol=1e-6)
    # A tone shorter than two fades fades over half its length each way.
    short = signals.tone(440.0, duration_s=0.004, sr=sr)  # 32 samples
    assert short.shape == (32,) and short[0] == 0.0 and abs(short[-1]) < 0.1


def test_amplitude_is_at_most_one():
    assert np.abs(signals.tone(440.0, duration_s=0.1, sr=SR, amplitude=3.0)).max() <= 1.0
    peak = np.abs(signals.chord([60, 64], duration_s=0.1, sr=SR, amplitude=3.0)).max()
    assert peak == pytest.approx(1.0, abs=1e-6)


def test_chord_note_has_harmonics_1_2_3_at_1_half_quarter_and_none_above_nyquist():
    def spectrum(w):
        return np.abs(np.fft.rfft(w)), np.fft.rfftfreq(len(w), 1 / SR)

    mag, freqs = spectrum(signals.chord([57], duration_s=1.0, sr=SR))  # A3, 220 Hz
    at = lambda hz: mag[np.argmin(np.abs(freqs - hz))]  # noqa: E731  (1 Hz bins)
    np.testing.assert_allclose([at(440) / at(220), at(660) / at(220)], [0.5, 0.25], rtol=0.02)
    assert at(880) < 0.01 * at(220)
    # MIDI 117 (7040 Hz): its 2nd and 3rd harmonics lie above 11025 Hz and are left out
    # rather than folded back (they would alias to 7970 and 930 Hz).
    mag, freqs = spectrum(signals.chord([117], duration_s=1.0, sr=SR))
    assert mag[np.argmin(np.abs(freqs - 7970))] < 0.01 * mag.max()
    assert mag[np.argmin(np.abs(freqs - 930))] < 0.01 * mag.max()


def test_click_lasts_six_time_constants():
    wave = signals.click_track(bpm=60.0, duration_s=1.0, sr=SR, decay_s=0.01)
    last = np.flatnonzero(np.abs(wave) > 0)[-1]
    assert last == int(6 * 0.01 * SR) - 1
    assert np.abs(wave[last - 20:last]).max() < np.exp(-5.5)  # decayed to e^-6 by then


@pytest.mark.parametrize("pattern,grid", [
    ("rock", {36: (0, 4), 38: (2, 6), 42: tuple(range(8))}),
    ("four", {36: (0, 2, 4, 6), 42: (1, 3, 5, 7)}),
    ("half", {36: (0,), 38: (4,), 42: (0, 2, 4, 6)}),
])
def test_drum_pattern_is_its_documented_grid(pattern, grid):
    """The docstring's grid written out (GM kick 36, snare 38, closed hat 42, eighth notes of
    a 4/4 bar), each hit drawn in step order and cut at the end; 1.83 s at 100 bpm ends
    inside step 6's hit."""
    from mst_jax.additive import drum_hit

    sr, bpm, seconds = 8000, 100.0, 1.83
    n = round(seconds * sr)
    rng = np.random.default_rng(5)
    hand = np.zeros(n)
    eighth = 60.0 / bpm / 2
    for step in range(int(np.ceil(seconds / eighth))):
        for drum, velocity in ((36, 120), (38, 110), (42, 70)):
            if step % 8 in grid.get(drum, ()):
                hit = drum_hit(drum, velocity, sr=sr, rng=rng)
                i = round(step * eighth * sr)
                hand[i:i + len(hit)] += hit[:n - i]
    hand /= np.abs(hand).max()
    wave = signals.drum_pattern(bpm=bpm, duration_s=seconds, sr=sr, pattern=pattern, seed=5)
    np.testing.assert_allclose(wave, hand, atol=1e-6)
    assert np.abs(wave[-10:]).max() > 0  # the last hit runs to the end
