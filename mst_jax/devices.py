"""The batch axis over devices: a one-axis mesh, placing arrays on it and gathering them back.

:func:`batch_mesh` spans every device of every process (after ``jax.distributed.initialize()``
on several hosts); :func:`put` and :func:`gather` move pytrees between the host and that mesh,
on one process or several (every process passes the same values; each keeps its own devices'
shards); :func:`largest` agrees on a number and :func:`any_process` on a flag, so that every
process runs the same chunks and stops with the same status.
"""

from __future__ import annotations

import jax
import numpy as np

__all__ = ["AXIS", "any_process", "batch_mesh", "gather", "largest", "put"]

AXIS = "batch"  # name of the mesh axis the examples are split over


def batch_mesh(devices=None) -> jax.sharding.Mesh:
    """A one-axis mesh named ``batch`` over ``devices`` (default: every device of every process).

    Auto axis types: XLA propagates the batch sharding through the vmapped objective.
    """
    devices = jax.devices() if devices is None else list(devices)
    return jax.make_mesh(
        (len(devices),), (AXIS,), axis_types=(jax.sharding.AxisType.Auto,), devices=devices
    )


def put(tree, sharding):
    """Places ``tree`` with ``sharding`` (one sharding, or a prefix tree of them).

    On several processes every one must pass the same values; each keeps the shards of its own
    devices."""
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


def gather(a) -> np.ndarray:
    """A (possibly sharded, possibly multi-process) array as one numpy array on this host."""
    if getattr(a, "is_fully_addressable", True):
        return np.asarray(a)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(a, tiled=True))


def largest(value: int) -> int:
    """The largest of ``value`` over every process (``value`` itself on one process); every
    process must call it at the same point."""
    if jax.process_count() == 1:
        return int(value)
    from jax.experimental import multihost_utils

    return int(np.max(multihost_utils.process_allgather(np.int32(value))))


def any_process(flag: bool) -> bool:
    """True on every process if ``flag`` is True on any (so that all run the same chunks)."""
    return largest(int(bool(flag))) > 0
