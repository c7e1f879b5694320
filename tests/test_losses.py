"""The objective (:mod:`mst_jax.losses`, :mod:`mst_jax.features`): the properties the paper relies
on, presets, keys, style grams and Eq. 7-8. The terms alone are in test_terms.py."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import SR, tiny_net
from mst_jax import baseline, features, losses, networks, presets, signals, synthesis, weighting
from mst_jax.config import CqtNetConfig, LossConfig, MelNetConfig, StftNetConfig, Term


def _small(cfg):
    return presets.map_nets(cfg, tiny_net)


def _style_value(cfg, key, style, other):
    obj = losses.build(cfg, key, style=style, sr=SR, num_samples=len(other))
    return float(obj.fn(jnp.asarray(other), obj.params))


@pytest.mark.parametrize(
    "net", [StftNetConfig(filters=32, kernel=5), MelNetConfig(n_mels=32, filters=16, kernel=5, block_kernel=3)]
)
def test_style_loss_is_length_invariant(net, rhythm_wave, chord_wave):
    """A clip against itself repeated twice: <= 1e-3 of its loss against a different clip."""
    cfg = LossConfig(terms=(Term("style", net, 1.0),), normalize_gradients=False)
    key = jax.random.key(0)
    clip = rhythm_wave
    twice = np.concatenate([clip, clip])
    same = _style_value(cfg, key, clip, twice)
    different = _style_value(cfg, key, clip, chord_wave)
    assert same <= 1e-3 * different


def _progression(shift):
    chords = [[60, 64, 67], [65, 69, 72], [67, 71, 74], [60, 64, 67]]
    return np.concatenate([signals.chord([n + shift for n in c], duration_s=0.4, sr=SR) for c in chords])


def test_cqt_style_is_transposition_invariant():
    cfg = LossConfig(terms=(Term("style", CqtNetConfig(filters=16, blocks=0), 1.0),), normalize_gradients=False)
    key = jax.random.key(1)
    base = _progression(0)
    up2 = _progression(2)
    other = np.concatenate(
        [signals.chord(c, duration_s=0.4, sr=SR) for c in ([57, 58, 70], [50, 62, 75], [81, 83, 84], [45, 46, 52])]
    )
    transposed = _style_value(cfg, key, base, up2)
    different = _style_value(cfg, key, base, other)
    assert transposed < 0.2 * different


def test_pooled_cqt_content_is_more_key_invariant():
    """Relative content error under a +-1 semitone shift: pooled (2x1) below unpooled."""
    key = jax.random.key(2)
    base = _progression(0)

    def relative(pool, shift):
        cfg = LossConfig(terms=(Term("content", CqtNetConfig(filters=16, pool=pool), 1.0),), normalize_gradients=False)
        obj = losses.build(cfg, key, content=base, sr=SR)
        target = obj.params["targets"]["content_cqt"]
        return float(obj.fn(jnp.asarray(_progression(shift)), obj.params)) / float(0.5 * jnp.sum(target**2))

    for shift in (-1, 1):
        assert relative(2, shift) < relative(1, shift)


@pytest.mark.parametrize("row", [1, 2, 3, 4, 5, 6, "baseline"])
def test_presets_build_and_calibrate(row, chord_wave, rhythm_wave):
    """Every preset builds on content and style of different lengths; after Eq. 7-8 each
    term's gradient norm at the initial point equals its Gamma. The baseline keeps Ulyanov &
    Lebedev's raw weights: beta = Gamma, no normalisation."""
    cfg = _small(presets.baseline() if row == "baseline" else presets.table1(row))
    x0 = synthesis.init_noise(jax.random.key(5), len(chord_wave))
    if row == "baseline":  # the log-magnitude STFT is the variable; raw weights, no init_wave
        x0 = baseline.variable(x0, stft=cfg.stft)
        obj = baseline.build(cfg, jax.random.key(0), content=chord_wave, style=rhythm_wave, sr=SR)
    else:
        obj = losses.build(cfg, jax.random.key(0), content=chord_wave, style=rhythm_wave, sr=SR, init_wave=x0)
    assert np.isfinite(float(jax.jit(obj.fn)(x0, obj.params)))
    norms = weighting.term_gradient_norms(obj, x0)
    for t in cfg.terms:
        beta = float(obj.params["beta"][t.name])
        if not cfg.normalize_gradients:
            assert row == "baseline" and beta == pytest.approx(t.gamma, rel=1e-7), t.name
            continue
        assert norms[t.name] * beta == pytest.approx(t.gamma, rel=1e-4), t.name


def test_gradient_norms_are_l2_norms_of_each_terms_own_gradient(chord_wave, rhythm_wave):
    """Eq. 7's denominator ||dL_t/dx||_2, against numpy's 2-norm of each unweighted term's
    gradient (jax.grad of that term alone, in float64 on the host)."""
    cfg = _small(presets.table1(5))
    x0 = synthesis.init_noise(jax.random.key(5), len(chord_wave))
    obj = losses.build(cfg, jax.random.key(0), content=chord_wave, style=rhythm_wave, sr=SR,
                       init_wave=x0)
    norms = weighting.term_gradient_norms(obj, x0)
    for t in cfg.terms:
        g = np.asarray(jax.grad(lambda x, n=t.name: obj.terms(x, obj.params)[n])(x0), np.float64)
        assert norms[t.name] == pytest.approx(np.sqrt(np.sum(g * g)), rel=1e-5), t.name


def test_a_term_switched_off_needs_no_gradient():
    """Gamma = 0 gives beta = 0 even where that term's gradient is zero (a term switched off is
    not weighted, so Eq. 7 has nothing to divide); a term that is on with a zero norm is refused."""
    row5 = presets.table1(5)
    cfg = dataclasses.replace(row5, terms=tuple(
        dataclasses.replace(t, gamma=0.0) if t.name == "style_mel" else t for t in row5.terms))
    norms = {t.name: 2.0 for t in cfg.terms}
    beta = weighting.beta_from_norms(cfg, dict(norms, style_mel=0.0))
    assert beta["style_mel"] == 0.0
    assert beta["style_stft"] == pytest.approx(50.0 / 2.0)  # Table 1 row 5: Gamma 50
    with pytest.raises(weighting.CalibrationError, match="style_stft"):
        weighting.beta_from_norms(cfg, dict(norms, style_stft=0.0))


# Table 1 of the paper, with SPEC §1's sizes, written out independently of mst_jax.presets:
# term -> (Γ, net facts). Rows 4-6 add the L1 penalty with the Mel content (paper §4.3).
_STFT = dict(filters=4096, kernel=11)
_MEL_FEW = dict(n_mels=16, filters=1025, kernel=50, blocks=0)
_MEL_MANY = dict(n_mels=512, filters=1025, kernel=50, blocks=0)
_MEL_RES = dict(n_mels=512, filters=1025, kernel=50, blocks=2, block_kernel=25, dilations=(2, 4))
_CQT_POOLED = dict(n_bins=86, filters=256, kernel=(11, 11), blocks=0, pool=2)
_CQT_RES = dict(n_bins=86, filters=256, kernel=(11, 11), blocks=3, pool=1, dilations=(1, 2, 4))
_CONTENT_STFT = {"content_stft": (1.0, _STFT)}
_CONTENT_KEY_INVARIANT = {"content_mel": (1.0, _MEL_FEW), "content_cqt": (1.0, _CQT_POOLED),
                          "l1": (0.1, None)}
_STYLE = {
    "stft": {"style_stft": (50.0, _STFT)},
    "stft+mel": {"style_stft": (50.0, _STFT), "style_mel": (50.0, _MEL_MANY)},
    "ensemble": {"style_stft": (50.0, _STFT), "style_mel": (50.0, _MEL_RES),
                 "style_cqt": (50.0, _CQT_RES)},
}
_TABLE1 = {
    1: {**_CONTENT_STFT, **_STYLE["stft"]},
    2: {**_CONTENT_STFT, **_STYLE["stft+mel"]},
    3: {**_CONTENT_STFT, **_STYLE["ensemble"]},
    4: {**_CONTENT_KEY_INVARIANT, **_STYLE["stft"]},
    5: {**_CONTENT_KEY_INVARIANT, **_STYLE["stft+mel"]},
    6: {**_CONTENT_KEY_INVARIANT, **_STYLE["ensemble"]},
}


@pytest.mark.parametrize("row", range(1, 7))
def test_table1_rows_are_the_papers(row):
    cfg = presets.table1(row)
    assert {t.name for t in cfg.terms} == set(_TABLE1[row])
    assert cfg.normalize_gradients  # Eq. 7-8
    for t in cfg.terms:
        gamma, net = _TABLE1[row][t.name]
        assert t.gamma == gamma, t.name
        if net is None:
            assert t.net is None, t.name
            continue
        for field, value in net.items():
            assert getattr(t.net, field) == value, (t.name, field)
        assert (t.net.activation, t.net.init) == ("selu", "lecun_normal"), t.name


def test_shared_network_and_independent_keys(chord_wave, rhythm_wave):
    row1 = _small(presets.table1(1))
    obj = losses.build(row1, jax.random.key(0), content=chord_wave, style=rhythm_wave, sr=SR)
    assert list(obj.params["nets"]) == ["stft"]  # content and style share one STFT net
    row6 = _small(presets.table1(6))
    obj6 = losses.build(row6, jax.random.key(0), content=chord_wave, style=rhythm_wave, sr=SR)
    assert sorted(obj6.params["nets"]) == ["content_cqt", "content_mel", "style_cqt", "style_mel", "style_stft"]
    a = obj6.params["nets"]["content_cqt"]["conv"]
    b = obj6.params["nets"]["style_cqt"]["conv"]
    assert a.shape == b.shape and not np.allclose(a, b)


def test_style_list_uses_mean_gram(chord_wave, rhythm_wave):
    cfg = LossConfig(terms=(Term("style", StftNetConfig(filters=8, kernel=3), 1.0),))
    key = jax.random.key(0)
    both = losses.build(cfg, key, style=[chord_wave, rhythm_wave], sr=SR, num_samples=4096)
    one = losses.build(cfg, key, style=chord_wave, sr=SR, num_samples=4096)
    two = losses.build(cfg, key, style=rhythm_wave, sr=SR, num_samples=4096)
    mean = (one.params["targets"]["style_stft"][0] + two.params["targets"]["style_stft"][0]) / 2
    np.testing.assert_allclose(both.params["targets"]["style_stft"][0], mean, rtol=1e-5, atol=1e-6)


def test_chunked_style_grams_equal_whole_clip_grams(rhythm_wave, chord_wave):
    """Row 6 (STFT, dilated Mel and CQT style nets): grams accumulated over 16-frame chunks
    of a 3 s style clip (windows shifted at both ends, a partial last chunk) equal those
    of the whole clip."""
    style = np.concatenate([rhythm_wave, chord_wave, rhythm_wave])  # 4 s, 173 frames
    cfg = _small(presets.table1(6))
    key = jax.random.key(0)
    whole = losses.build(cfg, key, content=chord_wave, style=style, sr=SR, style_chunk_frames=10_000)
    chunked = losses.build(cfg, key, content=chord_wave, style=style, sr=SR, style_chunk_frames=16)
    for t in cfg.terms:
        if t.kind == "style":
            for g_whole, g_chunk in zip(whole.params["targets"][t.name], chunked.params["targets"][t.name]):
                # float32 sums in another order: relative to the gram's scale
                np.testing.assert_allclose(g_chunk, g_whole, rtol=1e-4, atol=1e-5 * float(jnp.abs(g_whole).max()))


def test_chunked_grams_need_the_receptive_field_as_halo():
    """Without enough context frames the chunk edges see the wrong input: the check above
    is sensitive to it."""
    net_cfg = MelNetConfig(filters=6, n_mels=8, kernel=5, block_kernel=3, blocks=2)
    net = networks.make(net_cfg, n_fft=2048)
    w = net.init(jax.random.key(0))
    front = jax.random.normal(jax.random.key(1), (100, 8))
    apply = lambda f: net.apply(w, f)
    whole = [losses.gram(m) for m in apply(front)]
    good = features.chunked_grams(apply, front, chunk_frames=12, halo_frames=net_cfg.receptive_field_frames - 1)
    bad = features.chunked_grams(apply, front, chunk_frames=12, halo_frames=1)
    np.testing.assert_allclose(good[-1], whole[-1], rtol=1e-4, atol=1e-5)
    assert not np.allclose(bad[-1], whole[-1], rtol=1e-3, atol=1e-4)


def test_total_loss_compiles_once_and_matches_finite_differences(chord_wave, rhythm_wave):
    cfg = _small(presets.table1(6))
    content = chord_wave[:3000]
    obj = losses.build(cfg, jax.random.key(0), content=content, style=rhythm_wave[:5000], sr=SR)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def value_and_grad(x, p):
        return jax.value_and_grad(obj.fn)(x, p)

    rng = np.random.default_rng(0)
    for _ in range(3):  # new waveform values: no retrace
        value_and_grad(jnp.asarray(rng.standard_normal(3000).astype(np.float32) * 0.1), obj.params)

    with jax.enable_x64(True):
        p64 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), obj.params)
        x = jnp.asarray(rng.standard_normal(3000) * 0.1, jnp.float64)
        direction = jnp.asarray(rng.standard_normal(3000), jnp.float64)
        eps = 1e-5
        numeric = (obj.fn(x + eps * direction, p64) - obj.fn(x - eps * direction, p64)) / (2 * eps)
        analytic = jnp.vdot(jax.grad(obj.fn)(x, p64), direction)
        # central difference in float64: truncation error ~eps^2, well below 1e-5 relative
        assert float(analytic) == pytest.approx(float(numeric), rel=1e-5)


def test_build_errors_are_clear(chord_wave):
    with pytest.raises(ValueError, match="content term but no content"):
        losses.build(presets.table1(1), jax.random.key(0), style=chord_wave, sr=SR)
    cfg = LossConfig(terms=(Term("content", StftNetConfig(filters=4, kernel=3), 1.0),))
    obj = losses.build(cfg, jax.random.key(0), content=chord_wave, sr=SR)
    with pytest.raises(ValueError, match="Eq. 7"):
        weighting.calibrate(obj, jnp.asarray(chord_wave))  # zero gradient at the content itself
    with pytest.raises(ValueError, match="gamma"):
        Term("style", StftNetConfig(), -1.0)
    with pytest.raises(ValueError, match="rows 1-6"):
        presets.table1(7)
    with pytest.raises(ValueError, match="no style_cqt term"):
        presets.with_gammas(presets.table1(1), style_cqt=3.0)
    assert [t.name for t in presets.with_gammas(presets.table1(4), l1=0).terms] == [
        "content_mel", "content_cqt", "style_stft"]
    assert dataclasses.replace(presets.table1(1), normalize_gradients=False).normalize_gradients is False


def test_waveform_objective_is_eq1_eq4_and_l1_by_hand(chord_wave, rhythm_wave):
    """On the waveform: Eq. 1 on the content net's last layer (a Mel net with two blocks, so
    not its first), Eq. 4 on every style layer, L1 on log1p|STFT| (not on |STFT|), each from
    librosa's STFT and the nets' own maps in float64; the value is the beta-weighted sum."""
    import librosa

    mel = MelNetConfig(n_mels=16, filters=6, kernel=3, blocks=2, block_kernel=3)
    stft_net = StftNetConfig(filters=5, kernel=3)
    terms = (Term("content", mel, 0.3), Term("l1", None, 0.7), Term("style", stft_net, 2.0))
    cfg = LossConfig(terms=terms, normalize_gradients=False)
    obj = losses.build(cfg, jax.random.key(0), content=chord_wave, style=rhythm_wave, sr=SR)
    noise = np.random.default_rng(3).standard_normal(len(chord_wave))
    x = np.asarray(chord_wave + 0.05 * noise, np.float32)

    def mag(w):
        stft = librosa.stft(w, n_fft=2048, hop_length=512, center=True, pad_mode="constant")
        return np.abs(stft).T

    ids = features.net_ids(cfg)
    fb = np.asarray(features.filterbank(mel, sr=SR, n_fft=2048), np.float64)

    def maps(net_cfg, front):
        net = networks.make(net_cfg, n_fft=2048)
        params = obj.params["nets"][ids["content_mel" if net_cfg is mel else "style_stft"]]
        out = net.apply(params, jnp.asarray(front, jnp.float32))
        return [np.asarray(m, np.float64) for m in out]

    content_x, content_c = (maps(mel, np.log1p(mag(w) @ fb)) for w in (x, chord_wave))
    assert np.abs(content_x[-1] - content_x[0]).max() > 0.1  # last layer is not the first
    style_x, style_s = (maps(stft_net, np.log1p(mag(w))) for w in (x, rhythm_wave))
    gram = lambda m: m.T @ m / len(m)  # noqa: E731
    expected = {
        "content_mel": 0.5 * np.sum((content_x[-1] - content_c[-1]) ** 2),
        "l1": np.sum(np.abs(np.log1p(mag(x)))),
        "style_stft": sum(np.sum((gram(a) - gram(b)) ** 2) / 5**2
                          for a, b in zip(style_x, style_s)),
    }
    values = jax.jit(obj.terms)(jnp.asarray(x), obj.params)
    for name, value in expected.items():
        assert float(values[name]) == pytest.approx(value, rel=2e-3), name
    total = sum(t.gamma * float(values[t.name]) for t in cfg.terms)  # raw weights: beta = Gamma
    assert float(jax.jit(obj.fn)(jnp.asarray(x), obj.params)) == pytest.approx(total, rel=1e-5)


@pytest.mark.parametrize("rep", ["mel", "cqt"])
def test_nets_on_different_front_ends_each_read_their_own(rep, chord_wave, rhythm_wave):
    """A content and a style net of one representation whose front ends differ only in a
    filterbank setting (Mel fmax; CQT filter_scale) must each read their own projection of the
    STFT, not share one: each term by hand from librosa's STFT and its own filterbank."""
    import librosa

    if rep == "mel":
        content_net = MelNetConfig(n_mels=16, fmax=4000.0, filters=6, kernel=3)
        style_net = MelNetConfig(n_mels=16, filters=6, kernel=3)
        bank = lambda n: librosa.filters.mel(  # noqa: E731
            sr=SR, n_fft=2048, n_mels=16, fmax=n.fmax, htk=True, norm=None).T
    else:
        content_net = CqtNetConfig(n_bins=48, fmin=130.81, filter_scale=2.0, filters=6,
                                   kernel=(3, 3))
        style_net = CqtNetConfig(n_bins=48, fmin=130.81, filters=6, kernel=(3, 3))
        bank = lambda n: np.asarray(features.filterbank(n, sr=SR, n_fft=2048))  # noqa: E731
    assert features.frontend_id(content_net) != features.frontend_id(style_net)
    assert np.abs(bank(content_net) - bank(style_net)).max() > 0.1
    cfg = LossConfig(terms=(Term("content", content_net, 1.0), Term("style", style_net, 1.0)),
                     normalize_gradients=False)
    obj = losses.build(cfg, jax.random.key(0), content=chord_wave, style=rhythm_wave, sr=SR)
    x = np.asarray(chord_wave + 0.05 * np.random.default_rng(3).standard_normal(len(chord_wave)),
                   np.float32)
    ids = features.net_ids(cfg)

    def maps(net_cfg, name, w):
        mag = np.abs(librosa.stft(w, n_fft=2048, hop_length=512, center=True,
                                  pad_mode="constant")).T
        front = jnp.asarray(np.log1p(mag @ bank(net_cfg)), jnp.float32)
        out = networks.make(net_cfg, n_fft=2048).apply(obj.params["nets"][ids[name]], front)
        return [np.asarray(m, np.float64).reshape(-1, m.shape[-1]) for m in out]

    gram = lambda f: f.T @ f / len(f)  # noqa: E731
    cx, cc = (maps(content_net, f"content_{rep}", w) for w in (x, chord_wave))
    sx, ss = (maps(style_net, f"style_{rep}", w) for w in (x, rhythm_wave))
    expected = {
        f"content_{rep}": 0.5 * np.sum((cx[-1] - cc[-1]) ** 2),
        f"style_{rep}": sum(np.sum((gram(a) - gram(b)) ** 2) / 6**2 for a, b in zip(sx, ss)),
    }
    values = jax.jit(obj.terms)(jnp.asarray(x), obj.params)
    for name, value in expected.items():
        assert float(values[name]) == pytest.approx(value, rel=2e-3), name
