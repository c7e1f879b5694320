"""Many same-length transfers at once: one objective vmapped over a batch axis, sharded across devices.

B transfers with one loss configuration and one key share their network weights and filterbanks;
only the targets (content features, style grams) and the weights β differ. :class:`BatchObjective`
holds the shared arrays once and the per-example ones stacked along a new leading axis, and
:func:`synthesize_batch` runs one L-BFGS-B per example, vmapped (each example keeps its own solver
state; a chunk's ``while_loop`` runs until every example has finished it, an example that has
converged stays frozen). The batch axis is sharded over a one-axis device mesh named ``batch``
(:func:`batch_mesh`): iterates, solver states, targets and β are split across devices, the
networks are replicated. On several hosts, call ``jax.distributed.initialize()`` first: the mesh
then spans every process's devices, and every process must pass the same inputs.

The per-example chunk is :mod:`mst_jax.synthesis`'s, vmapped; no solver code is repeated here.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from mst_jax import losses, synthesis
from mst_jax.config import LossConfig, SolverConfig

__all__ = [
    "AXIS",
    "PARAMS_AXES",
    "BatchObjective",
    "batch_mesh",
    "build_batch",
    "calibrate",
    "select",
    "stack",
    "synthesize_batch",
    "term_gradient_norms",
    "with_beta",
]

AXIS = "batch"  # name of the mesh axis the examples are split over


class BatchObjective(NamedTuple):
    """B objectives of one configuration, sharing their networks.

    Attributes:
      fn, terms, value_and_terms: the per-example functions of
        :class:`~mst_jax.losses.Objective` (``x`` of ``shape``, unbatched params).
      params: ``nets`` and ``filterbanks`` shared; ``targets`` and ``beta`` with a leading
        ``(B,)`` axis on every leaf.
      config: the loss configuration.
      sr: sample rate in Hz.
      shape: shape of one example's optimised variable; the batch is ``(B, *shape)``.
      size: B.
    """

    fn: Callable[[jax.Array, Any], jax.Array]
    terms: Callable[[jax.Array, Any], dict[str, jax.Array]]
    value_and_terms: Callable[[jax.Array, Any], tuple[jax.Array, dict[str, jax.Array]]]
    params: dict[str, Any]
    config: LossConfig
    sr: int
    shape: tuple[int, ...]
    size: int

    def example(self, i: int) -> losses.Objective:
        """Example ``i`` as an ordinary :class:`~mst_jax.losses.Objective`."""
        per = {k: jax.tree.map(lambda a: a[i], self.params[k]) for k in PER_EXAMPLE}
        params = dict(self.params, **per)
        return losses.Objective(
            self.fn, self.terms, self.value_and_terms, params, self.config, self.sr, self.shape
        )


PER_EXAMPLE = ("targets", "beta")  # params entries that differ between examples
PARAMS_AXES = {"nets": None, "filterbanks": None, "targets": 0, "beta": 0}  # vmap in_axes


def _params_axes(params) -> dict:
    return {k: PARAMS_AXES.get(k) for k in params}


def _leaves_equal(a, b) -> bool:
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    return ta == tb and all(
        x.shape == y.shape and np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb)
    )


def stack(objectives: Sequence[losses.Objective]) -> BatchObjective:
    """Stacks objectives built by :func:`mst_jax.losses.build` with one config and one key.

    Args:
      objectives: B >= 1 objectives; same ``config``, ``sr`` and ``shape`` (same-length
        contents), bit-identical networks and filterbanks (same key).

    Returns:
      The batch; example ``i``'s β and targets are ``objectives[i]``'s.

    Raises:
      ValueError: naming the first example that does not fit example 0.
    """
    objectives = list(objectives)
    if not objectives:
        raise ValueError("stack: no objectives")
    first = objectives[0]
    for i, o in enumerate(objectives[1:], 1):
        if o.config != first.config or o.sr != first.sr:
            raise ValueError(
                f"stack: example {i} has another loss configuration or sample rate than example 0"
            )
        if tuple(o.shape) != tuple(first.shape):
            raise ValueError(
                f"stack: example {i} optimises shape {tuple(o.shape)}, example 0 {tuple(first.shape)}; "
                "a batch needs same-length contents"
            )
        if not (
            _leaves_equal(o.params["nets"], first.params["nets"])
            and _leaves_equal(o.params["filterbanks"], first.params["filterbanks"])
        ):
            raise ValueError(
                f"stack: example {i} has other network weights than example 0 (build every example with one key)"
            )
    per = {
        k: jax.tree.map(lambda *xs: jnp.stack(xs), *[o.params[k] for o in objectives])
        for k in PER_EXAMPLE
    }
    params = dict(first.params, **per)
    return BatchObjective(
        first.fn,
        first.terms,
        first.value_and_terms,
        params,
        first.config,
        first.sr,
        tuple(first.shape),
        len(objectives),
    )


def select(batch: BatchObjective, indices: Sequence[int]) -> BatchObjective:
    """The examples ``indices`` of ``batch`` (in that order, repeats allowed) as a new batch.

    The functions stay the batch's own, so batches selected from one batch share their compiled
    programs (:func:`synthesize_batch` caches them per function): a large set of runs can go
    through in fixed-size pieces without recompiling.
    """
    idx = np.asarray(list(indices), np.int64)
    if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= batch.size:
        raise ValueError(f"select: indices must be a non-empty list within 0..{batch.size - 1}")
    per = {k: jax.tree.map(lambda a: a[idx], batch.params[k]) for k in PER_EXAMPLE}
    return batch._replace(params=dict(batch.params, **per), size=int(idx.size))


def build_batch(
    config: LossConfig,
    key: jax.Array,
    *,
    contents=None,
    styles,
    sr: int,
    init_waves=None,
    num_samples: int | None = None,
) -> BatchObjective:
    """B objectives (:func:`mst_jax.losses.build` each, one ``key``) stacked into a batch.

    Args:
      config: the loss configuration, shared by every example.
      key: PRNG key of the network weights (shared: one set of networks).
      contents: B content waveforms ``(samples,)`` of one length, or None (texture).
      styles: B style entries, each a waveform or a list of waveforms (any lengths).
      sr: sample rate in Hz.
      init_waves: ``(B, *shape)`` initial iterates; with ``config.normalize_gradients``, β of
        each example is calibrated by Eq. 7-8 at its own initial iterate (:func:`calibrate`).
      num_samples: length of the optimised waveform when there is no content.

    Returns:
      The batch objective.

    Raises:
      ValueError: on different content lengths or mismatched counts (naming the example).
    """
    styles = list(styles)
    b = len(styles)
    if contents is not None:
        contents = list(contents)
        if len(contents) != b:
            raise ValueError(f"build_batch: {len(contents)} contents for {b} styles")
        lengths = [int(np.shape(c)[-1]) for c in contents]
        for i, n in enumerate(lengths):
            if n != lengths[0]:
                raise ValueError(
                    f"build_batch: content {i} has {n} samples, content 0 has {lengths[0]}; "
                    "a batch needs same-length contents"
                )
    objectives = [
        losses.build(
            config,
            key,
            content=None if contents is None else contents[i],
            style=styles[i],
            sr=sr,
            num_samples=num_samples,
        )
        for i in range(b)
    ]
    batch = stack(objectives)
    if config.normalize_gradients and init_waves is not None:
        batch = calibrate(batch, init_waves)
    return batch


# --------------------------------------------------------------------------- devices


def batch_mesh(devices=None) -> jax.sharding.Mesh:
    """A one-axis mesh named ``batch`` over ``devices`` (default: every device of every process).

    Auto axis types: XLA propagates the batch sharding through the vmapped objective.
    """
    devices = jax.devices() if devices is None else list(devices)
    return jax.make_mesh(
        (len(devices),), (AXIS,), axis_types=(jax.sharding.AxisType.Auto,), devices=devices
    )


def _put(tree, sharding):
    """Places ``tree`` with ``sharding`` (one sharding, or a prefix tree of them). On several
    processes every one must pass the same values; each keeps the shards of its own devices."""
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def put(s, sub):
        def one(a):
            a = np.asarray(a)
            return jax.make_array_from_callback(a.shape, s, lambda idx: a[idx])

        return jax.tree.map(one, sub)

    if isinstance(sharding, jax.sharding.Sharding):
        return put(sharding, tree)
    return jax.tree.map(put, sharding, tree)


def _host(a) -> np.ndarray:
    """A (possibly sharded, possibly multi-process) array as one numpy array on this host."""
    if getattr(a, "is_fully_addressable", True):
        return np.asarray(a)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(a, tiled=True))


def _any_process(flag: bool) -> bool:
    """True on every process if ``flag`` is True on any (so that all run the same chunks)."""
    if jax.process_count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils

    return bool(np.any(multihost_utils.process_allgather(np.int32(bool(flag)))))


def _padded(batch: BatchObjective, xs, devices: int):
    """Pads the batch to a multiple of ``devices`` with copies of the last example."""
    pad = -batch.size % devices
    xs = jnp.asarray(xs, jnp.float32)
    if xs.shape != (batch.size, *batch.shape):
        raise ValueError(
            f"initial waveforms have shape {tuple(xs.shape)}, the batch expects {(batch.size, *batch.shape)}"
        )
    if not pad:
        return batch, xs
    rep = lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)])
    per = {k: jax.tree.map(rep, batch.params[k]) for k in PER_EXAMPLE}
    return batch._replace(params=dict(batch.params, **per), size=batch.size + pad), rep(xs)


def _shardings(mesh, params):
    rows, shared = NamedSharding(mesh, P(AXIS)), NamedSharding(mesh, P())
    return rows, {k: (rows if PARAMS_AXES.get(k) == 0 else shared) for k in params}


# --------------------------------------------------------------------------- calibration


def term_gradient_norms(batch: BatchObjective, xs, *, mesh=None) -> list[dict[str, float]]:
    """``‖∂L_t/∂x‖_2`` of every unweighted term of every example at its own ``xs[i]``.

    Args:
      batch: the batch objective.
      xs: ``(B, *shape)``.
      mesh: from :func:`batch_mesh` (default: all devices).

    Returns:
      B dicts ``{term: norm}``.
    """
    mesh = batch_mesh() if mesh is None else mesh
    size = batch.size
    padded, xs = _padded(batch, xs, mesh.size)
    rows, psh = _shardings(mesh, padded.params)
    norms = _norms_fn(batch.terms, tuple(padded.params["beta"]), rows)
    out = norms(_put(xs, rows), _put(padded.params, psh))
    out = {k: _host(v)[:size] for k, v in out.items()}
    return [{k: float(v[i]) for k, v in out.items()} for i in range(size)]


@functools.lru_cache(maxsize=16)
def _norms_fn(terms, names, rows):
    def norms(x, p):
        return losses.gradient_norms(terms, x, p, names)

    return jax.jit(jax.vmap(norms, in_axes=(0, PARAMS_AXES)), out_shardings=rows)


def calibrate(batch: BatchObjective, xs, *, mesh=None, gammas=None) -> BatchObjective:
    """Eq. 7-8 for every example at its own ``xs[i]`` (:func:`mst_jax.losses.beta_from_norms`).

    Args:
      batch: the batch objective.
      xs: ``(B, *shape)`` points of calibration.
      mesh: from :func:`batch_mesh` (default: all devices).
      gammas: optional B dicts ``{term: Γ}`` replacing the configuration's Γ per example
        (Γ = 0 switches a term off in that example).

    Raises:
      mst_jax.losses.CalibrationError: naming the example and term whose gradient is zero or
        non-finite there.
    """
    norms = term_gradient_norms(batch, xs, mesh=mesh)
    if gammas is not None and len(gammas) != batch.size:
        raise ValueError(f"calibrate: {len(gammas)} sets of Γ for a batch of {batch.size}")
    betas = []
    for i, n in enumerate(norms):
        try:
            betas.append(losses.beta_from_norms(batch.config, n, gammas=None if gammas is None else gammas[i]))
        except losses.CalibrationError as e:
            raise losses.CalibrationError(e.term, e.norm, f"calibrate: example {i}: {e}") from None
    return with_beta(batch, betas)


def with_beta(batch: BatchObjective, betas: Sequence[dict[str, float]]) -> BatchObjective:
    """The batch with example ``i``'s weights set to ``betas[i]`` (term -> β)."""
    if len(betas) != batch.size:
        raise ValueError(f"with_beta: {len(betas)} weight sets for a batch of {batch.size}")
    stacked = {
        name: jnp.asarray([float(b[name]) for b in betas], jnp.float32)
        for name in batch.params["beta"]
    }
    return batch._replace(params=dict(batch.params, beta=stacked))


# --------------------------------------------------------------------------- synthesis


@functools.lru_cache(maxsize=16)
def _batched_fns(value_and_terms, names, solver: SolverConfig, rows):
    """(init, chunk) for the batch: synthesis's per-example programs vmapped, batch axis sharded."""
    single = synthesis.chunk_program(value_and_terms, names, solver)
    step = synthesis.make_step(value_and_terms, solver)  # solver.optimizer's

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
    should_stop: Callable[[], bool] | None = None,
) -> list[synthesis.Result]:
    """Minimises every example of ``batch`` with its own L-BFGS-B, vmapped and sharded.

    Example ``i`` follows the trajectory :func:`mst_jax.synthesis.synthesize` would give
    ``batch.example(i)`` from ``init_waves[i]`` (up to float rounding: the vmapped programs may
    sum in another order). B need not divide the device count: the batch is padded with copies
    of the last example, which are dropped.

    Args:
      batch: from :func:`build_batch` or :func:`stack`.
      init_waves: ``(B, *batch.shape)`` initial iterates (clipped into the bounds).
      max_iter: iterations per example (default ``solver.max_iter``).
      solver: L-BFGS-B settings; ``solver.chunk`` iterations per compiled call.
      mesh: a mesh with one axis named ``batch`` (default :func:`batch_mesh`: every device).
      on_chunk: called after every chunk with a dict: ``iteration`` (of the examples still
        running), ``losses`` and ``best_losses`` (B floats), ``seconds_per_iteration``,
        ``state`` (the batched, sharded :class:`~mst_jax.synthesis.SynthesisState`, padded).
      should_stop: polled between chunks; True stops every example ("interrupted").

    Returns:
      B :class:`~mst_jax.synthesis.Result`, in order; each ``state`` holds numpy arrays.
    """
    max_iter = solver.max_iter if max_iter is None else int(max_iter)
    if max_iter < 1:
        raise ValueError(f"max_iter={max_iter} must be >= 1")
    mesh = batch_mesh() if mesh is None else mesh
    if tuple(mesh.axis_names) != (AXIS,):
        raise ValueError(
            f"synthesize_batch: the mesh must have one axis named {AXIS!r}, not {mesh.axis_names}"
        )
    size = batch.size
    padded, xs = _padded(batch, init_waves, mesh.size)
    rows, psh = _shardings(mesh, padded.params)
    shared = NamedSharding(mesh, P())
    names = tuple(t.name for t in batch.config.terms)
    init_fn, chunk_fn = _batched_fns(batch.value_and_terms, names, solver, rows)
    params = _put(padded.params, psh)
    lower, upper = synthesis.bounds(batch.shape, solver)
    bounds = _put((lower, upper), shared)
    x0 = _put(xs, rows)
    state = init_fn(x0, params, bounds)

    loss_hist, term_hist, secs = [], [], []
    stop_reason = "max_iter"
    iteration = np.zeros(padded.size, np.int64)
    stopped = np.zeros(padded.size, np.int64)
    while True:
        running = stopped == 0
        if not running.any() or iteration[running].max() >= max_iter:
            break
        if should_stop is not None and _any_process(should_stop()):
            stop_reason = "interrupted"
            break
        n = min(solver.chunk, max_iter - int(iteration[running].max()))
        t0 = time.perf_counter()
        state, values, terms, done = chunk_fn(state, params, bounds, jnp.int32(n))
        values, terms, done = _host(values), _host(terms), _host(done)
        elapsed = time.perf_counter() - t0
        iteration, stopped = _host(state.iteration), _host(state.stopped)
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
                    "best_losses": [float(v) for v in _host(state.best_value)[:size]],
                    "seconds_per_iteration": elapsed / steps,
                    "state": state,
                }
            )

    host_state = jax.tree.map(_host, state)
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
