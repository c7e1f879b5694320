"""The bounded solver's own cost per iteration, apart from the objective (BUILD_NOTES).

  python -m benchmarks.solver_overhead --samples=220500

Runs ``mst_jax.synthesis.synthesize`` on an objective that costs about a millisecond (an
ill-conditioned separable quadratic plus a ripple, so L-BFGS-B does not converge early)
and prints seconds per iteration for each line search, beside the time of the
``jnp.argsort`` that jaxopt's Cauchy-point search runs twice per iteration.
"""

from __future__ import annotations

import time
import warnings

from absl import app, flags

import jax
import jax.numpy as jnp
import numpy as np

from mst_jax import losses, synthesis
from mst_jax.config import LossConfig, SolverConfig, Term

_SAMPLES = flags.DEFINE_integer("samples", 220_500, "Number of variables (10 s at 22.05 kHz).")
_ITERATIONS = flags.DEFINE_integer("iterations", 20, "Timed iterations (after as many untimed).")


def _best(f, *args, repeats=5):
    jax.block_until_ready(f(*args))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        times.append(time.perf_counter() - t)
    return min(times)


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
    print(f"loss+gradient alone: {_best(jax.jit(jax.value_and_grad(fun)), x, obj.params):.4f} s")
    print(f"jnp.argsort({n} floats): {_best(jax.jit(jnp.argsort), x):.4f} s")
    for search in ("zoom", "backtracking"):
        solver = SolverConfig(chunk=k, tol=0.0, linesearch=search)
        r = synthesis.synthesize(obj, np.zeros(n, np.float32), max_iter=k, solver=solver)
        t = time.perf_counter()
        r = synthesis.synthesize(obj, state=r.state, max_iter=2 * k, solver=solver)
        print(f"L-BFGS-B iteration, {search:<12}: {(time.perf_counter() - t) / k:.4f} s ({r.stop_reason})")


if __name__ == "__main__":
    app.run(main)
