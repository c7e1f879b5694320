"""The two studies' figures (Figures 4 and 5 beside ours), drawn with matplotlib (Agg) and
written atomically; no flags, so tests import it freely."""

from __future__ import annotations

from experiments import _study, study_analysis


def key_invariance_figure(path, summary, representations, *, paper, paper_representations, title: str):
    """Figure 5 beside ours: mean log-STFT MSE per |offset| with ±1 sd bars, the paper's values as x.

    Args:
      path: the PNG.
      summary: ``(|offset|, representation, mean, sd, n, paper)`` rows.
      representations: ours, in plotting order (``style_only`` included).
      paper: ``{|offset|: values in paper_representations' order}``.
      paper_representations: the representations the paper reports.
      title: the figure's title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"stft": "tab:blue", "mel": "tab:orange", "cqt": "tab:green", "cqt+mel": "tab:red", study_analysis.CONTROL: "0.4"}
    fig, ax = plt.subplots(figsize=(8, 4.8))
    width = 0.13
    for j, r in enumerate(representations):
        pts = [(a, m, sd) for a, rr, m, sd, _, _ in summary if rr == r]
        if not pts:
            continue
        a, mean, sd = (list(v) for v in zip(*pts))
        shift = (j - (len(representations) - 1) / 2) * width
        err = [0.0 if v != v else v for v in sd]  # NaN sd (one seed): no bar
        ax.errorbar([v + shift for v in a], mean, yerr=err, fmt="o-", capsize=3, color=colors[r], label=f"{r} (ours)")
        if r in paper_representations:
            k = paper_representations.index(r)
            ax.plot(
                [v + shift for v in range(7)], [paper[v][k] for v in range(7)], ls="none", marker="x",
                ms=7, color=colors[r], alpha=0.8, label=f"{r} (paper)",
            )
    ax.axhline(study_analysis.IDENTITY_MSE_MAX, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel("|semitone offset| of the style (± pooled per seed)")
    ax.set_ylabel("log-STFT MSE, result vs style")
    ax.set_xticks(range(max(7, 1 + max((a for a, *_ in summary), default=0))))
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    _study.save_figure(fig, path)


def texture_figure(path, results, summary, source_stats, *, row_names, identity: str, hop_length: int, sr: int,
                   title: str):
    """Figure 4 beside ours, one column per source: KL and max |Φ| (mean ± sd over seeds, the
    identity row in grey, the paper's KL of its two songs as x, its max |Φ| band), and the mean
    local autocorrelation curves (source, identity, each row averaged over seeds).

    Args:
      path: the PNG.
      results: per-run dicts (``source``, ``row`` (0: identity), ``autocorr``).
      summary: per-cell dicts (``source``, ``config``, ``kl_mean``, ``kl_sd``, ``max_xcorr_mean``,
        ``max_xcorr_sd``, ``paper_kl``).
      source_stats: per source ``label``, ``seconds``, ``autocorr``.
      row_names: Figure 4's row names (row ``i`` is ``row_names[i - 1]``).
      identity: the identity row's config name.
      hop_length: onset-envelope hop in samples; sr: sample rate in Hz (lags in seconds).
      title: the figure's title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(source_stats)
    fig, axes = plt.subplots(3, len(names), figsize=(6.5 * len(names), 10), squeeze=False, constrained_layout=True)
    for c, name in enumerate(names):
        cells = [d for d in summary if d["source"] == name]
        labels = ["identity" if d["config"] == identity else f"row {row_names.index(d['config']) + 1}" for d in cells]
        x = np.arange(len(cells))
        sd = lambda v: [0.0 if e != e else e for e in v]  # noqa: E731 (NaN sd: no bar)
        ax = axes[0][c]
        ax.bar(x, [d["kl_mean"] for d in cells], yerr=sd([d["kl_sd"] for d in cells]), capsize=3,
               color=["0.7" if d["config"] == identity else "tab:blue" for d in cells], label="ours (±1 sd)")
        for k, d in enumerate(cells):
            if d["paper_kl"]:
                p1, p2 = (float(v) for v in d["paper_kl"].split(" / "))
                ax.plot([k - 0.15, k + 0.15], [p1, p2], "x", color="tab:red", label="paper (songs 1, 2)" if k == 1 else None)
        ax.set_xticks(x, labels, fontsize=6)
        ax.set_ylabel("KL(source‖texture), nats")
        ax.set_title(f"{source_stats[name]['label']}: {source_stats[name]['seconds']:.1f} s", fontsize=8)
        ax.legend(fontsize=7)
        ax = axes[1][c]
        ax.bar(x, [d["max_xcorr_mean"] for d in cells], yerr=sd([d["max_xcorr_sd"] for d in cells]), capsize=3,
               color=["0.7" if d["config"] == identity else "tab:green" for d in cells])
        ax.axhspan(0.010, 0.013, color="tab:red", alpha=0.15, label="paper 0.010-0.013")
        ax.set_yscale("log")
        ax.set_xticks(x, labels, fontsize=6)
        ax.set_ylabel("max |Φ| texture vs source")
        ax.legend(fontsize=7)
        ax = axes[2][c]
        lags, ac = source_stats[name]["autocorr"]
        lag_s = np.asarray(lags) * hop_length / sr
        ax.plot(lag_s, ac, color="k", lw=1.5, label="source")
        for row in sorted({r["row"] for r in results if r["source"] == name}):
            curves = [r["autocorr"][1] for r in results if r["source"] == name and r["row"] == row]
            n = min(len(v) for v in curves)
            mean = np.mean([np.asarray(v[:n]) for v in curves], axis=0)
            ax.plot(lag_s[:n], mean, lw=1, ls="--" if row == 0 else "-", label="identity" if row == 0 else f"row {row}")
        ax.set_xlabel("lag (s)")
        ax.set_ylabel("mean local autocorrelation (mean over seeds)")
        ax.legend(fontsize=7)
    fig.suptitle(title + "\n" + "; ".join(f"row {i + 1} {n}" for i, n in enumerate(row_names)), fontsize=7)
    _study.save_figure(fig, path)
