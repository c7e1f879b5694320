"""Tests for mst_jax.audio: host-side load/save, validation and atomic writes.

All audio is synthesised here with numpy; files live in pytest's tmp_path.
"""

import json
import logging
import os

import numpy as np
import pytest
import soundfile as sf

from mst_jax import audio, writing
from mst_jax.audio import AudioError

SR = 22050  # Hz


def _sine(freq_hz=440.0, duration_s=0.5, sr=SR, amplitude=0.5):
    t = np.arange(int(round(duration_s * sr))) / sr
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def _best_correlation(a, b, max_lag=2048):
    """Max normalised correlation of a and b over lags in [-max_lag, max_lag] (codec delay)."""
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    full = np.correlate(a, b, mode="full")
    mid = n - 1
    window = full[mid - max_lag : mid + max_lag + 1]
    return float(np.max(window) / (np.linalg.norm(a) * np.linalg.norm(b)))


def _assert_one_line_error(excinfo, path):
    message = str(excinfo.value)
    assert "\n" not in message
    assert os.path.basename(str(path)) in message
    return message


# ---------------------------------------------------------------------------------------------
# Round trips.


def test_wav_pcm16_round_trip(tmp_path):
    x = _sine()
    path = tmp_path / "a.wav"
    writing.save(path, x, sr=SR)
    y = audio.load(path, sr=SR, normalize=False, notices=[])
    assert y.dtype == np.float32 and y.shape == x.shape
    # PCM_16 quantisation: step 2**-15 ≈ 3.05e-5, rounding error at most half a step.
    np.testing.assert_allclose(y, x, atol=2**-15)
    assert sf.info(str(path)).subtype == "PCM_16"


def test_wav_float_round_trip_is_exact(tmp_path):
    x = _sine() * 1.7  # Float WAV is not clipped.
    path = tmp_path / "f.wav"
    writing.save(path, x, sr=SR, subtype="FLOAT")
    y = audio.load(path, sr=SR, normalize=False)
    np.testing.assert_array_equal(y, x)  # float32 in, float32 out: bit-exact.


def test_flac_round_trip(tmp_path):
    x = _sine()
    path = tmp_path / "a.flac"
    writing.save(path, x, sr=SR)
    assert sf.info(str(path)).format == "FLAC"
    y = audio.load(path, sr=SR, normalize=False)
    np.testing.assert_allclose(y, x, atol=2**-15)  # Lossless, PCM_16 quantisation only.


@pytest.mark.parametrize(
    "ext, fmt",
    [
        (".ogg", "OGG"),
        pytest.param(
            ".mp3",
            "MP3",
            marks=pytest.mark.skipif(
                "MP3" not in sf.available_formats(), reason="soundfile cannot write MP3"
            ),
        ),
    ],
)
def test_lossy_round_trip(tmp_path, ext, fmt):
    x = _sine(duration_s=1.0)
    path = tmp_path / f"a{ext}"
    writing.save(path, x, sr=SR)
    assert sf.info(str(path)).format == fmt
    y = audio.load(path, sr=SR, normalize=False)
    # Lossy codecs may shift or pad by an encoder delay: compare lengths loosely and the
    # waveform by its best correlation over a small lag (a 440 Hz tone codes almost perfectly).
    assert abs(len(y) - len(x)) <= 2048
    assert _best_correlation(x, y) > 0.9


def test_normalize_peak_is_one(tmp_path):
    path = tmp_path / "a.wav"
    writing.save(path, _sine(amplitude=0.25), sr=SR)
    y = audio.load(path, sr=SR)
    assert np.max(np.abs(y)) == pytest.approx(1.0, abs=1e-6)  # float32 division rounding.


def test_save_normalize_and_clip(tmp_path):
    path = tmp_path / "n.wav"
    writing.save(path, _sine(amplitude=0.1), sr=SR, normalize=True)
    assert np.max(np.abs(sf.read(str(path))[0])) == pytest.approx(1.0, abs=2**-15)
    loud = tmp_path / "loud.wav"
    writing.save(loud, _sine(amplitude=3.0), sr=SR)  # PCM: clipped to [-1, 1], not wrapped.
    y = sf.read(str(loud))[0]
    assert np.max(y) == pytest.approx(1.0, abs=2**-15) and np.min(y) >= -1.0


# ---------------------------------------------------------------------------------------------
# Mixdown, resampling, excerpts, notices.


def test_stereo_44k_becomes_mono_22k_with_notices(tmp_path, caplog):
    sr_in, duration_s = 44100, 0.5
    left = _sine(440.0, duration_s, sr_in, 0.4)
    right = _sine(660.0, duration_s, sr_in, 0.4)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([left, right], axis=1), sr_in, subtype="FLOAT")
    notices = []
    with caplog.at_level(logging.WARNING, logger="mst_jax"):
        y = audio.load(path, sr=SR, notices=notices, normalize=False)
    assert y.ndim == 1 and y.dtype == np.float32
    assert abs(len(y) - duration_s * SR) <= 1  # soxr rounds the length to the nearest sample.
    assert notices == [
        f"{path}: 2 channels mixed down to mono",
        f"{path}: resampled 44100 Hz -> 22050 Hz",
    ]
    assert [r.getMessage() for r in caplog.records if r.name == "mst_jax"] == notices
    # The mixdown is the mean of the channels: compare with a directly computed 22.05 kHz mean.
    expected = (_sine(440.0, duration_s, SR, 0.4) + _sine(660.0, duration_s, SR, 0.4)) / 2
    inner = slice(200, -200)  # Skip the resampler's edge transients.
    # soxr_hq is accurate to ~1e-4 of full scale in the passband.
    np.testing.assert_allclose(y[inner], expected[: len(y)][inner], atol=2e-3)


def test_wav_cut_inside_its_data_chunk_is_read_with_a_notice(tmp_path):
    # A 16-bit WAV whose last half was lost (e.g. an interrupted copy): the header still
    # declares the whole data chunk. What is there is read, and the loss is said.
    x = _sine(440.0, 1.0, SR, 0.5)
    whole = tmp_path / "whole.wav"
    sf.write(str(whole), x, SR, subtype="PCM_16")
    raw = whole.read_bytes()
    header = 44  # RIFF + fmt + data headers of a plain PCM WAV written by libsndfile
    kept = header + 2 * 5000
    cut = tmp_path / "cut.wav"
    cut.write_bytes(raw[:kept])
    notices = []
    y = audio.load(cut, sr=SR, normalize=False, notices=notices)
    assert len(y) == 5000
    np.testing.assert_allclose(y, x[:5000], atol=1 / 2**15)
    assert len(notices) == 1
    assert notices[0].startswith(f"{cut}: truncated file: its header declares {2 * SR} bytes of audio but 10000")
    assert "\n" not in notices[0]


def test_aiff_cut_inside_its_sound_chunk_is_read_with_a_notice(tmp_path):
    x = _sine(440.0, 1.0, SR, 0.5)
    whole = tmp_path / "whole.aiff"
    sf.write(str(whole), x, SR, subtype="PCM_16")
    cut = tmp_path / "cut.aiff"
    cut.write_bytes(whole.read_bytes()[: 2 * SR // 2])
    notices = []
    y = audio.load(cut, sr=SR, normalize=False, notices=notices)
    assert 0.4 * SR < len(y) < 0.5 * SR
    np.testing.assert_allclose(y, x[: len(y)], atol=1 / 2**15)
    assert len(notices) == 1 and notices[0].startswith(f"{cut}: truncated file: its header declares")


def test_plain_file_gives_no_notice(tmp_path):
    path = tmp_path / "a.wav"
    writing.save(path, _sine(), sr=SR)
    notices = []
    audio.load(path, sr=SR, notices=notices)
    assert notices == []


def test_offset_and_duration(tmp_path):
    x = np.arange(SR, dtype=np.float32) / SR  # A ramp: each sample value names its index.
    path = tmp_path / "ramp.wav"
    writing.save(path, x, sr=SR, subtype="FLOAT")
    notices = []
    y = audio.load(path, sr=SR, offset_s=0.25, duration_s=0.5, normalize=False, notices=notices)
    start = int(round(0.25 * SR))
    np.testing.assert_array_equal(y, x[start : start + int(round(0.5 * SR))])
    assert notices == []
    # A duration past the end stops at the end, and says so.
    tail = audio.load(path, sr=SR, offset_s=0.9, duration_s=10.0, normalize=False, notices=notices)
    np.testing.assert_array_equal(tail, x[int(round(0.9 * SR)) :])
    assert notices == [
        f"{path}: the file ends 0.1 s after the offset 0.9 s, before the 10 s asked for; "
        "reading what is there"
    ]
    # To the very last sample is not short.
    audio.load(path, sr=SR, offset_s=0.5, duration_s=0.5, normalize=False, notices=notices)
    assert len(notices) == 1


def test_offset_beyond_end_raises(tmp_path):
    path = tmp_path / "short.wav"
    writing.save(path, _sine(duration_s=0.1), sr=SR)
    with pytest.raises(AudioError) as excinfo:
        audio.load(path, sr=SR, offset_s=1.0)
    assert "beyond the end" in _assert_one_line_error(excinfo, path)


def test_silence_warns_and_returns_zeros(tmp_path):
    path = tmp_path / "quiet.wav"
    writing.save(path, np.zeros(1000, np.float32), sr=SR)
    notices = []
    y = audio.load(path, sr=SR, notices=notices)  # normalize=True must not divide by zero.
    np.testing.assert_array_equal(y, np.zeros(1000, np.float32))
    assert notices == [f"{path}: is silent (all samples zero), so it is not peak-normalised"]


def test_a_nearly_silent_clip_is_a_notice_naming_its_peak(tmp_path):
    """A peak below -60 dBFS (a room's noise floor, not music) is one notice with the peak in
    dBFS by numpy and the gain peak normalisation applies; -50 dBFS is a quiet clip, no notice."""
    for db, expect in ((-70.0, True), (-50.0, False)):
        path = tmp_path / f"at{-db:.0f}.wav"
        writing.save(path, _sine(amplitude=10 ** (db / 20)), sr=SR, subtype="FLOAT")
        data, _ = sf.read(str(path))
        peak_db = 20 * np.log10(np.max(np.abs(data)))
        notices = []
        y = audio.load(path, sr=SR, notices=notices)
        assert np.max(np.abs(y)) == pytest.approx(1.0)
        if expect:
            assert notices == [f"{path}: its peak is {peak_db:.0f} dBFS, nearly silent; peak normalisation "
                               f"raises it by {-peak_db:.0f} dB, its noise with it"]
        else:
            assert notices == []
    notices = []
    audio.load(tmp_path / "at70.wav", sr=SR, notices=notices, normalize=False)
    assert notices == [f"{tmp_path / 'at70.wav'}: its peak is -70 dBFS, nearly silent"]


def test_clipping_notice(tmp_path):
    x = np.clip(_sine(amplitude=2.0), -1.0, 1.0)  # About 2/3 of the samples at full scale.
    path = tmp_path / "clip.wav"
    writing.save(path, x, sr=SR)
    notices = []
    audio.load(path, sr=SR, notices=notices)
    assert len(notices) == 1 and "clipped" in notices[0] and str(path) in notices[0]


@pytest.mark.parametrize("sr", [0, -22050, 999, 384001, 22050.0, True, None])
def test_bad_sr_raises(tmp_path, sr):
    path = tmp_path / "a.wav"
    writing.save(path, _sine(), sr=SR)
    with pytest.raises(ValueError, match="sr") as excinfo:
        audio.load(path, sr=sr)
    assert isinstance(excinfo.value, AudioError)
    _assert_one_line_error(excinfo, path)


# ---------------------------------------------------------------------------------------------
# Bad inputs: always AudioError, one line, naming the file.


def _write_good_wav(path, n=SR):
    sf.write(str(path), _sine(duration_s=n / SR), SR, subtype="PCM_16")
    return path.read_bytes()


def _bad_missing(tmp_path):
    return tmp_path / "missing.wav", "file not found"


def _bad_directory(tmp_path):
    path = tmp_path / "dir.wav"
    path.mkdir()
    return path, "is a directory"


def _bad_empty(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    return path, "empty file (0 bytes)"


def _bad_random_bytes(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path, "not a readable audio file"


def _bad_header_cut(tmp_path):
    # Cut inside the 44-byte RIFF header: libsndfile refuses to open it.
    path = tmp_path / "cut_header.wav"
    data = _write_good_wav(path)
    path.write_bytes(data[:30])
    return path, "not a readable audio file"


def _bad_header_only(tmp_path):
    # A complete header and no data: libsndfile opens it with 0 frames.
    path = tmp_path / "header_only.wav"
    data = _write_good_wav(path)
    path.write_bytes(data[:44])
    return path, "contains no samples"


def _bad_nan(tmp_path):
    path = tmp_path / "nan.wav"
    x = _sine()
    x[[3, 100, 200]] = [np.nan, np.inf, -np.inf]
    sf.write(str(path), x, SR, subtype="FLOAT")
    return path, "contains 3 non-finite samples (NaN or inf)"


@pytest.mark.parametrize(
    "make_bad",
    [
        _bad_missing,
        _bad_directory,
        _bad_empty,
        _bad_random_bytes,
        _bad_header_cut,
        _bad_header_only,
        _bad_nan,
    ],
)
def test_bad_input_raises_one_line_audio_error(tmp_path, make_bad):
    path, problem = make_bad(tmp_path)
    with pytest.raises(AudioError) as excinfo:
        audio.load(path, sr=SR)
    message = _assert_one_line_error(excinfo, path)
    assert message.startswith(f"{path}: {problem}")
    # No chained soundfile traceback: rewrapped errors use `from None`.
    error = excinfo.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_midi_and_m4a_files_say_what_they_are_and_what_to_do(tmp_path):
    """Two files a musician may hand over that soundfile does not read: a MIDI file (written
    by mido) and an M4A (an MP4 'ftyp' box, as iTunes writes); the one line says which and how
    to convert it. Random bytes get no such hint."""
    import mido

    midi = tmp_path / "song.mid"
    m = mido.MidiFile()
    notes = [mido.Message("note_on", note=60, time=0), mido.Message("note_off", note=60, time=480)]
    m.tracks.append(mido.MidiTrack(notes))
    m.save(str(midi))
    m4a = tmp_path / "song.m4a"
    m4a.write_bytes(b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00isomiso2" + bytes(2000))
    hints = (
        (midi, "it is a MIDI file (notes, not audio): render it first, e.g. fluidsynth"),
        (m4a, "it is an MP4/M4A container (AAC), which soundfile does not read: convert it first"),
    )
    for path, hint in hints:
        with pytest.raises(AudioError) as excinfo:
            audio.load(path, sr=SR)
        message = _assert_one_line_error(excinfo, path)
        assert message.startswith(f"{path}: not a readable audio file (") and f"; {hint}" in message
    noise, _ = _bad_random_bytes(tmp_path)
    with pytest.raises(AudioError, match=r"not a readable audio file \([^)]*\)$"):
        audio.load(noise, sr=SR)


def test_truncated_data_reads_the_frames_present(tmp_path):
    # Real libsndfile behaviour: a WAV cut in the middle of its data chunk opens fine and
    # yields the complete frames that are present (the header's length is not trusted).
    path = tmp_path / "cut_data.wav"
    data = _write_good_wav(path, n=SR)
    path.write_bytes(data[: 44 + SR])  # Header + half the 16-bit mono data.
    y = audio.load(path, sr=SR, normalize=False)
    assert len(y) == SR // 2 and np.all(np.isfinite(y))
    np.testing.assert_allclose(y, _sine(duration_s=1.0)[: SR // 2], atol=2**-15)


# ---------------------------------------------------------------------------------------------
# Output paths and atomic writes.


def test_check_writable(tmp_path):
    writing.check_writable(tmp_path / "ok.wav")  # No error.
    with pytest.raises(AudioError) as excinfo:
        writing.check_writable(tmp_path / "nodir" / "x.wav")
    message = _assert_one_line_error(excinfo, "x.wav")
    nodir = tmp_path / "nodir"
    assert message == f"{nodir / 'x.wav'}: directory {nodir} does not exist"
    with pytest.raises(AudioError, match="is a directory"):
        writing.check_writable(tmp_path)


def test_check_writable_read_only_directory(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access

    def access(path, mode, **kwargs):  # Simulated: chmod alone does not stop root.
        if os.fspath(path) == str(locked) and mode & os.W_OK:
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(AudioError) as excinfo:
        writing.check_writable(locked / "x.wav")
    assert str(excinfo.value) == f"{locked / 'x.wav'}: directory not writable"
    with pytest.raises(AudioError, match="directory not writable"):
        writing.save(locked / "x.wav", _sine(), sr=SR)
    assert list(locked.iterdir()) == []


def test_save_into_missing_directory_creates_nothing(tmp_path):
    target = tmp_path / "nodir" / "x.wav"
    with pytest.raises(AudioError) as excinfo:
        writing.save(target, _sine(), sr=SR)
    _assert_one_line_error(excinfo, target)
    assert list(tmp_path.iterdir()) == []


def test_save_failure_leaves_target_untouched(tmp_path, monkeypatch):
    target = tmp_path / "out.wav"
    writing.save(target, _sine(), sr=SR)
    before = target.read_bytes()

    def write_half_then_fail(file, data, samplerate, **kwargs):
        with open(file, "wb") as f:
            f.write(b"RIFF" + b"\0" * 100)  # A partial file, as a crash mid-write leaves.
        raise OSError("disk full")

    monkeypatch.setattr(sf, "write", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        writing.save(target, -_sine(), sr=SR)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]  # No temp file left.


def test_atomic_write_gives_a_new_file_the_usual_mode_and_keeps_an_old_files(tmp_path):
    """The temporary file is private (0600) while written; the output is not: a new file gets
    0666 less the umask, as ``open`` would give it, and a replaced one keeps its own bits."""
    umask = os.umask(0o022)
    try:
        writing.atomic_write_bytes(tmp_path / "new.bin", b"x")
        assert (tmp_path / "new.bin").stat().st_mode & 0o777 == 0o644
        old = tmp_path / "old.bin"
        old.write_bytes(b"a")
        old.chmod(0o640)
        writing.atomic_write_bytes(old, b"b")
        assert old.read_bytes() == b"b" and old.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)


def test_save_keeps_extension_of_temp_and_no_leftovers(tmp_path):
    for name in ["a.wav", "b.flac", "c.ogg", "d.out"]:
        writing.save(tmp_path / name, _sine(), sr=SR)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.flac", "c.ogg", "d.out"]
    assert sf.info(str(tmp_path / "d.out")).format == "WAV"  # Unknown extension: WAV.


def test_save_nan_raises_and_writes_nothing(tmp_path):
    x = _sine()
    x[10] = np.nan
    target = tmp_path / "nan.wav"
    with pytest.raises(AudioError, match="1 non-finite") as excinfo:
        writing.save(target, x, sr=SR)
    _assert_one_line_error(excinfo, target)
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_multichannel_and_float_flac(tmp_path):
    with pytest.raises(AudioError, match=r"shape \(samples,\)"):
        writing.save(tmp_path / "s.wav", np.zeros((100, 2)), sr=SR)
    with pytest.raises(AudioError, match="FLOAT"):
        writing.save(tmp_path / "f.flac", _sine(), sr=SR, subtype="FLOAT")
    assert list(tmp_path.iterdir()) == []


def test_save_json_atomic_and_strict(tmp_path):
    path = tmp_path / "run.json"
    record = {
        "loss_history": np.array([1.0, np.nan, np.inf]),
        "beta": np.float32(0.5),
        "steps": np.int64(3),
        "nested": ({"x": -np.inf},),
    }
    writing.save_json(path, record)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {
        "loss_history": [1.0, None, None],
        "beta": 0.5,
        "steps": 3,
        "nested": [{"x": None}],
    }
    with pytest.raises(AudioError):
        writing.save_json(tmp_path / "nodir" / "run.json", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_atomic_write_bytes_overwrites(tmp_path):
    path = tmp_path / "x.bin"
    writing.atomic_write_bytes(path, b"one")
    writing.atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_save_png_writes_the_figure_at_its_size_and_nothing_when_drawing_fails(tmp_path):
    import struct

    from matplotlib.figure import Figure

    fig = Figure(figsize=(2.0, 1.0))
    fig.add_subplot().plot([0, 1], [1, 0])
    p = tmp_path / "f.png"
    writing.save_png(p, fig, dpi=50)
    head = p.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (100, 50)  # figsize x dpi, from the IHDR chunk

    class Broken:  # fails halfway through writing its PNG
        def savefig(self, f, **k):
            f.write(b"\x89PNG half")
            raise RuntimeError("cannot draw")

    before = p.read_bytes()
    with pytest.raises(RuntimeError):
        writing.save_png(p, Broken())
    assert p.read_bytes() == before and os.listdir(tmp_path) == ["f.png"]  # no temporary left
