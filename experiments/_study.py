"""Shared helpers of the paper's two studies (``experiments.key_invariance``, ``experiments.texture_study``).

* :func:`device_line`: which JAX backend and devices the run uses (printed first by both scripts).
* :func:`style_grams`: the style grams of a batch of clips with an objective's own weights.
* :func:`gradient_norms`: every term's ``‖∂L_t/∂x‖`` for a batch of parameter sets (Eq. 7).
* :func:`make_batch_synthesizer` / :func:`synthesize_batch`: independent L-BFGS-B runs,
  ``jax.vmap``-ed over parameter sets that share one compiled program (the objective of
  :func:`mst_jax.losses.build` is single-example; this runs many of them at once).
* :func:`write_csv`, :func:`save_figure`: atomic writers.
* :func:`pool_offsets`, :func:`key_invariance_claim`, :func:`texture_claim`: the analysis of
  the two studies (pure Python, no flags, so tests can import it without the scripts).

Nothing here imports jaxopt: the solver comes from :func:`mst_jax.synthesis.make_solver`.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mst_jax import audio, losses, networks, spectral, synthesis
from mst_jax.config import SolverConfig


def device_line() -> str:
    """``"JAX 0.x on cpu: [CpuDevice(id=0)]"``: the backend every computation below runs on."""
    return f"JAX {jax.__version__} on {jax.default_backend()}: {jax.devices()}"


def style_grams(objective: losses.Objective, waves) -> dict[str, list[jax.Array]]:
    """Style targets (one gram per layer) of each clip in ``waves``, with the objective's weights.

    ``losses.build`` computes the grams of one style (or the mean over a list); this computes
    them for a batch of clips in one compiled, vmapped program, so that many runs that differ
    only in their style can share one objective. The result for the clip the objective was
    built with equals ``objective.params["targets"]`` (checked by the callers and the tests).

    Args:
      objective: from :func:`mst_jax.losses.build` (waveform domain).
      waves: ``(clips, samples)`` style waveforms of equal length.

    Returns:
      ``{style term name: [(clips, N_l, N_l) per layer]}``.
    """
    config = objective.config
    n_fft, hop = config.stft.n_fft, config.stft.hop_length
    ids = losses.net_ids(config)
    terms = [t for t in config.terms if t.kind == "style"]
    fbanks = {t.name: losses.filterbank(t.net, sr=objective.sr, n_fft=n_fft) for t in terms}
    fbanks = {k: jnp.asarray(v) for k, v in fbanks.items() if v is not None}
    nets = {t.name: networks.make(t.net, n_fft=n_fft) for t in terms}

    def one(wave, net_params, fbanks):
        mag = spectral.stft_magnitude(wave, n_fft=n_fft, hop_length=hop)
        out = {}
        for t in terms:
            x = spectral.log_spectrogram(mag, fbanks.get(t.name))
            maps = nets[t.name].apply(net_params[ids[t.name]], x)
            out[t.name] = [losses.gram(m) for m in maps]
        return out

    fn = jax.jit(jax.vmap(one, in_axes=(0, None, None)))
    return fn(jnp.asarray(waves, jnp.float32), objective.params["nets"], fbanks)


def stack_params(objective: losses.Objective, targets: dict, betas: dict):
    """A batch of parameter sets: ``targets`` and ``betas`` batched, nets and filterbanks shared.

    Args:
      objective: the shared objective.
      targets: ``{term name: batched target}`` replacing those terms' targets (leading axis
        = runs); terms not named keep the objective's target, unbatched.
      betas: ``{term name: (runs,) β}`` for every term.

    Returns:
      ``(params, in_axes)`` for ``jax.vmap``.
    """
    p = objective.params
    params = {
        "nets": p["nets"],
        "filterbanks": p["filterbanks"],
        "targets": {k: targets.get(k, v) for k, v in p["targets"].items()},
        "beta": {k: jnp.asarray(betas[k], jnp.float32) for k in p["beta"]},
    }
    axes = {
        "nets": None,
        "filterbanks": None,
        "targets": {k: (0 if k in targets else None) for k in p["targets"]},
        "beta": {k: 0 for k in p["beta"]},
    }
    return params, axes


def gradient_norms(objective: losses.Objective, x, params, axes) -> dict[str, np.ndarray]:
    """``‖∂L_t/∂x‖_2`` of every unweighted term at ``x`` for each parameter set (Eq. 7).

    Args:
      objective: the shared objective.
      x: the point of calibration, ``objective.shape`` (the same for every run).
      params, axes: from :func:`stack_params`.

    Returns:
      ``{term name: (runs,) float64}``.
    """

    def norms(x, p):
        out = {}
        for name in p["beta"]:
            g = jax.grad(lambda y, name=name: objective.terms(y, p)[name])(x)
            out[name] = jnp.sqrt(jnp.sum(jnp.square(g)))
        return out

    fn = jax.jit(jax.vmap(norms, in_axes=(None, axes)))
    return {
        k: np.asarray(v, np.float64) for k, v in fn(jnp.asarray(x, jnp.float32), params).items()
    }


def calibrated_beta(
    gammas: dict[str, float], norms: dict[str, float], label: str = ""
) -> dict[str, float]:
    """Eq. 7–8 for one run: ``β_t = Γ_t / ‖∂L_t/∂x‖``; a term with Γ = 0 gets β = 0 (it is off).

    Raises:
      ValueError: a term with Γ > 0 has a zero or non-finite gradient norm.
    """
    beta = {}
    for name, g in gammas.items():
        n = float(norms[name])
        if g == 0:
            beta[name] = 0.0
        elif not (np.isfinite(n) and n > 0):
            raise ValueError(f"{label}: the gradient of {name} at the initial noise has norm {n}")
        else:
            beta[name] = float(g) / n
    return beta


class BatchResult(NamedTuple):
    """What :func:`synthesize_batch` returns.

    Attributes:
      waves: ``(runs, samples)`` best iterate of each run.
      loss_history: ``(runs, iterations)`` total loss after each iteration (NaN after a
        run stopped).
      best_loss: ``(runs,)``.
      stop_reason: per run, ``"max_iter"``, ``"converged"`` or ``"non-finite loss"``.
      seconds_per_iteration: ``(iterations,)`` wall seconds of each batched iteration
        (chunk time / chunk length, the first chunk including compilation).
    """

    waves: np.ndarray
    loss_history: np.ndarray
    best_loss: np.ndarray
    stop_reason: list[str]
    seconds_per_iteration: np.ndarray


def make_batch_synthesizer(
    objective: losses.Objective, axes, *, solver: SolverConfig = SolverConfig()
):
    """Independent L-BFGS-B runs of one objective, vmapped over parameter sets.

    Each run is the same computation as :func:`mst_jax.synthesis.synthesize` (same solver,
    bounds, best-iterate tracking and stopping rules), but all runs of a batch advance
    together in one compiled chunk: a run that has stopped is frozen while the others go on.
    Under ``vmap`` the line searches of all runs take as many steps as the longest, so a
    batch costs more arithmetic than its runs alone (most in the first iterations, where
    the line search backtracks most); in exchange it compiles once, and wide batches use
    an accelerator far better than single runs.

    Args:
      objective: the shared objective (its ``params`` give the structure).
      axes: the vmap axes of the batched parameters (:func:`stack_params`).
      solver: L-BFGS-B settings (bounds, tolerance, history, chunk length).

    Returns:
      ``run(init_wave, params, *, max_iter, on_chunk=None) -> BatchResult``. ``init_wave``
      (``objective.shape``) is the same for every run; ``params`` are batched as ``axes``
      says; ``on_chunk`` gets ``iteration``, ``loss`` ((runs,) latest) and
      ``seconds_per_iteration``. Calls with the same batch size reuse one compiled program.
    """
    lbfgsb = synthesis.make_solver(objective, solver)
    bounds = (
        jnp.full(objective.shape, solver.lower, jnp.float32),
        jnp.full(objective.shape, solver.upper, jnp.float32),
    )

    def init_one(x, p):
        st = lbfgsb.init_state(x, bounds, p)
        return (x, st, jnp.copy(x), jnp.float32(jnp.inf), jnp.int32(0))

    def chunk_one(carry, p, n):
        def body(i, c):
            x, st, best_x, best_v, stopped, values = c
            new_x, new_st = lbfgsb.update(x, st, bounds, p)
            v = new_st.value
            active = stopped == 0
            finite = jnp.isfinite(v) & jnp.all(jnp.isfinite(new_x))
            better = active & finite & (v < best_v)
            best_x = jnp.where(better, new_x, best_x)
            best_v = jnp.where(better, v, best_v)
            reason = jnp.where(~finite, 2, jnp.where(new_st.error <= solver.tol, 1, 0)).astype(
                jnp.int32
            )
            x = jnp.where(active, new_x, x)
            st = jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new_st, st)
            stopped = jnp.where(active, reason, stopped)
            values = values.at[i].set(jnp.where(active, v, jnp.nan))
            return x, st, best_x, best_v, stopped, values

        values = jnp.full((solver.chunk,), jnp.nan, jnp.float32)
        # ``n`` is traced (the last chunk may be shorter), so this is a while loop whose
        # condition is the same for every run: vmap keeps it a plain loop.
        x, st, best_x, best_v, stopped, values = jax.lax.fori_loop(0, n, body, (*carry, values))
        return (x, st, best_x, best_v, stopped), values

    init_fn = jax.jit(jax.vmap(init_one, in_axes=(0, axes)))
    chunk_fn = jax.jit(jax.vmap(chunk_one, in_axes=(0, axes, None)), donate_argnums=(0,))

    def run(init_wave, params, *, max_iter: int, on_chunk: Callable[[dict], None] | None = None):
        if max_iter < 1:
            raise ValueError(f"max_iter={max_iter} must be >= 1")
        runs = int(jax.tree_util.tree_leaves(params["beta"])[0].shape[0])
        x0 = jnp.clip(jnp.asarray(init_wave, jnp.float32), solver.lower, solver.upper)
        if x0.shape != tuple(objective.shape):
            raise ValueError(
                f"initial waveform has shape {x0.shape}, the objective expects {objective.shape}"
            )
        carry = init_fn(jnp.broadcast_to(x0, (runs,) + x0.shape), params)
        history, secs = [], []
        done = 0
        while done < max_iter:
            n = min(solver.chunk, max_iter - done)
            t0 = time.perf_counter()
            carry, values = chunk_fn(carry, params, jnp.int32(n))
            values = np.asarray(values)[:, :n]
            elapsed = time.perf_counter() - t0
            done += n
            history.append(values)
            secs.append(np.full(n, elapsed / n))
            if on_chunk is not None:
                on_chunk(
                    {"iteration": done, "loss": values[:, -1], "seconds_per_iteration": elapsed / n}
                )
            if np.all(np.asarray(carry[4]) != 0):
                break
        x, _, best_x, best_v, stopped = carry
        best_v = np.asarray(best_v)
        waves = np.where(np.isfinite(best_v)[:, None], np.asarray(best_x), np.asarray(x))
        reasons = {0: "max_iter", 1: "converged", 2: "non-finite loss"}
        return BatchResult(
            waves=waves,
            loss_history=np.concatenate(history, axis=1),
            best_loss=best_v,
            stop_reason=[reasons[int(s)] for s in np.asarray(stopped)],
            seconds_per_iteration=np.concatenate(secs),
        )

    return run


def synthesize_batch(
    objective: losses.Objective,
    init_wave,
    params,
    axes,
    *,
    max_iter: int,
    solver: SolverConfig = SolverConfig(),
    on_chunk: Callable[[dict], None] | None = None,
) -> BatchResult:
    """One call of :func:`make_batch_synthesizer` (compiles each time it is called)."""
    run = make_batch_synthesizer(objective, axes, solver=solver)
    return run(init_wave, params, max_iter=max_iter, on_chunk=on_chunk)


def prepare_output_dir(script: str, out_dir: str, names: Sequence[str]) -> None:
    """Creates ``out_dir`` and checks that each of ``names`` can be written there, before any
    work; on failure exits with status 1 and one line (SPEC §3), naming the flag."""
    try:
        os.makedirs(out_dir, exist_ok=True)
        for name in names:
            audio.check_writable(os.path.join(out_dir, name))
    except (OSError, audio.AudioError) as e:
        raise SystemExit(f"{script}: error: --output_dir={out_dir}: {e}") from None


def write_csv(path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Writes a CSV atomically (temporary file, then rename); floats with 6 significant digits."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
    audio.atomic_write_bytes(path, buf.getvalue().encode())


def save_figure(fig, path) -> None:
    """Saves a matplotlib figure as PNG atomically and closes it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    audio.atomic_write_bytes(path, buf.getvalue())


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width text table (floats with 3 decimals)."""
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in r] for r in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ analysis


def pool_offsets(rows, representations) -> dict[int, dict[str, tuple[float, float, float]]]:
    """Pools the ± offset pairs as Figure 5 does.

    Args:
      rows: ``(offset, representation, mse)`` triples.
      representations: the representations to report, in order.

    Returns:
      ``{|offset|: {representation: (mean, min, max)}}`` over the runs with that |offset|.
    """
    out = {}
    for a in sorted({abs(int(o)) for o, _, _ in rows}):
        out[a] = {}
        for r in representations:
            vals = [float(m) for o, rr, m in rows if abs(int(o)) == a and rr == r]
            if vals:
                out[a][r] = (float(np.mean(vals)), float(np.min(vals)), float(np.max(vals)))
    return out


def key_invariance_claim(pool) -> tuple[bool | None, list[str]]:
    """Figure 5's claim: at every non-zero offset the STFT content gives the highest error.

    Compares the pooled means of :func:`pool_offsets`. Returns ``(holds, lines)``, one line
    per non-zero |offset|; ``holds`` is None when there is nothing to compare.
    """
    lines, verdicts = [], []
    for a, by_rep in pool.items():
        if a == 0 or "stft" not in by_rep or len(by_rep) < 2:
            continue
        stft = by_rep["stft"][0]
        others = {r: v[0] for r, v in by_rep.items() if r != "stft"}
        ok = all(stft > v for v in others.values())
        verdicts.append(ok)
        beaten = [f"{r} {v:.3f}" for r, v in others.items() if v >= stft]
        lines.append(
            f"  ±{a}: stft {stft:.3f} "
            + ("is the highest" if ok else f"is NOT the highest ({', '.join(beaten)} >= it)")
        )
    return (all(verdicts) if verdicts else None), lines


# "Not raising max |Φ|": the paper's own rows spread 0.010-0.013 (+30 %); we allow the same.
XCORR_TOLERANCE = 1.3


def texture_claim(results) -> tuple[bool | None, str]:
    """Figure 4's claim: a longer receptive field lowers the KL without raising max |Φ|.

    Tested as: row 5 (the longest receptive field) has a lower KL than each STFT-only row
    present (1, 2), and its max |Φ| is at most :data:`XCORR_TOLERANCE` times the larger of
    theirs.

    Args:
      results: dicts with ``row``, ``kl``, ``max_xcorr``.

    Returns:
      ``(holds or None when rows are missing, explanation)``.
    """
    by_row = {r["row"]: r for r in results}
    if 5 not in by_row or not ({1, 2} & set(by_row)):
        return None, "needs row 5 and row 1 or 2"
    base = [by_row[r] for r in (1, 2) if r in by_row]
    kl_ok = all(by_row[5]["kl"] < b["kl"] for b in base)
    xc_limit = XCORR_TOLERANCE * max(b["max_xcorr"] for b in base)
    xc_ok = by_row[5]["max_xcorr"] <= xc_limit
    text = (
        f"KL row 5 {by_row[5]['kl']:.3f} vs STFT-only rows "
        + ", ".join(f"{b['kl']:.3f}" for b in base)
        + (" (lower)" if kl_ok else " (NOT lower)")
        + f"; max|Φ| row 5 {by_row[5]['max_xcorr']:.4f} vs limit {xc_limit:.4f}"
        + (" (not raised)" if xc_ok else " (RAISED)")
    )
    return kl_ok and xc_ok, text
