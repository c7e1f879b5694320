"""The quality benchmark's table: its rows, the issue-12 goals, the CSVs and the trade-off figure.

:mod:`benchmarks.quality` runs the transfers and calls these; :mod:`benchmarks.quality_curves`,
:mod:`benchmarks.ideal_transfer` and :mod:`benchmarks.baseline_diagnosis` read and write tables
with them. A row is one (configuration, pair): seconds, iterations and every measure of
:mod:`mst_jax.evaluate` (:data:`FIELDS`); the row named :data:`IDEAL_CONFIG` is the reference
(the content's notes played by the style's instruments), not a transfer.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable

import numpy as np

IDEAL_CONFIG = "ideal"
GOAL_CHROMA = 0.6  # chroma correlation with the content, every pair (issue 12)
GOAL_RATIO = 0.5  # MFCC distance to the style / to the content
GOAL_FLATNESS_MARGIN = 0.02  # above the noisier input
FIELDS = (
    "chroma_content", "chroma_floor", "pcp_content", "pcp_style", "onset_content", "onset_floor",
    "mfcc_to_style", "mfcc_to_content", "mfcc_floor", "mfcc_ratio", "gram_to_style", "gram_floor",
    "flatness", "flatness_content", "flatness_style", "level_range", "level_range_content",
)


def read_table(folder: str) -> list[dict]:
    """The rows of ``<folder>/quality.csv`` (a finished or stopped benchmark run), as strings.

    Raises:
      FileNotFoundError: no such table (one line naming the path).
    """
    path = os.path.join(folder, "quality.csv")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file (not a benchmarks.quality output folder?)")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def row_of(config: str, index: int, content: str, style: str, record: dict) -> dict:
    """One table row from a run record (its ``quality`` block, ``benchmark_seconds``, iterations)."""
    values = record["quality"]["values"]
    row = {
        "config": config,
        "pair": index,
        "content": content,
        "style": style,
        "seconds": round(record["benchmark_seconds"], 2),
        "iterations": record["iterations"],
        # the iterate written: earlier than the last one run when a --content_floor stopped the run
        "result_iteration": record.get("content_floor", {}).get(
            "kept_iteration", record["iterations"]
        ),
    }
    row.update({k: values.get(k) for k in FIELDS})
    return row


def passes(row: dict) -> dict[str, bool]:
    """The issue-12 goals for one transfer."""
    noisier = max(row["flatness_content"], row["flatness_style"])
    return {
        "chroma": row["chroma_content"] is not None and row["chroma_content"] >= GOAL_CHROMA,
        "ratio": row["mfcc_ratio"] is not None and row["mfcc_ratio"] <= GOAL_RATIO,
        "flatness": row["flatness"] <= noisier + GOAL_FLATNESS_MARGIN,
    }


def summarise(rows: list[dict], describe: Callable[[str], str] = str) -> list[dict]:
    """Per configuration (in the rows' order): its description (``describe(config)``), the
    mean of each measure over its pairs and the pass counts of the goals (:func:`passes`)."""
    out = []
    for config in dict.fromkeys(r["config"] for r in rows):
        rs = [r for r in rows if r["config"] == config]
        ok = [passes(r) for r in rs]
        s = {"config": config, "description": describe(config), "pairs": len(rs)}
        for k in ("seconds", "chroma_content", "pcp_content", "onset_content", "mfcc_ratio", "gram_to_style", "flatness"):
            vals = [r[k] for r in rs if r[k] is not None and math.isfinite(r[k])]
            s[k] = round(float(np.mean(vals)), 4) if vals else None
        for k in ("chroma", "ratio", "flatness"):
            s[f"pass_{k}"] = f"{sum(o[k] for o in ok)}/{len(ok)}"
        out.append(s)
    return out


def write_csv(path: str, rows: list[dict]) -> None:
    """The rows as a CSV (header from the first row's keys), written atomically."""
    from mst_jax import writing

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    writing.atomic_write_bytes(path, buf.getvalue().encode())


MARKERS = "osD^v"  # a configuration's marker: one per ten colours, so twelve configurations stay apart


def config_style(i: int) -> tuple[tuple[float, ...], str]:
    """``(colour, marker)`` of the ``i``-th configuration in a plot: tab10's colours, then again
    with the next marker (distinct for up to 50 configurations)."""
    cmap = __import__("matplotlib").colormaps["tab10"]
    return cmap(i % 10), MARKERS[(i // 10) % len(MARKERS)]


def ratio_axis(ax) -> None:
    """Set up ``ax``'s x axis for the MFCC ratio: log scale, reversed (right = more style), plain
    tick labels (0.2, 0.5, 1, 2), and the two goals as dashed lines."""
    from matplotlib import ticker

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.invert_xaxis()
    ax.axhline(GOAL_CHROMA, color="grey", lw=0.8, ls="--")
    ax.axvline(GOAL_RATIO, color="grey", lw=0.8, ls="--")


def plot(path: str, rows: list[dict], summary: list[dict]) -> None:
    """Content kept (y) against style taken (x, MFCC ratio on a log axis, reversed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from mst_jax import writing

    fig = Figure(figsize=(7.5, 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for i, s in enumerate(summary):
        rs = [r for r in rows if r["config"] == s["config"]]
        xs = [max(r["mfcc_ratio"], 1e-3) for r in rs]
        ys = [r["chroma_content"] for r in rs]
        ideal = s["config"] == IDEAL_CONFIG
        color, marker = ("black", "*") if ideal else config_style(i)
        label = "ideal (content's notes, style's instruments)" if ideal else f"{s['config']} ({s['seconds']:.0f} s)"
        ax.scatter(xs, ys, s=30 if ideal else 12, color=color, marker=marker, alpha=0.35)
        ax.scatter([max(s["mfcc_ratio"], 1e-3)], [s["chroma_content"]], s=160 if ideal else 90,
                   color=color, marker=marker, edgecolor="black", label=label)
    ratio_axis(ax)
    ax.set_xlabel("style taken: MFCC distance to style / to content (log, right = more style)")
    ax.set_ylabel("content kept: chroma correlation with the content")
    configs = [s["config"] for s in summary if s["config"] != IDEAL_CONFIG]
    pairs = {r["pair"] for r in rows if r["config"] != IDEAL_CONFIG}
    ax.set_title(f"{len(configs)} configuration{'s' * (len(configs) != 1)} x {len(pairs)} pairs"
                 f"{' and the ideal' if len(configs) < len(summary) else ''} "
                 "(big: mean, small: each pair; seconds per transfer)", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    writing.save_png(path, fig, dpi=110)


def format_table(rows: list[dict], keys) -> str:
    """The rows as right-aligned text columns (floats to three decimals)."""
    cells = [[str(k) for k in keys]] + [
        [f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys] for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(keys))]
    return "\n".join("  ".join(c[i].rjust(widths[i]) for i in range(len(keys))) for c in cells)
