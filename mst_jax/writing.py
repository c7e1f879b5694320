"""Output files written atomically: audio (WAV, FLAC, OGG, MP3), JSON, figures and raw bytes.

Each output is written into a temporary file in the target's directory, flushed to disk, then
renamed onto the target, so an interrupted run never leaves a half-written file; the target is
checked writable first (:func:`check_writable`, also callable long before any compute). Bad
paths or waves raise :class:`mst_jax.audio.AudioError` with one line naming the file.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import soundfile as sf

from mst_jax.audio import AudioError, check_sr, path_label, soundfile_reason

__all__ = [
    "atomic_write_bytes",
    "check_writable",
    "save",
    "save_json",
    "save_png",
]

# File extension (lower case) -> (soundfile format, subtype used when the asked one does not fit).
_FORMATS = {
    ".wav": ("WAV", None),
    ".flac": ("FLAC", None),
    ".ogg": ("OGG", "VORBIS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}
_FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")


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
    name = path_label(path)
    fspath = os.fspath(path)
    if not fspath:
        raise AudioError("'': empty output path")
    if os.path.isdir(fspath):
        raise AudioError(f"{name}: is a directory")
    parent = os.path.dirname(fspath) or "."
    if not os.path.exists(parent):
        raise AudioError(f"{name}: directory {path_label(parent)} does not exist")
    if not os.path.isdir(parent):
        raise AudioError(f"{name}: {path_label(parent)} is not a directory")
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
        raise AudioError(f"{path_label(path)}: cannot create a file there ({error.strerror})") from None
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


def save_png(path: str | os.PathLike, fig, *, dpi: float = 100, **savefig_kwargs) -> None:
    """Writes a matplotlib figure as PNG, atomically (the figure is rendered in memory first).

    Args:
      path: the output file.
      fig: a ``matplotlib.figure.Figure`` (it is left open: a pyplot figure is the caller's to
        close).
      dpi: dots per inch; the image is ``figsize × dpi`` pixels (unless ``bbox_inches="tight"``).
      **savefig_kwargs: passed to ``Figure.savefig`` (e.g. ``bbox_inches="tight"``).

    Raises:
      AudioError: ``path`` cannot be written (see :func:`check_writable`).
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, **savefig_kwargs)
    atomic_write_bytes(path, buf.getvalue())


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
      >>> from mst_jax import audio
      >>> audio.load(p, sr=22050, notices=[]).shape
      (100,)
    """
    name = path_label(path)
    sr = check_sr(sr, name)
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
            raise AudioError(f"{name}: cannot write audio ({soundfile_reason(error)})") from None


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
