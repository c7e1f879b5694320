"""L-BFGS-B line searches on a row-6 transfer with narrow nets (BUILD_NOTES "Synthesis").

  python -m benchmarks.linesearch --seconds=3 --iterations=40

Final loss, objective evaluations per iteration (jaxopt's count) and seconds per
iteration for our zoom search (``zoom``), jaxopt's zoom search as LBFGSB sets it up
(``zoom-jaxopt``: it re-evaluates the objective once per iteration for the aux),
backtracking and Hager-Zhang; same objective and start, one process.
"""

import dataclasses
import time
import warnings

from absl import app, flags

import jax
import jax.numpy as jnp

from mst_jax import audio, losses, presets, render, synthesis
from mst_jax.config import MelNetConfig, SolverConfig, StftNetConfig

_SECONDS = flags.DEFINE_float("seconds", 3.0, "Seconds of the shipped clips.")
_ITERATIONS = flags.DEFINE_integer("iterations", 40, "L-BFGS-B iterations.")
_SEARCHES = flags.DEFINE_list("searches", ["zoom", "zoom-jaxopt", "backtracking"], "Line searches to compare.")
SR = 22050


def _narrow(term):
    n = term.net
    if isinstance(n, StftNetConfig):
        return dataclasses.replace(n, filters=512)
    if isinstance(n, MelNetConfig):
        return dataclasses.replace(n, filters=128)
    return dataclasses.replace(n, filters=16)


def main(argv):
    del argv
    warnings.simplefilter("ignore")
    n = int(_SECONDS.value * SR)
    content = audio.load(render.example_path("content"), sr=SR)[:n]
    style = audio.load(render.example_path("style"), sr=SR)[:n]
    cfg = presets.map_nets(presets.table1(6), _narrow)
    x0 = synthesis.init_noise(jax.random.key(1), n)
    obj = losses.build(cfg, jax.random.key(0), content=content, style=style, sr=SR, init_wave=x0)
    k = _ITERATIONS.value
    for search in _SEARCHES.value:
        if search == "zoom-jaxopt":
            loss, evals, secs = _plain_jaxopt_zoom(obj, x0, k)
        else:
            solver = SolverConfig(chunk=k, linesearch=search, tol=0.0)
            synthesis.synthesize(obj, x0, max_iter=1, solver=solver)  # compiles the chunk
            state = jax.block_until_ready(synthesis.initial_state(obj, x0, solver))
            t = time.perf_counter()
            r = synthesis.synthesize(obj, state=state, max_iter=k, solver=solver)
            secs = (time.perf_counter() - t) / k
            loss, evals = r.loss_history[-1], (int(r.state.solver_state.num_fun_eval) - 1) / k
        print(f"{search:<14} final loss {loss:10.3f}  evaluations/iteration {evals:5.2f}  "
              f"{secs:7.3f} s/iteration", flush=True)


def _plain_jaxopt_zoom(obj, x0, k):
    """jaxopt.LBFGSB with its own zoom search, k iterations in one jitted loop."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import jaxopt
    solver = jaxopt.LBFGSB(fun=obj.value_and_terms, has_aux=True, maxiter=k, tol=0.0, history_size=10,
                           linesearch="zoom", jit=True)
    bounds = (jnp.full(obj.shape, -1.0), jnp.full(obj.shape, 1.0))
    st0 = jax.jit(solver.init_state)(x0, bounds, obj.params)

    @jax.jit
    def run(x, st, n):
        return jax.lax.fori_loop(0, n, lambda _, c: tuple(solver.update(c[0], c[1], bounds, obj.params)), (x, st))

    jax.block_until_ready(run(x0, st0, 1))  # compile
    t = time.perf_counter()
    x, st = jax.block_until_ready(run(x0, st0, k))
    return float(st.value), (int(st.num_fun_eval) - 1) / k, (time.perf_counter() - t) / k


if __name__ == "__main__":
    app.run(main)
