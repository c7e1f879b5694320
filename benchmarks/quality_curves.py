"""Per pair, the trade-off curve of each configuration run at several iteration counts.

    python3 -m benchmarks.quality_curves \\
        --series=default=out/q_default80,out/q_default120,out/q_default160,out/q_default320_all \\
        --series=baseline=out/q_bl190,out/q_compare --ideal_from=out/q_compare --curves_dir=out/curves

:mod:`benchmarks.quality` draws one point per configuration, the mean over pairs. A
configuration run at several ``--max_iter`` (its output folders given to one ``--series``)
traces a curve instead: for each pair, content kept (chroma correlation with the content)
against style taken (MFCC distance ratio), one point per iteration count, joined in order of
iterations. Each ``--series=CONFIG=DIR[,DIR...]`` takes the rows of configuration ``CONFIG``
from each folder's ``quality.csv`` (the first folder wins where two hold the same pair and
count); ``--ideal_from=DIR`` adds that folder's ``ideal`` rows as stars. Nothing is run.

Writes ``<curves_dir>/quality_curves.png`` (a panel per pair) and ``quality_curves.csv`` (the
points), and prints, for each point of a later series, whether a point of the first series
dominates it (keeps more of the content and takes at least as much style).
"""

from __future__ import annotations

import os

from absl import app, flags

from benchmarks import quality_table

SERIES = flags.DEFINE_multi_string(
    "series", [], "CONFIG=DIR[,DIR...]: configuration CONFIG's rows from these benchmark folders."
)
IDEAL_FROM = flags.DEFINE_string("ideal_from", None, "A benchmark folder whose 'ideal' rows to draw as stars.")
CURVES_DIR = flags.DEFINE_string("curves_dir", "out/quality_curves", "Where the PNG and CSV go.")

FIELDS = ("series", "pair", "content", "style", "iterations", "chroma_content", "mfcc_ratio",
          "flatness", "seconds", "folder")


def read_rows(folder: str, config: str) -> list[dict]:
    """Rows of ``config`` in ``<folder>/quality.csv`` (:func:`benchmarks.quality_table.read_table`),
    numbers as numbers."""
    return [
        dict(series=config, pair=int(r["pair"]), content=r["content"], style=r["style"],
             iterations=int(r["iterations"]), chroma_content=float(r["chroma_content"]),
             mfcc_ratio=float(r["mfcc_ratio"]), flatness=float(r["flatness"]),
             seconds=float(r["seconds"]), folder=folder)
        for r in quality_table.read_table(folder) if r["config"] == config
    ]


def series_points(config: str, folders: list[str]) -> list[dict]:
    """The points of one series: per (pair, iterations) the first folder's row, sorted."""
    seen = {}
    for folder in folders:
        for r in read_rows(folder, config):
            seen.setdefault((r["pair"], r["iterations"]), r)
    return [seen[k] for k in sorted(seen)]


def dominates(a: dict, b: dict) -> bool:
    """``a`` keeps more of the content than ``b`` and takes at least as much of the style."""
    return a["chroma_content"] > b["chroma_content"] and a["mfcc_ratio"] <= b["mfcc_ratio"]


def parse_series(spec: str) -> tuple[str, list[str]]:
    config, sep, folders = spec.partition("=")
    dirs = [d for d in folders.split(",") if d]
    if not sep or not config or not dirs:
        raise app.UsageError(f"--series={spec!r}: expected CONFIG=DIR[,DIR...]")
    return config, dirs


def plot(path: str, series: dict[str, list[dict]], ideal: list[dict]) -> None:
    """A panel per pair: chroma (y) against MFCC ratio (x, log, reversed), a line per series."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from mst_jax import writing

    points = [p for ps in series.values() for p in ps]
    pairs = sorted({p["pair"] for p in points})
    names = {p["pair"]: f"{p['content']} ← {p['style']}".replace("_", " ") for p in points}
    cols = min(4, len(pairs))
    rows = -(-len(pairs) // cols)
    fig = Figure(figsize=(3.6 * cols, 3.2 * rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, pair in zip(axes, pairs):
        for k, (name, ps) in enumerate(series.items()):
            mine = [p for p in ps if p["pair"] == pair]
            xs = [max(p["mfcc_ratio"], 1e-3) for p in mine]
            ys = [p["chroma_content"] for p in mine]
            color, marker = quality_table.config_style(k)
            ax.plot(xs, ys, "-" + marker, color=color, ms=4, label=name)
            for p, x, y in zip(mine, xs, ys):
                ax.annotate(str(p["iterations"]), (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        for p in (p for p in ideal if p["pair"] == pair):
            ax.scatter([max(p["mfcc_ratio"], 1e-3)], [p["chroma_content"]], marker="*", s=90,
                       color="black", label="ideal")
        quality_table.ratio_axis(ax)
        ax.set_title(f"{pair}: {names[pair]}", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.supxlabel("style taken: MFCC distance to style / to content (log, right = more style)", fontsize=9)
    fig.supylabel("content kept: chroma correlation with the content", fontsize=9)
    fig.suptitle("Each point labelled with its iterations; dashed: issue 12's goals", fontsize=10)
    writing.save_png(path, fig, dpi=100)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    if not SERIES.value:
        raise app.UsageError("give at least one --series=CONFIG=DIR[,DIR...]")
    try:
        series = dict(parse_series(s) for s in SERIES.value)
        series = {name: series_points(name, dirs) for name, dirs in series.items()}
        ideal = read_rows(IDEAL_FROM.value, quality_table.IDEAL_CONFIG) if IDEAL_FROM.value else []
    except (FileNotFoundError, KeyError, ValueError) as error:
        raise app.UsageError(str(error)) from None
    out = CURVES_DIR.value
    os.makedirs(out, exist_ok=True)
    points = [p for ps in series.values() for p in ps] + [dict(p, series="ideal") for p in ideal]
    quality_table.write_csv(os.path.join(out, "quality_curves.csv"), [{k: p[k] for k in FIELDS} for p in points])
    plot(os.path.join(out, "quality_curves.png"), series, ideal)
    first, *others = series
    for name in others:
        for b in series[name]:
            mine = [a for a in series[first] if a["pair"] == b["pair"]]
            winners = [a["iterations"] for a in mine if dominates(a, b)]
            verdict = (f"dominated by {first} at {', '.join(map(str, winners))} iterations" if winners
                       else f"not dominated by {first} at any of {', '.join(str(a['iterations']) for a in mine)}")
            print(f"pair {b['pair']} {name} at {b['iterations']} (chroma {b['chroma_content']:.2f}, MFCC ratio "
                  f"{b['mfcc_ratio']:.2f}): {verdict}")
    print(f"wrote {out}/quality_curves.png, quality_curves.csv")


if __name__ == "__main__":
    app.run(main)
