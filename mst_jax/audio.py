"""Host-side audio I/O in numpy: load, mix down, resample, validate, atomic write.

Everything here runs on the host, before any tracing (STYLE.md rule 7). Bad input raises
:class:`AudioError` with a one-line message that names the file; legal but odd input (several
channels, another sample rate, silence, clipping) is reported as one notice line, logged at
WARNING on the ``"mst_jax"`` logger and appended to the caller's ``notices`` list if given.

Outputs are written atomically: into a temporary file in the target's directory, flushed to
disk, then renamed onto the target, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import soundfile as sf

__all__ = [
    "AudioError",
    "load",
    "check_writable",
    "save",
    "save_json",
    "atomic_write_bytes",
]

logger = logging.getLogger("mst_jax")

MIN_SR = 1000  # Hz: lowest sample rate accepted.
MAX_SR = 384000  # Hz: highest sample rate accepted.
CLIP_LEVEL = 0.999  # |x| at or above this (full scale 1) counts as a clipped sample.
CLIP_FRACTION = 0.01  # fraction of clipped samples from which a notice is given.

# File extension (lower case) -> (soundfile format, subtype used when the asked one does not fit).
_FORMATS = {
    ".wav": ("WAV", None),
    ".flac": ("FLAC", None),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}
_FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")


class AudioError(ValueError):
    """Bad audio input or a bad output path.

    ``str(error)`` is a single line ``"<path>: <problem>"``, fit to print as a command line's
    error message.
    """


# --------------------------------------------------------------------------------------------
# Helpers.


def _name(path: str | os.PathLike) -> str:
    """The path as the user gave it, on one line."""
    return " ".join(os.fspath(path).splitlines())


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def _reason(error: BaseException) -> str:
    """soundfile's reason for an error, without its "Error opening 'path':" prefix."""
    reason = getattr(error, "error_string", None) if isinstance(error, sf.LibsndfileError) else None
    return _first_line(reason or str(error) or type(error).__name__)


def _notice(message: str, notices: list[str] | None) -> None:
    logger.warning(message)
    if notices is not None:
        notices.append(message)


def _check_sr(sr: Any, name: str) -> int:
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not MIN_SR <= sr <= MAX_SR:
        raise AudioError(
            f"{name}: sr must be an integer sample rate in [{MIN_SR}, {MAX_SR}] Hz, got {sr!r}"
        )
    return int(sr)


def _check_seconds(value: Any, param: str, name: str, *, allow_none: bool, positive: bool) -> None:
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        need = "a finite number > 0" if positive else "a finite number >= 0"
        raise AudioError(f"{name}: {param} must be {need} (seconds), got {value!r}")


# --------------------------------------------------------------------------------------------
# Reading.


def load(
    path: str | os.PathLike,
    *,
    sr: int = 22050,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    normalize: bool = True,
    notices: list[str] | None = None,
) -> np.ndarray:
    """Reads an audio file as a mono float32 waveform at ``sr``.

    Reads anything soundfile reads (WAV, FLAC, OGG, MP3, ...). Only the requested excerpt is
    read: the file is seeked to ``offset_s``. Several channels are averaged to one; another
    sample rate is converted with ``librosa.resample(res_type="soxr_hq")``; the result is
    peak-normalised to 1 (SPEC.md §1: content and style each peak-normalised). Each of these,
    plus silence, clipping (at least 1% of the samples at ``|x| >= 0.999`` in the file) and a
    WAV or AIFF cut short inside its audio chunk (what is there is read), is reported by one
    notice line.

    Args:
      path: the audio file.
      sr: sample rate of the result, in Hz, an integer in [1000, 384000] (paper: 22050).
      offset_s: start of the excerpt, in seconds from the start of the file.
      duration_s: length of the excerpt, in seconds; ``None`` reads to the end.
      normalize: divide by the peak ``max|x|`` so that it is 1. A silent file is left as is.
      notices: if given, each notice line is appended to it (they are also logged at WARNING
        on the ``"mst_jax"`` logger).

    Returns:
      Waveform, shape ``(samples,)``, float32, at ``sr`` Hz.

    Raises:
      AudioError: the file is missing, a directory, empty, unreadable or not audio; it holds
        non-finite samples; the excerpt is empty (e.g. ``offset_s`` beyond the end); or a
        parameter is out of range. The message is one line naming the file.

    Example:
      >>> import os, tempfile, numpy as np
      >>> d = tempfile.mkdtemp()
      >>> p = os.path.join(d, "a.wav")
      >>> save(p, 0.5 * np.sin(np.linspace(0, 100, 44100)), sr=44100)
      >>> notes = []
      >>> load(p, sr=22050, notices=notes).shape
      (22050,)
      >>> [n.split(": ", 1)[1] for n in notes]
      ['resampled 44100 Hz -> 22050 Hz']
    """
    name = _name(path)
    sr = _check_sr(sr, name)
    _check_seconds(offset_s, "offset_s", name, allow_none=False, positive=False)
    _check_seconds(duration_s, "duration_s", name, allow_none=True, positive=True)

    fspath = os.fspath(path)
    if not os.path.exists(fspath):
        raise AudioError(f"{name}: file not found")
    if os.path.isdir(fspath):
        raise AudioError(f"{name}: is a directory")
    if not os.access(fspath, os.R_OK):
        raise AudioError(f"{name}: permission denied")
    try:
        size = os.path.getsize(fspath)
    except OSError as error:
        raise AudioError(f"{name}: cannot read ({_first_line(error.strerror or error)})") from None
    if size == 0:
        raise AudioError(f"{name}: empty file (0 bytes)")

    data, file_sr, truncated = _read_excerpt(fspath, name, offset_s=offset_s, duration_s=duration_s)
    if truncated:
        _notice(f"{name}: {truncated}", notices)

    n_bad = int(data.size - np.count_nonzero(np.isfinite(data)))
    if n_bad:
        raise AudioError(f"{name}: contains {n_bad} non-finite samples (NaN or inf)")

    clipped = np.count_nonzero(np.abs(data) >= CLIP_LEVEL) / data.size
    if clipped >= CLIP_FRACTION:
        _notice(
            f"{name}: {100 * clipped:.1f}% of samples at full scale (|x| >= {CLIP_LEVEL}); "
            "the audio is probably clipped",
            notices,
        )

    channels = data.shape[1]
    if channels > 1:
        _notice(f"{name}: {channels} channels mixed down to mono", notices)
        wave = data.mean(axis=1, dtype=np.float64).astype(np.float32)
    else:
        wave = data[:, 0]

    if file_sr != sr:
        import librosa  # Deferred: a slow import only needed here.

        wave = librosa.resample(wave, orig_sr=file_sr, target_sr=sr, res_type="soxr_hq")
        _notice(f"{name}: resampled {file_sr} Hz -> {sr} Hz", notices)
        if wave.size == 0:
            raise AudioError(f"{name}: excerpt shorter than one sample at {sr} Hz")

    peak = float(np.max(np.abs(wave)))
    if peak == 0.0:
        _notice(f"{name}: is silent (all samples zero); left as is", notices)
    elif normalize:
        wave = wave / peak
    return np.ascontiguousarray(wave, dtype=np.float32)


_SHORT_CHUNK = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _truncation(f: sf.SoundFile) -> str:
    """A notice if libsndfile found the audio chunk shorter than its header says, else ""."""
    match = _SHORT_CHUNK.search(f.extra_info or "")
    if not match:
        return ""
    declared, present = int(match.group(2)), int(match.group(3))
    if present >= declared:
        return ""
    return (
        f"truncated file: its header declares {declared} bytes of audio but {present} are "
        f"present; reading the {f.frames / f.samplerate:.3g} s that are there"
    )


def _read_excerpt(
    fspath: str, name: str, *, offset_s: float, duration_s: float | None
) -> tuple[np.ndarray, int, str]:
    """Reads frames ``[offset, offset + duration)`` as float32 ``(frames, channels)``; also
    returns the sample rate and a truncation notice ("" if the file is whole)."""
    try:
        with sf.SoundFile(fspath) as f:
            file_sr = int(f.samplerate)
            frames = int(f.frames)
            truncated = _truncation(f)
            if frames <= 0:
                raise AudioError(f"{name}: contains no samples")
            start = int(round(offset_s * file_sr))
            if start >= frames:
                raise AudioError(
                    f"{name}: offset {offset_s:g} s is beyond the end of the file "
                    f"({frames / file_sr:g} s)"
                )
            count = -1 if duration_s is None else max(1, int(round(duration_s * file_sr)))
            if start > 0:
                if f.seekable():
                    f.seek(start)
                else:  # Rare (some streams): read and drop.
                    f.read(start, dtype="float32", always_2d=True)
            data = f.read(count, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except (sf.SoundFileError, RuntimeError, OSError, TypeError, ValueError) as error:
        raise AudioError(f"{name}: not a readable audio file ({_reason(error)})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{name}: no samples in the requested excerpt (offset_s={offset_s:g})")
    return data, file_sr, truncated


# --------------------------------------------------------------------------------------------
# Writing.


def check_writable(path: str | os.PathLike) -> None:
    """Checks that ``path`` can be (over)written, before any compute is spent.

    Args:
      path: the output file.

    Raises:
      AudioError: ``path`` is empty or an existing directory, or its directory is missing,
        not a directory, or not writable.

    Example:
      >>> check_writable("/no/such/dir/x.wav")
      Traceback (most recent call last):
      ...
      mst_jax.audio.AudioError: /no/such/dir/x.wav: directory /no/such/dir does not exist
    """
    name = _name(path)
    fspath = os.fspath(path)
    if not fspath:
        raise AudioError("'': empty output path")
    if os.path.isdir(fspath):
        raise AudioError(f"{name}: is a directory")
    parent = os.path.dirname(fspath) or "."
    if not os.path.exists(parent):
        raise AudioError(f"{name}: directory {_name(parent)} does not exist")
    if not os.path.isdir(parent):
        raise AudioError(f"{name}: {_name(parent)} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise AudioError(f"{name}: directory not writable")


def _file_mode(fspath: str) -> int:
    """The permission bits the target should get: its current ones, else 0o666 less umask."""
    try:
        return os.stat(fspath).st_mode & 0o7777
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def _atomic_target(path: str | os.PathLike) -> Iterator[str]:
    """Yields a temporary path beside ``path``; on success moves it onto ``path``.

    The temporary file keeps the target's extension, so writers that pick a format from the
    extension pick the right one. On any exception it is removed and the exception re-raised;
    the target is then untouched.
    """
    check_writable(path)  # Cheap to repeat; the caller may have checked long before.
    fspath = os.fspath(path)
    directory = os.path.dirname(fspath) or "."
    base = os.path.basename(fspath)
    ext = os.path.splitext(base)[1]
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{base}.", suffix=f".tmp{ext}")
    except OSError as error:
        raise AudioError(f"{_name(path)}: cannot create a file there ({error.strerror})") from None
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(fspath))
        os.replace(tmp, fspath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    with contextlib.suppress(OSError):  # Make the rename itself durable (POSIX only).
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically (temporary file, fsync, rename).

    Args:
      path: the output file.
      data: its whole content.

    Raises:
      AudioError: ``path`` cannot be written (see :func:`check_writable`).

    Example:
      >>> import os, tempfile
      >>> p = os.path.join(tempfile.mkdtemp(), "x.bin")
      >>> atomic_write_bytes(p, b"abc")
      >>> open(p, "rb").read()
      b'abc'
    """
    with _atomic_target(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(bytes(data))


def _format_for(name: str, fspath: str, subtype: str) -> tuple[str, str]:
    ext = os.path.splitext(fspath)[1].lower()
    fmt, lossy_subtype = _FORMATS.get(ext, ("WAV", None))
    if fmt not in sf.available_formats():
        raise AudioError(f"{name}: this soundfile cannot write {fmt} files")
    if lossy_subtype is not None:  # Lossy codecs have their own subtype; PCM_16 means "default".
        return fmt, lossy_subtype
    if not sf.check_format(fmt, subtype):
        raise AudioError(f"{name}: subtype {subtype!r} cannot be written as {fmt}")
    return fmt, subtype


def save(
    path: str | os.PathLike,
    wave: np.ndarray,
    *,
    sr: int,
    subtype: str = "PCM_16",
    normalize: bool = False,
) -> None:
    """Writes a mono waveform atomically.

    The format follows the extension: ``.wav`` (default for any other extension), ``.flac``,
    ``.ogg`` (Vorbis) and ``.mp3`` where soundfile can write it. Samples are clipped to
    [-1, 1] unless ``subtype`` is a float one. The file appears complete or not at all.

    Args:
      path: the output file.
      wave: waveform, shape ``(samples,)``, any real dtype (numpy or JAX array), nominal range
        [-1, 1].
      sr: sample rate, in Hz, an integer in [1000, 384000].
      subtype: soundfile subtype for WAV/FLAC: ``"PCM_16"`` (default, SPEC.md §1), ``"PCM_24"``,
        ``"FLOAT"`` (32-bit float, WAV only), ... Ignored for OGG and MP3.
      normalize: divide by the peak first so that it is 1 (a silent wave is left as is).

    Raises:
      AudioError: the path cannot be written, ``wave`` is not 1-D or empty or holds non-finite
        samples, or the format/subtype pair is not writable. Nothing is written then.

    Example:
      >>> import os, tempfile, numpy as np
      >>> p = os.path.join(tempfile.mkdtemp(), "x.flac")
      >>> save(p, np.zeros(100), sr=22050)
      >>> load(p, sr=22050, notices=[]).shape
      (100,)
    """
    name = _name(path)
    sr = _check_sr(sr, name)
    wave = np.asarray(wave)
    if wave.ndim != 1:
        raise AudioError(f"{name}: wave must have shape (samples,), got {wave.shape}")
    if wave.size == 0:
        raise AudioError(f"{name}: wave has no samples")
    if not (np.issubdtype(wave.dtype, np.floating) or np.issubdtype(wave.dtype, np.integer)):
        raise AudioError(f"{name}: wave must be real numbers, got dtype {wave.dtype}")
    wave = wave.astype(np.float64 if wave.dtype == np.float64 else np.float32)
    n_bad = int(wave.size - np.count_nonzero(np.isfinite(wave)))
    if n_bad:
        raise AudioError(f"{name}: refusing to write {n_bad} non-finite samples (NaN or inf)")
    check_writable(path)
    fmt, subtype = _format_for(name, os.fspath(path), subtype)

    if normalize:
        peak = float(np.max(np.abs(wave)))
        if peak > 0.0:
            wave = wave / peak
    if subtype not in _FLOAT_SUBTYPES:
        wave = np.clip(wave, -1.0, 1.0)

    with _atomic_target(path) as tmp:
        try:
            sf.write(tmp, wave, sr, subtype=subtype, format=fmt)
        except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as error:
            raise AudioError(f"{name}: cannot write audio ({_reason(error)})") from None


def _jsonable(obj: Any) -> Any:
    """Converts numpy/JAX values to JSON types, and non-finite floats to ``None``."""
    if isinstance(obj, Mapping):
        return {
            k if isinstance(k, (str, int, float, bool)) else str(k): _jsonable(v)
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "__array__"):  # numpy and JAX arrays.
        return _jsonable(np.asarray(obj).tolist())
    return obj  # Let json.dumps raise TypeError on anything else.


def save_json(path: str | os.PathLike, obj: Any) -> None:
    """Writes ``obj`` as indented JSON, atomically.

    numpy and JAX scalars and arrays become numbers and lists; NaN and ±inf become ``null``
    (the output is strict JSON).

    Args:
      path: the output file.
      obj: dicts, lists, tuples, strings, numbers, bools, None, arrays.

    Raises:
      AudioError: ``path`` cannot be written.
      TypeError: ``obj`` holds something JSON cannot represent.

    Example:
      >>> import os, tempfile, json
      >>> p = os.path.join(tempfile.mkdtemp(), "run.json")
      >>> save_json(p, {"loss": [1.5, float("nan")]})
      >>> json.load(open(p))
      {'loss': [1.5, None]}
    """
    text = json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))
