"""What the quality measures say of an ideal transfer, and how much of their style axis is notes.

    python3 -m benchmarks.ideal_transfer --output_dir=out/ideal_transfer

Two references, both rendered by FluidSynth from the note data of :mod:`mst_jax.scores`:

* **The ideal transfer** of each pair of :data:`mst_jax.scores.QUALITY_PAIRS` whose style has a
  pitched instrument: the content's notes played by the style's instruments
  (:func:`mst_jax.notes.played_by`), measured against the content and the style as every
  transfer is (:func:`mst_jax.evaluate.evaluate`). Its MFCC ratio is what keeping the content
  exactly and taking the style's instruments exactly scores; a transfer below it has taken
  more than the instruments (the style's notes or register).
* **Transposition**: each pitched piece against itself rendered ``--shifts`` semitones higher
  (the same instruments and rhythm, other notes), beside the distance between two different
  pieces: how far notes alone move the MFCC Fréchet distance.

Prints both tables and writes ``ideal_transfer.csv`` and ``mfcc_transposition.csv``.
"""

from __future__ import annotations

import csv
import os
import sys

import numpy as np
from absl import app, flags

from benchmarks import quality

# --duration_s and --output_dir are the quality benchmark's flags (one process may import both).
DURATION_S, OUTPUT_DIR = quality.DURATION_S, quality.OUTPUT_DIR
SHIFTS = flags.DEFINE_list("shifts", ["1", "2", "4", "6", "-6"], "Transpositions in semitones.")

SR = quality.SR
IDEAL_FIELDS = ("chroma_content", "pcp_content", "pcp_style", "onset_content", "mfcc_to_style",
                "mfcc_ratio", "gram_to_style", "flatness")


def render(piece, *, transpose: int = 0) -> np.ndarray:
    """``piece`` (a name or a :class:`~mst_jax.notes.Piece`) rendered for ``--duration_s``."""
    from mst_jax import render as render_lib

    notices: list[str] = []
    wave = render_lib.render_piece(piece, sr=SR, duration_s=DURATION_S.value, transpose=transpose,
                                   notices=notices)
    for line in notices:
        print(f"notice: {line}", file=sys.stderr)
    return wave


def write_csv(path: str, rows: list[dict]) -> None:
    """``rows`` to ``path`` atomically (temp file, then rename)."""
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def ideal_rows(waves: dict) -> list[dict]:
    """One row per quality pair with a pitched style: the ideal transfer's measures."""
    from mst_jax import evaluate, notes, scores

    rows = []
    for i, (c, s) in enumerate(scores.QUALITY_PAIRS):
        if all(p.channel == notes.DRUM_CHANNEL for p in scores.PIECES[s].parts):
            print(f"pair {i} {c} <- {s}: the style is drums only, no instrument to play the notes")
            continue
        ideal = render(notes.played_by(scores.PIECES[c], scores.PIECES[s]))
        q = evaluate.evaluate(ideal, content=waves[c], style=waves[s], sr=SR)
        row = {"pair": i, "content": c, "style": s, **{k: getattr(q, k) for k in IDEAL_FIELDS}}
        rows.append(row)
        print(f"pair {i} {c} <- {s}: " + ", ".join(f"{k} {row[k]:.3g}" for k in IDEAL_FIELDS), flush=True)
    return rows


def transposition_rows(waves: dict, shifts: list[int]) -> list[dict]:
    """One row per pitched piece: MFCC Fréchet distance to itself transposed by each shift."""
    from mst_jax import evaluate, notes, scores

    names = sorted(waves)
    mfcc = {n: evaluate.features(waves[n], sr=SR).mfcc for n in names}
    between = {(a, b): evaluate.frechet_distance(mfcc[a], mfcc[b])
               for i, a in enumerate(names) for b in names[i + 1:]}
    rows = []
    for n in names:
        if all(p.channel == notes.DRUM_CHANNEL for p in scores.PIECES[n].parts):
            continue
        row = {"piece": n}
        for k in shifts:
            moved = evaluate.features(render(n, transpose=k), sr=SR).mfcc
            row[f"{k:+d}"] = evaluate.frechet_distance(mfcc[n], moved)
        row["nearest_other_piece"] = min(d for (a, b), d in between.items() if n in (a, b))
        rows.append(row)
        print(f"{n:15s} " + " ".join(f"{k:+d}: {row[f'{k:+d}']:6.0f}" for k in shifts)
              + f"   nearest other piece {row['nearest_other_piece']:6.0f}", flush=True)
    d = np.array(list(between.values()))
    print(f"between two different pieces ({d.size} pairs): min {d.min():.0f}, median "
          f"{np.median(d):.0f}, max {d.max():.0f}")
    return rows


def main(argv):
    del argv
    from mst_jax import scores

    names = sorted({n for pair in scores.QUALITY_PAIRS for n in pair})
    waves = {n: render(n) for n in names}
    os.makedirs(OUTPUT_DIR.value, exist_ok=True)
    print("The ideal transfer: the content's notes played by the style's instruments")
    ideal = ideal_rows(waves)
    write_csv(os.path.join(OUTPUT_DIR.value, "ideal_transfer.csv"), ideal)
    print("\nMFCC Fréchet distance of each piece to itself transposed (semitones)")
    moved = transposition_rows(waves, [int(s) for s in SHIFTS.value])
    write_csv(os.path.join(OUTPUT_DIR.value, "mfcc_transposition.csv"), moved)
    print(f"wrote {OUTPUT_DIR.value}/ideal_transfer.csv, mfcc_transposition.csv")


if __name__ == "__main__":
    app.run(main)
