"""Tests for mst_jax.additive: the numpy fallback synthesiser's pitch, drums and determinism."""

import librosa
import numpy as np
import pytest

from mst_jax import additive, scores

SR = 22050  # Hz


def _spectral_peak_hz(wave, sr, fmin=60.0):
    spec = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    freqs = np.fft.rfftfreq(len(wave), 1 / sr)
    spec[freqs < fmin] = 0
    return freqs[np.argmax(spec)]


@pytest.mark.parametrize("pitch", [57, 69])
@pytest.mark.parametrize("timbre", ["piano", "organ", "sine"])
def test_note_spectral_peak_is_the_fundamental(pitch, timbre):
    wave = additive.render_additive([(pitch, 0.0, 1.0)], sr=SR, bpm=60.0, timbre=timbre)
    assert wave.dtype == np.float32 and np.max(np.abs(wave)) == pytest.approx(1.0)
    # Within a quarter tone: the peak is the fundamental (largest harmonic), FFT bins ~0.8 Hz.
    semitones = 12 * np.log2(_spectral_peak_hz(wave, SR) / librosa.midi_to_hz(pitch))
    assert abs(semitones) < 0.5


def test_transpose_shifts_pitch_by_two_semitones():
    base, up = (additive.render_additive([(64, 0.0, 1.0)], sr=SR, bpm=60.0, transpose=t)
                for t in (0, 2))
    f0 = [np.median(librosa.yin(w[: SR // 2 + 2048], fmin=80.0, fmax=1000.0, sr=SR))
          for w in (base, up)]
    assert 12 * np.log2(f0[1] / f0[0]) == pytest.approx(2.0, abs=0.1)  # yin: a few cents


def test_length_drums_and_determinism():
    # Length: last note-off (beat 3 at 120 bpm = 1.5 s) plus the 0.25 s tail.
    wave = additive.render_additive([(60, 0.0, 1.0), (62, 2.0, 1.0)], sr=8000, bpm=120.0)
    assert wave.shape == (14000,)
    groove = additive.render_additive(scores.STYLE_GROOVE, sr=SR, bpm=116.0)
    np.testing.assert_array_equal(groove, additive.render_additive(scores.STYLE_GROOVE, sr=SR,
                                                                   bpm=116.0))
    other = additive.render_additive(scores.STYLE_GROOVE, sr=SR, bpm=116.0, seed=1)
    assert not np.array_equal(groove, other)  # the drums' noise follows the seed
    kick = additive.drum_hit(36, 127, sr=SR, rng=np.random.default_rng(0))
    assert kick.shape == (SR // 4,) and _spectral_peak_hz(kick, SR, fmin=20.0) < 160.0
    with pytest.raises(ValueError, match="timbre"):
        additive.render_additive([(60, 0.0, 1.0)], timbre="kazoo")


def test_timbre_for_program_and_peak_normalise():
    assert [additive.timbre_for_program(p) for p in (0, 19, 25, 33, 40)] == [
        "piano", "organ", "guitar", "bass", "piano"]
    assert additive.peak_normalise(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]
