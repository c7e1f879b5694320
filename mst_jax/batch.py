"""Many same-length transfers as one objective: B objectives sharing their networks, stacked.

B transfers with one loss configuration and one key share their network weights and filterbanks;
only the targets (content features, style grams) and the weights β differ. :class:`BatchObjective`
holds the shared arrays once and the per-example ones stacked along a new leading axis
(:func:`stack`, :func:`build_batch`, :func:`select`), and :func:`calibrate` applies Eq. 7-8 to
every example at its own initial iterate, vmapped and sharded over the devices' batch axis
(:mod:`mst_jax.devices`). :func:`mst_jax.batch_synthesis.synthesize_batch` runs the batch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from mst_jax import devices, losses, weighting
from mst_jax.config import LossConfig

__all__ = [
    "PARAMS_AXES",
    "PER_EXAMPLE",
    "BatchObjective",
    "build_batch",
    "calibrate",
    "pad",
    "param_shardings",
    "select",
    "stack",
    "term_gradient_norms",
    "with_beta",
]


# An Objective's fields plus the batch size, declared once (losses.Objective's list).
_BatchFields = NamedTuple("_BatchFields", [*losses.Objective.__annotations__.items(), ("size", int)])


class BatchObjective(_BatchFields):
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

    __slots__ = ()

    def example(self, i: int) -> losses.Objective:
        """Example ``i`` as an ordinary :class:`~mst_jax.losses.Objective`."""
        per = {k: jax.tree.map(lambda a: a[i], self.params[k]) for k in PER_EXAMPLE}
        params = dict(self.params, **per)
        return losses.Objective(
            self.fn, self.terms, self.value_and_terms, params, self.config, self.sr, self.shape
        )


PER_EXAMPLE = ("targets", "beta")  # params entries that differ between examples
PARAMS_AXES = {"nets": None, "filterbanks": None, "targets": 0, "beta": 0}  # vmap in_axes


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
    programs (:func:`mst_jax.batch_synthesis.synthesize_batch` caches them per function): a
    large set of runs can go through in fixed-size pieces without recompiling.
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


# --------------------------------------------------------------------------- over devices


def pad(batch: BatchObjective, xs, multiple: int) -> tuple[BatchObjective, jax.Array]:
    """The batch and its points ``xs`` (``(B, *shape)``) padded to a multiple of ``multiple`` (the device count)
    with copies of the last example (callers drop them again)."""
    extra = -batch.size % multiple
    xs = jnp.asarray(xs, jnp.float32)
    if xs.shape != (batch.size, *batch.shape):
        raise ValueError(
            f"initial waveforms have shape {tuple(xs.shape)}, the batch expects {(batch.size, *batch.shape)}"
        )
    if not extra:
        return batch, xs
    rep = lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)])
    per = {k: jax.tree.map(rep, batch.params[k]) for k in PER_EXAMPLE}
    return batch._replace(params=dict(batch.params, **per), size=batch.size + extra), rep(xs)


def param_shardings(mesh, params):
    """``(rows, {entry: sharding})``: the batch axis split over ``mesh``'s one axis for the
    per-example entries of ``params`` (and for ``rows``, the iterates), the rest replicated."""
    rows, shared = NamedSharding(mesh, P(devices.AXIS)), NamedSharding(mesh, P())
    return rows, {k: (rows if PARAMS_AXES.get(k) == 0 else shared) for k in params}


# --------------------------------------------------------------------------- calibration


def term_gradient_norms(batch: BatchObjective, xs, *, mesh=None) -> list[dict[str, float]]:
    """``‖∂L_t/∂x‖_2`` of every unweighted term of every example at its own ``xs[i]``.

    Args:
      batch: the batch objective.
      xs: ``(B, *shape)``.
      mesh: from :func:`mst_jax.devices.batch_mesh` (default: all devices).

    Returns:
      B dicts ``{term: norm}``.
    """
    mesh = devices.batch_mesh() if mesh is None else mesh
    size = batch.size
    padded, xs = pad(batch, xs, mesh.size)
    rows, psh = param_shardings(mesh, padded.params)
    norms = _norms_fn(batch.terms, tuple(padded.params["beta"]), rows)
    out = norms(devices.put(xs, rows), devices.put(padded.params, psh))
    out = {k: devices.gather(v)[:size] for k, v in out.items()}
    return [{k: float(v[i]) for k, v in out.items()} for i in range(size)]


@functools.lru_cache(maxsize=16)
def _norms_fn(terms, names, rows):
    def norms(x, p):
        return weighting.gradient_norms(terms, x, p, names)

    return jax.jit(jax.vmap(norms, in_axes=(0, PARAMS_AXES)), out_shardings=rows)


def calibrate(batch: BatchObjective, xs, *, mesh=None, gammas=None) -> BatchObjective:
    """Eq. 7-8 for every example at its own ``xs[i]`` (:func:`mst_jax.weighting.beta_from_norms`).

    Args:
      batch: the batch objective.
      xs: ``(B, *shape)`` points of calibration.
      mesh: from :func:`mst_jax.devices.batch_mesh` (default: all devices).
      gammas: optional B dicts ``{term: Γ}`` replacing the configuration's Γ per example
        (Γ = 0 switches a term off in that example).

    Raises:
      mst_jax.weighting.CalibrationError: naming the example and term whose gradient is zero or
        non-finite there.
    """
    norms = term_gradient_norms(batch, xs, mesh=mesh)
    if gammas is not None and len(gammas) != batch.size:
        raise ValueError(f"calibrate: {len(gammas)} sets of Γ for a batch of {batch.size}")
    betas = []
    for i, n in enumerate(norms):
        try:
            own = None if gammas is None else gammas[i]
            betas.append(weighting.beta_from_norms(batch.config, n, gammas=own))
        except weighting.CalibrationError as e:
            raise weighting.CalibrationError(
                e.term, e.norm, f"calibrate: example {i}: {e}"
            ) from None
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
