"""Tests for mst_jax.notes: note names, the line/drums/chart notation, note checks."""

import librosa
import numpy as np
import pytest

from mst_jax import notes


@pytest.mark.parametrize("name", ["C4", "A4", "Bb3", "F#5", "C-1", "G9", "E#4", "Cb4", "Ab1"])
def test_pitch_matches_librosa(name):
    assert notes.pitch(name) == librosa.note_to_midi(name)


@pytest.mark.parametrize("name", ["H4", "C", "4", "C#x", ""])
def test_pitch_rejects_bad_names(name):
    with pytest.raises(ValueError, match="note name"):
        notes.pitch(name)


def test_midi_to_hz_matches_librosa():
    p = np.arange(21, 109)
    np.testing.assert_allclose(notes.midi_to_hz(p), librosa.midi_to_hz(p), rtol=1e-12)


def test_line_times_chords_and_rests():
    got = notes.line("G4:1.5 r:0.5 C4+E4:2 B3:0.25", start_beats=4.0, velocity=70)
    # Hand-computed: onsets accumulate the durations, a rest only moves the time on.
    assert got == ((67, 4.0, 1.5, 70), (60, 6.0, 2.0, 70), (64, 6.0, 2.0, 70), (59, 8.0, 0.25, 70))
    for bad in ("C4", "C4:0", "C4:-1"):
        with pytest.raises(ValueError, match="NAME:BEATS"):
            notes.line(bad)


def test_drums_grid():
    got = notes.drums({36: "X..x|....", 42: "o.o."}, start_beats=1.0, step_beats=0.5)
    assert got == ((36, 1.0, 0.5, 118), (42, 1.0, 0.5, 52), (42, 2.0, 0.5, 52), (36, 2.5, 0.5, 96))
    with pytest.raises(ValueError, match="unknown step"):
        notes.drums({36: "X?"})


def test_chart_patterns_holds_and_split_bars():
    voicing = {"C": "C3 E3 G3", "G7": "B2 F3 G3", "Am": "A2 C3 E3"}
    # An Alberti bar of C, then a bar split between G7 and Am (each plays the pattern's first
    # half), in eighths: 4 beats / 8 steps = 0.5 beat a step.
    got = notes.chart("C | G7 Am", voicing, "02120212", velocity=50)
    c, e, g = 48, 52, 55
    b, f, g2, a, c3, e3 = 47, 53, 55, 45, 48, 52
    expect = [(p, 0.5 * k, 0.5, 50) for k, p in enumerate((c, g, e, g, c, g, e, g))]
    expect += [(p, 4.0 + 0.5 * k, 0.5, 50) for k, p in enumerate((b, g2, f, g2))]
    expect += [(p, 6.0 + 0.5 * k, 0.5, 50) for k, p in enumerate((a, e3, c3, e3))]
    assert list(got) == expect
    # "-" extends the note before it; "*" plays the whole voicing; "." rests.
    held = notes.chart("C", voicing, "0--.*...", velocity=60)
    assert held == ((48, 0.0, 1.5, 60), (48, 2.0, 0.5, 60), (52, 2.0, 0.5, 60), (55, 2.0, 0.5, 60))
    with pytest.raises(KeyError):
        notes.chart("D", voicing, "0")


def test_kit_is_on_the_drum_channel_bar_after_bar():
    part = notes.kit([{36: "X..............."}, {38: "....x..........."}], program=24)
    assert (part.channel, part.program) == (9, 24)
    assert part.notes == ((36, 0.0, 0.25, 118), (38, 5.0, 0.25, 96))


def test_note_fields_parts_and_end():
    assert notes.note_fields((60, 1, 2)) == (60, 1.0, 2.0, notes.DEFAULT_VELOCITY)
    for bad in ((60, 1.0), (60, -1.0, 1.0), (60, 0.0, 0.0)):
        with pytest.raises(ValueError):
            notes.note_fields(bad)
    part = notes.Part(((60, 0.0, 1.0),), program=5, channel=3)
    assert notes.as_parts([part]) == (part,)
    assert notes.as_parts([(60, 0.0, 1.0)], program=7) == (notes.Part(((60, 0.0, 1.0),), 7, 0),)
    with pytest.raises(ValueError, match="mix"):
        notes.as_parts([part, (60, 0.0, 1.0)])
    assert notes.end_beats([part, notes.Part(((62, 2.5, 1.0),))]) == 3.5
    assert notes.shift(((60, 1.0, 1.0, 80),), 2.0) == ((60, 3.0, 1.0, 80),)


def test_played_by_gives_the_notes_to_the_other_pieces_instruments():
    from mst_jax import scores

    rock, choir = scores.PIECES["rock_band"], scores.PIECES["choir"]
    ideal = notes.played_by(rock, choir)
    assert [p.notes for p in ideal.parts] == [p.notes for p in rock.parts]
    assert (ideal.bpm, ideal.beats, ideal.key) == (rock.bpm, rock.beats, rock.key)
    pitched = [p.program for p in ideal.parts if p.channel != notes.DRUM_CHANNEL]
    assert pitched == [52, 52, 53]  # choir's soprano, alto, tenor programs in order
    drums = [p for p in ideal.parts if p.channel == notes.DRUM_CHANNEL]
    assert drums == [p for p in rock.parts if p.channel == notes.DRUM_CHANNEL]  # choir has no kit
    kit = notes.played_by(rock, scores.PIECES["electronic"]).parts[-1]
    assert kit.channel == notes.DRUM_CHANNEL and kit.program == 24  # electronic's kit
    with pytest.raises(ValueError, match="no pitched part"):
        notes.played_by(rock, scores.PIECES["drum_groove"])


def test_humanize_moves_notes_within_its_ranges_and_never_before_zero():
    parts = (notes.Part(tuple((60, float(b), 0.5, 100) for b in range(8)), program=0),)
    for seed in range(20):
        moved = notes.humanize(parts, seed, velocity=12, timing_beats=0.1)[0].notes
        starts = np.array([n[1] for n in moved])
        assert starts.min() >= 0.0  # the first note, at 0, cannot move earlier
        assert np.all(np.abs(starts - np.arange(8)) <= 0.1 + 1e-12)
        assert all(88 <= n[3] <= 112 and n[:1] == (60,) and n[2] == 0.5 for n in moved)
