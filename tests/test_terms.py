"""The paper's terms (:mod:`mst_jax.terms`) against numpy, and SPEC.md's names for them."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mst_jax import losses, terms


def test_gram_matches_numpy_einsum():
    rng = np.random.default_rng(0)
    f2 = rng.standard_normal((17, 5)).astype(np.float32)
    f3 = rng.standard_normal((6, 7, 5)).astype(np.float32)
    gram = jax.jit(terms.gram)
    # float32 products of 17 or 42 positions against numpy's float32 einsum: rtol 1e-5
    np.testing.assert_allclose(gram(jnp.asarray(f2)), np.einsum("tc,td->cd", f2, f2) / 17, rtol=1e-5)
    np.testing.assert_allclose(
        gram(jnp.asarray(f3)), np.einsum("tbc,tbd->cd", f3, f3) / 42, rtol=1e-5, atol=1e-6
    )


def test_content_style_and_l1_match_numpy():
    rng = np.random.default_rng(1)
    c, x = rng.standard_normal((2, 10, 4)).astype(np.float32)
    # Eq. 1: one half of the squared distance
    np.testing.assert_allclose(jax.jit(terms.content_loss)(c, x), 0.5 * np.sum((c - x) ** 2), rtol=1e-5)
    g = np.einsum("tc,td->cd", c, c) / 10
    w = np.einsum("tc,td->cd", x, x) / 10
    # Eq. 4 over two layers of N = 4 channels: each squared gram distance over N^2
    style = jax.jit(terms.style_loss)([g, g], [x, x])
    np.testing.assert_allclose(style, 2 * np.sum((g - w) ** 2) / 16, rtol=1e-5)
    np.testing.assert_allclose(jax.jit(terms.l1_penalty)(x), np.abs(x).sum(), rtol=1e-5)


def test_shapes_are_checked_never_broadcast():
    c = np.zeros((10, 4), np.float32)
    with pytest.raises(ValueError, match="shapes differ"):
        terms.content_loss(c, c[:5])
    with pytest.raises(ValueError, match="shapes differ"):
        terms.style_loss([np.zeros((3, 3), np.float32)], [c])
    with pytest.raises(ValueError, match="2 target grams for 1 layers"):
        terms.style_loss([np.zeros((4, 4))] * 2, [c])


def test_spec_names_stay_importable_from_losses():
    """SPEC.md §2 names ``mst_jax.losses.gram``, ``content_loss``, ``style_loss`` and
    ``l1_penalty``: they are the terms module's own functions, not copies."""
    for name in ("gram", "content_loss", "style_loss", "l1_penalty"):
        assert getattr(losses, name) is getattr(terms, name), name
        assert name in losses.__all__ and name in terms.__all__


@pytest.mark.parametrize("channels, blocks", [(5, None), (1536, None), (4096, None), (7, 3), (7, 7)])
def test_gram_distance_by_blocks_matches_the_whole_sum_in_float64(channels, blocks):
    """1, 2 and 4 blocks by the rule (5, 1536 and 4096 channels), and uneven blocks (7 in
    3) and one channel per block, against numpy's whole gram in float64, value and gradient
    (the gradient by its closed form 4 F (G - W) / P); the target a gram of other maps, as
    in a transfer."""
    rng = np.random.default_rng(channels)
    frames = 23
    f = rng.standard_normal((frames, channels)).astype(np.float32)
    s = rng.standard_normal((frames + 4, channels)).astype(np.float32)
    f64, s64 = f.astype(np.float64), s.astype(np.float64)
    g = f64.T @ f64 / frames
    w = s64.T @ s64 / (frames + 4)
    distance = functools.partial(terms.gram_distance, blocks=blocks)
    value, grad = jax.jit(jax.value_and_grad(distance, argnums=1))(w.astype(np.float32), f)
    np.testing.assert_allclose(value, np.sum((g - w) ** 2), rtol=2e-5)
    np.testing.assert_allclose(grad, 4 * f64 @ (g - w) / frames, rtol=2e-4, atol=2e-4 * np.abs(grad).max())



def test_gram_distance_refuses_a_wrong_target_or_block_count():
    f = np.zeros((4, 6), np.float32)
    with pytest.raises(ValueError, match="shapes differ"):
        terms.gram_distance(np.zeros((5, 5), np.float32), f)
    with pytest.raises(ValueError, match="blocks must be 1..6"):
        terms.gram_distance(np.zeros((6, 6), np.float32), f, blocks=7)
