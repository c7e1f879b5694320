"""Analytic cost of one loss + gradient: floating-point operations and memory.

Used to print an estimate before a run starts and to report GFLOP/s in ``benchmarks/``
where XLA's own count misses library calls (on GPUs, cuBLAS and cuDNN custom calls are
not counted by ``cost_analysis``). A multiply-add counts as 2 operations. The gradient is
taken with respect to the waveform only (the kernels are constants), so the backward pass
of a convolution or a gram costs about as much as its forward pass: loss + gradient is
counted as twice the forward operations. A gram is counted as
:func:`mst_jax.terms.gram_distance` computes it, by symmetric blocks; a GEMM at the width it
is asked for (``networks.dense`` pads some to a multiple of 64: up to 6 % more work, not
counted).

Also the two measurements those figures are divided by: :func:`best_seconds` (the wall time
of a jitted call) and :func:`matmul_flops_per_s` (this device's matmul rate).
"""

from __future__ import annotations

import math
import time
from typing import Callable, NamedTuple

import jax

from mst_jax.config import CqtNetConfig, LossConfig, MelNetConfig, NetConfig, StftNetConfig
from mst_jax.features import net_ids
from mst_jax.terms import gram_blocks


class Cost(NamedTuple):
    """Per evaluation of loss + gradient.

    Attributes:
      flops: floating-point operations.
      weight_bytes: network kernels and filterbanks, float32.
      target_bytes: content features and style grams, float32.
      activation_bytes: feature maps kept for the backward pass (x 3 for pre-activation,
        activation and cotangent), float32.
    """

    flops: float
    weight_bytes: float
    target_bytes: float
    activation_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.weight_bytes + self.target_bytes + self.activation_bytes


def _net_forward(net: NetConfig, *, frames: int, n_fft: int):
    """(flops, weights, [layer (positions, channels)]) of one forward pass."""
    n_bins = n_fft // 2 + 1
    if isinstance(net, StftNetConfig):
        w = net.kernel * n_bins * net.filters
        return 2.0 * w * frames, w, [(frames, net.filters)]
    if isinstance(net, MelNetConfig):
        f = net.filters
        first = net.kernel * net.n_mels * f
        block = net.block_kernel * f * f + f * f
        flops = 2.0 * frames * (first + net.blocks * block + n_bins * net.n_mels)
        return flops, first + net.blocks * block + n_bins * net.n_mels, [(frames, f)] * (1 + net.blocks)
    if isinstance(net, CqtNetConfig):
        f = net.filters
        kt, kf = net.kernel
        bt, bf = net.block_kernel
        pooled = net.n_bins // net.pool
        first = kt * kf * f
        block = bt * bf * f * f + f * f
        flops = 2.0 * frames * (net.n_bins * first + pooled * net.blocks * block + n_bins * net.n_bins)
        layers = [(frames * pooled, f)] * (1 + net.blocks)
        return flops, first + net.blocks * block + n_bins * net.n_bins, layers
    raise TypeError(net)


def loss_grad_cost(config: LossConfig, *, num_samples: int) -> Cost:
    """Operations and memory of one loss + gradient for a waveform of ``num_samples``.

    >>> from mst_jax import presets
    >>> c = loss_grad_cost(presets.table1(1), num_samples=220500)
    >>> round(c.flops / 1e9)  # 10 s, STFT content + style share one net; its gram in 4 blocks
    98
    """
    n_fft, hop = config.stft.n_fft, config.stft.hop_length
    frames = 1 + num_samples // hop
    n_bins = n_fft // 2 + 1
    flops = 2.0 * 5 * n_fft * math.log2(n_fft) * frames  # rfft, forward and backward
    weights = targets = acts = 0.0
    seen = set()
    for t in config.terms:
        if t.net is None:
            continue
        nid = net_ids(config)[t.name]
        f, w, layers = _net_forward(t.net, frames=frames, n_fft=n_fft)
        if nid not in seen:
            seen.add(nid)
            flops += 2 * f
            weights += 4.0 * w
            acts += 3 * 4.0 * sum(p * c for p, c in layers)
        if t.kind == "style":
            # grams, forward and backward, by gram_distance's blocks: (B + 1) / (2 B) of c^2
            for p, c in layers:
                b = gram_blocks(c)
                flops += 2 * 2.0 * p * c * c * (b + 1) / (2 * b)
            targets += 4.0 * sum(c * c for _, c in layers)
        else:
            p, c = layers[-1]
            targets += 4.0 * p * c
    acts += 3 * 4.0 * frames * n_bins
    return Cost(flops, weights, targets, acts)


def best_seconds(f: Callable, *args, repeats: int = 3) -> float:
    """Shortest wall time of ``f(*args)`` over ``repeats`` calls, in seconds, after one
    untimed call (compilation, warm-up); every call waits for its result."""
    jax.block_until_ready(f(*args))
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        best = min(best, time.perf_counter() - t)
    return best


def probe_size(platform: str) -> int:
    """Side of the square matmul that :func:`matmul_flops_per_s` times by default: 1024 on a CPU
    (a few hundredths of a second there), 4096 on an accelerator, which a 1024 product does not
    fill (an H200, float32: 11-17 TFLOP/s at 1024 against 45 at 4096; BUILD_NOTES "GPU")."""
    return 1024 if platform == "cpu" else 4096


def matmul_flops_per_s(n: int | None = None, *, repeats: int = 3, precision=None) -> float:
    """This device's rate for one square float32 ``(n, n) @ (n, n)`` matmul, in FLOP/s (best
    of ``repeats``); ``n`` None: :func:`probe_size` of the default backend. ``precision``: a
    ``jax.lax.Precision``; None uses the current default (``jax.default_matmul_precision``)."""
    if n is None:
        n = probe_size(jax.default_backend())
    a = jax.random.normal(jax.random.key(0), (n, n), jax.numpy.float32)
    f = jax.jit(lambda x: jax.numpy.dot(x, x, precision=precision))
    return 2.0 * n**3 / best_seconds(f, a, repeats=repeats)
