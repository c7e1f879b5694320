"""Ulyanov & Lebedev's baseline: optimise the log-magnitude STFT, then Griffin-Lim.

The spectrogram-domain objective the paper compares against (SPEC.md §1): the variable is
``x = log1p|STFT|`` ``(frames, n_fft // 2 + 1)``, not the waveform, so the objective is
:func:`mst_jax.losses.assemble` with :data:`LOG_MAGNITUDE` and reads only the STFT (content,
style and l1 terms on STFT nets: no projection of a magnitude is possible). It is bounded
below by 0 (:data:`BOUNDS`), and :func:`to_wave` restores a phase by Griffin-Lim
(librosa). The configuration is :func:`mst_jax.presets.baseline`.

>>> import jax
>>> from mst_jax import presets
>>> wave = jax.numpy.zeros(4096)
>>> obj = build(presets.baseline(filters=8), jax.random.key(0), content=wave, style=wave, sr=22050)
>>> obj.shape
(9, 1025)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from mst_jax import losses, spectral
from mst_jax.config import LossConfig, StftConfig

__all__ = ["BOUNDS", "LOG_MAGNITUDE", "build", "griffinlim", "to_wave", "variable"]

BOUNDS = (0.0, math.inf)  # box bounds on x = log1p|STFT| >= 0


def variable(wave, *, stft: StftConfig) -> jax.Array:
    """The baseline's variable of a waveform: its log-magnitude STFT.

    Args:
      wave: ``(samples,)``.
      stft: the objective's STFT.

    Returns:
      ``(frames, n_fft // 2 + 1)``, ``log1p|STFT|``.
    """
    wave = jnp.asarray(wave, jnp.float32)
    mag = spectral.stft_magnitude(wave, n_fft=stft.n_fft, hop_length=stft.hop_length)
    return spectral.log_spectrogram(mag)


LOG_MAGNITUDE = losses.Variable(
    of_wave=lambda wave, stft: variable(wave, stft=stft),
    spectra=lambda x, stft: (x, None),
    shape=lambda num_samples, stft: (
        spectral.num_frames(num_samples, hop_length=stft.hop_length),
        stft.n_fft // 2 + 1,
    ),
)
"""The log-magnitude STFT as the optimised variable: the STFT is ``x`` itself, no magnitude."""


def build(
    config: LossConfig,
    key: jax.Array,
    *,
    sr: int,
    content=None,
    style=None,
    num_samples: int | None = None,
    style_chunk_frames: int = 1024,
) -> losses.Objective:
    """The baseline's objective of the log-magnitude STFT (raw weights β = Γ, as published).

    Args:
      config: STFT content, style and l1 terms only (:func:`mst_jax.presets.baseline`).
      key: PRNG key for the random kernels.
      sr: sample rate in Hz.
      content: ``(samples,)`` content waveform, if there is a content term.
      style: ``(samples,)`` style waveform or a list of them.
      num_samples: length of the waveform when there is no content (texture).
      style_chunk_frames: see :func:`mst_jax.losses.assemble`.

    Returns:
      An :class:`~mst_jax.losses.Objective` whose ``x`` is ``(frames, n_fft // 2 + 1)``;
      start it at :func:`variable` of a waveform, weight it by Eq. 7–8 with
      :func:`mst_jax.weighting.calibrate` at such a point if wanted.

    Raises:
      ValueError: a term that needs the waveform or another representation, or missing inputs.
    """
    if any(t.representation != "stft" or t.kind == "spectrum" for t in config.terms):
        raise ValueError("the spectrogram domain supports STFT content, style and l1 terms only")
    return losses.assemble(
        config,
        key,
        LOG_MAGNITUDE,
        sr=sr,
        content=content,
        style=style,
        num_samples=num_samples,
        style_chunk_frames=style_chunk_frames,
    )


def griffinlim(magnitude, *, stft: StftConfig, length: int, n_iter: int, seed: int) -> np.ndarray:
    """``librosa.griffinlim`` of a magnitude STFT ``(bins, frames)`` with ``stft``'s framing.

    Args:
      magnitude: ``(n_fft // 2 + 1, frames)``, librosa's axis order.
      stft: the STFT the magnitude was taken with (Hann window, centred, zero padding).
      length: samples of the result.
      n_iter: Griffin-Lim iterations.
      seed: librosa's ``random_state`` (the initial phase).

    Returns:
      ``(length,)`` float32.
    """
    import librosa

    return librosa.griffinlim(
        magnitude,
        n_iter=n_iter,
        hop_length=stft.hop_length,
        n_fft=stft.n_fft,
        win_length=stft.n_fft,
        window="hann",
        center=True,
        pad_mode="constant",
        length=length,
        random_state=seed,
    ).astype(np.float32)


def to_wave(log_magnitude, *, stft: StftConfig, length: int, n_iter: int, seed: int) -> np.ndarray:
    """The waveform of an optimised ``x = log1p|STFT|`` ``(frames, bins)``: :func:`griffinlim`
    of ``expm1(max(x, 0))``; the other arguments as there."""
    mag = np.expm1(np.maximum(np.asarray(log_magnitude, np.float64), 0.0)).T.astype(np.float32)
    return griffinlim(mag, stft=stft, length=length, n_iter=n_iter, seed=seed)
