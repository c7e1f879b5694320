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


def test_velocity_scales_notes_and_drums():
    """Velocity v plays at v / 127 of full level: two equal notes (or kicks) a second apart,
    the second at velocity 64, peak-normalised together."""
    from mst_jax.notes import DRUM_CHANNEL, Part

    notes = [(69, 0.0, 0.5, 127), (69, 1.0, 0.5, 64)]
    for wave in (additive.render_additive(notes, sr=SR, bpm=60.0, timbre="organ"),
                 additive.render_additive([Part(((36, 0.0, 0.5, 127), (36, 1.0, 0.5, 64)),
                                                0, DRUM_CHANNEL)], sr=SR, bpm=60.0)):
        first, second = np.abs(wave[:SR]).max(), np.abs(wave[SR:]).max()
        assert second / first == pytest.approx(64 / 127, rel=0.02)


def test_a_parts_program_chooses_its_timbre():
    from mst_jax.notes import Part

    notes = ((45, 0.0, 1.0, 100), (52, 1.0, 1.0, 100))
    as_part = additive.render_additive([Part(notes, 33, 0)], sr=SR, bpm=120.0, timbre="sine")
    np.testing.assert_array_equal(
        as_part, additive.render_additive(notes, sr=SR, bpm=120.0, timbre="bass"))


def test_higher_harmonics_decay_faster():
    """Harmonic k decays as exp(-k t / decay): from 0.2 s to 1.0 s the piano's 2nd harmonic
    falls by the square of the fundamental's factor."""
    wave = additive.render_additive([(57, 0.0, 2.0)], sr=SR, bpm=60.0, timbre="piano")

    def level(t0, hz):
        seg = wave[int(t0 * SR):int(t0 * SR) + 4096] * np.hanning(4096)
        spec = np.abs(np.fft.rfft(seg))
        return spec[int(round(hz * 4096 / SR))]

    f0 = librosa.midi_to_hz(57)
    fall1 = level(1.0, f0) / level(0.2, f0)
    fall2 = level(1.0, 2 * f0) / level(0.2, 2 * f0)
    assert fall1 == pytest.approx(np.exp(-0.8 / 0.8), rel=0.1)
    assert fall2 == pytest.approx(fall1**2, rel=0.15)


def test_notes_start_and_end_without_clicks():
    """A linear attack from 0 and a linear release to 0: no jump at either end of a note."""
    wave = additive.render_additive([(69, 0.0, 1.0)], sr=SR, bpm=60.0, timbre="organ")
    attack, release = int(0.01 * SR), int(0.03 * SR)  # the organ's
    assert np.abs(wave[:attack // 4]).max() < 0.3
    on = SR  # the note-off
    assert np.abs(wave[on + release - 20:on + release]).max() < 20 / release  # the ramp's end
    assert np.abs(wave[on - release:on]).max() > 0.5


@pytest.mark.parametrize("keys,seconds", [((35, 36), 0.25), ((37, 38, 39, 40), 0.2),
                                          ((42, 44, 46, 49, 51), 0.06)])
def test_drum_keys_kick_snare_or_hat(keys, seconds):
    """GM keys 35-36 are kicks, 37-40 (side stick, snares, clap) snares, the rest hats."""
    for key in keys:
        hit = additive.drum_hit(key, 100, sr=SR, rng=np.random.default_rng(0))
        assert hit.shape == (int(seconds * SR),), key


def test_kick_sweeps_from_150_down_to_50_hz():
    kick = additive.drum_hit(36, 127, sr=SR, rng=np.random.default_rng(0))
    zero_crossings = lambda w: np.count_nonzero(np.diff(np.signbit(w)))  # noqa: E731
    start, end = kick[:int(0.02 * SR)], kick[-int(0.1 * SR):]
    assert zero_crossings(start) / 2 / 0.02 >= 100  # 123 Hz on average over the first 20 ms
    assert zero_crossings(end) / 2 / 0.1 == pytest.approx(50, abs=5)
