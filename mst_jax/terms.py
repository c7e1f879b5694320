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

__all__ = ["content_loss", "gram", "l1_penalty", "style_loss"]


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

    with ``W^l = gram(features[l])`` and ``N_l`` the channels of layer ``l``.

    Args:
      target_grams: one ``(N_l, N_l)`` gram per layer (from the style audio).
      features: one feature map ``(positions..., N_l)`` per layer.

    Returns:
      Scalar.
    """
    if len(target_grams) != len(features):
        raise ValueError(f"style_loss: {len(target_grams)} target grams for {len(features)} layers")
    total = 0.0
    for g, f in zip(target_grams, features):
        w = gram(f)
        _check_same_shape("style_loss", g, w)
        total = total + jnp.sum(jnp.square(g - w)) / (w.shape[-1] ** 2)
    return total


def l1_penalty(log_magnitude):
    """L1 sparsity of the log-magnitude STFT (paper §4.3): ``sum |log1p|X||``.

    Args:
      log_magnitude: ``(..., frames, bins)``.

    Returns:
      Scalar (sum over every axis).
    """
    return jnp.sum(jnp.abs(log_magnitude))
