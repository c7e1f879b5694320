"""The project's music as note data: the example clips' notes and the benchmark's pieces.

:data:`PIECES` holds ten pieces of different genres, keys and tempi, written with the notation
of :mod:`mst_jax.notes`: eight for the quality benchmark (each at least 10 s) and two 30-s
texture sources with variation (``drum_groove_fills``, ``band_loop``). :data:`QUALITY_PAIRS`
pairs them as (content, style). :data:`STAR_SPANGLED_BANNER` (public domain) and
:data:`STYLE_GROOVE` are the notes of the shipped example clips. All other melodies are
original. Render with :func:`mst_jax.render.render_piece`.

Example:
    >>> PIECES["piano"].bpm, PIECES["piano"].key
    (84.0, 'G major')
    >>> all(c != s for c, s in QUALITY_PAIRS)
    True
"""

from __future__ import annotations

from mst_jax.notes import (
    CLAP,
    CRASH,
    DRUM_CHANNEL,
    HAT,
    KICK,
    OPEN_HAT,
    RIDE,
    SNARE,
    TOM_FLOOR,
    TOM_HIGH,
    TOM_LOW,
    TOM_MID,
    Part,
    Piece,
    chart,
    kit,
    line,
    pitch,
)

__all__ = [
    "PIECES",
    "QUALITY_PAIRS",
    "TEXTURE_SOURCES",
    "STAR_SPANGLED_BANNER",
    "STAR_SPANGLED_BANNER_ACCOMPANIMENT",
    "STYLE_GROOVE",
]

# "The Star-Spangled Banner" (J. S. Smith, public domain), B-flat major, 3/4, melody only.
# Beat 0 is the pickup "O-oh"; each bar is 3 beats, bar 1 ("say can you") starts on beat 1.
STAR_SPANGLED_BANNER: tuple[tuple[int, float, float], ...] = tuple(
    n[:3]
    for n in line(
        # O say can you see, by the dawn's early light,
        "F4:0.75 D4:0.25 Bb3:1 D4:1 F4:1 Bb4:2 D5:0.75 C5:0.25 Bb4:1 D4:1 E4:1 F4:2"
        # what so proudly we hailed at the twilight's last gleaming
        " F4:0.75 F4:0.25 D5:1.5 C5:0.5 Bb4:1 A4:2 G4:0.75 A4:0.25 Bb4:1 Bb4:1 F4:1 D4:1 Bb3:1"
    )
)

# A plain accompaniment for the melody above: a bass note on each downbeat and a close triad on
# beats 2-3 (I, I, V7/V, V, I, V, I, I). Add it to the melody for harmony in CQT/Mel features.
STAR_SPANGLED_BANNER_ACCOMPANIMENT: tuple[tuple[int, float, float, int], ...] = tuple(
    note
    for start, bass, triad in (
        (1.0, "Bb2", "D3 F3 Bb3"),
        (4.0, "Bb2", "D3 F3 Bb3"),
        (7.0, "C3", "E3 G3 Bb3"),  # C7
        (10.0, "F2", "F3 A3 C4"),
        (13.0, "Bb2", "D3 F3 Bb3"),
        (16.0, "F2", "F3 A3 C4"),
        (19.0, "Bb2", "D3 F3 Bb3"),
        (22.0, "Bb1", "D3 F3 Bb3"),
    )
    for note in (
        (pitch(bass), start, 1.0, 80),
        *((pitch(p), start + 1.0, 2.0, 56) for p in triad.split()),
    )
)

# The example style clip: A minor, 4/4, three bars = 12 beats at 116 bpm: drums, an
# eighth-note finger bass and off-beat organ stabs (Am | F/A | G).
STYLE_GROOVE: tuple[Part, ...] = (
    Part(
        notes=tuple(
            n
            for bar in range(3)
            for n in (
                (KICK, 4 * bar + 0.0, 0.25, 110),
                (KICK, 4 * bar + 1.5, 0.25, 90),
                (KICK, 4 * bar + 2.0, 0.25, 110),
                (SNARE, 4 * bar + 1.0, 0.25, 105),
                (SNARE, 4 * bar + 3.0, 0.25, 105),
                *((HAT, 4 * bar + 0.5 * k, 0.25, 70 + 20 * (k % 2 == 0)) for k in range(8)),
            )
        ),
        program=0,
        channel=DRUM_CHANNEL,
    ),
    Part(
        notes=tuple(
            (p, 4 * bar + 0.5 * k, 0.45, 100)
            for bar, bass in enumerate((45, 41, 43))  # A2, F2, G2
            for k, p in enumerate((bass, bass, bass + 7, bass) * 2)
        ),
        program=33,
        channel=1,
    ),
    Part(
        notes=tuple(
            (p, 4 * bar + off, 0.3, 80)
            for bar, triad in enumerate(((57, 60, 64), (57, 60, 65), (55, 59, 62)))
            for off in (0.5, 1.5, 2.5, 3.0, 3.5)
            for p in triad
        ),
        program=16,
        channel=2,
    ),
)


def _piano() -> Piece:
    chords = "G | Em | C | D | G | Em | Am D | G"
    melody = line(
        "B4:1 D5:1 G5:1.5 F#5:0.5 E5:1 G5:1 B4:2 C5:1 E5:1 G5:1 E5:1 D5:1.5 C5:0.5 B4:1 A4:1"
        " B4:1 D5:1 G5:1 A5:1 B5:1.5 A5:0.5 G5:1 E5:1 C5:1 E5:1 D5:1 F#5:1 G5:3 r:1",
        velocity=100,
    )
    alberti = {"G": "G3 B3 D4", "Em": "G3 B3 E4", "C": "G3 C4 E4", "D": "F#3 A3 D4",
               "Am": "A3 C4 E4"}
    roots = {"G": "G2", "Em": "E2", "C": "C3", "D": "D3", "Am": "A2"}
    left = chart(chords, alberti, "02120212", velocity=58) + chart(
        chords, roots, "0---", velocity=72)
    return Piece((Part(melody, 0, 0), Part(left, 0, 1)), 84.0,
                 "piano melody over an Alberti bass, 8 bars of 4/4 (I vi IV V I vi ii-V I)",
                 "piano ballad", "G major", 32.0)


def _string_quartet() -> Piece:
    chords = "D | Bm | G | A | D | G | Em A7 | D"
    violin1 = line(
        "F#5:2 E5:1 D5:1 D5:1 C#5:1 B4:2 B4:1 D5:1 G5:1.5 F#5:0.5 E5:2 C#5:2"
        " D5:1 F#5:1 A5:2 G5:1 F#5:0.5 E5:0.5 D5:1 B4:1 E5:1 G5:1 C#5:1 E5:1 D5:4",
        velocity=96,
    )
    violin2 = {"D": "A4", "Bm": "F#4", "G": "G4", "A": "E4", "Em": "G4", "A7": "G4"}
    viola = {"D": "D4", "Bm": "D4", "G": "D4", "A": "C#4", "Em": "B3", "A7": "C#4"}
    cello = {"D": "D3 A2", "Bm": "B2 F#2", "G": "G2 D3", "A": "A2 E2", "Em": "E2 B2",
             "A7": "A2 E3"}
    return Piece(
        (Part(violin1, 40, 0), Part(chart(chords, violin2, "0000", velocity=66), 40, 1),
         Part(chart(chords, viola, "0000", velocity=64), 41, 2),
         Part(chart(chords, cello, "0101", velocity=90), 45, 3)),
        72.0, "string quartet: violin melody, quarter-note inner voices, pizzicato cello, 8 bars",
        "chamber music", "D major", 32.0)


def _rock_band() -> Piece:
    chords = "Em | C | G | D | Em | C | G | D"
    lead = line(
        "B4:1 G4:0.5 A4:0.5 B4:1 E5:1 E5:1.5 D5:0.5 C5:1 G4:1 D5:1 B4:0.5 C5:0.5 D5:1 G5:1"
        " F#5:2 E5:1 D5:1 E5:1 B4:1 G5:1.5 F#5:0.5 E5:1 C5:1 E5:1 G5:1"
        " G5:1 F#5:0.5 E5:0.5 D5:1 B4:1 A4:1 D5:1 F#5:2",
        velocity=100,
    )
    power = {"Em": "E3 B3 E4", "C": "C3 G3 C4", "G": "G2 D3 G3", "D": "D3 A3 D4"}
    bass = {"Em": "E2", "C": "C2", "G": "G2", "D": "D2"}
    groove = {KICK: "X.....x.X.x.....", SNARE: "....X.......X...", HAT: "x.x.x.x.x.x.x.x."}
    crash = {**groove, CRASH: "X..............."}
    fill = {KICK: "X.....x.X.......", SNARE: "....X...xxxxXXXX", HAT: "x.x.x.x........."}
    return Piece(
        (Part(lead, 29, 0), Part(chart(chords, power, "********", velocity=78), 30, 1),
         Part(chart(chords, bass, "00000000", velocity=96), 34, 2),
         kit([crash, groove, groove, groove, crash, groove, groove, fill])),
        140.0, "rock band: overdriven lead, distorted power chords, picked bass, drum kit",
        "rock", "E minor", 32.0)


def _electronic() -> Piece:
    chords = "Fm | Db | Ab | Eb"
    arp = {"Fm": "F4 Ab4 C5 F5", "Db": "F4 Ab4 Db5 F5", "Ab": "Eb4 Ab4 C5 Eb5",
           "Eb": "Eb4 G4 Bb4 Eb5"}
    lead = chart(chords, arp, "01232123", velocity=84) + line(
        "F5:1.5 Eb5:0.5 C5:1 Ab4:1 Db5:1.5 C5:0.5 Ab4:2 Eb5:1.5 C5:0.5 Ab4:1 C5:1 Bb4:3 G4:1",
        start_beats=16.0, velocity=100)
    pad = {"Fm": "F3 Ab3 C4", "Db": "F3 Ab3 Db4", "Ab": "Eb3 Ab3 C4", "Eb": "Eb3 G3 Bb3"}
    bass = {"Fm": "F2", "Db": "Db2", "Ab": "Ab1", "Eb": "Eb2"}
    beat = {KICK: "x...x...x...x...", CLAP: "....X.......X...", HAT: "..x...x...x...x."}
    turn = {**beat, CLAP: "....X.......X.xx", OPEN_HAT: "..............x."}
    return Piece(
        (Part(lead, 81, 0), Part(chart(chords + "|" + chords, pad, "*", velocity=52), 89, 1),
         Part(chart(chords + "|" + chords, bass, ".0.0.0.0", velocity=100), 38, 2),
         kit([beat, beat, beat, turn] * 2, program=24)),
        124.0, "synth arpeggio, then a saw-lead tune, over a warm pad, synth bass, electronic kit",
        "electronic dance", "F minor", 32.0)


def _nylon_guitar() -> Piece:
    chords = "Am | Dm | G | C | F | Dm | E | Am"
    melody = line(
        "E5:1.5 D5:0.5 C5:1 B4:1 A4:2 F5:1 E5:1 D5:1.5 C5:0.5 B4:1 D5:1 C5:2 G4:2"
        " A4:1 C5:1 F5:1.5 E5:0.5 D5:1 F5:1 A5:1 F5:1 E5:1.5 D5:0.5 B4:1 G#4:1 A4:4",
        velocity=92,
    )
    shapes = {"Am": "A2 E3 A3 C4", "Dm": "D3 A3 D4 F4", "G": "G2 D3 G3 B3", "C": "C3 G3 C4 E4",
              "F": "F2 C3 F3 A3", "E": "E2 B2 E3 G#3"}
    return Piece((Part(melody, 24, 0), Part(chart(chords, shapes, "01232321", velocity=60), 24, 1)),
                 96.0, "nylon-string guitar: fingerpicked arpeggios under a melody, 8 bars",
                 "folk guitar", "A minor", 32.0)


def _choir() -> Piece:
    chords = "Eb | Ab | Bb | Eb | Cm | Ab | Bb7 | Eb"
    soprano = line(
        "G4:1 Bb4:1 Eb5:2 Eb5:1 C5:1 Ab4:2 Bb4:1 D5:1 F5:2 Eb5:4"
        " G4:1 C5:1 Eb5:2 Eb5:1 C5:1 Ab4:2 F5:1 D5:1 Bb4:1 Ab4:1 G4:4",
        velocity=92,
    )
    alto = {"Eb": "Eb4", "Ab": "Eb4", "Bb": "D4", "Cm": "Eb4", "Bb7": "D4"}
    tenor = {"Eb": "Bb3", "Ab": "C4", "Bb": "F3", "Cm": "G3", "Bb7": "Ab3"}
    bass = {"Eb": "Eb3", "Ab": "Ab2", "Bb": "Bb2", "Cm": "C3", "Bb7": "Bb2"}
    return Piece(
        (Part(soprano, 52, 0), Part(chart(chords, alto, "0-0-", velocity=70), 52, 1),
         Part(chart(chords, tenor, "0-0-", velocity=70), 53, 2),
         Part(chart(chords, bass, "0---", velocity=78), 52, 3)),
        66.0, "four-part hymn: choir aahs (soprano, alto, bass) and voice oohs (tenor)",
        "choral", "E-flat major", 32.0)


def _brass() -> Piece:
    chords = "C | F | G | C | Am | F | G7 | C"
    trumpet = line(
        "G4:1 C5:1 E5:1.5 D5:0.5 C5:1 A4:1 F5:2 D5:1 B4:1 G5:1.5 F5:0.5 E5:2 C5:1 G4:1"
        " A4:1 C5:1 E5:1.5 D5:0.5 C5:1 F5:1 A5:1.5 G5:0.5 F5:1 D5:1 B4:1 D5:1 C5:3 r:1",
        velocity=100,
    )
    horn = {"C": "E4 G4", "F": "F4 A4", "G": "D4 G4", "Am": "E4 A4", "G7": "D4 F4"}
    trombone = {"C": "G3", "F": "A3", "G": "B3", "Am": "C4", "G7": "B3"}
    tuba = {"C": "C2 G2", "F": "F2 C2", "G": "G2 D2", "Am": "A2 E2", "G7": "G2 D2"}
    return Piece(
        (Part(trumpet, 56, 0), Part(chart(chords, horn, ".*.*", velocity=70), 60, 1),
         Part(chart(chords, trombone, "0-0-", velocity=72), 57, 2),
         Part(chart(chords, tuba, "0.1.", velocity=92), 58, 3)),
        112.0, "brass quartet march: trumpet tune, horn afterbeats, trombone, tuba oom-pah",
        "brass band", "C major", 32.0)


def _drum_groove() -> Piece:
    a = {KICK: "X.....x...X..x..", SNARE: "....X..o.o..X..o", HAT: "xoxoxoxoxoxoxo.o",
         OPEN_HAT: "..............x."}
    b = {KICK: "X.....x.X.X..x..", SNARE: "....X..o.o..X.XX", HAT: "xoxoxoxoxoxo...."}
    return Piece((kit([a, a, a, b, a, a, a, b]),), 100.0,
                 "solo funk kit groove in sixteenths with ghost notes, a variation every 4th bar",
                 "funk drums", "", 32.0)


def _drum_groove_fills() -> Piece:
    hat = {KICK: "X.......X.x.....", SNARE: "....X.......X...", HAT: "x.x.x.x.x.x.x.x."}
    ride = {KICK: "X.....x.X.x.....", SNARE: "....X.......X...", RIDE: "x.x.x.x.x.x.x.x."}
    opened = {**hat, HAT: "x.x.x.x.x.x.x...", OPEN_HAT: "..............x."}
    fills = (
        {KICK: "X.......X.......", SNARE: "....X...xxxxXXXX", HAT: "x.x.x.x........."},
        {KICK: "X.......X...X...", SNARE: "....X...XX......", TOM_HIGH: "..........xx....",
         TOM_MID: "............xx..", TOM_FLOOR: "..............XX", HAT: "x.x.x.x........."},
        {KICK: "X...X...X...X...", SNARE: "XxxxXxxx........", TOM_MID: "........xxxx....",
         TOM_FLOOR: "............XXXX"},
        {KICK: "X.....x.X.......", SNARE: "....X...XxXx....", TOM_LOW: "............XX..",
         TOM_FLOOR: "..............XX", RIDE: "x.x.x.x........."},
    )
    bars = []
    for phrase, fill in enumerate(fills):
        groove = hat if phrase < 2 else ride
        second = opened if phrase % 2 == 0 else groove
        bars += [{**groove, CRASH: "X..............."}, second, groove, fill]
    return Piece((kit(bars),), 120.0,
                 "rock kit, 16 bars: hi-hat then ride, a different tom or snare fill every 4th bar",
                 "rock drums", "", 64.0)


def _band_loop() -> Piece:
    loop = "A | E | F#m | D"
    ep = {"A": "C#4 E4 A4", "E": "B3 E4 G#4", "F#m": "C#4 F#4 A4", "D": "D4 F#4 A4"}
    strum = {"A": "E3 A3 C#4 E4", "E": "E3 G#3 B3 E4", "F#m": "F#3 A3 C#4 F#4",
             "D": "D3 A3 D4 F#4"}
    bass = {"A": "A1 E2 A2", "E": "E1 B1 E2", "F#m": "F#1 C#2 F#2", "D": "D2 A2 D3"}
    tune_a = ("E5:1.5 C#5:0.5 A4:1 B4:1 B4:2 G#4:1 E4:1 A4:1 C#5:1 F#5:1.5 E5:0.5"
              " D5:2 C#5:1 B4:1")
    tune_b = ("A5:1 G#5:0.5 F#5:0.5 E5:2 E5:1 B4:1 G#5:2 F#5:1 E5:0.5 C#5:0.5 A4:2"
              " F#5:1 E5:1 D5:1 F#5:1")
    groove = {KICK: "X.....x.X.x.....", SNARE: "....X.......X...", HAT: "x.x.x.x.x.x.x.x."}
    fills = ({**groove, SNARE: "....X.......XxXX"},
             {**groove, SNARE: "....X...X.xxX...", TOM_FLOOR: "..............XX"},
             {KICK: "X.......X.......", SNARE: "....X...xxxxXXXX", HAT: "x.x.x.x........."},
             {**groove, SNARE: "....X.......X..."})
    keys, lead, guitar, drum_bars, bass_line = [], [], [], [], []
    for k in range(4):  # four passes of the 4-bar loop, each adding or changing something
        t = 16.0 * k
        keys += chart(loop, ep, "*..*..*." if k % 2 == 0 else "*.*..*..", velocity=60,
                      start_beats=t)
        bass_line += chart(loop, bass, "0..0..0." if k % 2 == 0 else "0.00.12.", velocity=96,
                           start_beats=t)
        if k >= 1:
            lead += line(tune_b if k == 2 else tune_a, start_beats=t, velocity=96 + 8 * (k == 3))
        if k >= 2:
            guitar += chart(loop, strum, "*.**.*.*", velocity=56, start_beats=t)
        drum_bars += [{**groove, CRASH: "X..............."} if k else groove, groove, groove,
                      fills[k]]
    return Piece(
        (Part(tuple(lead), 65, 0), Part(tuple(keys), 4, 1), Part(tuple(guitar), 27, 2),
         Part(tuple(bass_line), 33, 3), kit(drum_bars)),
        126.0, "pop band, a 4-bar loop (I V vi IV) four times: sax tunes, guitar and fills vary",
        "pop", "A major", 64.0)


PIECES: dict[str, Piece] = {
    "piano": _piano(),
    "string_quartet": _string_quartet(),
    "rock_band": _rock_band(),
    "electronic": _electronic(),
    "nylon_guitar": _nylon_guitar(),
    "choir": _choir(),
    "brass": _brass(),
    "drum_groove": _drum_groove(),
    "drum_groove_fills": _drum_groove_fills(),
    "band_loop": _band_loop(),
}

# (content, style) pairs for the quality benchmark: different pieces, genres, keys and tempi;
# every content piece has a melody over chords, and the solo drum groove is a style twice.
# The texture study's --source names -> the 30 s pieces with variation (fills, varied passes).
TEXTURE_SOURCES = {"drums": "drum_groove_fills", "band": "band_loop"}

QUALITY_PAIRS: tuple[tuple[str, str], ...] = (
    ("piano", "rock_band"),
    ("string_quartet", "electronic"),
    ("rock_band", "choir"),
    ("electronic", "string_quartet"),
    ("nylon_guitar", "brass"),
    ("choir", "nylon_guitar"),
    ("brass", "drum_groove"),
    ("piano", "drum_groove"),
)
