"""The only vmapped solver: one L-BFGS-B per example of a batch, sharded over devices.

:func:`synthesize_batch` runs one solver per example of a :class:`mst_jax.batch.BatchObjective`,
vmapped (each example keeps its own solver state; a chunk's ``while_loop`` runs until every
example has finished it, an example that has converged stays frozen). The batch axis is
sharded over a one-axis device mesh named ``batch`` (:func:`mst_jax.devices.batch_mesh`):
iterates, solver states, targets and β are split across devices, the networks are replicated.
On several hosts, call ``jax.distributed.initialize()`` first: the mesh then spans every
process's devices, and every process must pass the same inputs.

The per-example programs are :mod:`mst_jax.synthesis`'s, vmapped; no solver code is repeated here.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from mst_jax import devices, optimizers, synthesis
from mst_jax.batch import PARAMS_AXES, BatchObjective, pad, param_shardings
from mst_jax.config import SolverConfig

__all__ = ["synthesize_batch"]


@functools.lru_cache(maxsize=16)
def _batched_fns(value_and_terms, names, solver: SolverConfig, rows):
    """(init, chunk) for the batch: synthesis's per-example programs vmapped, batch axis sharded."""
    single = synthesis.chunk_program(value_and_terms, names, solver)
    step = optimizers.make_step(value_and_terms, solver)  # solver.optimizer's

    def init(x0, params, bounds):
        def one(x, p):
            x = jnp.clip(x, bounds[0], bounds[1])  # computed here, so x and best_x are two buffers
            st = step.init(x, bounds, p)
            return synthesis.SynthesisState(
                x, st, x, jnp.float32(jnp.inf), jnp.int32(0), jnp.int32(0)
            )

        return jax.vmap(one, in_axes=(0, PARAMS_AXES))(x0, params)

    chunk = jax.vmap(single, in_axes=(0, PARAMS_AXES, None, None))
    return (
        jax.jit(init, out_shardings=rows),
        jax.jit(chunk, donate_argnums=(0,), out_shardings=rows),
    )


def synthesize_batch(
    batch: BatchObjective,
    init_waves,
    *,
    max_iter: int | None = None,
    solver: SolverConfig = SolverConfig(),
    mesh=None,
    on_chunk: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool | str] | None = None,
) -> list[synthesis.Result]:
    """Minimises every example of ``batch`` with its own L-BFGS-B, vmapped and sharded.

    Example ``i`` follows the trajectory :func:`mst_jax.synthesis.synthesize` would give
    ``batch.example(i)`` from ``init_waves[i]`` (up to float rounding: the vmapped programs may
    sum in another order). B need not divide the device count: the batch is padded with copies
    of the last example, which are dropped.

    Args:
      batch: from :func:`mst_jax.batch.build_batch` or :func:`mst_jax.batch.stack`.
      init_waves: ``(B, *batch.shape)`` initial iterates (clipped into the bounds).
      max_iter: iterations per example (default ``solver.max_iter``).
      solver: L-BFGS-B settings; ``solver.chunk`` iterations per compiled call.
      mesh: a mesh with one axis named ``batch`` (default :func:`mst_jax.devices.batch_mesh`: every device).
      on_chunk: called after every chunk with a dict: ``iteration`` (of the examples still
        running), ``losses`` and ``best_losses`` (B floats), ``seconds_per_iteration``,
        ``state`` (the batched, sharded :class:`~mst_jax.synthesis.SynthesisState`, padded).
      should_stop: polled between chunks; True stops every example ("interrupted"), a
        non-empty string stops them with that string as the stop reason.

    Returns:
      B :class:`~mst_jax.synthesis.Result`, in order; each ``state`` holds numpy arrays.
    """
    max_iter = solver.max_iter if max_iter is None else int(max_iter)
    if max_iter < 1:
        raise ValueError(f"max_iter={max_iter} must be >= 1")
    mesh = devices.batch_mesh() if mesh is None else mesh
    if tuple(mesh.axis_names) != (devices.AXIS,):
        raise ValueError(
            f"synthesize_batch: the mesh must have one axis named {devices.AXIS!r}, not {mesh.axis_names}"
        )
    size = batch.size
    padded, xs = pad(batch, init_waves, mesh.size)
    rows, psh = param_shardings(mesh, padded.params)
    shared = NamedSharding(mesh, P())
    names = tuple(t.name for t in batch.config.terms)
    init_fn, chunk_fn = _batched_fns(batch.value_and_terms, names, solver, rows)
    params = devices.put(padded.params, psh)
    lower, upper = synthesis.bounds(batch.shape, solver)
    bounds = devices.put((lower, upper), shared)
    x0 = devices.put(xs, rows)
    state = init_fn(x0, params, bounds)

    loss_hist, term_hist, secs = [], [], []
    stop_reason = "max_iter"
    iteration = np.zeros(padded.size, np.int64)
    stopped = np.zeros(padded.size, np.int64)
    while True:
        running = stopped == 0
        if not running.any() or iteration[running].max() >= max_iter:
            break
        reason = synthesis.polled_stop_reason(should_stop)
        if devices.any_process(reason is not None):  # another process may be the one stopping
            stop_reason = reason or "interrupted"
            break
        n = min(solver.chunk, max_iter - int(iteration[running].max()))
        t0 = time.perf_counter()
        state, values, terms, done = chunk_fn(state, params, bounds, jnp.int32(n))
        values, terms, done = devices.gather(values), devices.gather(terms), devices.gather(done)
        elapsed = time.perf_counter() - t0
        iteration, stopped = devices.gather(state.iteration), devices.gather(state.stopped)
        steps = max(int(done.max()), 1)
        loss_hist.append([values[i, : done[i]] for i in range(size)])
        term_hist.append([terms[i, :, : done[i]] for i in range(size)])
        secs.append([np.full(done[i], elapsed / steps) for i in range(size)])
        if on_chunk is not None:
            last = [float(values[i, done[i] - 1]) if done[i] else float("nan") for i in range(size)]
            on_chunk(
                {
                    "iteration": int(iteration[:size].max()),
                    "losses": last,
                    "best_losses": [float(v) for v in devices.gather(state.best_value)[:size]],
                    "seconds_per_iteration": elapsed / steps,
                    "state": state,
                }
            )

    host_state = jax.tree.map(devices.gather, state)
    results = []
    for i in range(size):
        st = jax.tree.map(lambda a, i=i: a[i], host_state)
        reason = {1: "converged", 2: "non-finite loss"}.get(int(st.stopped), stop_reason)
        wave = st.best_x if np.isfinite(float(st.best_value)) else st.x
        cat = lambda parts, axis=0: np.concatenate(parts, axis=axis) if parts else None
        losses_i = cat([c[i] for c in loss_hist])
        terms_i = cat([c[i] for c in term_hist], axis=1)
        results.append(
            synthesis.Result(
                wave=np.asarray(wave),
                loss_history=np.zeros(0, np.float32) if losses_i is None else losses_i,
                term_history={
                    k: (np.zeros(0, np.float32) if terms_i is None else terms_i[j])
                    for j, k in enumerate(names)
                },
                seconds_per_iteration=cat([c[i] for c in secs]) if secs else np.zeros(0),
                state=st,
                stop_reason=reason,
            )
        )
    return results
