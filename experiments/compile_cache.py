"""JAX's persistent compilation cache, where ``--compilation_cache_dir`` says (on by default)."""

from __future__ import annotations

import os

import jax

from experiments.console import notice


def compilation_cache_dir(flag: str | None, environ=os.environ) -> str | None:
    """The persistent compilation cache folder for ``--compilation_cache_dir`` (None: off).

    Unset flag: ``$JAX_COMPILATION_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/mst_jax/jax``
    (``~/.cache/mst_jax/jax``); an empty flag turns the cache off.
    """
    if flag is not None:
        return os.path.expanduser(flag) if flag else None
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return environ["JAX_COMPILATION_CACHE_DIR"]
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mst_jax", "jax")


MIN_COMPILE_SECONDS = 0.0  # cache every program, not only those over JAX's default 1 s


def use_compilation_cache(flag: str | None, environ=os.environ) -> None:
    """Points JAX's persistent compilation cache at :func:`compilation_cache_dir`.

    A rerun with the same shapes then loads its programs instead of compiling them: the
    demo on the 2-core CPU, 69.4 s -> 56.6 s end to end and peak RSS 2.44 -> 2.06 GB, the
    same output to the bit (BUILD_NOTES.md). Every program is cached
    (:data:`MIN_COMPILE_SECONDS`; JAX's default leaves out those compiled in under 1 s: the
    nets' random draws, the front ends' staging: 36 programs a default run compiled again each
    time, 0.7-1.0 s of a warm 10-iteration run on 2 cores) unless
    ``$JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` says otherwise. A folder that cannot be
    made or written is one notice, not an error.
    """
    path = compilation_cache_dir(flag)
    if path is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return
    try:
        os.makedirs(path, exist_ok=True)
        writable = os.access(path, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if not writable:
        notice(f"compilation cache off: cannot write {path} (--compilation_cache_dir)")
        jax.config.update("jax_enable_compilation_cache", False)
        return
    jax.config.update("jax_compilation_cache_dir", path)
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
