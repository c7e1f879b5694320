"""GEMM layouts of the nets, timed: padded output widths (``dense``) and gram blocks.

  python -m benchmarks.gemm_shapes

Prints, in one process:

1. ``(frames, kernel * n_mels) @ (kernel * n_mels, N)`` (the Mel net's first conv at 10 s,
   paper sizes) for output widths ``N`` around the Mel net's 1025 filters, then the 1025-wide
   product as ``x @ w`` and as ``networks.dense`` (kernel padded to 1088 and the product cut
   back), each at the top level of a jitted program and inside a ``lax.fori_loop`` (where the
   solver runs it, and where XLA hoists the loop-invariant padding out of the loop);
2. ``terms.gram_distance`` value + gradient for a ``frames x channels`` map (the STFT style
   net at 10 s: 431 x 4096) in 1, 2, 4 and 8 channel blocks, and the block count its rule
   picks, each against one block;
3. preset 5's loss + gradient inside a loop (a default transfer's nets), as the transfer
   runs it.
"""

from __future__ import annotations

import functools
import warnings

from absl import app, flags

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from mst_jax import losses, networks, presets, synthesis, terms
from mst_jax.cost import best_seconds

_FRAMES = flags.DEFINE_integer("frames", 431, "Frames (431: 10 s at 22.05 kHz, hop 512).")
_LOOP = 10


def _in_loop(step):
    """``step(x, *consts) -> x`` run ``_LOOP`` times in a ``fori_loop``: seconds per step come
    from dividing the program's time by ``_LOOP``."""

    def run(x, *consts):
        return lax.fori_loop(0, _LOOP, lambda i, v: step(v, *consts), x)

    return jax.jit(run)


def widths(frames: int):
    k = 50 * 512  # Mel net: kernel 50 over 512 Mel bands
    key = jax.random.key(0)
    x = jax.random.normal(key, (frames, k))
    print(f"\n(frames {frames}, {k}) @ ({k}, N), float32, one call:")
    print(f"{'N':>6} {'seconds':>9} {'GFLOP/s':>8}")
    for n in (1024, 1025, 1040, 1088, 1152):
        w = jax.random.normal(key, (k, n))
        s = best_seconds(jax.jit(jnp.matmul), x, w, repeats=5)
        print(f"{n:>6} {s:>9.4f} {2 * frames * k * n / s / 1e9:>8.0f}")

    w = jax.random.normal(key, (k, 1025)) * k**-0.5
    back = jax.random.normal(key, (1025, k)) * 1025**-0.5

    def step(product):
        return lambda v, w, back: v + 1e-3 * jnp.tanh(product(v, w)) @ back

    print("\nN = 1025, output cut back to 1025 columns; in a loop: forward product plus a")
    print("backward-shaped product, per step:")
    for name, product in (("x @ w", jnp.matmul), ("networks.dense", networks.dense)):
        top = best_seconds(jax.jit(product), x, w, repeats=5)
        loop = best_seconds(_in_loop(step(product)), x, w, back, repeats=3) / _LOOP
        print(f"{name:>15}: top level {top:.4f} s; in a loop {loop:.4f} s per step")


def gram_blocks(frames: int):
    channels = 4096
    f = jax.nn.selu(jax.random.normal(jax.random.key(1), (frames, channels)))
    s = jax.nn.selu(jax.random.normal(jax.random.key(2), (frames, channels)))
    target = terms.gram(s)
    rule = terms.gram_blocks(channels)
    print(f"\nterms.gram_distance value + gradient, {frames} x {channels} (the rule picks {rule} blocks):")
    whole = None
    for blocks in (1, 2, 4, 8):
        vg = jax.jit(jax.value_and_grad(functools.partial(terms.gram_distance, blocks=blocks), argnums=1))
        sec = best_seconds(vg, target, f, repeats=7)
        whole = whole or sec
        print(f"  {blocks} block{'s' if blocks > 1 else ' '}: {sec:.4f} s  ({whole / sec:.2f}x as fast as one block)")


def preset5(frames: int):
    sr, hop = 22050, 512
    n = (frames - 1) * hop
    rng = np.random.default_rng(0)
    content, style = (rng.standard_normal((2, n)) * 0.1).astype(np.float32)
    cfg = presets.table1(5)
    obj = losses.build(cfg, jax.random.key(0), content=content, style=style, sr=sr, num_samples=n,
                       init_wave=synthesis.init_noise(jax.random.key(1), n))
    vg = jax.value_and_grad(obj.fn)

    def step(x, params):
        _, g = vg(x, params)
        return jnp.clip(x - 1e-12 * g, -1, 1)

    sec = best_seconds(_in_loop(step), jnp.asarray(content), obj.params, repeats=3) / _LOOP
    print(f"\npreset 5 (paper widths), {n / sr:.1f} s: {sec:.4f} s per loss + gradient inside a loop")


def main(argv):
    del argv
    warnings.simplefilter("ignore")
    jax.config.update("jax_default_matmul_precision", "highest")
    print(f"device: {jax.devices()[0].device_kind}")
    widths(_FRAMES.value)
    gram_blocks(_FRAMES.value)
    preset5(_FRAMES.value)


if __name__ == "__main__":
    app.run(main)
