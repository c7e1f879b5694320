"""Shared synthesised test audio (no files are downloaded or read), and test-speed settings."""

import os
import tempfile

# Tests compile many tiny programs and run each for milliseconds: XLA's backend
# optimisation roughly doubles compile time on a 2-core machine and buys nothing here.
# Set before JAX is imported, so subprocesses (CLI tests) inherit it too; numerics are
# unchanged up to float rounding. A shared persistent compilation cache lets the CLI
# subprocesses and tests that rebuild the same objective reuse each other's programs; it
# keeps every program, however quickly compiled (a fresh clone with an empty cache: 409 s
# against 452 s when only programs over 0.5 s were kept; BUILD_NOTES.md "Test suite").
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "mst_jax_test_jax_cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import dataclasses  # noqa: E402
import logging  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mst_jax import signals  # noqa: E402
from mst_jax.config import CqtNetConfig, MelNetConfig, StftNetConfig  # noqa: E402

SR = 22050


# Keys every run record must have (SPEC.md §2).
RECORD_KEYS = {
    "flags",
    "versions",
    "device",
    "terms",
    "loss_history",
    "term_history",
    "seconds_per_iteration",
    "wall_seconds",
}


# Command-line size flags for tiny networks of the paper's structure (blocks, pooling), so that
# a run compiles in seconds; each test file adds its own chunk, iterations and preset.
TINY_NET_FLAGS = dict(
    stft_filters=16,
    stft_kernel=3,
    mel_filters=8,
    mel_kernel=5,
    mel_block_kernel=3,
    n_mels_style=24,
    cqt_filters=4,
    cqt_kernel=3,
    cqt_block_kernel=3,
)


def tiny_net(term):
    """Shrink a term's network for fast tests, keeping its structure (blocks, pooling)."""
    n = term.net
    if isinstance(n, StftNetConfig):
        return dataclasses.replace(n, filters=24, kernel=min(n.kernel, 3))
    if isinstance(n, MelNetConfig):
        return dataclasses.replace(n, filters=12, n_mels=min(n.n_mels, 24), kernel=5, block_kernel=3)
    if isinstance(n, CqtNetConfig):
        return dataclasses.replace(n, filters=6, kernel=(3, 3), block_kernel=(3, 3))
    raise TypeError(n)


@pytest.fixture(autouse=True)
def _mst_jax_logger_restored():
    """Each test finds the ``mst_jax`` logger as the session started with it.

    A script's ``main`` run in-process (the CLI tests) routes that logger to stderr and turns
    its propagation off (``experiments.console.install_notice_handler``); left so, later tests'
    ``caplog`` (which listens at the root logger) saw none of the library's notices.
    """
    logger = logging.getLogger("mst_jax")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture(scope="session")
def chord_wave():
    """1 s C-major triad, 22.05 kHz, float32."""
    return signals.chord([60, 64, 67], duration_s=1.0, sr=SR)


@pytest.fixture(scope="session")
def noise_wave():
    """1 s white noise, peak 1, float32."""
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    return x / np.abs(x).max()


@pytest.fixture(scope="session")
def rhythm_wave():
    """1.5 s drum pattern at 120 bpm, float32."""
    return signals.drum_pattern(bpm=120.0, duration_s=1.5, sr=SR, seed=1)
