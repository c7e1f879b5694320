"""Tests for mst_jax.music: MIDI bytes, renderers (pitch and transposition), generators, example clips."""

import shutil
import struct

import numpy as np
import pytest
import soundfile

from mst_jax import music

SR = 22050  # Hz
HAVE_FLUIDSYNTH = shutil.which("fluidsynth") is not None and music.find_soundfont() is not None
needs_fluidsynth = pytest.mark.skipif(
    not HAVE_FLUIDSYNTH, reason="fluidsynth or GM soundfont missing"
)


def _read_vlq(data, i):
    value = 0
    while True:
        byte = data[i]
        i += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, i


def _parse_smf(data):
    """Independent minimal SMF reader: returns (format, tracks, division, [(tick, status, d1, d2)])."""
    assert data[:4] == b"MThd"
    length, fmt, ntracks, division = struct.unpack(">IHHH", data[4:14])
    assert length == 6
    i = 8 + length
    events = []
    for _ in range(ntracks):
        assert data[i : i + 4] == b"MTrk"
        (track_len,) = struct.unpack(">I", data[i + 4 : i + 8])
        i += 8
        end, tick, status = i + track_len, 0, None
        while i < end:
            delta, i = _read_vlq(data, i)
            tick += delta
            if data[i] == 0xFF:  # meta event: type, length, payload
                meta_len, j = _read_vlq(data, i + 2)
                events.append((tick, 0xFF, data[i + 1], bytes(data[j : j + meta_len])))
                i = j + meta_len
                continue
            if data[i] & 0x80:
                status = data[i]
                i += 1
            n_data = 1 if status & 0xF0 in (0xC0, 0xD0) else 2  # running status otherwise
            d = data[i : i + n_data]
            i += n_data
            events.append((tick, status, d[0], d[1] if n_data == 2 else None))
        assert i == end, "track length field does not match its events"
    return fmt, ntracks, division, events


def test_midi_bytes_parse():
    data = music.midi_bytes(music.STAR_SPANGLED_BANNER, bpm=100.0, program=5, transpose=-3)
    fmt, ntracks, division, events = _parse_smf(data)
    assert (fmt, ntracks, division) == (0, 1, music.TICKS_PER_BEAT)
    note_ons = [e for e in events if e[1] & 0xF0 == 0x90 and e[3] > 0]
    note_offs = [e for e in events if e[1] & 0xF0 == 0x80 or (e[1] & 0xF0 == 0x90 and e[3] == 0)]
    assert len(note_ons) == len(note_offs) == len(music.STAR_SPANGLED_BANNER)
    assert [e[2] for e in note_ons] == [n[0] - 3 for n in music.STAR_SPANGLED_BANNER]
    assert [e[0] for e in note_ons] == [round(n[1] * division) for n in music.STAR_SPANGLED_BANNER]
    tempo = [e for e in events if e[1] == 0xFF and e[2] == 0x51]
    assert int.from_bytes(tempo[0][3], "big") == 600_000  # microseconds per beat at 100 bpm
    assert [e[2] for e in events if e[1] & 0xF0 == 0xC0] == [5]  # program change
    assert events[-1][1:3] == (0xFF, 0x2F)  # end of track


def test_midi_parts_use_channels_and_skip_drum_transpose(tmp_path):
    path = music.write_midi(tmp_path / "groove.mid", music.STYLE_GROOVE, bpm=116.0, transpose=2)
    _, _, _, events = _parse_smf(path.read_bytes())
    ons = [e for e in events if e[1] & 0xF0 == 0x90 and e[3] > 0]
    assert len(ons) == sum(len(p.notes) for p in music.STYLE_GROOVE)
    drums = [e[2] for e in ons if e[1] & 0x0F == music.DRUM_CHANNEL]
    assert set(drums) == {36, 38, 42}  # not transposed
    bass = sorted({e[2] for e in ons if e[1] & 0x0F == 1})
    assert bass == sorted({n[0] + 2 for n in music.STYLE_GROOVE[1].notes})


def test_vlq_encoding():
    # Examples from the Standard MIDI File specification.
    for value, encoded in [
        (0, b"\x00"),
        (0x7F, b"\x7f"),
        (0x80, b"\x81\x00"),
        (0x3FFF, b"\xff\x7f"),
        (0x200000, b"\x81\x80\x80\x00"),
        (0x0FFFFFFF, b"\xff\xff\xff\x7f"),
    ]:
        assert music._vlq(value) == encoded
        assert _read_vlq(encoded, 0) == (value, len(encoded))


def test_midi_rejects_out_of_range_pitch():
    with pytest.raises(ValueError, match="pitch"):
        music.midi_bytes([(126, 0.0, 1.0)], transpose=5)


def _spectral_peak_hz(wave, sr, fmin=60.0):
    spec = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    freqs = np.fft.rfftfreq(len(wave), 1 / sr)
    spec[freqs < fmin] = 0
    return freqs[np.argmax(spec)]


def _semitones(f, ref):
    return 12 * np.log2(f / ref)


@pytest.mark.parametrize("pitch", [57, 69])
def test_additive_note_spectral_peak(pitch):
    wave = music.render_additive([(pitch, 0.0, 1.0)], sr=SR, bpm=60.0)
    assert wave.dtype == np.float32 and np.max(np.abs(wave)) == pytest.approx(1.0)
    # Within a quarter tone: the peak is the fundamental (largest harmonic), FFT bins ~0.8 Hz.
    assert abs(_semitones(_spectral_peak_hz(wave, SR), music.midi_to_hz(pitch))) < 0.5


@needs_fluidsynth
@pytest.mark.parametrize("pitch", [57, 69])
def test_fluidsynth_note_spectral_peak(pitch):
    wave = music.render_fluidsynth([(pitch, 0.0, 1.0)], sr=SR, bpm=60.0, program=0)
    assert wave.dtype == np.float32 and np.max(np.abs(wave)) == pytest.approx(1.0)
    # Piano in the middle register: the fundamental dominates; a quarter tone allows for tuning.
    assert abs(_semitones(_spectral_peak_hz(wave[:SR], SR), music.midi_to_hz(pitch))) < 0.5


def _median_f0(wave, sr):
    import librosa

    f0 = librosa.yin(wave[: sr // 2 + 2048], fmin=80.0, fmax=1000.0, sr=sr)
    return float(np.median(f0))


@pytest.mark.parametrize(
    "renderer",
    [
        pytest.param("additive"),
        pytest.param("fluidsynth", marks=needs_fluidsynth),
    ],
)
def test_transpose_shifts_pitch_by_two_semitones(renderer):
    notes = [(64, 0.0, 1.0)]
    if renderer == "additive":
        base, up = (music.render_additive(notes, sr=SR, bpm=60.0, transpose=t) for t in (0, 2))
    else:
        base, up = (music.render_fluidsynth(notes, sr=SR, bpm=60.0, transpose=t) for t in (0, 2))
    shift = _semitones(_median_f0(up, SR), _median_f0(base, SR))
    assert shift == pytest.approx(2.0, abs=0.1)  # yin is accurate to a few cents on clean notes


def test_render_falls_back_with_notice(monkeypatch):
    monkeypatch.setattr(music.shutil, "which", lambda name: None)
    notices = []
    wave = music.render(
        music.STAR_SPANGLED_BANNER[:4], sr=SR, bpm=120.0, duration_s=1.5, notices=notices
    )
    assert notices == [music.FLUIDSYNTH_NOTICE]
    assert wave.shape == (int(1.5 * SR),) and wave.dtype == np.float32
    assert music.render_fluidsynth([(60, 0.0, 1.0)]) is None
    # Default length: last note-off ("can" ends on beat 3: 1.5 s at 120 bpm) plus the 0.5 s release.
    assert music.render(music.STAR_SPANGLED_BANNER[:4], sr=SR, bpm=120.0).shape == (2 * SR,)
    # Zero padding to a longer duration.
    long = music.render([(60, 0.0, 0.5)], sr=SR, bpm=120.0, duration_s=3.0)
    assert long.shape == (3 * SR,) and np.all(long[2 * SR :] == 0)


def test_star_spangled_banner_data():
    notes = music.STAR_SPANGLED_BANNER
    assert all(len(n) == 3 for n in notes)
    starts = [n[1] for n in notes]
    assert starts == sorted(starts)
    end_beats = max(s + d for _, s, d in notes)
    assert end_beats * 60.0 / 100.0 >= 4.0  # at least 4 s at 100 bpm (paper §4.2 used 4 s clips)
    # B-flat major: every melody pitch class is in the scale, except the E natural of "ear-ly".
    scale = {10, 0, 2, 3, 5, 7, 9}
    assert {n[0] % 12 for n in notes} - scale == {4}
    assert notes[2][0] == 58  # "say" on B-flat 3


def test_generators_shapes_peaks_and_determinism():
    for wave in (
        music.tone(440.0, duration_s=0.5, sr=SR),
        music.chord([60, 64, 67], duration_s=0.5, sr=SR),
        music.click_track(bpm=120.0, duration_s=2.0, sr=SR),
        music.drum_pattern(bpm=120.0, duration_s=2.0, sr=SR),
    ):
        assert wave.dtype == np.float32 and wave.ndim == 1
        assert np.max(np.abs(wave)) <= 1.0
    assert music.tone(100.0, duration_s=0.25, sr=SR).shape == (SR // 4,)
    a = music.drum_pattern(duration_s=2.0, sr=SR, seed=3)
    np.testing.assert_array_equal(a, music.drum_pattern(duration_s=2.0, sr=SR, seed=3))
    assert not np.array_equal(a, music.drum_pattern(duration_s=2.0, sr=SR, seed=4))
    np.testing.assert_array_equal(
        music.render_additive(music.STYLE_GROOVE, sr=SR, bpm=116.0),
        music.render_additive(music.STYLE_GROOVE, sr=SR, bpm=116.0),
    )


def test_click_track_positions():
    wave = music.click_track(bpm=120.0, duration_s=2.0, sr=SR, offset_s=0.1)
    starts = np.flatnonzero((np.abs(wave) > 0.9) & (np.abs(np.roll(wave, 1)) < 0.01))
    np.testing.assert_array_equal(
        starts, [round(0.1 * SR), round(0.6 * SR), round(1.1 * SR), round(1.6 * SR)]
    )


def test_tone_spectral_peak():
    assert _spectral_peak_hz(music.tone(523.25, duration_s=1.0, sr=SR), SR) == pytest.approx(
        523.25, abs=1.0
    )


def test_example_clips_shipped():
    total = 0
    for name in ("content", "style"):
        path = music.example_path(name)
        info = soundfile.info(str(path))
        assert (info.samplerate, info.channels, info.format) == (22050, 1, "FLAC")
        assert info.subtype == "PCM_16"
        assert info.duration == pytest.approx(music.EXAMPLE_DURATION_S)
        wave, sr = soundfile.read(str(path), dtype="float32")
        assert sr == 22050 and wave.ndim == 1 and 0.5 < np.max(np.abs(wave)) <= 1.0
        total += path.stat().st_size
    assert total < 1_000_000
    with pytest.raises(FileNotFoundError):
        music.example_path("nope")


def test_make_example_clips_deterministic(tmp_path, monkeypatch):
    monkeypatch.setattr(music.shutil, "which", lambda name: None)  # fast additive path
    notices = []
    first = music.make_example_clips(tmp_path / "a", notices=notices)
    second = music.make_example_clips(tmp_path / "b")
    assert notices == [music.FLUIDSYNTH_NOTICE] * 2
    for name in ("content", "style"):
        assert first[name].read_bytes() == second[name].read_bytes()
        assert soundfile.info(str(first[name])).duration == pytest.approx(music.EXAMPLE_DURATION_S)
