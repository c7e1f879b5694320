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
from mst_jax.networks import padded_width
from mst_jax.terms import gram_blocks


class Cost(NamedTuple):
    """Per evaluation of loss + gradient.

    Attributes:
      flops: floating-point operations.
      weight_bytes: network kernels and filterbanks, float32, and the zero-padded copy
        :func:`mst_jax.networks.dense` holds of a kernel whose width it pads.
      target_bytes: content features and style grams, float32.
      activation_bytes: what the backward pass holds, float32: the maps every net keeps from
        the forward pass, the largest that one layer's backward adds while it runs, and the
        spectrogram's three (magnitude, log, cotangent). Counted per position of a layer whose
        output has ``f`` channels (see :func:`_net_forward`), as multiples read from XLA's own
        account of the compiled loss + gradient (``memory_analysis``, CPU, paper widths;
        BUILD_NOTES.md "Long audio"): kept, 2 f for a 1-D conv layer (pre-activation and
        activation), 3 f for the CQT net's first layer plus its ``pool`` unpooled phases, 4 f
        for a Mel residual block and 8 f for a CQT one (its padded input and the scan's
        accumulators too); while a layer's backward runs, its output's cotangent f and twice its
        GEMM's unfolded input (``kernel x in``: the copy and its cotangent).
    """

    flops: float
    weight_bytes: float
    target_bytes: float
    activation_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.weight_bytes + self.target_bytes + self.activation_bytes


class _NetCost(NamedTuple):
    """One net's forward pass, in floats: see :class:`Cost` for what is counted."""

    flops: float
    weights: float  # kernels, filterbanks and padded copies
    maps: list[tuple[int, int]]  # (positions, channels) of each returned map
    kept: float  # maps the backward pass reads
    transient: float  # the largest one layer's backward adds


def _padded_copy(rows: int, width: int) -> int:
    """Floats of the padded copy :func:`mst_jax.networks.dense` makes of a ``(rows, width)``
    kernel (hoisted out of the solver's loop, so held for the whole run); 0 if unpadded."""
    padded = padded_width(width)
    return 0 if padded == width else rows * padded


def _net_forward(net: NetConfig, *, frames: int, n_fft: int) -> _NetCost:
    n_bins = n_fft // 2 + 1
    if isinstance(net, StftNetConfig):
        w = net.kernel * n_bins * net.filters
        p, f = frames, net.filters
        held = w + _padded_copy(net.kernel * n_bins, f)
        return _NetCost(2.0 * w * frames, held, [(p, f)], 2 * p * f, p * (f + 2 * net.kernel * n_bins))
    if isinstance(net, MelNetConfig):
        f = net.filters
        first = net.kernel * net.n_mels * f
        block = net.block_kernel * f * f + f * f
        flops = 2.0 * frames * (first + net.blocks * block + n_bins * net.n_mels)
        p = frames
        kept = 2 * p * f + 4 * p * f * net.blocks
        unfolded = max(net.kernel * net.n_mels, net.block_kernel * f if net.blocks else 0)
        held = first + net.blocks * block + n_bins * net.n_mels + _padded_copy(net.kernel * net.n_mels, f)
        held += net.blocks * (_padded_copy(net.block_kernel * f, f) + _padded_copy(f, f))
        return _NetCost(flops, held, [(p, f)] * (1 + net.blocks), kept, p * (f + 2 * unfolded))
    if isinstance(net, CqtNetConfig):
        f = net.filters
        kt, kf = net.kernel
        bt, bf = net.block_kernel
        pooled = net.n_bins // net.pool
        first = kt * kf * f
        block = bt * bf * f * f + f * f
        flops = 2.0 * frames * (net.n_bins * first + pooled * net.blocks * block + n_bins * net.n_bins)
        p = frames * pooled
        phases = p * net.pool * f if net.pool > 1 else 0  # the unpooled map the max reads back
        kept = 3 * p * f + phases + 8 * p * f * net.blocks
        transient = p * net.pool * (f + 2 * kt * kf)
        held = first + net.blocks * (block + _padded_copy(f, f)) + n_bins * net.n_bins  # mixes by dense
        return _NetCost(flops, held, [(p, f)] * (1 + net.blocks), kept, transient)
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
    weights = targets = kept = transient = 0.0
    seen = set()
    for t in config.terms:
        if t.net is None:
            continue
        nid = net_ids(config)[t.name]
        net = _net_forward(t.net, frames=frames, n_fft=n_fft)
        if nid not in seen:
            seen.add(nid)
            flops += 2 * net.flops
            weights += 4.0 * net.weights
            kept += net.kept
            transient = max(transient, net.transient)
        if t.kind == "style":
            # grams, forward and backward, by gram_distance's blocks: (B + 1) / (2 B) of c^2
            for p, c in net.maps:
                b = gram_blocks(c)
                flops += 2 * 2.0 * p * c * c * (b + 1) / (2 * b)
            targets += 4.0 * sum(c * c for _, c in net.maps)
        else:
            p, c = net.maps[-1]
            targets += 4.0 * p * c
    acts = 4.0 * (kept + transient + 3 * frames * n_bins)
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
