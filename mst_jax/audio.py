"""Host-side audio input in numpy: load, mix down, resample, validate.

Everything here runs on the host, before any tracing (STYLE.md rule 7). Bad input raises
:class:`AudioError` with a one-line message that names the file; legal but odd input (several
channels, another sample rate, silence, clipping) is reported as one notice line, logged at
WARNING on the ``"mst_jax"`` logger and appended to the caller's ``notices`` list if given.
Outputs are written by :mod:`mst_jax.writing` (atomically), which raises the same
:class:`AudioError` and shares :func:`path_label`, :func:`check_sr` and :func:`soundfile_reason`.
"""

from __future__ import annotations

import logging
import math
import os
import re
from typing import Any

import numpy as np
import soundfile as sf

__all__ = [
    "AudioError",
    "check_sr",
    "load",
    "no_sound",
    "path_label",
    "soundfile_reason",
]

logger = logging.getLogger("mst_jax")

MIN_SR = 1000  # Hz: lowest sample rate accepted.
MAX_SR = 384000  # Hz: highest sample rate accepted.
CLIP_LEVEL = 0.999  # |x| at or above this (full scale 1) counts as a clipped sample.
CLIP_FRACTION = 0.01  # fraction of clipped samples from which a notice is given.
# A clip whose peak is below this (dB re full scale) is taken as nearly silent, more likely a
# room's noise than music: a judgement, 30 dB above a 16-bit file's least step (-90.3 dBFS).
# Peak normalisation raises its noise with it, so it is a notice (the clip is still read).
QUIET_PEAK_DBFS = -60.0


class AudioError(ValueError):
    """Bad audio input or a bad output path.

    ``str(error)`` is a single line ``"<path>: <problem>"``, fit to print as a command line's
    error message.
    """


# --------------------------------------------------------------------------------------------
# Helpers.


def no_sound(wave) -> str | None:
    """Why a clip has no sound, or None when it has some: every sample the same value, digital
    silence or a constant offset (which :func:`load`'s peak normalisation turns into 1.0).

    >>> no_sound(np.zeros(4)), no_sound(np.full(4, 1.0)), no_sound(np.array([0.0, 1e-4]))
    ('every sample is 0', 'every sample has the same value: a constant offset', None)
    """
    w = np.asarray(wave).ravel()
    if w.size == 0 or not np.all(w == w[0]):
        return None
    if w[0] == 0:
        return "every sample is 0"
    return "every sample has the same value: a constant offset"


def path_label(path: str | os.PathLike) -> str:
    """The path as the user gave it, on one line (how every message here names a file)."""
    return " ".join(os.fspath(path).splitlines())


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def soundfile_reason(error: BaseException) -> str:
    """soundfile's reason for an error, one line, without its "Error opening 'path':" prefix."""
    reason = getattr(error, "error_string", None) if isinstance(error, sf.LibsndfileError) else None
    return _first_line(reason or str(error) or type(error).__name__)


def _notice(message: str, notices: list[str] | None) -> None:
    logger.warning(message)
    if notices is not None:
        notices.append(message)


def check_sr(sr: Any, name: str) -> int:
    """``sr`` as an int if it is an integer sample rate in [MIN_SR, MAX_SR] Hz; else
    :class:`AudioError` naming ``name`` (the file)."""
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
    plus an excerpt cut short by the end of the file, silence, a peak below
    :data:`QUIET_PEAK_DBFS` (nearly silent), clipping (at least 1% of the
    samples at ``|x| >= 0.999`` in the file) and a WAV or AIFF cut short inside its audio chunk
    (what is there is read), is reported by one notice line.

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
      >>> from mst_jax import writing
      >>> writing.save(p, 0.5 * np.sin(np.linspace(0, 100, 44100)), sr=44100)
      >>> notes = []
      >>> load(p, sr=22050, notices=notes).shape
      (22050,)
      >>> [n.split(": ", 1)[1] for n in notes]
      ['resampled 44100 Hz -> 22050 Hz']
    """
    name = path_label(path)
    sr = check_sr(sr, name)
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
    if duration_s is not None and data.shape[0] < round(duration_s * file_sr):
        _notice(
            f"{name}: the file ends {data.shape[0] / file_sr:.3g} s after the offset "
            f"{offset_s:g} s, before the {duration_s:g} s asked for; reading what is there",
            notices,
        )

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
        _notice(f"{name}: is silent (all samples zero), so it is not peak-normalised", notices)
        return np.ascontiguousarray(wave, dtype=np.float32)
    peak_db = 20.0 * math.log10(peak)
    if peak_db < QUIET_PEAK_DBFS:
        raised = f"; peak normalisation raises it by {-peak_db:.0f} dB, its noise with it" if normalize else ""
        _notice(f"{name}: its peak is {peak_db:.0f} dBFS, nearly silent{raised}", notices)
    if normalize:
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


def _container_hint(fspath: str) -> str:
    """What to do with two kinds of file musicians hold that soundfile does not read: a MIDI
    file (notes, not audio) and an MP4/M4A (AAC) file; "" for anything else."""
    try:
        with open(fspath, "rb") as f:
            head = f.read(12)
    except OSError:
        return ""
    if head.startswith(b"MThd"):
        return (
            "; it is a MIDI file (notes, not audio): render it first, "
            "e.g. fluidsynth -ni SOUNDFONT.sf2 FILE.mid -F FILE.wav"
        )
    if head[4:8] == b"ftyp":
        return (
            "; it is an MP4/M4A container (AAC), which soundfile does not read: convert it "
            "first, e.g. ffmpeg -i FILE.m4a FILE.flac"
        )
    return ""


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
        hint = _container_hint(fspath)
        raise AudioError(f"{name}: not a readable audio file ({soundfile_reason(error)}){hint}") from None
    if data.shape[0] == 0:
        raise AudioError(f"{name}: no samples in the requested excerpt (offset_s={offset_s:g})")
    return data, file_sr, truncated
