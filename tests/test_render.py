"""Tests for mst_jax.render: FluidSynth pitch, the fallback, render_piece, the example clips.

The chroma tests compare librosa's ``chroma_cqt`` of a rendered excerpt with the pitch classes
of the notes that sound in it, counted from the score: an independent check that the renderer
plays the score, in its key.
"""

import os
import shutil

import librosa
import numpy as np
import pytest
import soundfile

from mst_jax import notes, render, scores

SR = 22050  # Hz
EXCERPT_S = 3.0  # s rendered per piece: short for CI, long enough for a bar or two
HAVE_FLUIDSYNTH = shutil.which("fluidsynth") is not None and render.find_soundfont() is not None
needs_fluidsynth = pytest.mark.skipif(
    not HAVE_FLUIDSYNTH, reason="fluidsynth or GM soundfont missing"
)
PITCHED = [name for name, piece in scores.PIECES.items() if piece.key]


@pytest.fixture
def additive_only(monkeypatch):
    """No fluidsynth binary: every render takes the additive fallback."""
    monkeypatch.setattr(render.shutil, "which", lambda name: None)


def _semitones(f, ref):
    return 12 * np.log2(f / ref)


@needs_fluidsynth
@pytest.mark.parametrize("pitch", [57, 69])
def test_fluidsynth_note_spectral_peak(pitch):
    wave = render.render_fluidsynth([(pitch, 0.0, 1.0)], sr=SR, bpm=60.0, program=0)
    assert wave.dtype == np.float32 and np.max(np.abs(wave)) == pytest.approx(1.0)
    spec = np.abs(np.fft.rfft(wave[:SR] * np.hanning(SR)))
    freqs = np.fft.rfftfreq(SR, 1 / SR)
    spec[freqs < 60.0] = 0
    # Piano in the middle register: the fundamental dominates; a quarter tone allows for tuning.
    assert abs(_semitones(freqs[np.argmax(spec)], librosa.midi_to_hz(pitch))) < 0.5


@needs_fluidsynth
def test_fluidsynth_transpose_shifts_pitch_by_two_semitones():
    base, up = (render.render_fluidsynth([(64, 0.0, 1.0)], sr=SR, bpm=60.0, transpose=t)
                for t in (0, 2))
    f0 = [np.median(librosa.yin(w[: SR // 2 + 2048], fmin=80.0, fmax=1000.0, sr=SR))
          for w in (base, up)]
    assert _semitones(f0[1], f0[0]) == pytest.approx(2.0, abs=0.1)  # yin: a few cents


def test_render_falls_back_with_notice(additive_only):
    notices = []
    wave = render.render(scores.STAR_SPANGLED_BANNER[:4], sr=SR, bpm=120.0, duration_s=1.5,
                         notices=notices)
    assert notices == [render.FLUIDSYNTH_NOTICE]
    assert wave.shape == (int(1.5 * SR),) and wave.dtype == np.float32
    assert render.render_fluidsynth([(60, 0.0, 1.0)]) is None
    # Default length: last note-off ("can" ends on beat 3: 1.5 s at 120 bpm) plus the 0.5 s release.
    assert render.render(scores.STAR_SPANGLED_BANNER[:4], sr=SR, bpm=120.0).shape == (2 * SR,)
    # Zero padding to a longer duration.
    long = render.render([(60, 0.0, 0.5)], sr=SR, bpm=120.0, duration_s=3.0)
    assert long.shape == (3 * SR,) and np.all(long[2 * SR :] == 0)


def _score_pitch_classes(piece, duration_s):
    """Sounding time x velocity per pitch class (C = 0) of the pitched notes in the excerpt."""
    sec = 60.0 / piece.bpm
    profile = np.zeros(12)
    for part in piece.parts:
        if part.channel == notes.DRUM_CHANNEL:
            continue
        for p, start, dur, vel in map(notes.note_fields, part.notes):
            if start * sec < duration_s:
                profile[p % 12] += min(dur * sec, duration_s - start * sec) * vel
    return profile


def _check_excerpt(name, wave):
    piece = scores.PIECES[name]
    assert wave.shape == (round(EXCERPT_S * SR),) and wave.dtype == np.float32
    assert np.max(np.abs(wave)) == pytest.approx(1.0)  # peak-normalised
    # Not clipped: a clipped render has flat tops, many samples at the peak (here 1 to 4).
    assert np.mean(np.abs(wave) > 0.99) < 1e-3
    # Never silent: every half second has sound, at least -46 dB RMS re the peak (measured
    # minimum: 0.019 for the funk groove's hi-hat-and-ghost-note half bars, else 0.06 to 0.2).
    half = SR // 2
    rms = [np.sqrt(np.mean(wave[i : i + half] ** 2)) for i in range(0, len(wave) - half + 1, half)]
    assert min(rms) > 0.005
    if not piece.key:
        return
    chroma = librosa.feature.chroma_cqt(y=wave, sr=SR).mean(axis=1)
    score = _score_pitch_classes(piece, EXCERPT_S)
    corr = [np.corrcoef(chroma, np.roll(score, k))[0, 1] for k in range(12)]
    # Measured at 3 s: FluidSynth 0.71 (choir) to 0.97, additive 0.91 to 0.99; a renderer off
    # by a semitone or more gives its best correlation at another shift of the score.
    assert corr[0] > 0.6
    assert int(np.argmax(corr)) == 0


@needs_fluidsynth
@pytest.mark.parametrize("name", list(scores.PIECES))
def test_render_piece_fluidsynth(name):
    notices = []
    wave = render.render_piece(name, sr=SR, duration_s=EXCERPT_S, notices=notices)
    assert notices == []
    _check_excerpt(name, wave)


TIMGM = "/usr/share/sounds/sf2/TimGM6mb.sf2"  # Debian timgm6mb-soundfont (.ci/run installs it)


@needs_fluidsynth
@pytest.mark.skipif(not os.path.isfile(TIMGM), reason="TimGM6mb soundfont missing")
def test_render_piece_with_another_soundfont_plays_the_same_score_with_other_samples():
    wave = render.render_piece("string_quartet", sr=SR, duration_s=EXCERPT_S, soundfont=TIMGM)
    _check_excerpt("string_quartet", wave)  # the score's pitch classes, in its key
    default = render.render_piece("string_quartet", sr=SR, duration_s=EXCERPT_S)
    assert abs(np.corrcoef(wave, default)[0, 1]) < 0.5  # other samples (measured 0.03 over 4 s)
    with pytest.raises(FileNotFoundError, match="no_such.sf2: no such soundfont file"):
        render.render_piece("piano", sr=SR, duration_s=0.5, soundfont="/no_such.sf2")


@needs_fluidsynth
def test_render_piece_transpose_rolls_the_pitch_class_profile():
    # librosa's chroma of the whole excerpt: +3 semitones moves every pitch class up by 3.
    base, up = (render.render_piece("piano", sr=SR, duration_s=4.0, transpose=t) for t in (0, 3))
    pcp = [librosa.feature.chroma_cqt(y=w, sr=SR).mean(axis=1) for w in (base, up)]
    assert np.corrcoef(np.roll(pcp[0], 3), pcp[1])[0, 1] > 0.9
    assert np.corrcoef(pcp[0], pcp[1])[0, 1] < 0.5


@pytest.mark.parametrize("name", PITCHED)
def test_render_piece_additive(name, additive_only):
    notices = []
    _check_excerpt(name, render.render_piece(name, sr=SR, duration_s=EXCERPT_S, notices=notices))
    assert notices == [render.FLUIDSYNTH_NOTICE]


def test_render_piece_lengths_loops_and_errors(additive_only):
    piece = scores.PIECES["piano"]  # 32 beats at 84 bpm = 22.86 s
    length_s = piece.beats * 60.0 / piece.bpm
    whole = render.render_piece("piano", sr=8000)
    assert whole.shape == (round((length_s + 0.5) * 8000),)
    # Longer than the piece: it starts again after 32 beats (additive rendering is exact, so
    # the loop's first 2 s equal the piece's first 2 s but for the last chord's release).
    looped = render.render_piece("piano", sr=8000, duration_s=length_s + 3.0)
    n0 = round(length_s * 8000)
    head, again = looped[2000:16000], looped[n0 + 2000 : n0 + 16000]
    assert np.corrcoef(head, again)[0, 1] > 0.99
    with pytest.raises(ValueError, match="piece 'nope'"):
        render.render_piece("nope")
    with pytest.raises(ValueError, match="duration_s"):
        render.render_piece("piano", duration_s=0.0)


def test_example_clips_shipped():
    total = 0
    for name in ("content", "style"):
        path = render.example_path(name)
        info = soundfile.info(str(path))
        assert (info.samplerate, info.channels, info.format) == (22050, 1, "FLAC")
        assert info.subtype == "PCM_16"
        assert info.duration == pytest.approx(render.EXAMPLE_DURATION_S)
        wave, sr = soundfile.read(str(path), dtype="float32")
        assert sr == 22050 and wave.ndim == 1 and 0.5 < np.max(np.abs(wave)) <= 1.0
        total += path.stat().st_size
    assert total < 1_000_000
    with pytest.raises(FileNotFoundError):
        render.example_path("nope")


@needs_fluidsynth
def test_example_notes_still_render_the_shipped_clips(tmp_path):
    """The shipped FLACs were rendered from this note data; rendering it again gives them back
    (bit-identical with this machine's FluidSynth; correlation allows another version)."""
    made = render.make_example_clips(tmp_path)
    for name in ("content", "style"):
        new, _ = soundfile.read(str(made[name]), dtype="float32")
        old, _ = soundfile.read(str(render.example_path(name)), dtype="float32")
        assert new.shape == old.shape
        assert np.corrcoef(new, old)[0, 1] > 0.99


def test_make_example_clips_deterministic(tmp_path, additive_only):
    notices = []
    first = render.make_example_clips(tmp_path / "a", notices=notices)
    second = render.make_example_clips(tmp_path / "b")
    assert notices == [render.FLUIDSYNTH_NOTICE] * 2
    for name in ("content", "style"):
        assert first[name].read_bytes() == second[name].read_bytes()
        assert soundfile.info(str(first[name])).duration == pytest.approx(render.EXAMPLE_DURATION_S)


def test_render_piece_takes_a_piece_as_its_name(additive_only):
    piece = scores.PIECES["piano"]
    by_name = render.render_piece("piano", sr=SR, duration_s=1.0)
    np.testing.assert_array_equal(render.render_piece(piece, sr=SR, duration_s=1.0), by_name)
    changed = render.render_piece(piece._replace(parts=piece.parts[:1]), sr=SR, duration_s=1.0)
    assert not np.array_equal(changed, by_name)
