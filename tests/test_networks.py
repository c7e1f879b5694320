"""Random-kernel networks: determinism, initialisation statistics, convolution correctness."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal

from mst_jax import networks
from mst_jax.config import CqtNetConfig, MelNetConfig, StftNetConfig


def _leaves(p):
    return jax.tree_util.tree_leaves(p)


@pytest.mark.parametrize(
    "cfg",
    [StftNetConfig(filters=16), MelNetConfig(n_mels=8, filters=8, blocks=2), CqtNetConfig(filters=4, blocks=3)],
)
def test_same_key_same_weights_different_key_different(cfg):
    net = networks.make(cfg, n_fft=256)
    a, b, c = net.init(jax.random.key(0)), net.init(jax.random.key(0)), net.init(jax.random.key(1))
    for x, y, z in zip(_leaves(a), _leaves(b), _leaves(c)):
        assert np.array_equal(np.asarray(x), np.asarray(y))  # bit-identical
        assert not np.allclose(np.asarray(x), np.asarray(z))


def test_stft_kernel_std_is_lecun():
    """Paper size: 11 x 1025 x 4096 kernel, std within 3 % of sqrt(1 / fan_in)."""
    w = np.asarray(networks.make(StftNetConfig(), n_fft=2048).init(jax.random.key(3))["conv"])
    assert w.shape == (11, 1025, 4096)
    expected = np.sqrt(1.0 / (11 * 1025))
    assert abs(w.std() / expected - 1) < 0.03
    assert abs(w.mean()) < 0.01 * expected


def test_glorot_uniform_kernel():
    w = np.asarray(
        networks.make(StftNetConfig(filters=512, activation="relu", init="glorot_uniform"), n_fft=2048)
        .init(jax.random.key(0))["conv"]
    )
    limit = np.sqrt(6.0 / (11 * 1025 + 11 * 512))
    assert np.abs(w).max() <= limit
    assert abs(w.std() / (limit / np.sqrt(3)) - 1) < 0.03  # uniform(-l, l) has std l / sqrt(3)


def test_baseline_kernel_is_ulyanov_lebedevs_draw():
    """Their released code: ``randn * sqrt(2) * sqrt(2 / ((bins + filters) * 11))``."""
    from mst_jax import presets

    (net,) = {t.net for t in presets.baseline(filters=512).terms}
    w = np.asarray(networks.make(net, n_fft=2048).init(jax.random.key(0))["conv"])
    assert w.shape == (11, 1025, 512)
    expected = np.sqrt(2.0) * np.sqrt(2.0 / ((1025 + 512) * 11))
    assert abs(w.std() / expected - 1) < 0.03
    assert np.abs(w).max() > 4 * expected  # normal tails, not a uniform draw


@pytest.mark.parametrize("dilation", [1, 2, 4])
def test_conv1d_matches_scipy(dilation):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 3)).astype(np.float32)
    w = rng.standard_normal((5, 3, 2)).astype(np.float32)
    ours = np.asarray(networks.conv1d(jnp.asarray(x), jnp.asarray(w), dilation=dilation))
    # reference: dilate the kernel with zeros, correlate each in/out pair ("same", centred)
    wd = np.zeros(((5 - 1) * dilation + 1, 3, 2), np.float32)
    wd[::dilation] = w
    span = wd.shape[0]
    left = (span - 1) // 2
    xp = np.pad(x, ((left, span - 1 - left), (0, 0)))
    ref = np.zeros((20, 2), np.float32)
    for o in range(2):
        for i in range(3):
            ref[:, o] += scipy.signal.correlate(xp[:, i], wd[:, i, o], mode="valid")
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("width", [64, 65, 1025])  # 64 and 65 are not padded, 1025 is
def test_dense_matches_numpy_value_and_gradient(width):
    """``dense`` pads the kernel's columns for speed and cuts the product back: value and
    input gradient equal numpy's float64 ``x @ w`` (batch axes kept)."""
    rng = np.random.default_rng(width)
    x = rng.standard_normal((2, 3, 40)).astype(np.float32)
    w = rng.standard_normal((40, width)).astype(np.float32)
    y = jax.jit(networks.dense)(x, w)
    assert y.shape == (2, 3, width)
    np.testing.assert_allclose(y, x.astype(np.float64) @ w.astype(np.float64), rtol=1e-5, atol=1e-4)
    g = rng.standard_normal((2, 3, width))
    grad = jax.grad(lambda v: jnp.sum(networks.dense(v, w) * g))(x)
    np.testing.assert_allclose(grad, g @ w.T.astype(np.float64), rtol=1e-5, atol=1e-4)


def test_dense_pads_its_kernel_outside_the_solver_loop():
    """Inside a loop (where L-BFGS-B runs the nets) the kernel's padding is loop-invariant and
    XLA hoists it: the loop body multiplies by the padded kernel and pads nothing."""
    import re

    x, w = jnp.ones((8, 640)), jnp.ones((640, 1025))  # 1025 columns, padded to 1088
    f = lambda x, w: jax.lax.fori_loop(0, 3, lambda i, v: v + networks.dense(v, w)[..., :640], x)
    hlo = jax.jit(f).lower(x, w).compile().as_text()
    blocks = {b.lstrip().split(" ")[0].lstrip("%"): b for b in hlo.split("\n\n") if b.strip()}
    entry = next(b for b in blocks.values() if b.lstrip().startswith("ENTRY"))
    body = re.search(r"body=%?([\w.\-]+)", entry).group(1)
    pads = re.compile(r"\bpad\(|_pad_computation")  # a pad instruction, or a call of one
    assert pads.search(entry)  # padded once, before the loop
    assert "f32[640,1088]" in blocks[body] and not pads.search(blocks[body])
    # a narrow kernel is not padded: 65 columns would become 128, twice the work
    narrow = jax.jit(networks.dense).lower(x, jnp.ones((640, 65))).compile().as_text()
    assert not pads.search(narrow) and "f32[8,65]" in narrow


@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("c_in", [1, 2])  # one channel takes the patch-GEMM path
@pytest.mark.parametrize("form", ["conv2d", "conv2d_gemm", "conv2d_lax"])  # the platform picks one
def test_conv2d_matches_scipy(dilation, c_in, form):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, 12, c_in)).astype(np.float32)
    w = rng.standard_normal((3, 4, c_in, 4)).astype(np.float32)  # kt != kf
    f = networks.conv2d if form == "conv2d" else lambda x, w, dilation: getattr(networks, form)(x, w, dilation)
    ours = np.asarray(jax.jit(f, static_argnames="dilation")(jnp.asarray(x), jnp.asarray(w), dilation=dilation))
    wd = np.zeros((2 * dilation + 1, 3 * dilation + 1, c_in, 4), np.float32)
    wd[::dilation, ::dilation] = w
    ref = np.zeros((9, 12, 4), np.float32)
    for o in range(4):
        for i in range(c_in):
            ref[..., o] += scipy.signal.correlate2d(x[..., i], wd[..., i, o], mode="same")
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def test_max_pool_frequency():
    x = np.random.default_rng(2).standard_normal((4, 7, 3)).astype(np.float32)
    ours = np.asarray(networks.max_pool_frequency(jnp.asarray(x), width=2))
    ref = np.maximum(x[:, 0:6:2], x[:, 1:6:2])
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("width", [1, 2, 3])
@pytest.mark.parametrize("c_in", [1, 2])  # one channel takes the pooled patch GEMMs
def test_conv2d_max_pool_frequency_matches_scipy_then_numpy_pool(width, c_in):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 13, c_in)).astype(np.float32)  # 13 bins: a trailing bin dropped at 2 and 3
    w = rng.standard_normal((3, 4, c_in, 4)).astype(np.float32)
    f = jax.jit(networks.conv2d_max_pool_frequency, static_argnames="width")
    ours = np.asarray(f(jnp.asarray(x), jnp.asarray(w), width=width))
    full = np.zeros((9, 13, 4), np.float32)
    for o in range(4):
        for i in range(c_in):
            full[..., o] += scipy.signal.correlate2d(x[..., i], w[..., i, o], mode="same")
    keep = 13 // width * width
    ref = full[:, :keep].reshape(9, 13 // width, width, 4).max(axis=2)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)  # float32 sums of 12-24 products


def test_cqt_net_pools_then_activates_as_activating_then_pooling():
    cfg = CqtNetConfig(n_bins=15, filters=3, kernel=(3, 5), pool=2)
    net = networks.cqt_net(cfg)
    p = net.init(jax.random.key(9))
    x = np.random.default_rng(7).standard_normal((10, 15))
    ours = jax.jit(net.apply)(p, jnp.asarray(x, jnp.float32))[0]
    act = _np_selu(_np_conv2d(x[..., None], np.asarray(p["conv"], np.float64), 1))
    ref = act[:, :14].reshape(10, 7, 2, 3).max(axis=2)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)  # float32 vs float64, O(1) values
    # the gradient through the pooled form is the one through conv, activation, pool
    g_ours = jax.grad(lambda v: jnp.sum(net.apply(p, v)[0] ** 2))(jnp.asarray(x, jnp.float32))
    unpooled = lambda v: networks.max_pool_frequency(jax.nn.selu(networks.conv2d(v[..., None], p["conv"])), width=2)
    g_ref = jax.grad(lambda v: jnp.sum(unpooled(v) ** 2))(jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(g_ours, g_ref, rtol=1e-5, atol=1e-5)  # same float32 arithmetic, other order


def test_mel_net_receptive_field_is_194_frames():
    """Kernel 50, then kernel 25 dilated 2 and 4: 50 + 24*2 + 24*4 = 194 frames."""
    cfg = MelNetConfig(n_mels=4, filters=6)
    assert cfg.receptive_field_frames == 194
    net = networks.mel_net(cfg)
    p = net.init(jax.random.key(0))
    x = jnp.zeros((400, 4))
    bumped = x.at[200].set(1.0)
    last = lambda v: net.apply(p, v)[-1]
    changed = np.flatnonzero(np.abs(np.asarray(last(bumped) - last(x))).max(axis=-1) > 0)
    assert changed.max() - changed.min() + 1 == 194


def test_layer_shapes():
    p_cfg = CqtNetConfig(filters=4, pool=2, blocks=0)
    r_cfg = CqtNetConfig(filters=4, blocks=3)
    x = jnp.zeros((2, 30, 86))  # a batch of two
    for cfg, n_layers, bins in [(p_cfg, 1, 43), (r_cfg, 4, 86)]:
        net = networks.cqt_net(cfg)
        maps = net.apply(net.init(jax.random.key(0)), x)
        assert len(maps) == n_layers
        assert all(m.shape == (2, 30, bins, 4) for m in maps)
    mel = networks.mel_net(MelNetConfig(n_mels=16, filters=8, blocks=2))
    maps = mel.apply(mel.init(jax.random.key(0)), jnp.zeros((30, 16)))
    assert [m.shape for m in maps] == [(30, 8)] * 3


# ------------------------------------------------------------------ residual blocks as released

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805  # Klambauer et al. 2017


def _np_selu(x):
    return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))


def _np_conv1d(x, w, dilation):
    """'Same' dilated correlation over frames with scipy: x (frames, in), w (k, in, out)."""
    k, c_in, c_out = w.shape
    wd = np.zeros(((k - 1) * dilation + 1, c_in, c_out))
    wd[::dilation] = w
    left = (wd.shape[0] - 1) // 2
    xp = np.pad(x, ((left, wd.shape[0] - 1 - left), (0, 0)))
    return np.stack(
        [sum(scipy.signal.correlate(xp[:, i], wd[:, i, o], mode="valid") for i in range(c_in)) for o in range(c_out)],
        axis=-1,
    )


def _np_conv2d(x, w, dilation):
    """'Same' dilated 2-D correlation with scipy: x (frames, bins, in), w (kt, kf, in, out)."""
    kt, kf, c_in, c_out = w.shape
    wd = np.zeros(((kt - 1) * dilation + 1, (kf - 1) * dilation + 1, c_in, c_out))
    wd[::dilation, ::dilation] = w
    return np.stack(
        [sum(scipy.signal.correlate2d(x[..., i], wd[..., i, o], mode="same") for i in range(c_in)) for o in range(c_out)],
        axis=-1,
    )


def _np_released_net(first, blocks, dilations, conv):
    """The released code's block (SPEC §1), written out: ``net = act(conv(x)); d = net``, then per
    block ``d = act(dilated(d)); net += mix(d); d = act(net)``; returns every layer's ``d``."""
    net = _np_selu(first)
    d = net
    maps = [d]
    for b, dil in zip(blocks, dilations):
        d = _np_selu(conv(d, np.asarray(b["dilated"], np.float64), dil))
        net = net + d @ np.asarray(b["mix"], np.float64)
        d = _np_selu(net)
        maps.append(d)
    return maps


def test_mel_residual_blocks_keep_the_running_sum_before_the_activation():
    """Three blocks (dilations 2, 4, 8) against the numpy reference of the released block; the
    form that re-activates the sum per block (h = act(h + mix)) differs from the second block on."""
    cfg = MelNetConfig(n_mels=3, filters=4, kernel=5, blocks=3, block_kernel=3)
    net = networks.mel_net(cfg)
    p = net.init(jax.random.key(7))
    x = np.random.default_rng(5).standard_normal((40, 3))
    ours = [np.asarray(m) for m in jax.jit(net.apply)(p, jnp.asarray(x, jnp.float32))]
    first = _np_conv1d(x, np.asarray(p["conv"], np.float64), 1)
    ref = _np_released_net(first, p["blocks"], cfg.dilations, _np_conv1d)
    assert len(ours) == len(ref) == 4
    for o, r in zip(ours, ref):
        np.testing.assert_allclose(o, r, rtol=1e-4, atol=1e-4)  # float32 vs float64, O(1) values
    assert np.abs(ref[2] - ref[1]).max() > 0.1  # the blocks do change the map (not a vacuous test)


def test_cqt_residual_blocks_keep_the_running_sum_before_the_activation():
    cfg = CqtNetConfig(n_bins=12, filters=3, kernel=(3, 3), blocks=3, block_kernel=(3, 3), pool=1)
    net = networks.cqt_net(cfg)
    p = net.init(jax.random.key(8))
    x = np.random.default_rng(6).standard_normal((10, 12))
    ours = [np.asarray(m) for m in jax.jit(net.apply)(p, jnp.asarray(x, jnp.float32))]
    first = _np_conv2d(x[..., None], np.asarray(p["conv"], np.float64), 1)
    ref = _np_released_net(first, p["blocks"], cfg.dilations, _np_conv2d)
    assert len(ours) == len(ref) == 4
    for o, r in zip(ours, ref):
        np.testing.assert_allclose(o, r, rtol=1e-4, atol=1e-4)  # float32 vs float64, O(1) values


@pytest.mark.parametrize("activation", ["selu", "relu"])
def test_stft_net_is_the_activated_convolution(activation):
    """The STFT net's one map: act(conv(x)), against scipy's correlation and the activation by
    hand (SELU from its constants, ReLU as max(0, .))."""
    cfg = StftNetConfig(filters=5, kernel=3, activation=activation)
    net = networks.stft_net(cfg, n_bins=4)
    p = net.init(jax.random.key(9))
    x = np.random.default_rng(8).standard_normal((20, 4))
    (ours,) = jax.jit(net.apply)(p, jnp.asarray(x, jnp.float32))
    pre = _np_conv1d(x, np.asarray(p["conv"], np.float64), 1)
    ref = _np_selu(pre) if activation == "selu" else np.maximum(pre, 0.0)
    np.testing.assert_allclose(np.asarray(ours), ref, rtol=1e-4, atol=1e-4)
    assert (pre < -0.5).any()  # the activation matters on these inputs


@pytest.mark.parametrize(
    "cfg", [MelNetConfig(n_mels=8, filters=32, kernel=5, blocks=3, block_kernel=3),
            CqtNetConfig(n_bins=12, filters=32, kernel=(3, 3), blocks=3, block_kernel=(3, 3))],
)
def test_every_block_draws_its_own_kernels(cfg):
    """Each residual block's dilated and mixing kernels are independent draws (correlation
    near 0 between any two blocks' kernels: 1024 or more entries, so chance gives |r| < 0.15
    by five standard deviations), not one draw repeated."""
    p = networks.make(cfg, n_fft=256).init(jax.random.key(11))
    kernels = [np.asarray(b[k]).ravel() for b in p["blocks"] for k in ("dilated", "mix")]
    for i in range(len(kernels)):
        for j in range(i + 1, len(kernels)):
            n = min(kernels[i].size, kernels[j].size)
            assert abs(np.corrcoef(kernels[i][:n], kernels[j][:n])[0, 1]) < 0.15, (i, j)
