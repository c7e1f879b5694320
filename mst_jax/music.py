"""Host-side test and example music in numpy: note data, a MIDI writer, renderers, generators.

Nothing here uses JAX. Notes are plain tuples ``(midi_pitch, start_beats, duration_beats)``
(an optional fourth element is the MIDI velocity, 1-127). A piece with several instruments is a
sequence of :class:`Part`; every function that takes ``notes`` also accepts such a sequence.

Rendering prefers FluidSynth with a General MIDI soundfont (Debian ``fluidsynth`` and
``fluid-soundfont-gm``) and falls back to a deterministic numpy additive synthesiser.
Every generator returns mono ``float32`` audio of shape ``(samples,)`` with peak at most 1.

Example:
    >>> wave = render(STAR_SPANGLED_BANNER[:3], bpm=120.0, duration_s=1.0)
    >>> wave.shape, wave.dtype
    ((22050,), dtype('float32'))
"""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "CONTENT_BPM",
    "EXAMPLE_DURATION_S",
    "EXAMPLE_SR",
    "FLUIDSYNTH_NOTICE",
    "STAR_SPANGLED_BANNER",
    "STAR_SPANGLED_BANNER_ACCOMPANIMENT",
    "STYLE_BPM",
    "STYLE_GROOVE",
    "Part",
    "chord",
    "click_track",
    "drum_pattern",
    "example_path",
    "find_soundfont",
    "make_example_clips",
    "midi_bytes",
    "midi_to_hz",
    "render",
    "render_additive",
    "render_fluidsynth",
    "tone",
    "write_midi",
]

DEFAULT_SR = 22050  # Hz, the paper's sample rate (SPEC §1)
EXAMPLE_SR = 22050  # Hz, sample rate of the shipped example clips
EXAMPLE_DURATION_S = 6.0  # s, length of each shipped example clip
CONTENT_BPM = 120.0  # beats per minute of the content clip: 12 beats = 6 s = the first phrase
STYLE_BPM = 116.0  # beats per minute of the style clip (within 10 bpm of the content, as in §4.3)
RELEASE_S = 0.5  # s, tail kept after the last note-off when no duration is given
ADDITIVE_TAIL_S = 0.25  # s, additive synth: >= every release below and the 0.25 s kick decay
TICKS_PER_BEAT = 480  # MIDI division (pulses per quarter note)
DRUM_CHANNEL = 9  # General MIDI percussion channel (channel 10 counted from 1)
FLUIDSYNTH_TIMEOUT_S = 120.0  # s, limit for one fluidsynth call
FLUIDSYNTH_NOTICE = "fluidsynth not found: using the numpy additive synth"
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)

# MIDI pitches (C4 = 60) used below.
_BB1, _F2, _BB2, _C3, _D3, _E3, _F3, _G3, _A3, _BB3 = 34, 41, 46, 48, 50, 52, 53, 55, 57, 58
_D4, _E4, _F4, _G4, _A4, _BB4, _C5, _D5 = 62, 64, 65, 67, 69, 70, 72, 74

# "The Star-Spangled Banner" (J. S. Smith, public domain), B-flat major, 3/4, melody only.
# Beat 0 is the pickup "O-oh"; each bar is 3 beats, bar 1 ("say can you") starts on beat 1.
# (midi_pitch, start_beats, duration_beats)
STAR_SPANGLED_BANNER: tuple[tuple[int, float, float], ...] = (
    (_F4, 0.0, 0.75),  # O-
    (_D4, 0.75, 0.25),  # -oh
    (_BB3, 1.0, 1.0),  # say
    (_D4, 2.0, 1.0),  # can
    (_F4, 3.0, 1.0),  # you
    (_BB4, 4.0, 2.0),  # see,
    (_D5, 6.0, 0.75),  # by
    (_C5, 6.75, 0.25),  # the
    (_BB4, 7.0, 1.0),  # dawn's
    (_D4, 8.0, 1.0),  # ear-
    (_E4, 9.0, 1.0),  # -ly
    (_F4, 10.0, 2.0),  # light,
    (_F4, 12.0, 0.75),  # what
    (_F4, 12.75, 0.25),  # so
    (_D5, 13.0, 1.5),  # proud-
    (_C5, 14.5, 0.5),  # -ly
    (_BB4, 15.0, 1.0),  # we
    (_A4, 16.0, 2.0),  # hailed
    (_G4, 18.0, 0.75),  # at
    (_A4, 18.75, 0.25),  # the
    (_BB4, 19.0, 1.0),  # twi-
    (_BB4, 20.0, 1.0),  # -light's
    (_F4, 21.0, 1.0),  # last
    (_D4, 22.0, 1.0),  # gleam-
    (_BB3, 23.0, 1.0),  # -ing
)

# A plain accompaniment for the melody above: a bass note on each downbeat and a close triad on
# beats 2-3 (I, I, V7/V, V, I, V, I, I). Add it to the melody for harmony in CQT/Mel features.
STAR_SPANGLED_BANNER_ACCOMPANIMENT: tuple[tuple[int, float, float, int], ...] = tuple(
    note
    for start, bass, triad in (
        (1.0, _BB2, (_D3, _F3, _BB3)),  # B-flat
        (4.0, _BB2, (_D3, _F3, _BB3)),  # B-flat
        (7.0, _C3, (_E3, _G3, _BB3)),  # C7
        (10.0, _F2, (_F3, _A3, _C3 + 12)),  # F
        (13.0, _BB2, (_D3, _F3, _BB3)),  # B-flat
        (16.0, _F2, (_F3, _A3, _C3 + 12)),  # F
        (19.0, _BB2, (_D3, _F3, _BB3)),  # B-flat
        (22.0, _BB1, (_D3, _F3, _BB3)),  # B-flat
    )
    for note in ((bass, start, 1.0, 80), *((p, start + 1.0, 2.0, 56) for p in triad))
)


class Part(NamedTuple):
    """One instrument of a piece: its notes and where they are played.

    Attributes:
        notes: ``(midi_pitch, start_beats, duration_beats[, velocity])`` tuples.
        program: General MIDI program, 0-127 (0 piano, 16 drawbar organ, 33 finger bass).
            Ignored on the drum channel.
        channel: MIDI channel 0-15; channel 9 is General MIDI percussion, where the pitch picks
            the drum (36 kick, 38 snare, 42 closed hi-hat) and ``transpose`` is not applied.
    """

    notes: tuple
    program: int = 0
    channel: int = 0


# A style groove in A minor, 4/4, three bars = 12 beats: drums, an eighth-note finger bass and
# off-beat organ stabs (Am | F | G). Different timbre, key and rhythm from the content melody.
_GROOVE_CHORDS = ((57, 60, 64), (57, 60, 65), (55, 59, 62))  # Am, F/A, G triads around C4
_GROOVE_BASS = ((45, 45, 52, 45), (41, 41, 48, 41), (43, 43, 50, 43))  # A2, F2, G2 lines
STYLE_GROOVE: tuple[Part, ...] = (
    Part(
        notes=tuple(
            n
            for bar in range(3)
            for n in (
                (36, 4 * bar + 0.0, 0.25, 110),  # kick
                (36, 4 * bar + 1.5, 0.25, 90),
                (36, 4 * bar + 2.0, 0.25, 110),
                (38, 4 * bar + 1.0, 0.25, 105),  # snare
                (38, 4 * bar + 3.0, 0.25, 105),
                *((42, 4 * bar + 0.5 * k, 0.25, 70 + 20 * (k % 2 == 0)) for k in range(8)),
            )
        ),
        program=0,
        channel=DRUM_CHANNEL,
    ),
    Part(
        notes=tuple(
            (pitch, 4 * bar + 0.5 * k, 0.45, 100)
            for bar, line in enumerate(_GROOVE_BASS)
            for k, pitch in enumerate(line + line)
        ),
        program=33,
        channel=1,
    ),
    Part(
        notes=tuple(
            (pitch, 4 * bar + off, 0.3, 80)
            for bar, triad in enumerate(_GROOVE_CHORDS)
            for off in (0.5, 1.5, 2.5, 3.0, 3.5)
            for pitch in triad
        ),
        program=16,
        channel=2,
    ),
)


def midi_to_hz(midi_pitch: float | np.ndarray) -> float | np.ndarray:
    """Equal-tempered frequency of a MIDI pitch, A4 = 69 = 440 Hz.

    Args:
        midi_pitch: MIDI note number(s), any shape.

    Returns:
        Frequency in Hz, same shape.

    Example:
        >>> float(midi_to_hz(69))
        440.0
    """
    return 440.0 * 2.0 ** ((np.asarray(midi_pitch, dtype=np.float64) - 69.0) / 12.0)


def _as_parts(notes, program: int) -> tuple[Part, ...]:
    """Turns note tuples (one part on channel 0 with ``program``) or Parts into Parts."""
    notes = tuple(notes)
    if notes and all(isinstance(p, Part) for p in notes):
        return notes
    if any(isinstance(p, Part) for p in notes):
        raise ValueError("notes: mix of Part and note tuples; pass one kind")
    return (Part(notes=notes, program=program, channel=0),)


def _note_fields(note) -> tuple[int, float, float, int]:
    if len(note) not in (3, 4):
        raise ValueError(
            f"note {note!r}: expected (pitch, start_beats, duration_beats[, velocity])"
        )
    pitch, start, dur = int(note[0]), float(note[1]), float(note[2])
    velocity = int(note[3]) if len(note) == 4 else 96
    if start < 0 or dur <= 0:
        raise ValueError(f"note {note!r}: start_beats must be >= 0 and duration_beats > 0")
    return pitch, start, dur, velocity


def _end_beats(parts: Sequence[Part]) -> float:
    ends = [s + d for p in parts for (_, s, d, _) in map(_note_fields, p.notes)]
    return max(ends, default=0.0)


def _vlq(value: int) -> bytes:
    """MIDI variable-length quantity: 7 bits per byte, big-endian, high bit = more follows."""
    if value < 0:
        raise ValueError(f"variable-length quantity must be >= 0, got {value}")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_bytes(notes, *, bpm: float = 100.0, program: int = 0, transpose: int = 0) -> bytes:
    """Encodes notes as a Standard MIDI File, format 0, one track, 480 ticks per beat.

    Args:
        notes: ``(midi_pitch, start_beats, duration_beats[, velocity])`` tuples (played on channel
            0 with ``program``) or a sequence of :class:`Part`.
        bpm: Tempo in beats (quarter notes) per minute.
        program: General MIDI program for plain note tuples, 0-127.
        transpose: Semitones added to every pitch except on the drum channel 9.

    Returns:
        The file's bytes.

    Raises:
        ValueError: A pitch leaves 0-127 after transposing, or a bad note, program, channel or bpm.

    Example:
        >>> midi_bytes([(60, 0.0, 1.0)])[:4]
        b'MThd'
    """
    if not bpm > 0:
        raise ValueError(f"bpm must be > 0, got {bpm}")
    parts = _as_parts(notes, program)
    events = []  # (tick, order, bytes); note-offs (order 0) sort before note-ons at one tick
    header_events = []
    for part in parts:
        ch = int(part.channel)
        if not 0 <= ch <= 15 or not 0 <= int(part.program) <= 127:
            raise ValueError(f"part channel {ch} / program {part.program} out of range")
        if ch != DRUM_CHANNEL:
            header_events.append(bytes([0xC0 | ch, int(part.program)]))
        for note in part.notes:
            pitch, start, dur, vel = _note_fields(note)
            if ch != DRUM_CHANNEL:
                pitch += int(transpose)
            if not 0 <= pitch <= 127 or not 1 <= vel <= 127:
                raise ValueError(f"note {note!r}: pitch {pitch} or velocity {vel} out of range")
            on = round(start * TICKS_PER_BEAT)
            off = max(round((start + dur) * TICKS_PER_BEAT), on + 1)
            events.append((on, 1, bytes([0x90 | ch, pitch, vel])))
            events.append((off, 0, bytes([0x80 | ch, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    us_per_beat = round(60_000_000 / bpm)
    track = bytearray()
    track += _vlq(0) + b"\xff\x51\x03" + us_per_beat.to_bytes(3, "big")  # set tempo
    track += _vlq(0) + b"\xff\x58\x04\x04\x02\x18\x08"  # time signature 4/4 (informational)
    for msg in header_events:
        track += _vlq(0) + msg
    now = 0
    for tick, _, msg in events:
        track += _vlq(tick - now) + msg
        now = tick
    track += _vlq(TICKS_PER_BEAT // 2) + b"\xff\x2f\x00"  # end of track half a beat later
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def write_midi(
    path: str | Path, notes, *, bpm: float = 100.0, program: int = 0, transpose: int = 0
) -> Path:
    """Writes notes as a Standard MIDI File (format 0, one track); see :func:`midi_bytes`.

    Args:
        path: Destination ``.mid`` file.
        notes: Note tuples or a sequence of :class:`Part`.
        bpm: Tempo in beats per minute.
        program: General MIDI program for plain note tuples.
        transpose: Semitones added to every non-drum pitch.

    Returns:
        The path written.

    Example:
        >>> import tempfile, os
        >>> p = write_midi(os.path.join(tempfile.mkdtemp(), "a.mid"), [(60, 0.0, 1.0)])
        >>> p.read_bytes()[:4]
        b'MThd'
    """
    path = Path(path)
    path.write_bytes(midi_bytes(notes, bpm=bpm, program=program, transpose=transpose))
    return path


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


def _peak_normalise(wave: np.ndarray) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float64)
    peak = np.max(np.abs(wave), initial=0.0)
    return (wave / peak if peak > 0 else wave).astype(np.float32)


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

    Runs ``fluidsynth -ni -q -g 0.8 -r <sr> -F out.wav <sf2> in.mid`` on a temporary MIDI file,
    mixes the result to mono and peak-normalises it. Its length is whatever FluidSynth renders
    (the notes plus a short release).

    Args:
        notes: Note tuples or a sequence of :class:`Part`.
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
        cmd = [
            binary,
            "-ni",
            "-q",
            "-g",
            "0.8",
            "-r",
            str(int(sr)),
            "-F",
            str(wav),
            str(sf2),
            str(mid),
        ]
        proc = subprocess.run(cmd, capture_output=True, timeout=FLUIDSYNTH_TIMEOUT_S, check=False)
        if proc.returncode != 0 or not wav.is_file():
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            raise RuntimeError(f"fluidsynth failed ({proc.returncode}): {err[-1] if err else ''}")
        wave, file_sr = soundfile.read(str(wav), dtype="float64", always_2d=True)
    if file_sr != int(sr):
        raise RuntimeError(f"fluidsynth wrote {file_sr} Hz, asked for {sr} Hz")
    return _peak_normalise(wave.mean(axis=1))


# Additive timbres: relative harmonic amplitudes, decay time constant (s; inf = sustained),
# attack and release (s). Chosen by ear to be distinguishable, not to imitate instruments.
_TIMBRES = {
    "piano": ((1.0, 0.45, 0.25, 0.15, 0.08, 0.05), 0.8, 0.005, 0.08),
    "organ": ((1.0, 0.6, 0.0, 0.4, 0.0, 0.25, 0.0, 0.2), math.inf, 0.01, 0.03),
    "guitar": ((1.0, 0.7, 0.5, 0.3, 0.2, 0.12, 0.08), 0.4, 0.002, 0.05),
    "bass": ((1.0, 0.5, 0.2, 0.1), 0.6, 0.005, 0.04),
    "sine": ((1.0,), math.inf, 0.01, 0.02),
}


def _timbre_for_program(program: int) -> str:
    """General MIDI program families → additive timbre name."""
    family = int(program) // 8
    return {2: "organ", 3: "guitar", 4: "bass"}.get(family, "piano")


def _additive_note(pitch, dur_s, vel, *, sr, timbre) -> np.ndarray:
    harmonics, decay_s, attack_s, rel_s = _TIMBRES[timbre]
    n = int(round((dur_s + rel_s) * sr))
    t = np.arange(n) / sr
    f0 = float(midi_to_hz(pitch))
    wave = np.zeros(n)
    for k, amp in enumerate(harmonics, start=1):
        if amp and k * f0 < sr / 2:
            # Higher harmonics decay faster, as in struck and plucked strings.
            hdecay = np.exp(-t * k / decay_s) if math.isfinite(decay_s) else 1.0
            wave += amp * hdecay * np.sin(2 * np.pi * k * f0 * t)
    env = np.ones(n)
    n_att = max(1, int(attack_s * sr))
    env[:n_att] = np.linspace(0.0, 1.0, n_att, endpoint=False)
    n_on = int(round(dur_s * sr))
    n_rel = n - n_on
    if n_rel > 0:
        env[n_on:] *= np.linspace(1.0, 0.0, n_rel)
    return wave * env * (vel / 127.0)


def _additive_drum(pitch, vel, *, sr, rng) -> np.ndarray:
    """Kick (35-36), snare (37-40) or hi-hat (anything else) from sine sweeps and noise."""
    if pitch in (35, 36):
        n = int(0.25 * sr)
        t = np.arange(n) / sr
        freq = 50.0 + 100.0 * np.exp(-t / 0.03)  # pitch sweep 150 → 50 Hz
        wave = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.08)
    elif 37 <= pitch <= 40:
        n = int(0.2 * sr)
        t = np.arange(n) / sr
        noise = _highpass(rng.standard_normal(n), 1)
        wave = 0.6 * noise * np.exp(-t / 0.05) + 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(
            -t / 0.04
        )
    else:
        n = int(0.06 * sr)
        t = np.arange(n) / sr
        wave = 0.4 * _highpass(rng.standard_normal(n), 3) * np.exp(-t / 0.015)
    return wave * (vel / 127.0)


def _highpass(x: np.ndarray, order: int) -> np.ndarray:
    """Repeated first differences: a cheap high-pass that brightens noise, scaled to unit RMS."""
    y = np.asarray(x, dtype=np.float64)
    for _ in range(order):
        y = np.diff(y, prepend=0.0)
    rms = np.sqrt(np.mean(y**2))
    return y / rms if rms > 0 else y


def render_additive(
    notes,
    *,
    sr: int = DEFAULT_SR,
    bpm: float = 100.0,
    transpose: int = 0,
    timbre: str = "piano",
    seed: int = 0,
) -> np.ndarray:
    """Renders notes with a deterministic numpy additive synthesiser (the FluidSynth fallback).

    Each note is a sum of harmonics with per-harmonic exponential decay under a linear
    attack/release envelope; drum-channel notes are sine sweeps and shaped noise drawn from
    ``np.random.default_rng(seed)``. The length is the last note-off plus 0.25 s (the longest
    release or drum decay).

    Args:
        notes: Note tuples or a sequence of :class:`Part`.
        sr: Sample rate in Hz.
        bpm: Tempo in beats per minute.
        transpose: Semitones added to every non-drum pitch.
        timbre: ``"piano"``, ``"organ"``, ``"guitar"``, ``"bass"`` or ``"sine"``, for plain note
            tuples; a :class:`Part` takes the timbre of its General MIDI program family.
        seed: Seed of the noise in drum sounds.

    Returns:
        ``(samples,)`` float32 with peak 1 (or all zeros for no notes).

    Raises:
        ValueError: Unknown timbre.

    Example:
        >>> render_additive([(69, 0.0, 1.0)], bpm=60.0, sr=8000).shape
        (10000,)
    """
    if timbre not in _TIMBRES:
        raise ValueError(f"timbre must be one of {sorted(_TIMBRES)}, got {timbre!r}")
    notes = tuple(notes)
    plain = not any(isinstance(n, Part) for n in notes)
    parts = _as_parts(notes, 0)
    sec_per_beat = 60.0 / bpm
    rng = np.random.default_rng(seed)
    total = int(round(_end_beats(parts) * sec_per_beat * sr)) + int(round(ADDITIVE_TAIL_S * sr))
    out = np.zeros(total)
    for part in parts:
        part_timbre = timbre if plain else _timbre_for_program(part.program)
        for note in part.notes:
            pitch, start, dur, vel = _note_fields(note)
            if part.channel == DRUM_CHANNEL:
                wave = _additive_drum(pitch, vel, sr=sr, rng=rng)
            else:
                wave = _additive_note(
                    pitch + int(transpose), dur * sec_per_beat, vel, sr=sr, timbre=part_timbre
                )
            i = int(round(start * sec_per_beat * sr))
            wave = wave[: max(0, total - i)]
            out[i : i + len(wave)] += wave
    return _peak_normalise(out)


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
) -> np.ndarray:
    """Renders notes with FluidSynth when available, else with :func:`render_additive`.

    Args:
        notes: Note tuples or a sequence of :class:`Part`.
        sr: Sample rate in Hz.
        bpm: Tempo in beats per minute.
        program: General MIDI program for plain note tuples; the additive fallback maps its
            family to a timbre (organs, guitars, basses, else piano).
        transpose: Semitones added to every non-drum pitch.
        duration_s: Output length in seconds (trimmed or zero-padded); None keeps the last
            note-off plus 0.5 s.
        notices: If given, a one-line notice is appended when the fallback is used.

    Returns:
        ``(samples,)`` float32 peak-normalised (before trimming) waveform.

    Example:
        >>> render([(60, 0.0, 1.0)], sr=8000, bpm=60.0, duration_s=0.5).shape
        (4000,)
    """
    notes = tuple(notes)
    wave = render_fluidsynth(notes, sr=sr, bpm=bpm, program=program, transpose=transpose)
    if wave is None:
        if notices is not None:
            notices.append(FLUIDSYNTH_NOTICE)
        wave = render_additive(
            notes, sr=sr, bpm=bpm, transpose=transpose, timbre=_timbre_for_program(program)
        )
    if duration_s is None:
        duration_s = _end_beats(_as_parts(notes, program)) * 60.0 / bpm + RELEASE_S
    return _fit_length(wave, int(round(duration_s * sr)))


def tone(
    freq_hz: float, *, duration_s: float, sr: int = DEFAULT_SR, amplitude: float = 0.5
) -> np.ndarray:
    """A sine tone with 5 ms linear fades at both ends.

    Args:
        freq_hz: Frequency in Hz.
        duration_s: Length in seconds.
        sr: Sample rate in Hz.
        amplitude: Peak amplitude, at most 1.

    Returns:
        ``(round(duration_s * sr),)`` float32.

    Example:
        >>> tone(440.0, duration_s=0.1, sr=8000).shape
        (800,)
    """
    n = int(round(duration_s * sr))
    t = np.arange(n) / sr
    wave = min(abs(amplitude), 1.0) * np.sin(2 * np.pi * freq_hz * t)
    return (wave * _fades(n, sr)).astype(np.float32)


def _fades(n: int, sr: int, fade_s: float = 0.005) -> np.ndarray:
    env = np.ones(n)
    m = min(int(fade_s * sr), n // 2)
    if m > 0:
        ramp = np.linspace(0.0, 1.0, m, endpoint=False)
        env[:m] = ramp
        env[n - m :] = ramp[::-1]
    return env


def chord(
    midi_notes: Sequence[int], *, duration_s: float, sr: int = DEFAULT_SR, amplitude: float = 0.5
) -> np.ndarray:
    """Equal-amplitude sines at the given MIDI pitches, 3 harmonics each (1, 1/2, 1/4).

    Args:
        midi_notes: MIDI pitches.
        duration_s: Length in seconds.
        sr: Sample rate in Hz.
        amplitude: Peak amplitude of the sum, at most 1.

    Returns:
        ``(round(duration_s * sr),)`` float32 with peak ``amplitude``.

    Example:
        >>> float(abs(chord([60, 64, 67], duration_s=0.5, sr=8000)).max()) <= 0.5 + 1e-6
        True
    """
    n = int(round(duration_s * sr))
    t = np.arange(n) / sr
    wave = np.zeros(n)
    for f0 in np.atleast_1d(midi_to_hz(np.asarray(midi_notes))):
        for k, amp in ((1, 1.0), (2, 0.5), (3, 0.25)):
            if k * f0 < sr / 2:
                wave += amp * np.sin(2 * np.pi * k * f0 * t)
    wave *= _fades(n, sr)
    return (min(abs(amplitude), 1.0) * _peak_normalise(wave)).astype(np.float32)


def click_track(
    *,
    bpm: float,
    duration_s: float,
    sr: int = DEFAULT_SR,
    click_hz: float = 1000.0,
    decay_s: float = 0.01,
    offset_s: float = 0.0,
) -> np.ndarray:
    """Short exponentially decaying sine clicks, one on every beat.

    Args:
        bpm: Clicks per minute.
        duration_s: Length in seconds.
        sr: Sample rate in Hz.
        click_hz: Frequency of each click in Hz.
        decay_s: Decay time constant of each click in seconds (clicks last 6 time constants).
        offset_s: Time of the first click in seconds.

    Returns:
        ``(round(duration_s * sr),)`` float32 with peak 1 (clicks start at sample
        ``round((offset_s + k * 60 / bpm) * sr)``).

    Example:
        >>> w = click_track(bpm=120.0, duration_s=2.0, sr=8000)
        >>> np.flatnonzero(w == 1.0).tolist()
        [0, 4000, 8000, 12000]
    """
    n = int(round(duration_s * sr))
    m = max(1, int(6 * decay_s * sr))
    t = np.arange(m) / sr
    click = np.sin(2 * np.pi * click_hz * t + np.pi / 2) * np.exp(-t / decay_s)
    out = np.zeros(n)
    period_s = 60.0 / bpm
    k = 0
    while (start := int(round((offset_s + k * period_s) * sr))) < n:
        seg = click[: n - start]
        out[start : start + len(seg)] += seg
        k += 1
    return _peak_normalise(out)


def drum_pattern(
    *,
    bpm: float = 120.0,
    duration_s: float,
    sr: int = DEFAULT_SR,
    pattern: str = "rock",
    seed: int = 0,
) -> np.ndarray:
    """A kick/snare/hi-hat loop synthesised from sine sweeps and shaped noise.

    Patterns are written on an eighth-note grid of one 4/4 bar (8 steps):

    * ``"rock"``: kick on steps 0, 4 (beats 1, 3), snare on 2, 6 (beats 2, 4), hat on every step.
    * ``"four"``: kick on every beat, hat on the off-beats.
    * ``"half"``: kick on step 0, snare on step 4, hat on the beats.

    Args:
        bpm: Tempo in beats per minute.
        duration_s: Length in seconds.
        sr: Sample rate in Hz.
        pattern: ``"rock"``, ``"four"`` or ``"half"``.
        seed: Seed of ``np.random.default_rng`` for the noise (same seed, same samples).

    Returns:
        ``(round(duration_s * sr),)`` float32 with peak 1.

    Raises:
        ValueError: Unknown pattern.

    Example:
        >>> a = drum_pattern(duration_s=1.0, sr=8000)
        >>> bool(np.array_equal(a, drum_pattern(duration_s=1.0, sr=8000)))
        True
    """
    grids = {
        "rock": {36: (0, 4), 38: (2, 6), 42: tuple(range(8))},
        "four": {36: (0, 2, 4, 6), 42: (1, 3, 5, 7)},
        "half": {36: (0,), 38: (4,), 42: (0, 2, 4, 6)},
    }
    if pattern not in grids:
        raise ValueError(f"pattern must be one of {sorted(grids)}, got {pattern!r}")
    n = int(round(duration_s * sr))
    step_s = 30.0 / bpm  # an eighth note
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    n_steps = int(math.ceil(duration_s / step_s))
    velocity = {36: 120, 38: 110, 42: 70}
    for step in range(n_steps):
        for drum, steps in grids[pattern].items():
            if step % 8 in steps:
                hit = _additive_drum(drum, velocity[drum], sr=sr, rng=rng)
                i = int(round(step * step_s * sr))
                seg = hit[: max(0, n - i)]
                out[i : i + len(seg)] += seg
    return _peak_normalise(out)


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
    * style: :data:`STYLE_GROOVE` at 116 bpm, a drum kit, finger bass and drawbar-organ stabs in
      A minor, 4/4, 6 s.

    Both are mono, 22050 Hz, peak 0.9, 16-bit FLAC. The same renderer (FluidSynth with the same
    soundfont, or the additive fallback) gives the same files.

    Args:
        out_dir: Directory to write into (created if missing).
        notices: If given, receives the fallback notice when FluidSynth is missing.

    Returns:
        ``{"content": path, "style": path}``.
    """
    import soundfile

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = {
        "content": render(
            tuple(
                n for n in STAR_SPANGLED_BANNER + STAR_SPANGLED_BANNER_ACCOMPANIMENT if n[1] < 12
            ),
            sr=EXAMPLE_SR,
            bpm=CONTENT_BPM,
            program=0,
            duration_s=EXAMPLE_DURATION_S,
            notices=notices,
        ),
        "style": render(
            STYLE_GROOVE,
            sr=EXAMPLE_SR,
            bpm=STYLE_BPM,
            duration_s=EXAMPLE_DURATION_S,
            notices=notices,
        ),
    }
    paths = {}
    for name, wave in clips.items():
        wave = 0.9 * _peak_normalise(wave) * _fades(len(wave), EXAMPLE_SR, fade_s=0.02)
        path = out_dir / f"{name}.flac"
        soundfile.write(
            str(path), wave.astype(np.float32), EXAMPLE_SR, subtype="PCM_16", format="FLAC"
        )
        paths[name] = path
    return paths
