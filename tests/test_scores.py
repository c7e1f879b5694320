"""Tests for mst_jax.scores: the note data of the examples and of the benchmark's pieces."""

import pytest

from mst_jax import notes, scores

PIECES = scores.PIECES
TEXTURE_SOURCES = ("drum_groove_fills", "band_loop")
# Pitch classes (C = 0) of each declared key's scale, written out by hand; minor keys add the
# raised leading tone of harmonic minor.
SCALES = {
    "G major": {7, 9, 11, 0, 2, 4, 6},
    "D major": {2, 4, 6, 7, 9, 11, 1},
    "E minor": {4, 6, 7, 9, 11, 0, 2, 3},
    "F minor": {5, 7, 8, 10, 0, 1, 3, 4},
    "A minor": {9, 11, 0, 2, 4, 5, 7, 8},
    "E-flat major": {3, 5, 7, 8, 10, 0, 2},
    "C major": {0, 2, 4, 5, 7, 9, 11},
    "A major": {9, 11, 1, 2, 4, 6, 8},
}


def _pitched(piece):
    return [p for p in piece.parts if p.channel != notes.DRUM_CHANNEL]


def test_star_spangled_banner_data():
    melody = scores.STAR_SPANGLED_BANNER
    assert all(len(n) == 3 for n in melody)
    starts = [n[1] for n in melody]
    assert starts == sorted(starts)
    assert max(s + d for _, s, d in melody) == 24.0  # 8 bars of 3/4 after the pickup beat
    # B-flat major: every melody pitch class is in the scale, except the E natural of "ear-ly".
    assert {n[0] % 12 for n in melody} - {10, 0, 2, 3, 5, 7, 9} == {4}
    assert melody[2] == (58, 1.0, 1.0)  # "say" on B-flat 3, on the downbeat of bar 1
    # The accompaniment: a bass note on each downbeat (beats 1, 4, ..., 22), triads after it.
    downbeats = [n[1] for n in scores.STAR_SPANGLED_BANNER_ACCOMPANIMENT if n[3] == 80]
    assert downbeats == [1.0 + 3 * k for k in range(8)]


def test_every_piece_is_long_enough_and_in_whole_bars():
    for name, piece in PIECES.items():
        seconds = piece.beats * 60.0 / piece.bpm
        assert seconds >= (30.0 if name in TEXTURE_SOURCES else 10.0), name
        assert piece.beats % 4 == 0, name  # whole 4/4 bars, so a loop keeps the meter
        # The notes fill the last bar (a final rest of at most a beat).
        assert piece.beats - 1 <= notes.end_beats(piece.parts) <= piece.beats, name


def test_pieces_differ_in_genre_key_and_tempo():
    required = {"piano", "string_quartet", "rock_band", "electronic", "nylon_guitar", "choir",
                "brass", "drum_groove", "drum_groove_fills", "band_loop"}
    assert required <= set(PIECES)
    assert len({p.genre for p in PIECES.values()}) == len(PIECES)
    keyed = [p.key for p in PIECES.values() if p.key]
    assert len(set(keyed)) == len(keyed)  # every pitched piece in its own key
    assert len({p.bpm for p in PIECES.values()}) == len(PIECES)  # and in its own tempo


@pytest.mark.parametrize("name", [n for n, p in PIECES.items() if p.key])
def test_pitched_piece_has_melody_harmony_bass_and_stays_in_key(name):
    piece = PIECES[name]
    pitched = _pitched(piece)
    assert len(pitched) >= 2  # a melody over at least one accompanying part
    weight, in_key = 0.0, 0.0
    for part in pitched:
        for p, _, dur, _ in map(notes.note_fields, part.notes):
            weight += dur
            in_key += dur * (p % 12 in SCALES[piece.key])
    assert in_key / weight >= 0.95  # a few chromatic passing notes at most
    lowest = min(n[0] for part in pitched for n in part.notes)
    assert lowest <= notes.pitch("D3")  # a bass line
    onsets = {n[1] for part in pitched for n in part.notes}
    assert len(onsets) >= 2 * piece.beats / 4  # at least two note onsets a bar: a tune, not a drone


def test_drums_where_the_genre_has_them():
    for name in ("rock_band", "electronic", "band_loop"):
        assert any(p.channel == notes.DRUM_CHANNEL for p in PIECES[name].parts), name
    for name in ("drum_groove", "drum_groove_fills"):
        assert all(p.channel == notes.DRUM_CHANNEL for p in PIECES[name].parts), name
        assert PIECES[name].key == ""


def _bars(part, beats):
    """Per 4/4 bar: the hits as a frozenset of (key, beat in bar, velocity)."""
    return [
        frozenset((n[0], n[1] - 4 * b, n[3]) for n in part.notes if 4 * b <= n[1] < 4 * b + 4)
        for b in range(int(beats) // 4)
    ]


def test_drum_groove_fills_has_a_different_fill_every_fourth_bar():
    piece = PIECES["drum_groove_fills"]
    bars = _bars(piece.parts[0], piece.beats)
    assert len(bars) == 16
    fills = [bars[k] for k in (3, 7, 11, 15)]
    assert len(set(fills)) == 4  # four different fills
    toms = {notes.TOM_FLOOR, notes.TOM_LOW, notes.TOM_MID, notes.TOM_HIGH}
    for k in (3, 7, 11, 15):
        assert bars[k] != bars[k - 1]
        fill_hits = [h for h in bars[k] if h[1] >= 2.0]  # the second half of the bar
        assert sum(h[0] == notes.SNARE or h[0] in toms for h in fill_hits) >= 4
    for k in (4, 8, 12):
        assert any(h[0] == notes.CRASH and h[1] == 0.0 for h in bars[k])  # crash after a fill
    assert len(set(bars)) >= 8  # variation beyond the fills (hi-hat, ride, open hat)


def test_band_loop_repeats_its_chords_and_varies_each_pass():
    piece = PIECES["band_loop"]
    assert piece.beats == 64
    bass = next(p for p in piece.parts if p.program == 33)
    roots = [min(n[0] for n in bass.notes if 4 * b <= n[1] < 4 * b + 4) % 12 for b in range(16)]
    assert roots == [9, 4, 6, 2] * 4  # A E F#m D, four times
    passes = [
        frozenset((p.program, n[0], n[1] - 16 * k) for p in piece.parts for n in p.notes
                  if 16 * k <= n[1] < 16 * k + 16)
        for k in range(4)
    ]
    assert len(set(passes)) == 4  # no two passes alike


def test_quality_pairs():
    pairs = scores.QUALITY_PAIRS
    assert len(pairs) >= 8 and len(set(pairs)) == len(pairs)
    for content, style in pairs:
        assert content in PIECES and style in PIECES and content != style
        assert PIECES[content].genre != PIECES[style].genre
        assert PIECES[content].key  # chroma-bearing: "content kept" can be measured
        assert PIECES[content].beats * 60.0 / PIECES[content].bpm >= 10.0
    assert "drum_groove" in {s for _, s in pairs}
    assert len({c for c, _ in pairs}) >= 6  # most pitched pieces serve as content


# General MIDI program families (program // 8) written out from the GM 1 sound set: the
# instruments the issue names for each piece (melody first, then every pitched part).
GM_FAMILIES = {
    "piano": ({0}, {0}),  # pianos
    "string_quartet": ({5}, {5}),  # strings (violin, viola, cello)
    "rock_band": ({3}, {3, 4}),  # guitars; the bass family
    "electronic": ({10}, {4, 10, 11}),  # synth lead; synth bass, synth pad
    "nylon_guitar": ({3}, {3}),
    "choir": ({6}, {6}),  # ensemble (choir aahs, voice oohs)
    "brass": ({7}, {7}),  # brass (trumpet, trombone, tuba, horn)
}


@pytest.mark.parametrize("name", sorted(GM_FAMILIES))
def test_each_piece_is_played_by_the_instruments_it_names(name):
    melody_families, all_families = GM_FAMILIES[name]
    pitched = _pitched(PIECES[name])
    assert pitched[0].program // 8 in melody_families
    assert {p.program // 8 for p in pitched} <= all_families
