"""The resumable state of a run: what ``--resume`` checks, and the ``<stem>.state.npz`` file.

:func:`fingerprint` hashes what must match for ``--resume`` to continue the same run (flags but
``--max_iter``/``--chunk``, seed, inputs); :func:`save_state` writes the solver state, its history
and a JSON ``meta`` entry atomically; :func:`read_state` and :func:`restore_state` read it back,
each failure one :class:`experiments.console.RunError` line naming ``--resume``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from experiments import settings
from experiments.console import RunError, one_line
from experiments.preflight import Inputs
from mst_jax import synthesis, writing

# 2: the fingerprint holds --keep_dynamics and --match_level (2026-12-01); 3: --style_level_db
STATE_VERSION = 3


def fingerprint(cfg: settings.RunConfig, inputs: Inputs) -> str:
    """What must match for ``--resume`` to continue the same run."""
    h = hashlib.sha256()
    solver = dataclasses.replace(cfg.solver, max_iter=1, chunk=1)
    for part in (
        cfg.script,
        repr(cfg.loss),
        repr(solver),
        cfg.seed,
        cfg.sr,
        cfg.init,
        cfg.keep_dynamics,
        cfg.match_level,
        cfg.style_level_db,
        inputs.num_samples,
    ):
        h.update(repr(part).encode())
    for w in ([inputs.content] if inputs.content is not None else []) + inputs.styles:
        h.update(np.ascontiguousarray(w, np.float32).tobytes())
    return h.hexdigest()


def save_state(path: str, state, meta: dict, history: dict):
    """Writes the solver ``state``'s leaves, ``meta`` (JSON) and ``history`` (``loss``, ``seconds``,
    ``terms``) to ``path`` as one ``.npz``, atomically."""
    leaves = [np.array(leaf) for leaf in jax.tree_util.tree_leaves(state)]
    arrays = {f"leaf_{i:03d}": leaf for i, leaf in enumerate(leaves)}
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["loss_history"] = np.asarray(history["loss"], np.float32)
    arrays["seconds_per_iteration"] = np.asarray(history["seconds"], np.float64)
    for name, values in history["terms"].items():
        arrays[f"term__{name}"] = np.asarray(values, np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    writing.atomic_write_bytes(path, buf.getvalue())


def read_state(path: str) -> dict:
    """``{meta, leaves, history}`` of a file :func:`save_state` wrote; a missing, unreadable or
    other-version file is a :class:`RunError`."""
    if not os.path.exists(path):
        raise RunError(
            f"--resume: {path}: no saved state (it is written on interrupt and at checkpoints)"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(str(data.pop("meta")))
    except Exception as error:  # noqa: BLE001 - any unreadable file is one message
        raise RunError(
            f"--resume: {path}: not a readable state file ({one_line(error)})"
        ) from None
    if meta.get("version") != STATE_VERSION:
        raise RunError(
            f"--resume: {path}: saved by another version of mst_jax (state version "
            f"{meta.get('version')}, this one reads {STATE_VERSION}); run again without --resume"
        )
    leaves = [data[k] for k in sorted(k for k in data if k.startswith("leaf_"))]
    terms = {k[len("term__") :]: v for k, v in data.items() if k.startswith("term__")}
    return {
        "meta": meta,
        "leaves": leaves,
        "history": {
            "loss": list(data["loss_history"]),
            "seconds": list(data["seconds_per_iteration"]),
            "terms": {k: list(v) for k, v in terms.items()},
        },
    }


def restore_state(saved: dict, objective, x0, solver):
    """The solver state of ``saved`` (from :func:`read_state`), checked against the shapes and
    dtypes this run's ``objective``, ``x0`` and ``solver`` would start from."""
    template = jax.eval_shape(lambda x: synthesis.initial_state(objective, x, solver), x0)
    t_leaves, treedef = jax.tree_util.tree_flatten(template)
    leaves = saved["leaves"]
    if len(leaves) != len(t_leaves) or any(
        a.shape != b.shape or a.dtype != b.dtype for a, b in zip(leaves, t_leaves)
    ):
        raise RunError(
            "--resume: the saved state does not fit this run (saved by another version?)"
        )
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(a) for a in leaves])
