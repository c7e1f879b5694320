"""Notes, parts and pieces as plain tuples, and a compact note-name notation to write them.

A note is a tuple ``(midi_pitch, start_beats, duration_beats[, velocity])`` (velocity 1-127,
96 when absent). An instrument is a :class:`Part` (notes, General MIDI program, MIDI channel;
channel 9 is the drum kit); a :class:`Piece` is parts with a tempo, a key, a genre and its
length in beats. :func:`line` writes a melody as ``NAME:BEATS`` tokens, :func:`drums` a drum
bar as one step string per drum, :func:`chart` an accompaniment from a chord chart. Nothing
here renders audio; the pieces themselves are in :mod:`mst_jax.scores`.

Example:
    >>> line("C4:1 E4+G4:0.5 r:0.5 A4:2")
    ((60, 0.0, 1.0, 90), (64, 1.0, 0.5, 90), (67, 1.0, 0.5, 90), (69, 2.0, 2.0, 90))
    >>> chart("C | F G", {"C": "C3 G3", "F": "F3 C4", "G": "G3 D4"}, "0-1-", velocity=60)[-2:]
    ((53, 4.0, 2.0, 60), (55, 6.0, 2.0, 60))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "DRUM_CHANNEL",
    "humanize",
    "Part",
    "Piece",
    "as_parts",
    "chart",
    "drums",
    "end_beats",
    "kit",
    "line",
    "midi_to_hz",
    "has_pitched_part",
    "note_fields",
    "played_by",
    "pitch",
    "shift",
]

DRUM_CHANNEL = 9  # General MIDI percussion channel (channel 10 counted from 1)
DEFAULT_VELOCITY = 96  # MIDI velocity of a note given without one
# General MIDI percussion keys used below.
KICK, SNARE, CLAP, HAT, OPEN_HAT, CRASH, RIDE = 36, 38, 39, 42, 46, 49, 51
TOM_FLOOR, TOM_LOW, TOM_MID, TOM_HIGH = 43, 45, 47, 50


class Part(NamedTuple):
    """One instrument of a piece: its notes and where they are played.

    Attributes:
        notes: ``(midi_pitch, start_beats, duration_beats[, velocity])`` tuples.
        program: General MIDI program, 0-127 (0 piano, 16 drawbar organ, 33 finger bass). On
            the drum channel it picks the kit (0 standard, 24 electronic, 25 TR-808).
        channel: MIDI channel 0-15; channel 9 is General MIDI percussion, where the pitch picks
            the drum (36 kick, 38 snare, 42 closed hi-hat) and transposing does not apply.
    """

    notes: tuple
    program: int = 0
    channel: int = 0


class Piece(NamedTuple):
    """A piece: its parts, tempo and what it is.

    Attributes:
        parts: The instruments, a tuple of :class:`Part`.
        bpm: Tempo in beats (quarter notes) per minute.
        description: One line: form, instruments, harmony.
        genre: One word or two, different for every piece.
        key: ``"G major"``, ``"E minor"``; ``""`` for unpitched pieces.
        beats: Length in beats, whole bars (the period when the piece is looped).
    """

    parts: tuple
    bpm: float
    description: str
    genre: str
    key: str
    beats: float


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


_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def pitch(name: str) -> int:
    """MIDI pitch of a note name: letter, then ``#`` or ``b`` (any number), then octave; C4 = 60.

    Raises:
        ValueError: Not a note name.

    Example:
        >>> pitch("A4"), pitch("Bb3"), pitch("F#5"), pitch("C-1")
        (69, 58, 78, 0)
    """
    letter, rest = name[:1].upper(), name[1:]
    accidentals = len(rest) - len(rest.lstrip("#b"))
    try:
        octave = int(rest[accidentals:])
    except ValueError:
        octave = None
    if letter not in _STEPS or octave is None:
        raise ValueError(f"note name {name!r}: expected e.g. 'C4', 'F#3', 'Bb2'")
    alter = rest[:accidentals].count("#") - rest[:accidentals].count("b")
    return 12 * (octave + 1) + _STEPS[letter] + alter


def line(text: str, *, start_beats: float = 0.0, velocity: int = 90) -> tuple:
    """Notes from a line of ``NAME:BEATS`` tokens, one after the other.

    ``C4:1`` is C4 for one beat, ``E4+G4+B4:2`` three notes together for two beats, ``r:0.5``
    a half-beat rest.

    Args:
        text: Whitespace-separated tokens.
        start_beats: Onset of the first token in beats.
        velocity: MIDI velocity of every note.

    Returns:
        ``(midi_pitch, start_beats, duration_beats, velocity)`` tuples in order.

    Raises:
        ValueError: A token without ``:`` or with a bad name or a duration <= 0.
    """
    notes, t = [], float(start_beats)
    for token in text.split():
        names, sep, beats = token.partition(":")
        if not sep or not float(beats) > 0:
            raise ValueError(f"token {token!r}: expected NAME:BEATS with BEATS > 0")
        if names != "r":
            notes.extend((pitch(n), t, float(beats), velocity) for n in names.split("+"))
        t += float(beats)
    return tuple(notes)


_HITS = {"X": 118, "x": 96, "o": 52}  # drum grid: accent, normal, ghost velocity


def drums(grid: dict[int, str], *, start_beats: float = 0.0, step_beats: float = 0.25) -> tuple:
    """Drum hits from one string per drum, a character per step: ``X`` accent, ``x`` hit,
    ``o`` ghost note, ``.`` or space nothing.

    Args:
        grid: General MIDI percussion key -> step string (``|`` may separate beats).
        start_beats: Time of the first step in beats.
        step_beats: Length of a step in beats (0.25: sixteenth notes).

    Returns:
        ``(key, start_beats, step_beats, velocity)`` tuples sorted by time.

    Example:
        >>> drums({36: "X.x."}, step_beats=0.5)
        ((36, 0.0, 0.5, 118), (36, 1.0, 0.5, 96))
    """
    hits = []
    for key, steps in grid.items():
        for k, c in enumerate(steps.replace("|", "")):
            if c in _HITS:
                hits.append((key, start_beats + k * step_beats, step_beats, _HITS[c]))
            elif c not in ". ":
                raise ValueError(f"drum grid {steps!r}: unknown step {c!r}")
    return tuple(sorted(hits, key=lambda h: h[1]))


def shift(notes: Sequence, beats: float) -> tuple:
    """The notes ``beats`` later."""
    return tuple((n[0], n[1] + beats, *n[2:]) for n in notes)


def note_fields(note) -> tuple[int, float, float, int]:
    """``(pitch, start_beats, duration_beats, velocity)`` of a 3- or 4-tuple note, checked.

    Raises:
        ValueError: Wrong length, negative start or non-positive duration.
    """
    if len(note) not in (3, 4):
        raise ValueError(
            f"note {note!r}: expected (pitch, start_beats, duration_beats[, velocity])"
        )
    p, start, dur = int(note[0]), float(note[1]), float(note[2])
    velocity = int(note[3]) if len(note) == 4 else DEFAULT_VELOCITY
    if start < 0 or dur <= 0:
        raise ValueError(f"note {note!r}: start_beats must be >= 0 and duration_beats > 0")
    return p, start, dur, velocity


def as_parts(notes, program: int = 0) -> tuple[Part, ...]:
    """Note tuples (one part on channel 0 playing ``program``) or Parts, as Parts.

    Raises:
        ValueError: A mix of Parts and note tuples.
    """
    notes = tuple(notes)
    if notes and all(isinstance(p, Part) for p in notes):
        return notes
    if any(isinstance(p, Part) for p in notes):
        raise ValueError("notes: mix of Part and note tuples; pass one kind")
    return (Part(notes=notes, program=program, channel=0),)


def has_pitched_part(piece: Piece) -> bool:
    """Whether ``piece`` has a part off the drum channel (an instrument that plays notes)."""
    return any(p.channel != DRUM_CHANNEL for p in piece.parts)


def played_by(piece: Piece, other: Piece) -> Piece:
    """``piece``'s notes played by ``other``'s instruments: a style transfer's ideal, as a score.

    The k-th pitched part of ``piece`` takes the program of ``other``'s k-th pitched part
    (cycling when ``other`` has fewer); drum parts take ``other``'s kit when it has one. Notes,
    channels, tempo and length stay ``piece``'s.

    Raises:
        ValueError: ``other`` has no pitched part (a drum kit cannot play the notes).

    >>> a = Piece((Part(((60, 0, 1),), 0, 0), Part(((40, 0, 1),), 33, 1)), 100.0, "", "", "C major", 4.0)
    >>> b = Piece((Part(((67, 0, 1),), 52, 0),), 90.0, "", "", "G major", 4.0)
    >>> [p.program for p in played_by(a, b).parts]
    [52, 52]
    """
    if not has_pitched_part(other):
        raise ValueError("played_by: the other piece has no pitched part to play the notes")
    programs = [p.program for p in other.parts if p.channel != DRUM_CHANNEL]
    kits = [p.program for p in other.parts if p.channel == DRUM_CHANNEL]
    parts, k = [], 0
    for p in piece.parts:
        if p.channel == DRUM_CHANNEL:
            parts.append(p._replace(program=kits[0]) if kits else p)
        else:
            parts.append(p._replace(program=programs[k % len(programs)]))
            k += 1
    return piece._replace(parts=tuple(parts))


def end_beats(parts: Sequence[Part]) -> float:
    """Time of the last note-off in beats (0 for no notes)."""
    ends = [s + d for p in parts for (_, s, d, _) in map(note_fields, p.notes)]
    return max(ends, default=0.0)


def chart(chords: str, voicing: dict[str, str], pattern: str, *, velocity: int = 64,
          start_beats: float = 0.0, beats_per_bar: int = 4) -> tuple:
    """An accompaniment from a chord chart.

    ``chords`` lists bars separated by ``|`` (two chords in a bar split it equally). For each
    chord, ``pattern`` (one bar, one character per step) plays from the start: a digit plays
    that note of the chord's ``voicing``, ``*`` all of them, ``-`` holds the step before, ``.``
    rests; a chord shorter than the bar uses the first steps of the pattern.

    Args:
        chords: Chord names, e.g. ``"G | Em | Am D | G"``.
        voicing: Chord name -> its notes as note names, low to high, e.g. ``"G2 D3 B3"``.
        pattern: One bar of steps, e.g. ``"02120212"`` (Alberti bass in eighths).
        velocity: MIDI velocity of every note.
        start_beats: Onset of the first bar in beats.
        beats_per_bar: Beats in a bar.

    Returns:
        ``(midi_pitch, start_beats, duration_beats, velocity)`` tuples.

    Raises:
        KeyError: A chord without a voicing.
    """
    notes, t = [], float(start_beats)
    step = beats_per_bar / len(pattern)
    for bar in chords.split("|"):
        names = bar.split()
        span = beats_per_bar / len(names)
        for name in names:
            tones = [pitch(v) for v in voicing[name].split()]
            steps = pattern[: round(span / step)]
            for k, c in enumerate(steps):
                if c in "-.":
                    continue
                after = steps[k + 1 :]
                held = len(after) - len(after.lstrip("-"))
                for p in tones if c == "*" else (tones[int(c)],):
                    notes.append((p, t + k * step, (1 + held) * step, velocity))
            t += span
    return tuple(notes)


def kit(bars: Sequence[dict[int, str]], *, program: int = 0) -> Part:
    """A drum part on the drum channel: one :func:`drums` grid of sixteenths per 4/4 bar.

    Args:
        bars: One ``{percussion key: 16-step string}`` per bar, bar after bar.
        program: Drum kit (0 standard, 24 electronic, 25 TR-808).

    Returns:
        A :class:`Part` on channel 9.
    """
    return Part(
        tuple(n for k, grid in enumerate(bars) for n in drums(grid, start_beats=4.0 * k)),
        program=program,
        channel=DRUM_CHANNEL,
    )


def humanize(parts: Sequence, seed: int, *, velocity: int = 12, timing_beats: float = 0.02) -> tuple:
    """The same notes played again: velocities ± ``velocity`` and onsets ± ``timing_beats``
    (beats), uniformly at random from ``seed`` (a second rendering, e.g. the texture study's
    identity check).

    >>> p = (Part(((60, 0.0, 1.0, 100),), program=0),)
    >>> q = humanize(p, 0)[0].notes[0]
    >>> q[0], abs(q[1]) <= 0.02, abs(q[3] - 100) <= 12
    (60, True, True)
    """
    rng = np.random.default_rng(seed)
    out = []
    for part in parts:
        notes = []
        for pitch, start, dur, vel in (note_fields(n) for n in part.notes):
            v = int(np.clip(vel + rng.integers(-velocity, velocity + 1), 1, 127))
            notes.append((pitch, max(0.0, start + rng.uniform(-timing_beats, timing_beats)), dur, v))
        out.append(part._replace(notes=tuple(notes)))
    return tuple(out)
