"""Audio from note data: FluidSynth with a General MIDI soundfont, the pieces, the example clips.

Rendering prefers the ``fluidsynth`` command line with a General MIDI soundfont (Debian
``fluidsynth`` and ``fluid-soundfont-gm``) and falls back, with a one-line notice, to the
deterministic numpy synthesiser of :mod:`mst_jax.additive`. Every function returns mono
``float32`` audio of shape ``(samples,)`` with peak at most 1.

Example:
    >>> from mst_jax.scores import STAR_SPANGLED_BANNER
    >>> wave = render(STAR_SPANGLED_BANNER[:3], bpm=120.0, duration_s=1.0)
    >>> wave.shape, wave.dtype
    ((22050,), dtype('float32'))
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from mst_jax.additive import peak_normalise, render_additive, timbre_for_program
from mst_jax.midi import write_midi
from mst_jax.notes import Part, Piece, as_parts, end_beats, shift
from mst_jax import signals
from mst_jax.scores import (
    PIECES,
    STAR_SPANGLED_BANNER,
    STAR_SPANGLED_BANNER_ACCOMPANIMENT,
    STYLE_GROOVE,
)

__all__ = [
    "CONTENT_BPM",
    "EXAMPLE_DURATION_S",
    "EXAMPLE_SR",
    "FLUIDSYNTH_NOTICE",
    "STYLE_BPM",
    "example_path",
    "find_soundfont",
    "make_example_clips",
    "render",
    "render_fluidsynth",
    "render_piece",
]

DEFAULT_SR = 22050  # Hz, the paper's sample rate (SPEC §1)
EXAMPLE_SR = 22050  # Hz, sample rate of the shipped example clips
EXAMPLE_DURATION_S = 6.0  # s, length of each shipped example clip
EXAMPLE_FADE_S = 0.02  # s, linear fade in and out of each example clip
CONTENT_BPM = 120.0  # beats per minute of the content clip: 12 beats = 6 s = the first phrase
STYLE_BPM = 116.0  # beats per minute of the style clip (within 10 bpm of the content, as in §4.3)
RELEASE_S = 0.5  # s, tail kept after the last note-off when no duration is given
FLUIDSYNTH_TIMEOUT_S = 120.0  # s, limit for one fluidsynth call
FLUIDSYNTH_NOTICE = "fluidsynth not found: using the numpy additive synth"
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)


def find_soundfont(soundfont: str | Path | None = None) -> Path | None:
    """The soundfont to use: ``soundfont`` if it exists, else the first General MIDI one found.

    Args:
        soundfont: Explicit ``.sf2`` path, or None to search ``FluidR3_GM.sf2`` then
            ``default-GM.sf2`` in ``/usr/share/sounds/sf2``.

    Returns:
        An existing path, or None.
    """
    candidates = (soundfont,) if soundfont is not None else SOUNDFONT_CANDIDATES
    for candidate in candidates:
        if candidate is not None and Path(candidate).is_file():
            return Path(candidate)
    return None


def render_fluidsynth(
    notes,
    *,
    sr: int = DEFAULT_SR,
    bpm: float = 100.0,
    program: int = 0,
    transpose: int = 0,
    soundfont: str | Path | None = None,
) -> np.ndarray | None:
    """Renders notes with the ``fluidsynth`` command-line synthesiser.

    Runs ``fluidsynth -ni -q -g 0.8 -r <sr> -F out.wav <sf2> in.mid`` on a temporary MIDI file
    (:func:`mst_jax.midi.write_midi`), mixes the result to mono and peak-normalises it. Its
    length is whatever FluidSynth renders (the notes plus a short release).

    Args:
        notes: ``(midi_pitch, start_beats, duration_beats[, velocity])`` tuples or a sequence
            of :class:`~mst_jax.notes.Part`.
        sr: Sample rate in Hz.
        bpm: Tempo in beats per minute.
        program: General MIDI program for plain note tuples (0 acoustic grand piano).
        transpose: Semitones added to every non-drum pitch.
        soundfont: ``.sf2`` file; None searches the Debian General MIDI soundfonts.

    Returns:
        ``(samples,)`` float32 with peak 1 (or all zeros), or None when the ``fluidsynth``
        binary or the soundfont is missing.

    Raises:
        RuntimeError: fluidsynth ran but failed or wrote nothing.
    """
    binary = shutil.which("fluidsynth")
    sf2 = find_soundfont(soundfont)
    if binary is None or sf2 is None:
        return None
    import soundfile

    with tempfile.TemporaryDirectory(prefix="mst_jax_fluidsynth_") as tmp:
        mid = write_midi(Path(tmp) / "in.mid", notes, bpm=bpm, program=program, transpose=transpose)
        wav = Path(tmp) / "out.wav"
        cmd = [binary, "-ni", "-q", "-g", "0.8", "-r", str(int(sr)), "-F", str(wav), str(sf2),
               str(mid)]
        proc = subprocess.run(cmd, capture_output=True, timeout=FLUIDSYNTH_TIMEOUT_S, check=False)
        if proc.returncode != 0 or not wav.is_file():
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"fluidsynth failed ({proc.returncode}): {err[-1] if err else ''}")
        wave, file_sr = soundfile.read(str(wav), dtype="float64", always_2d=True)
    if file_sr != int(sr):
        raise RuntimeError(f"fluidsynth wrote {file_sr} Hz, asked for {sr} Hz")
    return peak_normalise(wave.mean(axis=1))


def _fit_length(wave: np.ndarray, n: int) -> np.ndarray:
    if len(wave) >= n:
        return wave[:n]
    return np.concatenate([wave, np.zeros(n - len(wave), dtype=wave.dtype)])


def render(
    notes,
    *,
    sr: int = DEFAULT_SR,
    bpm: float = 100.0,
    program: int = 0,
    transpose: int = 0,
    duration_s: float | None = None,
    notices: list[str] | None = None,
    soundfont: str | Path | None = None,
) -> np.ndarray:
    """Renders notes with FluidSynth when available, else with the additive synthesiser.

    Args:
        notes: Note tuples or a sequence of :class:`~mst_jax.notes.Part`.
        sr: Sample rate in Hz.
        bpm: Tempo in beats per minute.
        program: General MIDI program for plain note tuples; the additive fallback maps its
            family to a timbre (organs, guitars, basses, else piano).
        transpose: Semitones added to every non-drum pitch.
        duration_s: Output length in seconds (trimmed or zero-padded); None keeps the last
            note-off plus 0.5 s.
        notices: If given, a one-line notice is appended when the fallback is used.
        soundfont: ``.sf2`` file for FluidSynth; None: the first of :data:`SOUNDFONT_CANDIDATES`.

    Returns:
        ``(samples,)`` float32 peak-normalised (before trimming) waveform.

    Raises:
        FileNotFoundError: ``soundfont`` given but not a file.

    Example:
        >>> render([(60, 0.0, 1.0)], sr=8000, bpm=60.0, duration_s=0.5).shape
        (4000,)
    """
    notes = tuple(notes)
    if soundfont is not None and not Path(soundfont).is_file():
        raise FileNotFoundError(f"{soundfont}: no such soundfont file")
    wave = render_fluidsynth(notes, sr=sr, bpm=bpm, program=program, transpose=transpose, soundfont=soundfont)
    if wave is None:
        if notices is not None:
            notices.append(FLUIDSYNTH_NOTICE)
        wave = render_additive(
            notes, sr=sr, bpm=bpm, transpose=transpose, timbre=timbre_for_program(program)
        )
    if duration_s is None:
        duration_s = end_beats(as_parts(notes, program)) * 60.0 / bpm + RELEASE_S
    return _fit_length(wave, int(round(duration_s * sr)))


def render_piece(
    name: str | Piece,
    *,
    sr: int = DEFAULT_SR,
    duration_s: float | None = None,
    transpose: int = 0,
    notices: list[str] | None = None,
    soundfont: str | Path | None = None,
) -> np.ndarray:
    """Renders one of :data:`mst_jax.scores.PIECES` (or any :class:`~mst_jax.notes.Piece`) at its own tempo.

    A duration longer than the piece loops it (every ``piece.beats``); only the notes that start
    within the duration are played, so a short excerpt renders fast.

    Args:
        name: A key of ``PIECES`` (``"piano"``, ``"drum_groove"``, ...), or a Piece.
        sr: Sample rate in Hz.
        duration_s: Length in seconds; None gives the whole piece plus a 0.5 s release.
        transpose: Semitones added to every non-drum pitch (the same instruments, other notes).
        notices: If given, receives the fallback notice when FluidSynth is missing.
        soundfont: ``.sf2`` file (other instrument samples); None: FluidR3 GM, as everywhere.

    Returns:
        ``(round(duration_s * sr),)`` float32, peak-normalised to 1.

    Raises:
        ValueError: Unknown name or a duration that is not positive.
        FileNotFoundError: ``soundfont`` given but not a file.

    Example:
        >>> render_piece("drum_groove", sr=8000, duration_s=0.5).shape
        (4000,)
    """
    if isinstance(name, Piece):
        piece = name
    elif name in PIECES:
        piece = PIECES[name]
    else:
        raise ValueError(f"piece {name!r}: expected one of {', '.join(PIECES)}")
    sec_per_beat = 60.0 / piece.bpm
    if duration_s is None:
        duration_s = piece.beats * sec_per_beat + RELEASE_S
    if not (isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    until = duration_s / sec_per_beat  # beats
    loops = range(math.ceil(until / piece.beats))
    parts = tuple(
        Part(tuple(n for k in loops for n in shift(p.notes, k * piece.beats) if n[1] < until),
             p.program, p.channel)
        for p in piece.parts
    )
    parts = tuple(p for p in parts if p.notes)
    wave = render(parts, sr=sr, bpm=piece.bpm, duration_s=duration_s, transpose=transpose, notices=notices,
                  soundfont=soundfont)
    return peak_normalise(wave)


def example_path(name: str) -> Path:
    """Path of an example clip shipped in the package.

    Args:
        name: ``"content"`` or ``"style"`` (or a file name inside ``mst_jax/data``).

    Returns:
        ``mst_jax/data/<name>.flac`` (or ``mst_jax/data/<name>``).

    Raises:
        FileNotFoundError: No such example.

    Example:
        >>> example_path("content").name
        'content.flac'
    """
    data = Path(__file__).resolve().parent / "data"
    path = data / (name if Path(name).suffix else f"{name}.flac")
    if not path.is_file():
        available = sorted(p.stem for p in data.glob("*.flac"))
        raise FileNotFoundError(f"no example clip {name!r} in {data} (available: {available})")
    return path


def make_example_clips(out_dir: str | Path, *, notices: list[str] | None = None) -> dict[str, Path]:
    """Regenerates the shipped example clips ``content.flac`` and ``style.flac``.

    * content: the first phrase of "The Star-Spangled Banner" (melody and accompaniment,
      B-flat major, 3/4) on piano (GM program 0) at 120 bpm, "O say can you see, by the dawn's
      early light", 6 s.
    * style: :data:`~mst_jax.scores.STYLE_GROOVE` at 116 bpm, a drum kit, finger bass and
      drawbar-organ stabs in A minor, 4/4, 6 s.

    Both are mono, 22050 Hz, peak 0.9, 16-bit FLAC, with 20 ms fades. The same renderer
    (FluidSynth with the same soundfont, or the additive fallback) gives the same files.

    Args:
        out_dir: Directory to write into (created if missing).
        notices: If given, receives the fallback notice when FluidSynth is missing.

    Returns:
        ``{"content": path, "style": path}``.
    """
    import soundfile

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    phrase = tuple(
        n for n in STAR_SPANGLED_BANNER + STAR_SPANGLED_BANNER_ACCOMPANIMENT if n[1] < 12
    )
    clips = {
        "content": render(phrase, sr=EXAMPLE_SR, bpm=CONTENT_BPM, program=0,
                          duration_s=EXAMPLE_DURATION_S, notices=notices),
        "style": render(STYLE_GROOVE, sr=EXAMPLE_SR, bpm=STYLE_BPM,
                        duration_s=EXAMPLE_DURATION_S, notices=notices),
    }
    paths = {}
    for name, wave in clips.items():
        wave = 0.9 * peak_normalise(wave) * signals.fades(len(wave), EXAMPLE_SR, EXAMPLE_FADE_S)
        path = out_dir / f"{name}.flac"
        soundfile.write(
            str(path), wave.astype(np.float32), EXAMPLE_SR, subtype="PCM_16", format="FLAC"
        )
        paths[name] = path
    return paths
