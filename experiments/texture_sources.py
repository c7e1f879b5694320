"""Note data of the texture study's two built-in sources (``experiments.texture_study --source``).

* ``drums``: a drum-kit groove with fills, 13 bars of 4/4 at 100 bpm (31.2 s): groove A (kick,
  snare on 2 and 4, closed hats on eighths), groove B (ride, syncopated kick, ghost snare, open
  hat), snare-roll and tom fills, crash cymbals after each fill.
* ``band``: a band loop, 12 bars at 96 bpm (30 s) over Am-F-C-G: drums (with fills), an
  eighth-note bass, electric-piano off-beat stabs (bars 1-8), string pads and a lead (bars 5-12).

Each is a function returning ``(parts, bpm, beats)`` for :func:`mst_jax.music.render`
(FluidSynth; General MIDI drums on channel 10). No flags here, so tests import it freely.
"""

from __future__ import annotations

KICK, SNARE, HAT, OPEN_HAT, CRASH, RIDE, LOW_TOM, MID_TOM, HIGH_TOM = 36, 38, 42, 46, 49, 51, 45, 47, 50


def _groove_a(bar: int) -> list:
    """Rock groove: kick 1, 2&, 3, snare 2, 4, closed hats on eighths (accents on the beats)."""
    b = 4.0 * bar
    notes = [(KICK, b + t, 0.25, 112) for t in (0.0, 1.5, 2.0)]
    notes += [(SNARE, b + t, 0.25, 108) for t in (1.0, 3.0)]
    notes += [(HAT, b + 0.5 * k, 0.25, 92 if k % 2 == 0 else 64) for k in range(8)]
    return notes


def _groove_b(bar: int) -> list:
    """Second groove: ride on quarters, syncopated kick, a ghost snare, open hat on 4&."""
    b = 4.0 * bar
    notes = [(KICK, b + t, 0.25, 110) for t in (0.0, 0.75, 2.0, 2.75)]
    notes += [(SNARE, b + t, 0.25, 106) for t in (1.0, 3.0)] + [(SNARE, b + 3.75, 0.2, 44)]
    notes += [(RIDE, b + t, 0.5, 84) for t in (0.0, 1.0, 2.0, 3.0)] + [(OPEN_HAT, b + 3.5, 0.5, 80)]
    return notes


def _fill(bar: int, kind: str) -> list:
    """Two beats of groove, then sixteenths: a snare crescendo or toms from high to low."""
    b = 4.0 * bar
    notes = [(KICK, b, 0.25, 112), (SNARE, b + 1.0, 0.25, 106)] + [(HAT, b + 0.5 * k, 0.25, 80) for k in range(4)]
    for k in range(8):
        t = b + 2.0 + 0.25 * k
        drum = SNARE if kind == "snare" else (HIGH_TOM, HIGH_TOM, HIGH_TOM, MID_TOM, MID_TOM, LOW_TOM, LOW_TOM, LOW_TOM)[k]
        notes.append((drum, t, 0.25, 70 + 6 * k))
    return notes + [(KICK, b + 3.75, 0.25, 100)]


# bar plan: A = groove a, B = groove b, S = snare fill, T = tom fill; a crash after each fill
DRUM_PLAN = "AAASBBBTAABSA"  # 13 bars = 52 beats = 31.2 s at 100 bpm
DRUMS_BPM = 100.0


def drum_part(plan: str) -> tuple:
    """The drum-kit notes of ``plan`` (one letter per 4/4 bar), crash cymbals on bar 1 and after fills."""
    notes = []
    for bar, kind in enumerate(plan):
        notes += {"A": _groove_a, "B": _groove_b}.get(kind, lambda i: _fill(i, "snare" if kind == "S" else "toms"))(bar)
        if bar == 0 or plan[bar - 1] in "ST":
            notes.append((CRASH, 4.0 * bar, 1.0, 100))
    return tuple(notes)


def drums_source():
    """The ``drums`` source: ``(parts, bpm, beats)``."""
    from mst_jax import music

    return (music.Part(notes=drum_part(DRUM_PLAN), channel=music.DRUM_CHANNEL),), DRUMS_BPM, len(DRUM_PLAN) * 4


BAND_BPM = 96.0
_PROGRESSION = ((45, (57, 60, 64)), (41, (57, 60, 65)), (48, (55, 60, 64)), (43, (55, 59, 62)))  # Am F C G
# lead phrase (A minor pentatonic) per bar of section 2: (pitch, beat, beats)
_LEAD = (
    ((76, 0.0, 1.0), (74, 1.0, 0.5), (72, 1.5, 0.5), (69, 2.0, 1.5)),
    ((72, 0.5, 0.5), (74, 1.0, 1.0), (76, 2.0, 0.5), (79, 2.5, 1.5)),
    ((81, 0.0, 1.5), (79, 1.5, 0.5), (76, 2.0, 1.0), (74, 3.0, 1.0)),
    ((76, 0.0, 0.5), (74, 0.5, 0.5), (72, 1.0, 1.0), (69, 2.0, 2.0)),
)


def band_source() -> tuple:
    """The ``band`` source, ``(parts, bpm, beats)``: 12 bars of Am-F-C-G at 96 bpm (30 s): drums (groove, fills in bars 4, 8, 12), eighth-note
    bass, electric-piano off-beat stabs (bars 1-8), string pads and a lead (bars 5-12)."""
    from mst_jax import music

    bars = 12
    plan = "AAASAABTBBAS"
    bass, keys, pads, lead = [], [], [], []
    for bar in range(bars):
        root, triad = _PROGRESSION[bar % 4]
        b = 4.0 * bar
        line = (root, root, root + 12, root, root + 7, root, root + 12, root + 7)
        bass += [(p, b + 0.5 * k, 0.45, 100 if k % 2 == 0 else 84) for k, p in enumerate(line)]
        if bar < 8:
            keys += [(p, b + t, 0.3, 78) for t in (0.5, 1.5, 2.5, 3.0, 3.5) for p in triad]
        if bar >= 4:
            pads += [(p, b, 4.0, 60) for p in triad]
            lead += [(p, b + t, d, 96) for p, t, d in _LEAD[bar % 4]]
    return (
        music.Part(notes=drum_part(plan), channel=music.DRUM_CHANNEL),
        music.Part(notes=tuple(bass), program=33, channel=1),
        music.Part(notes=tuple(keys), program=4, channel=2),
        music.Part(notes=tuple(pads), program=48, channel=3),
        music.Part(notes=tuple(lead), program=65, channel=4),
    ), BAND_BPM, bars * 4


NOTE_SOURCES = {"drums": drums_source, "band": band_source}


def humanize(parts, seed: int, *, velocity: int = 12, timing_beats: float = 0.02):
    """The same notes played again: velocities ± ``velocity`` and onsets ± ``timing_beats``,
    uniformly at random from ``seed`` (a second rendering for the identity check)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for part in parts:
        notes = []
        for pitch, start, dur, vel in part.notes:
            v = int(np.clip(vel + rng.integers(-velocity, velocity + 1), 1, 127))
            notes.append((pitch, max(0.0, start + rng.uniform(-timing_beats, timing_beats)), dur, v))
        out.append(part._replace(notes=tuple(notes)))
    return tuple(out)
