"""What the quality measures say of an ideal transfer, and how much of their style axis is notes.

    python3 -m benchmarks.ideal_transfer --output_dir=out/ideal_transfer

Two references, both rendered by FluidSynth from the note data of :mod:`mst_jax.scores`:

* **The ideal transfer** of each pair of :data:`mst_jax.scores.QUALITY_PAIRS` whose style has a
  pitched instrument: the content's notes played by the style's instruments
  (:func:`mst_jax.notes.played_by`), measured against the content and the style as every
  transfer is (:func:`mst_jax.evaluate.evaluate`; the same reference
  :mod:`benchmarks.quality` draws as its ``ideal`` row). Its MFCC ratio is what keeping the
  content exactly and taking the style's instruments exactly scores.
* **Transposition**: each pitched piece against itself rendered ``--shifts`` semitones higher
  (the same instruments and rhythm, other notes), beside the distance between two different
  pieces: how far notes alone move the MFCC Fréchet distance.

Prints both tables and writes ``ideal_transfer.csv`` and ``mfcc_transposition.csv``.

With ``--results=DIR[,DIR...]`` (output folders of :mod:`benchmarks.quality`) it also measures
every transfer there against its pair's ideal: the MFCC Fréchet distance to the ideal, divided
by the content's own distance to it (below 1: nearer the ideal transfer than the content
was; 0: the ideal's statistics), and the frame-wise chroma correlation with it. Both sides
then have the content's notes, so the notes no longer count as style. Writes
``against_ideal.csv``.
"""

from __future__ import annotations

import os

import numpy as np
from absl import app, flags

from benchmarks import quality, quality_table

# --duration_s and --output_dir are the quality benchmark's flags (one process may import both).
DURATION_S, OUTPUT_DIR = quality.DURATION_S, quality.OUTPUT_DIR
SHIFTS = flags.DEFINE_list("shifts", ["1", "2", "4", "6", "-6"], "Transpositions in semitones.")
RESULTS = flags.DEFINE_list(
    "results", [], "Output folders of benchmarks.quality whose transfers to measure against the ideal."
)

SR = quality.SR
IDEAL_FIELDS = ("chroma_content", "pcp_content", "pcp_style", "onset_content", "mfcc_to_style",
                "mfcc_ratio", "gram_to_style", "flatness")


def ideals() -> dict[int, np.ndarray]:
    """Pair index -> its ideal (:func:`benchmarks.quality.ideal_wave`), for every quality pair
    whose style has a pitched part."""
    from mst_jax import scores

    out = {}
    for i, (c, s) in enumerate(scores.QUALITY_PAIRS):
        wave = quality.ideal_wave(c, s, DURATION_S.value)
        if wave is None:
            print(f"pair {i} {c} <- {s}: the style is drums only, no instrument to play the notes")
        else:
            out[i] = wave
    return out


def ideal_rows(waves: dict, ideal_waves: dict) -> list[dict]:
    """One row per quality pair with a pitched style: the ideal transfer's measures."""
    from mst_jax import evaluate, scores

    rows = []
    for i, ideal in ideal_waves.items():
        c, s = scores.QUALITY_PAIRS[i]
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
        if not notes.has_pitched_part(scores.PIECES[n]):
            continue
        row = {"piece": n}
        for k in shifts:
            moved = evaluate.features(quality.render_score(n, DURATION_S.value, label=f"{n} {k:+d}",
                                                           transpose=k), sr=SR).mfcc
            row[f"{k:+d}"] = evaluate.frechet_distance(mfcc[n], moved)
        row["nearest_other_piece"] = min(d for (a, b), d in between.items() if n in (a, b))
        rows.append(row)
        print(f"{n:15s} " + " ".join(f"{k:+d}: {row[f'{k:+d}']:6.0f}" for k in shifts)
              + f"   nearest other piece {row['nearest_other_piece']:6.0f}", flush=True)
    d = np.array(list(between.values()))
    print(f"between two different pieces ({d.size} pairs): min {d.min():.0f}, median "
          f"{np.median(d):.0f}, max {d.max():.0f}")
    return rows


def against_ideal(result, ideal, content) -> dict:
    """A transfer ``result`` measured against its pair's ``ideal`` (waveforms at :data:`SR`, or
    their :func:`mst_jax.evaluate.features` when the caller measures one ideal many times).

    Returns:
      ``mfcc_to_ideal`` (MFCC Fréchet distance), ``content_to_ideal`` (the same for the
      content), their ratio ``ideal_ratio``, and ``chroma_ideal`` (frame-wise chroma
      correlation with the ideal).
    """
    from mst_jax import evaluate

    r, i, c = (w if isinstance(w, evaluate.Features) else evaluate.features(w, sr=SR)
               for w in (result, ideal, content))
    d, d0 = evaluate.frechet_distance(r.mfcc, i.mfcc), evaluate.frechet_distance(c.mfcc, i.mfcc)
    return {"mfcc_to_ideal": d, "content_to_ideal": d0, "ideal_ratio": d / d0,
            "chroma_ideal": evaluate.frame_correlation(r.chroma, i.chroma)}


def result_rows(folders: list[str], waves: dict, ideal_waves: dict) -> list[dict]:
    """Every transfer of the quality benchmark's ``folders`` against its pair's ideal."""
    from mst_jax import audio, evaluate

    # each ideal's and content's features once, not once per transfer measured against them
    ideal_f = {i: evaluate.features(w, sr=SR) for i, w in ideal_waves.items()}
    content_f = {}
    rows = []
    for folder in folders:
        for r in quality_table.read_table(folder):
            i = int(r["pair"])
            if i not in ideal_waves or r["config"] == quality_table.IDEAL_CONFIG:
                continue
            path = quality.transfer_path(folder, r["config"], i, r["content"], r["style"])
            result = audio.load(path, sr=SR)
            if r["content"] not in content_f:
                content_f[r["content"]] = evaluate.features(waves[r["content"]], sr=SR)
            row = {"folder": folder, "config": r["config"], "pair": i, "content": r["content"],
                   "style": r["style"], **against_ideal(result, ideal_f[i], content_f[r["content"]])}
            rows.append(row)
            print(f"{folder}/{r['config']} pair {i} {r['content']} <- {r['style']}: MFCC to the ideal "
                  f"{row['mfcc_to_ideal']:.0f} (the content's {row['content_to_ideal']:.0f}, ratio "
                  f"{row['ideal_ratio']:.2f}), chroma with the ideal {row['chroma_ideal']:.2f}", flush=True)
    return rows


def main(argv):
    del argv
    from mst_jax import scores

    quality.check_soundfont()

    names = sorted({n for pair in scores.QUALITY_PAIRS for n in pair})
    waves = {n: quality.render_score(n, DURATION_S.value, label=n) for n in names}
    os.makedirs(OUTPUT_DIR.value, exist_ok=True)
    print("The ideal transfer: the content's notes played by the style's instruments")
    ideal_waves = ideals()
    ideal = ideal_rows(waves, ideal_waves)
    quality_table.write_csv(os.path.join(OUTPUT_DIR.value, "ideal_transfer.csv"), ideal)
    if RESULTS.value:
        print("\nTransfers against the ideal")
        quality_table.write_csv(os.path.join(OUTPUT_DIR.value, "against_ideal.csv"),
                  result_rows(RESULTS.value, waves, ideal_waves))
    print("\nMFCC Fréchet distance of each piece to itself transposed (semitones)")
    moved = transposition_rows(waves, [int(s) for s in SHIFTS.value])
    quality_table.write_csv(os.path.join(OUTPUT_DIR.value, "mfcc_transposition.csv"), moved)
    print(f"wrote {OUTPUT_DIR.value}/ideal_transfer.csv, mfcc_transposition.csv")


if __name__ == "__main__":
    app.run(main)
