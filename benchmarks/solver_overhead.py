"""The bounded solver's own cost per iteration, apart from the objective (BUILD_NOTES).

  python -m benchmarks.solver_overhead --samples=220500

Runs ``mst_jax.synthesis.synthesize`` on an objective that costs about a millisecond (an
ill-conditioned separable quadratic plus a ripple, so L-BFGS-B does not converge early)
and prints seconds per iteration for each line search, beside the time of the
``jnp.argsort`` that jaxopt's Cauchy-point search runs twice per iteration; then the
zoom search with jaxopt's own Cauchy-point search against ours (``mst_jax.cauchy_point``,
which synthesis swaps in), in this one process, and their ratio; then, for the
zoom search, the same for each L-BFGS memory size (``--history_sizes``) and for each
number of iterations per compiled chunk (``--chunks``; the host syncs, checks signals and
writes checkpoints between chunks).
"""

from __future__ import annotations

import contextlib
import time
import warnings

from absl import app, flags

import jax
import jax.numpy as jnp
import numpy as np

from mst_jax import losses, optimizers, synthesis
from mst_jax.cost import best_seconds
from mst_jax.config import LossConfig, SolverConfig, Term

_SAMPLES = flags.DEFINE_integer("samples", 220_500, "Number of variables (10 s at 22.05 kHz).")
_ITERATIONS = flags.DEFINE_integer("iterations", 20, "Timed iterations (after as many untimed).")
_HISTORY_SIZES = flags.DEFINE_list("history_sizes", ["3", "10", "30"], "L-BFGS memory sizes to time.")
_CHUNKS = flags.DEFINE_list("chunks", ["1", "5", "20"], "Iterations per compiled chunk to time.")


def main(argv):
    del argv
    warnings.simplefilter("ignore")
    n, k = _SAMPLES.value, _ITERATIONS.value
    x = jax.random.normal(jax.random.key(0), (n,)) * 1e-3
    scale = jnp.exp(jax.random.uniform(jax.random.key(2), (n,)) * 9)

    def fun(x, p):
        return 0.5 * jnp.sum(scale * jnp.square(x - p["t"])) + jnp.sum(jnp.cos(40 * x))

    cfg = LossConfig(terms=(Term("spectrum", None, 1.0),))
    obj = losses.Objective(fun, lambda x, p: {"spectrum": fun(x, p)},
                           lambda x, p: (fun(x, p), {"spectrum": fun(x, p)}), {"t": 3 * x}, cfg, 22050, (n,))
    print(f"device: {jax.devices()[0].device_kind}, variables: {n}")
    print(f"loss+gradient alone: {best_seconds(jax.jit(jax.value_and_grad(fun)), x, obj.params, repeats=5):.4f} s")
    print(f"jnp.argsort({n} floats): {best_seconds(jax.jit(jnp.argsort), x, repeats=5):.4f} s")

    def per_iteration(solver):
        r = synthesis.synthesize(obj, np.zeros(n, np.float32), max_iter=k, solver=solver)
        t = time.perf_counter()
        r = synthesis.synthesize(obj, state=r.state, max_iter=2 * k, solver=solver)
        return (time.perf_counter() - t) / k, r.stop_reason

    for search in ("zoom", "backtracking"):
        s, why = per_iteration(SolverConfig(chunk=k, tol=0.0, linesearch=search))
        print(f"L-BFGS-B iteration, {search:<12}: {s:.4f} s ({why})")
    ours = optimizers.jaxopt_cauchy_point
    optimizers.jaxopt_cauchy_point = contextlib.nullcontext  # jaxopt's own search, for comparison
    synthesis.chunk_program.cache_clear()
    theirs, why = per_iteration(SolverConfig(chunk=k, tol=0.0))
    optimizers.jaxopt_cauchy_point = ours
    synthesis.chunk_program.cache_clear()
    s, _ = per_iteration(SolverConfig(chunk=k, tol=0.0))
    print(f"L-BFGS-B iteration, zoom, jaxopt's Cauchy point: {theirs:.4f} s ({why}); ours: {s:.4f} s; "
          f"ratio {theirs / s:.2f}")
    for m in map(int, _HISTORY_SIZES.value):
        s, why = per_iteration(SolverConfig(chunk=k, tol=0.0, history_size=m))
        print(f"L-BFGS-B iteration, zoom, history_size {m:>3}: {s:.4f} s ({why})")
    for c in map(int, _CHUNKS.value):
        s, why = per_iteration(SolverConfig(chunk=c, tol=0.0))
        print(f"L-BFGS-B iteration, zoom, chunk {c:>3}: {s:.4f} s ({why})")


if __name__ == "__main__":
    app.run(main)
