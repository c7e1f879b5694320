"""Loss+gradient speed of the convolution forms we chose between (BUILD_NOTES "Networks").

  python -m benchmarks.conv_forms

1-D (time) convolutions: ``lax.conv_general_dilated``, one GEMM per tap, one GEMM over
unfolded frames. 2-D (time x CQT bin): ``lax.conv_general_dilated``, one GEMM per tap,
one GEMM per time tap over frequency-unfolded bins. Gradients with respect to input and
kernel (an upper bound on what the transfer needs).

Last, the CQT style net's block shape (11 x 11, 256 -> 256, 87 frames x 86 bins, 2 s),
gradient with respect to the input only, as the transfer needs it: the library's two
forms (``networks.conv2d_lax``, ``networks.conv2d_gemm``: one scan over all 121 taps)
and the GEMM form it replaced (a scan over frequency taps, the 11 time taps unrolled
inside), called at the top level of a jitted program and inside a ``lax.fori_loop`` body,
where L-BFGS-B runs them; with XLA's temporary memory for the same loop at 431 frames
(10 s), from the compiled program's memory analysis.
"""


import jax
import jax.numpy as jnp
from jax import lax

from mst_jax import networks
from mst_jax.cost import best_seconds


def conv1d_lax(x, w, d):
    k = w.shape[0]
    left = (k - 1) * d // 2
    return lax.conv_general_dilated(x[None], w, (1,), [(left, (k - 1) * d - left)], rhs_dilation=(d,),
                                    dimension_numbers=("NWC", "WIO", "NWC"))[0]


def conv1d_taps(x, w, d):
    k, frames = w.shape[0], x.shape[0]
    left = (k - 1) * d // 2
    xp = jnp.pad(x, ((left, (k - 1) * d - left), (0, 0)))
    return sum(xp[i * d:i * d + frames] @ w[i] for i in range(k))


def _pad2(x, kt, kf, d):
    lt, lf = (kt - 1) * d // 2, (kf - 1) * d // 2
    return jnp.pad(x, ((lt, (kt - 1) * d - lt), (lf, (kf - 1) * d - lf), (0, 0)))


def conv2d_taps(x, w, d):
    frames, bins, _ = x.shape
    kt, kf = w.shape[:2]
    xp = _pad2(x, kt, kf, d)
    return sum(xp[i * d:i * d + frames, j * d:j * d + bins] @ w[i, j] for i in range(kt) for j in range(kf))


def conv2d_freq_unfold(x, w, d):
    frames, bins, c = x.shape
    kt, kf, _, o = w.shape
    xp = _pad2(x, kt, kf, d)
    out = 0
    for i in range(kt):
        rows = xp[i * d:i * d + frames]
        u = jnp.concatenate([rows[:, j * d:j * d + bins] for j in range(kf)], axis=-1)
        out = out + u @ w[i].reshape(kf * c, o)
    return out


def main():
    print(f"device: {jax.devices()[0].device_kind}")
    cases_1d = {"stft 1025->4096 k11": (431, 1025, 4096, 11, 1), "mel block 1025->1025 k25 d2": (431, 1025, 1025, 25, 2)}
    forms_1d = {"lax": conv1d_lax, "gemm per tap": conv1d_taps, "unfolded gemm": lambda x, w, d: networks.conv1d(x, w, dilation=d)}
    for name, (t, c, o, k, d) in cases_1d.items():
        x = jax.random.normal(jax.random.key(0), (t, c))
        w = jax.random.normal(jax.random.key(1), (k, c, o)) * 0.01
        for form, f in forms_1d.items():
            g = jax.jit(jax.value_and_grad(lambda x, w: jnp.sum(jnp.tanh(f(x, w, d))), argnums=(0, 1)))
            s = best_seconds(g, x, w)
            print(f"{name:<28} {form:<16} {s:8.4f} s {2 * 2 * t * c * o * k / s / 1e9:8.1f} GFLOP/s")
    t, b, c = 100, 86, 64
    x = jax.random.normal(jax.random.key(0), (t, b, c))
    w = jax.random.normal(jax.random.key(1), (11, 11, c, c)) * 0.01
    forms_2d = {"lax": lambda x, w, d: networks.conv2d(x, w, dilation=d), "gemm per tap": conv2d_taps,
                "freq-unfolded gemm": conv2d_freq_unfold}
    for form, f in forms_2d.items():
        g = jax.jit(jax.value_and_grad(lambda x, w: jnp.sum(jnp.tanh(f(x, w, 2))), argnums=(0, 1)))
        s = best_seconds(g, x, w)
        print(f"{'cqt block 64->64 11x11 d2':<28} {form:<16} {s:8.4f} s {2 * 2 * t * b * 121 * c * c / s / 1e9:8.1f} GFLOP/s")
    in_a_loop()


def conv2d_time_taps_unrolled(x, w, d):
    """The CPU form used before the 121-tap scan: scan over frequency taps, time taps unrolled."""
    frames, bins, _ = x.shape
    kt, kf = w.shape[:2]
    xp = _pad2(x, kt, kf, d)

    def frequency_tap(out, j_w):
        j, wj = j_w
        cols = lax.dynamic_slice_in_dim(xp, j * d, bins, axis=1)
        for i in range(kt):
            out = out + cols[i * d:i * d + frames] @ wj[i]
        return out, None

    out, _ = lax.scan(frequency_tap, jnp.zeros(x.shape[:-1] + (w.shape[-1],), x.dtype),
                      (jnp.arange(kf), jnp.moveaxis(w, 1, 0)))
    return out


def in_a_loop(t=87, b=86, c=256, t_memory=431):
    flop = 2 * 2 * t * b * 121 * c * c  # forward + input gradient
    forms = {"lax": networks.conv2d_lax, "gemm 121-tap scan": networks.conv2d_gemm,
             "gemm time unrolled": conv2d_time_taps_unrolled}
    for form, conv in forms.items():
        for d in (1, 4):
            vg = jax.value_and_grad(lambda x, w: jnp.sum(jnp.tanh(conv(x, w, d))))

            def looped(x, w, n):  # n traced, so XLA cannot remove a one-trip loop
                def body(_, carry):
                    v, g = vg(carry[0], w)
                    return carry[0] - 1e-6 * g, carry[1] + v
                return lax.fori_loop(0, n, body, (x, 0.0))

            x = jax.random.normal(jax.random.key(0), (t, b, c))
            w = jax.random.normal(jax.random.key(1), (11, 11, c, c)) * 0.01
            top, loop = best_seconds(jax.jit(vg), x, w), best_seconds(jax.jit(looped), x, w, 1)
            big = jax.ShapeDtypeStruct((t_memory, b, c), jnp.float32)
            mem = jax.jit(looped).lower(big, w, 1).compile().memory_analysis()
            temp = f"{mem.temp_size_in_bytes / 1e9:5.2f} GB" if mem is not None else "   - "
            print(f"cqt block {c}->{c} 11x11 d{d}  {form:<18} top level {top:7.3f} s "
                  f"({flop / top / 1e9:6.1f} GFLOP/s), in a loop {loop:7.3f} s ({flop / loop / 1e9:6.1f} GFLOP/s), "
                  f"temporaries at {t_memory} frames {temp}", flush=True)


if __name__ == "__main__":
    main()
