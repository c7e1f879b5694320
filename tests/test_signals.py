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
