"""Tests for mst_jax.midi: mido's reading of our files against the note data."""

import mido
import pytest

from mst_jax import midi, notes, scores


def _read(path):
    """Absolute-tick events from mido's parse: note-ons, note-offs, programs, tempo."""
    f = mido.MidiFile(str(path))
    ons, offs, programs, tempos, tick = [], [], [], [], 0
    for msg in f.tracks[0]:  # delta times in ticks
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            ons.append((tick, msg.channel, msg.note, msg.velocity))
        elif msg.type == "note_off" or msg.type == "note_on":
            offs.append((tick, msg.channel, msg.note))
        elif msg.type == "program_change":
            programs.append((tick, msg.channel, msg.program))
        elif msg.type == "set_tempo":
            tempos.append(msg.tempo)
    return f, ons, offs, programs, tempos


@pytest.mark.parametrize("name", ["piano", "band_loop", "electronic"])
def test_mido_reads_back_the_note_data(tmp_path, name):
    piece = scores.PIECES[name]
    path = midi.write_midi(tmp_path / f"{name}.mid", piece.parts, bpm=piece.bpm, transpose=2)
    f, ons, offs, programs, tempos = _read(path)
    assert (f.type, len(f.tracks), f.ticks_per_beat) == (0, 1, 480)
    assert tempos == [round(60e6 / piece.bpm)]  # microseconds per beat
    expect_on, expect_off = [], []
    for part in piece.parts:
        drum = part.channel == notes.DRUM_CHANNEL
        for n in part.notes:
            p = n[0] + (0 if drum else 2)  # transposing leaves the drum keys alone
            expect_on.append((round(n[1] * 480), part.channel, p, n[3] if len(n) > 3 else 96))
            expect_off.append((round((n[1] + n[2]) * 480), part.channel, p))
    assert sorted(ons) == sorted(expect_on)
    assert sorted(offs) == sorted(expect_off)
    # One program change per part at tick 0; the drum channel only for a kit other than 0.
    expect_programs = {(0, p.channel, p.program) for p in piece.parts
                       if p.channel != notes.DRUM_CHANNEL or p.program}
    assert set(programs) == expect_programs


def test_plain_notes_take_the_program_and_channel_0(tmp_path):
    path = midi.write_midi(tmp_path / "a.mid", scores.STAR_SPANGLED_BANNER, bpm=100.0, program=5,
                           transpose=-3)
    _, ons, offs, programs, tempos = _read(path)
    assert tempos == [600_000]  # 60e6 / 100 bpm
    assert programs == [(0, 0, 5)]
    assert [o[2] for o in ons] == [n[0] - 3 for n in scores.STAR_SPANGLED_BANNER]
    assert [o[0] for o in ons] == [round(n[1] * 480) for n in scores.STAR_SPANGLED_BANNER]
    # At a tick where one note ends and the next starts, the note-off comes first.
    events = [m for m in mido.MidiFile(str(path)).tracks[0] if m.type.startswith("note")]
    assert events[1].type == "note_off" and events[1].time == 360  # "O-" ends at beat 0.75


def test_a_note_shorter_than_a_tick_ends_after_it_starts_and_the_track_rings_half_a_beat():
    """A note rounded to 0 ticks still lasts one (a note-off sorted before its own note-on would
    leave it sounding), and end-of-track comes 240 ticks (half a beat) after the last note-off."""
    f = midi.midi_file([(60, 0.0, 1e-4), (62, 1.0, 1.0)])
    tick, events = 0, []
    for msg in f.tracks[0]:
        tick += msg.time
        events.append((tick, msg.type, getattr(msg, "note", None)))
    notes_60 = [(t, kind) for t, kind, n in events if n == 60]
    assert notes_60 == [(0, "note_on"), (1, "note_off")]
    assert events[-1] == (2 * 480 + 240, "end_of_track", None)


def test_bad_input():
    with pytest.raises(ValueError, match="pitch"):
        midi.midi_file([(126, 0.0, 1.0)], transpose=5)
    with pytest.raises(ValueError, match="bpm"):
        midi.midi_file([(60, 0.0, 1.0)], bpm=0.0)
    with pytest.raises(ValueError, match="program"):
        midi.midi_file([notes.Part(((60, 0.0, 1.0),), program=128)])
