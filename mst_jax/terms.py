"""The paper's loss terms as pure functions of feature maps: the gram (Eq. 3), content (Eq. 1),
style (Eq. 4) and the L1 sparsity penalty (§4.3).

Nothing here knows about networks, front ends or weights: research code composes these on any
feature maps. :mod:`mst_jax.losses` assembles them into one objective of the waveform (Eq. 9)
and weights them (Eq. 7–8).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

__all__ = ["content_loss", "gram", "gram_blocks", "gram_distance", "l1_penalty", "style_loss"]


def _check_same_shape(name, a, b):
    if a.shape != b.shape:
        raise ValueError(f"{name}: shapes differ, {a.shape} vs {b.shape}")


def gram(features):
    """Gram matrix normalised by the number of positions (paper §3.5, SPEC §1).

    .. math:: G = F^\\top F / P

    where ``F`` is the feature map flattened to ``(P, channels)``, ``P`` the number of
    positions (frames, or frames x bins for the CQT net). Dividing by ``P`` makes grams
    of clips of different lengths comparable.

    Args:
      features: ``(positions..., channels)``, e.g. ``(frames, channels)`` or
        ``(frames, bins, channels)``. Use ``jax.vmap`` for a batch.

    Returns:
      ``(channels, channels)``.

    >>> import jax.numpy as jnp
    >>> gram(jnp.ones((4, 3))).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    f = features.reshape(-1, features.shape[-1])
    return (f.T @ f) / f.shape[0]


def gram_blocks(channels: int) -> int:
    """Channel blocks :func:`gram_distance` uses by default: ``channels / 1024`` rounded, at
    least 1 (blocks much narrower than 1024 channels make GEMMs too small to pay).

    >>> [gram_blocks(c) for c in (256, 1025, 4096)]
    [1, 1, 4]
    """
    return max(1, round(channels / 1024))


def gram_distance(target_gram, features, *, blocks: int | None = None):
    """Squared distance ``sum_ij (G_ij - W_ij)^2`` between ``G = gram(features)`` and a target.

    Both grams are symmetric, so ``G`` is computed by channel blocks on and above the
    diagonal only, each off-diagonal block counted twice: for ``B`` blocks ``(B + 1) / (2 B)``
    of the arithmetic, forward and backward. ``B`` is :func:`gram_blocks` unless ``blocks``
    says: 4 for the 4096-filter STFT net, 1 for the 1025-filter Mel net and the 256-filter
    CQT nets. Measured on a 2-core CPU (value + gradient, 431 frames x 4096 channels,
    float32): 0.119 s whole, 0.093 s in 2 blocks, 0.079 s in 4, 0.084 s in 8 (``python -m
    benchmarks.gemm_shapes``).

    The target must be symmetric, as a gram is (XLA's ``F^T F`` is, to the bit): only its
    blocks on and above the diagonal are read.

    Args:
      target_gram: ``W``, ``(channels, channels)``, symmetric (a :func:`gram`).
      features: ``(positions..., channels)``.
      blocks: channel blocks (at most ``channels``); None: :func:`gram_blocks`.

    Returns:
      Scalar.
    """
    f = features.reshape(-1, features.shape[-1])
    channels = f.shape[-1]
    if target_gram.shape != (channels, channels):
        raise ValueError(
            f"gram_distance: shapes differ, {target_gram.shape} vs {(channels, channels)}"
        )
    if blocks is None:
        blocks = gram_blocks(channels)
    if not 1 <= blocks <= channels:
        raise ValueError(f"gram_distance: blocks must be 1..{channels}, got {blocks}")
    edges = [round(i * channels / blocks) for i in range(blocks + 1)]
    cols = [f[:, lo:hi] for lo, hi in zip(edges, edges[1:])]
    total = 0.0
    for i in range(blocks):
        for j in range(i, blocks):
            g_ij = (cols[i].T @ cols[j]) / f.shape[0]
            w_ij = target_gram[edges[i] : edges[i + 1], edges[j] : edges[j + 1]]
            d = jnp.sum(jnp.square(g_ij - w_ij))
            total = total + (d if i == j else 2.0 * d)
    return total


def content_loss(target, features):
    """Eq. 1: half the squared L2 distance between feature maps.

    .. math:: L_{content}(C, X) = \\tfrac12 \\sum_{i,j} (C_{ij} - X_{ij})^2

    Args:
      target: content features ``C``, any shape.
      features: generated features ``X``, same shape (checked, never broadcast).

    Returns:
      Scalar.
    """
    _check_same_shape("content_loss", target, features)
    return 0.5 * jnp.sum(jnp.square(target - features))


def style_loss(target_grams: Sequence[jax.Array], features: Sequence[jax.Array]):
    """Eq. 4 summed over layers: squared gram distance divided by ``N_f ** 2``.

    .. math:: L_{style} = \\sum_{l} \\frac{1}{N_l^2} \\sum_{i,j} (G^l_{ij} - W^l_{ij})^2

    with ``G^l = gram(features[l])``, ``W^l`` the style's gram and ``N_l`` the channels of
    layer ``l``; each squared distance is :func:`gram_distance`.

    Args:
      target_grams: one ``(N_l, N_l)`` gram per layer (from the style audio).
      features: one feature map ``(positions..., N_l)`` per layer.

    Returns:
      Scalar.
    """
    if len(target_grams) != len(features):
        raise ValueError(f"style_loss: {len(target_grams)} target grams for {len(features)} layers")
    total = 0.0
    for w, f in zip(target_grams, features):
        total = total + gram_distance(w, f) / (f.shape[-1] ** 2)
    return total


def l1_penalty(log_magnitude):
    """L1 sparsity of the log-magnitude STFT (paper §4.3): ``sum |log1p|X||``.

    Args:
      log_magnitude: ``(..., frames, bins)``.

    Returns:
      Scalar (sum over every axis).
    """
    return jnp.sum(jnp.abs(log_magnitude))
