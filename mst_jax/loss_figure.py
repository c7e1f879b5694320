"""The loss figure of one run: per-term losses against iteration, weighted and raw.

``<stem>.loss.png`` beside a run's output (:func:`write_loss_figure`), shown on its listening
page (:mod:`mst_jax.run_page`): the weighted β·L as optimised and the raw L = weighted / β
(:func:`raw_history`; both panels as data: :func:`panels`), on a log axis, and for a
``--content_floor`` run the content kept at each check.
"""

from __future__ import annotations

from collections.abc import Mapping

from mst_jax import writing


def raw_history(record: Mapping) -> dict[str, list[float]]:
    """Unweighted per-term losses L_t = (β_t L_t) / β_t from the record's weighted history."""
    out = {}
    for name, values in record.get("term_history", {}).items():
        beta = float(record["terms"][name]["beta"])
        out[name] = [
            float(v) / beta if v is not None and beta > 0 else float("nan") for v in values
        ]
    return out


def panels(record: Mapping) -> list[tuple[str, dict[str, list[float]]]]:
    """The two loss panels' series, as :func:`write_loss_figure` draws them.

    Returns:
      ``[("weighted: β·L (as optimised)", {"total": loss_history, term: weighted, ...}),
      ("raw: L = weighted / β", {term: raw, ...})]``; ``total`` only when the record has a
      ``loss_history``.
    """
    weighted = {k: list(v) for k, v in record.get("term_history", {}).items()}
    if record.get("loss_history"):
        weighted = {"total": list(record["loss_history"]), **weighted}
    return [
        ("weighted: β·L (as optimised)", weighted),
        ("raw: L = weighted / β", raw_history(record)),
    ]


def write_loss_figure(png_path: str, record: Mapping) -> None:
    """Per-term loss against iteration on a log axis: weighted β·L (as optimised) and raw L
    (and, for a run with a content floor, the content kept at each check).

    Args:
      png_path: the PNG to write (atomically; matplotlib Agg, no global state).
      record: a run record with ``loss_history``, ``term_history`` (weighted, per iteration) and
        ``terms[name]["beta"]``. Non-positive or missing values are left out of the log axis.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    floor = record.get("content_floor")
    fig = Figure(figsize=(14.5 if floor else 10.0, 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3 if floor else 2, squeeze=False)[0]
    if floor:
        _floor_panel(axes[2], floor)
    for ax, (title, series) in zip(axes, panels(record)):
        for name, values in series.items():
            y = np.array([np.nan if v is None else float(v) for v in values], float)
            y[~(y > 0)] = np.nan
            x = np.arange(1, y.size + 1)
            style = dict(color="black", lw=2.0) if name == "total" else dict(lw=1.3)
            ax.plot(x, y, label=name, **style)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("loss")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize="small")
    writing.save_png(png_path, fig, dpi=90)


def _floor_panel(ax, floor: Mapping) -> None:
    """The content kept at each check of a ``--content_floor`` run, the floor, the kept iterate."""
    checks = [(it, c) for it, c in floor.get("checks", []) if c is not None]
    ax.plot([it for it, _ in checks], [c for _, c in checks], "o-", color="tab:green", lw=1.3, ms=3)
    ax.axhline(floor["floor"], color="tab:red", ls="--", lw=1.0)
    ax.axvline(floor["kept_iteration"], color="gray", ls=":", lw=1.0)
    ax.set_ylim(min([0.0] + [c for _, c in checks]), 1.02)
    ax.set_title(
        f"content kept (floor {floor['floor']:g}; kept: iteration {floor['kept_iteration']})"
    )
    ax.set_xlabel("iteration")
    ax.set_ylabel("chroma correlation with the content")
    ax.grid(True, alpha=0.3)
