"""Standard MIDI Files from note data, written with ``mido``.

A piece becomes a format-0 file (one track, 480 ticks per beat): a tempo and a 4/4 time
signature, one program change per pitched part (and per drum part whose kit is not the
standard kit 0), then the notes, note-offs before note-ons at the same tick.

Example:
    >>> import os, tempfile, mido
    >>> path = write_midi(os.path.join(tempfile.mkdtemp(), "a.mid"), [(60, 0.0, 1.0)], bpm=120.0)
    >>> [m.type for m in mido.MidiFile(path).tracks[0]][-3:]
    ['note_on', 'note_off', 'end_of_track']
"""

from __future__ import annotations

from pathlib import Path

import mido

from mst_jax.notes import DRUM_CHANNEL, as_parts, note_fields

__all__ = ["TICKS_PER_BEAT", "midi_file", "write_midi"]

TICKS_PER_BEAT = 480  # MIDI division (pulses per quarter note)


def midi_file(notes, *, bpm: float = 100.0, program: int = 0, transpose: int = 0) -> mido.MidiFile:
    """Note data as a format-0 :class:`mido.MidiFile`.

    Args:
        notes: ``(midi_pitch, start_beats, duration_beats[, velocity])`` tuples (played on
            channel 0 with ``program``) or a sequence of :class:`~mst_jax.notes.Part`.
        bpm: Tempo in beats (quarter notes) per minute.
        program: General MIDI program for plain note tuples, 0-127.
        transpose: Semitones added to every pitch except on the drum channel 9.

    Returns:
        The file, one track, times in ticks of ``TICKS_PER_BEAT`` per beat; the track ends
        half a beat after the last note-off.

    Raises:
        ValueError: A pitch leaves 0-127 after transposing, or a bad note, program, channel
            or bpm.
    """
    if not bpm > 0:
        raise ValueError(f"bpm must be > 0, got {bpm}")
    head = [
        mido.MetaMessage("set_tempo", tempo=round(60_000_000 / bpm)),
        mido.MetaMessage("time_signature", numerator=4, denominator=4),
    ]
    events = []  # (tick, order, message); note-offs (order 0) sort before note-ons at one tick
    for part in as_parts(notes, program):
        ch, prog = int(part.channel), int(part.program)
        if not 0 <= ch <= 15 or not 0 <= prog <= 127:
            raise ValueError(f"part channel {ch} / program {prog} out of range")
        if ch != DRUM_CHANNEL or prog != 0:  # the drum channel plays kit 0 unless told
            head.append(mido.Message("program_change", channel=ch, program=prog))
        for note in part.notes:
            pitch, start, dur, vel = note_fields(note)
            pitch += int(transpose) if ch != DRUM_CHANNEL else 0
            if not 0 <= pitch <= 127 or not 1 <= vel <= 127:
                raise ValueError(f"note {note!r}: pitch {pitch} or velocity {vel} out of range")
            on = round(start * TICKS_PER_BEAT)
            off = max(round((start + dur) * TICKS_PER_BEAT), on + 1)
            events.append((on, 1, mido.Message("note_on", channel=ch, note=pitch, velocity=vel)))
            events.append((off, 0, mido.Message("note_off", channel=ch, note=pitch, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack(msg.copy(time=0) for msg in head)
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=TICKS_PER_BEAT // 2))
    out = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    out.tracks.append(track)
    return out


def write_midi(
    path: str | Path, notes, *, bpm: float = 100.0, program: int = 0, transpose: int = 0
) -> Path:
    """Writes note data as a Standard MIDI File; see :func:`midi_file`.

    Args:
        path: Destination ``.mid`` file.
        notes: Note tuples or a sequence of :class:`~mst_jax.notes.Part`.
        bpm: Tempo in beats per minute.
        program: General MIDI program for plain note tuples.
        transpose: Semitones added to every non-drum pitch.

    Returns:
        The path written.
    """
    path = Path(path)
    midi_file(notes, bpm=bpm, program=program, transpose=transpose).save(str(path))
    return path
