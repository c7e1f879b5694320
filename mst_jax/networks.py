"""Random-kernel networks as ``(init, apply)`` pairs over dict pytrees (paper §3.1–3.5).

* STFT net: one 1-D convolution over time, STFT bins as input channels (Ulyanov & Lebedev).
* Mel net: 1-D convolution over time of the log-Mel spectrogram, then dilated residual
  blocks (dilations 2, 4, ...).
* CQT net: 2-D convolution over (time, CQT bin), optional max-pool along frequency,
  then residual blocks dilated 1, 2, 4, ... in both axes.

A residual block, as released (SPEC §1): ``d <- act(dilated_conv(h))``, ``s <- s + d @ W_mix``,
``h <- act(s)``. The running sum ``s`` starts at the first layer's output and is kept before
the activation; each block's map is ``act(s)``. (Re-activating the sum at every block,
``h <- act(h + mix)``, agrees with this for the first block only.)

No training and no biases: the weights are drawn once from a ``jax.random`` key (LeCun
normal for SELU, Glorot uniform for the ReLU baseline) and held fixed. ``apply`` takes a
log spectrogram ``(..., frames, bins)`` and returns the list of every layer's feature
map: ``(..., frames, channels)`` for the 1-D nets, ``(..., frames, bins', channels)`` for
the CQT net. Convolutions use "SAME" zero padding, so every map keeps the input's frames.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from mst_jax.config import CqtNetConfig, MelNetConfig, NetConfig, StftNetConfig

Params = dict[str, Any]


class Network(NamedTuple):
    """A random-kernel network: ``init(key) -> params``, ``apply(params, x) -> [features]``."""

    init: Callable[[jax.Array], Params]
    apply: Callable[[Params, jax.Array], list[jax.Array]]


# Both increasing, so cqt_net may max-pool before activating.
_ACTIVATIONS = {"selu": jax.nn.selu, "relu": jax.nn.relu}


def _kernel(key, shape, init: str):
    """A kernel of ``shape`` (spatial..., in, out), fan-in = prod(spatial) * in, fan-out likewise.

    ``lecun_normal``: N(0, 1 / fan_in) (untruncated, so the variance is exactly the
    LeCun value SELU's self-normalisation assumes). ``glorot_uniform``:
    U(-l, l), ``l = sqrt(6 / (fan_in + fan_out))``. ``glorot_normal_relu``: Glorot normal with
    ReLU's gain sqrt(2), N(0, 4 / (fan_in + fan_out)), as Ulyanov & Lebedev's released code
    draws its kernel (``randn * sqrt(2) * sqrt(2 / ((bins + filters) * 11))``).
    """
    receptive = 1
    for s in shape[:-2]:
        receptive *= s
    fan_in, fan_out = receptive * shape[-2], receptive * shape[-1]
    if init == "lecun_normal":
        return jax.random.normal(key, shape, jnp.float32) * jnp.sqrt(1.0 / fan_in)
    if init == "glorot_uniform":
        limit = (6.0 / (fan_in + fan_out)) ** 0.5
        return jax.random.uniform(key, shape, jnp.float32, -limit, limit)
    if init == "glorot_normal_relu":
        return jax.random.normal(key, shape, jnp.float32) * jnp.sqrt(4.0 / (fan_in + fan_out))
    raise ValueError(f"unknown init {init!r}")


# dense() pads a product's output width to a multiple of this many columns.
_WIDTH_MULTIPLE = 64


def padded_width(n: int) -> int:
    """The output width :func:`dense` computes an ``n``-column product at: ``n`` rounded up to a
    multiple of 64 where that adds at most ``n / 16`` columns, else ``n`` (1025 -> 1088)."""
    extra = -n % _WIDTH_MULTIPLE
    return n if extra == 0 or 16 * extra > n else n + extra


def dense(x, w):
    """``x @ w``; a wide ``w``'s columns zero-padded to a multiple of 64, the product cut back.

    XLA's CPU GEMM runs an output width that is not a multiple of 64 far slower: on this
    project's 2-core CPU, ``(431, 25600) @ (25600, N)`` (the 1025-filter Mel net's conv) ran
    at 285 GFLOP/s for N = 1025 and 400 for 1088, 420 for 1024 (``python -m
    benchmarks.gemm_shapes``). The padded columns are zero, so the cut product is the same.
    Only widths the padding grows by at most 1/16 are padded (:func:`padded_width`): on a
    narrow net the extra columns would be most of the work (an 8-filter net padded to 64 does 8
    times its arithmetic). ``w`` is a fixed kernel: inside the solver's loop XLA hoists its
    padding out of the loop (loop-invariant), so it is paid once per compiled chunk.

    Args:
      x: ``(..., k)``.
      w: ``(k, n)``.

    Returns:
      ``(..., n)``.
    """
    n = w.shape[-1]
    width = padded_width(n)
    if width == n:
        return x @ w
    return (x @ jnp.pad(w, [(0, 0), (0, width - n)]))[..., :n]


def _same_pad(kernel: int, dilation: int) -> tuple[int, int]:
    total = (kernel - 1) * dilation
    return total // 2, total - total // 2


def conv1d(x, w, *, dilation: int = 1):
    """Non-causal "SAME" 1-D convolution over time, channels last.

    Computed as one GEMM over unfolded frames: the ``kernel`` dilated shifts of the
    input are concatenated along channels, ``(frames, kernel * in) @ (kernel * in, out)``
    (:func:`dense`).
    Measured on a 2-core CPU (STFT net, 431 frames, 1025 -> 4096, kernel 11, loss +
    gradient): 99 GFLOP/s, against 84 for one GEMM per tap and 66 for
    ``lax.conv_general_dilated``; on a GPU it compiles far faster than one GEMM per tap.

    Args:
      x: ``(..., frames, in_channels)``.
      w: ``(kernel, in_channels, out_channels)``.
      dilation: spacing between taps, in frames.

    Returns:
      ``(..., frames, out_channels)``.
    """
    k, c_in, c_out = w.shape
    frames = x.shape[-2]
    left, right = _same_pad(k, dilation)
    xp = jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(left, right), (0, 0)])
    if k == 1:
        return dense(xp, w[0])
    taps = [lax.slice_in_dim(xp, i * dilation, i * dilation + frames, axis=-2) for i in range(k)]
    return dense(jnp.concatenate(taps, axis=-1), w.reshape(k * c_in, c_out))


def conv2d(x, w, *, dilation: int = 1):
    """Non-causal "SAME" 2-D convolution over (time, frequency), channels last.

    The form depends on the platform, chosen when XLA lowers the program
    (``lax.platform_dependent``), since the fastest one differs:

    * one input channel (the CQT spectrogram): every ``kt x kf`` patch gathered, one GEMM
      (XLA's CPU convolution runs this at a fifth of GEMM speed);
    * CPU: one GEMM per tap (:func:`conv2d_gemm`). XLA's CPU convolution is as fast at
      the top level of a program, but inside a ``while_loop`` body, where the L-BFGS-B
      iterations run, it took 7x longer (11x11, 256 -> 256, 87 x 86 positions,
      loss+gradient: 1.8 s top level, 12.6 s in a loop; the GEMM form 1.3 s in both;
      `python -m benchmarks.conv_forms`);
    * elsewhere: ``lax.conv_general_dilated`` (cuDNN on GPUs).

    Args:
      x: ``(..., frames, bins, in_channels)``.
      w: ``(kernel_t, kernel_f, in_channels, out_channels)``.
      dilation: dilation in both axes.

    Returns:
      ``(..., frames, bins, out_channels)``.
    """
    if x.shape[-1] == 1:
        return _conv2d_patches(x, w, dilation)
    return lax.platform_dependent(
        x, w, cpu=lambda x, w: conv2d_gemm(x, w, dilation), default=lambda x, w: conv2d_lax(x, w, dilation)
    )


def _pad2(x, w, dilation):
    pads = [_same_pad(w.shape[0], dilation), _same_pad(w.shape[1], dilation), (0, 0)]
    return jnp.pad(x, [(0, 0)] * (x.ndim - 3) + pads)


def _conv2d_patches(x, w, dilation, width=1):
    """One input channel: all ``kt * kf`` shifted copies stacked, one GEMM; with ``width``
    > 1, one GEMM per pooling phase (bins ``r, r + width, ...``) and their maximum.

    The copies are gathered in two steps, ``kt`` time shifts then ``kf`` frequency shifts
    of those (not ``kt * kf`` slices of the input): the same patches, and a third of the
    compile time (content CQT net, loss + gradient: 1.85 s -> 0.61 s)."""
    frames, bins = x.shape[-3:-1]
    kt, kf = w.shape[:2]
    out_bins = bins // width
    xp = _pad2(x, w, dilation)[..., 0]
    time_taps = jnp.stack([xp[..., i * dilation : i * dilation + frames, :] for i in range(kt)], axis=-1)
    flat_w = w.reshape(-1, w.shape[-1])  # rows in (time tap, frequency tap) order

    def phase(r):
        taps = [time_taps[..., j * dilation + r : j * dilation + r + width * out_bins : width, :] for j in range(kf)]
        patches = jnp.stack(taps, axis=-1)  # (..., frames, out_bins, kt, kf)
        return patches.reshape(patches.shape[:-2] + (kt * kf,)) @ flat_w

    return functools.reduce(jnp.maximum, [phase(r) for r in range(width)])


def conv2d_max_pool_frequency(x, w, *, width: int):
    """``max_pool_frequency(conv2d(x, w), width=width)``, computed pooled for one input channel.

    For the one-channel first layer of the CQT net, one GEMM per pooling phase and their
    elementwise maximum: the full-resolution map is never written (content CQT net, 10 s,
    loss + gradient: 0.082-0.085 s as conv, activation, pool; 0.057-0.065 s pooled;
    ``python -m benchmarks.bench --nets=cqt_content --lbfgs_iters=0``). A net applies its
    activation after this: for an increasing activation (SELU, ReLU) pooling first gives the
    same map and gradient at half the activations.

    Args:
      x: ``(..., frames, bins, in_channels)``.
      w: ``(kernel_t, kernel_f, in_channels, out_channels)``.
      width: pool width and stride along frequency; trailing bins that do not fill a
        window are dropped.

    Returns:
      ``(..., frames, bins // width, out_channels)``.
    """
    if x.shape[-1] == 1:
        return _conv2d_patches(x, w, 1, width)
    return max_pool_frequency(conv2d(x, w), width=width)


def conv2d_gemm(x, w, dilation):
    """One GEMM per tap, ``(frames * bins, in) @ (in, out)`` on the shifted input, summed
    in a ``lax.scan`` over all ``kt * kf`` taps.

    Measured on this project's 2-core CPU (11x11, 256 -> 256, loss + input gradient inside
    a loop, 431 x 86 positions = 10 s): 7.7-7.8 s (150-153 GFLOP/s), XLA temporaries
    0.20-0.24 GB. Unrolling the 11 time taps inside a scan over frequency taps ran at the
    same speed (151-156 GFLOP/s) but needed 0.65-0.68 GB; time-unfolded taps (one GEMM of
    depth ``kt * in`` per frequency tap) 142 GFLOP/s and 1.0 GB with a scan, 7.0 GB
    unrolled. ``python -m benchmarks.conv_forms``."""
    frames, bins = x.shape[-3:-1]
    kt, kf, c_in, c_out = w.shape
    xp = _pad2(x, w, dilation)
    lead = (0,) * (x.ndim - 3)

    def tap(out, tap_w):
        i, j, w_ij = tap_w  # w_ij: (in, out)
        shifted = lax.dynamic_slice(xp, lead + (i * dilation, j * dilation, 0), x.shape[:-3] + (frames, bins, c_in))
        return out + shifted @ w_ij, None

    i, j = jnp.divmod(jnp.arange(kt * kf), kf)
    out = jnp.zeros(x.shape[:-1] + (c_out,), jnp.result_type(x, w))
    out, _ = lax.scan(tap, out, (i, j, w.reshape(kt * kf, c_in, c_out)))
    return out


def conv2d_lax(x, w, dilation):
    batch = x.shape[:-3]
    pads = [_same_pad(w.shape[0], dilation), _same_pad(w.shape[1], dilation)]
    y = lax.conv_general_dilated(
        x.reshape((-1,) + x.shape[-3:]),
        w,
        window_strides=(1, 1),
        padding=pads,
        rhs_dilation=(dilation, dilation),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    return y.reshape(batch + y.shape[1:])


def max_pool_frequency(x, *, width: int):
    """Max-pool along the frequency axis, window and stride ``width`` (paper §3.4).

    Args:
      x: ``(..., frames, bins, channels)``.
      width: pool width and stride; trailing bins that do not fill a window are dropped.

    Returns:
      ``(..., frames, bins // width, channels)``.
    """
    if width == 1:
        return x
    bins = x.shape[-2] // width * width
    x = x[..., :bins, :]
    return x.reshape(x.shape[:-2] + (bins // width, width, x.shape[-1])).max(axis=-2)


def stft_net(cfg: StftNetConfig, *, n_bins: int) -> Network:
    """The STFT net: one 1-D conv, ``n_bins`` STFT bins in, ``cfg.filters`` out (paper §3.1).

    ``apply(params, x)`` takes ``(..., frames, n_bins)`` and returns one map
    ``(..., frames, filters)``.
    """
    act = _ACTIVATIONS[cfg.activation]

    def init(key):
        return {"conv": _kernel(key, (cfg.kernel, n_bins, cfg.filters), cfg.init)}

    def apply(params, x):
        return [act(conv1d(x, params["conv"]))]

    return Network(init, apply)


def residual_blocks(act, h, blocks, dilations, conv):
    """The residual blocks as released (SPEC §1): a running sum kept before the activation.

    .. code-block:: text

        s = h                      # the first layer's (activated) output
        for each block b:
            d = act(conv(h, W_b, dilation_b))
            s = s + d @ Mix_b      # 1 x 1 convolution added to the running sum
            h = act(s)             # the block's map; the sum itself is not re-activated

    Args:
      act: the activation.
      h: the first layer's map, ``(..., positions..., channels)``.
      blocks: one ``{"dilated": kernel, "mix": (channels, channels)}`` per block.
      dilations: one dilation per block.
      conv: ``conv(h, kernel, dilation=d)`` ("SAME", channels last).

    Returns:
      One map per block, each the shape of ``h``.
    """
    total, maps = h, []
    for block, d in zip(blocks, dilations):
        z = act(conv(h, block["dilated"], dilation=d))
        total = total + dense(z, block["mix"])
        h = act(total)
        maps.append(h)
    return maps


def mel_net(cfg: MelNetConfig) -> Network:
    """The Mel net: 1-D conv (kernel 50) then dilated residual blocks (paper §3.2.1).

    Block ``b`` has dilation ``2 ** (b + 1)``; blocks as :func:`residual_blocks` (the
    running sum kept before the activation, SPEC §1). ``apply`` takes
    ``(..., frames, n_mels)`` and returns ``1 + blocks`` maps ``(..., frames, filters)``.
    Receptive field: ``kernel + sum((block_kernel - 1) * d)`` frames (194 by default).
    """
    act = _ACTIVATIONS[cfg.activation]

    def init(key):
        first_key, *block_keys = jax.random.split(key, 1 + cfg.blocks)
        params = {"conv": _kernel(first_key, (cfg.kernel, cfg.n_mels, cfg.filters), cfg.init)}
        blocks = []
        for bk in block_keys:
            dil_key, mix_key = jax.random.split(bk)
            blocks.append(
                {
                    "dilated": _kernel(dil_key, (cfg.block_kernel, cfg.filters, cfg.filters), cfg.init),
                    "mix": _kernel(mix_key, (cfg.filters, cfg.filters), cfg.init),
                }
            )
        params["blocks"] = blocks
        return params

    def apply(params, x):
        h = act(conv1d(x, params["conv"]))
        return [h] + residual_blocks(act, h, params["blocks"], cfg.dilations, conv1d)

    return Network(init, apply)


def cqt_net(cfg: CqtNetConfig) -> Network:
    """The CQT net: 2-D conv (11 x 11), frequency max-pool, residual blocks (paper §3.2.2, §3.4).

    ``apply`` takes ``(..., frames, n_bins)`` and returns ``1 + blocks`` maps
    ``(..., frames, n_bins // pool, filters)``; pooling follows the first layer, the
    blocks are :func:`residual_blocks`.
    """
    act = _ACTIVATIONS[cfg.activation]

    def init(key):
        first_key, *block_keys = jax.random.split(key, 1 + cfg.blocks)
        params = {"conv": _kernel(first_key, (*cfg.kernel, 1, cfg.filters), cfg.init)}
        blocks = []
        for bk in block_keys:
            dil_key, mix_key = jax.random.split(bk)
            blocks.append(
                {
                    "dilated": _kernel(dil_key, (*cfg.block_kernel, cfg.filters, cfg.filters), cfg.init),
                    "mix": _kernel(mix_key, (cfg.filters, cfg.filters), cfg.init),
                }
            )
        params["blocks"] = blocks
        return params

    def apply(params, x):
        # pooling before the activation: the same map, since the activations are increasing
        h = act(conv2d_max_pool_frequency(x[..., None], params["conv"], width=cfg.pool))
        return [h] + residual_blocks(act, h, params["blocks"], cfg.dilations, conv2d)

    return Network(init, apply)


def make(cfg: NetConfig, *, n_fft: int) -> Network:
    """The network for ``cfg`` (its type names the representation)."""
    if isinstance(cfg, StftNetConfig):
        return stft_net(cfg, n_bins=n_fft // 2 + 1)
    if isinstance(cfg, MelNetConfig):
        return mel_net(cfg)
    if isinstance(cfg, CqtNetConfig):
        return cqt_net(cfg)
    raise TypeError(f"unknown network config {cfg!r}")
