"""Differentiable spectral front ends, time-major: waveform ``(..., samples)`` to ``(..., frames, bins)``.

Everything here is pure ``jnp``, jit- and vmap-compatible, and differentiable from the
raw waveform with a finite gradient everywhere (silence included). The filterbank
builders are host-side numpy (``mst_jax.filters``), re-exported here under the names
SPEC §2 gives.
"""

from __future__ import annotations

import jax.numpy as jnp

from mst_jax.filters import cqt_filterbank, hann_window, mel_filterbank

__all__ = [
    "cqt_filterbank",
    "frame",
    "log_spectrogram",
    "mel_filterbank",
    "num_frames",
    "stft_magnitude",
]

# Added under the square root of |X|^2, in squared STFT units: makes d|X|/dX finite
# (at most 1) at |X| = 0 while changing |X| by at most _MAG_EPS (1e-8, far below the
# float32 resolution of any audible bin).
_MAG_EPS = 1e-8


def num_frames(samples: int, *, hop_length: int = 512) -> int:
    """Frames of a centred STFT: ``1 + samples // hop_length``."""
    return 1 + samples // hop_length


def frame(wave, *, n_fft: int = 2048, hop_length: int = 512):
    """Centred, zero-padded frames (``librosa.stft(center=True, pad_mode="constant")``).

    The signal is padded by ``n_fft // 2`` zeros on both sides and cut into frames
    ``t * hop_length ... t * hop_length + n_fft``. When ``hop_length`` divides
    ``n_fft`` the frames are built from ``n_fft // hop_length`` reshaped, shifted views
    (no gather, so the backward pass is a sum of slices rather than a scatter).

    Args:
      wave: ``(..., samples)`` float.
      n_fft: frame length in samples.
      hop_length: hop in samples.

    Returns:
      ``(..., frames, n_fft)`` with ``frames = 1 + samples // hop_length``.
    """
    samples = wave.shape[-1]
    frames = num_frames(samples, hop_length=hop_length)
    pad = n_fft // 2
    needed = (frames - 1) * hop_length + n_fft  # samples spanned by all frames
    right = max(needed - samples - pad, 0)
    batch = wave.shape[:-1]
    padded = jnp.pad(wave, [(0, 0)] * len(batch) + [(pad, right)])[..., :needed]
    if n_fft % hop_length == 0:
        r = n_fft // hop_length
        blocks = padded[..., : (frames + r - 1) * hop_length].reshape(
            *batch, frames + r - 1, hop_length
        )
        parts = [blocks[..., i : i + frames, :] for i in range(r)]
        return jnp.concatenate(parts, axis=-1)
    idx = jnp.arange(frames)[:, None] * hop_length + jnp.arange(n_fft)[None, :]
    return padded[..., idx]


def stft_magnitude(wave, *, n_fft: int = 2048, hop_length: int = 512):
    """Magnitude of the periodic-Hann STFT of centred, zero-padded frames.

    Equal to ``np.abs(librosa.stft(wave, n_fft=n_fft, hop_length=hop_length,
    center=True, pad_mode="constant")).T`` (unnormalised DFT), except that the
    magnitude is ``sqrt(re**2 + im**2 + eps**2) - eps`` with ``eps = 1e-8`` so that its
    gradient is finite at exact zeros (silence, padding).

    Args:
      wave: ``(..., samples)`` float waveform.
      n_fft: DFT length in samples (window length too).
      hop_length: hop in samples.

    Returns:
      ``(..., frames, n_fft // 2 + 1)``, float32 for float32 input,
      ``frames = 1 + samples // hop_length``.

    >>> import jax.numpy as jnp
    >>> stft_magnitude(jnp.zeros(22050)).shape
    (44, 1025)
    """
    wave = jnp.asarray(wave)
    if not jnp.issubdtype(wave.dtype, jnp.floating):
        wave = wave.astype(jnp.float32)
    frames = frame(wave, n_fft=n_fft, hop_length=hop_length) * hann_window(n_fft)
    spec = jnp.fft.rfft(frames, n=n_fft, axis=-1)
    power = jnp.square(spec.real) + jnp.square(spec.imag)
    return jnp.sqrt(power + _MAG_EPS**2) - _MAG_EPS


def log_spectrogram(magnitude, filterbank=None):
    """``log1p(magnitude @ filterbank)``, or ``log1p(magnitude)`` without a filterbank.

    Args:
      magnitude: ``(..., frames, n_fft // 2 + 1)`` non-negative magnitude STFT.
      filterbank: ``(n_fft // 2 + 1, bins)`` projection (Mel or pseudo-CQT), or None.

    Returns:
      ``(..., frames, bins)`` (``bins = n_fft // 2 + 1`` without a filterbank).

    >>> import jax.numpy as jnp
    >>> log_spectrogram(jnp.zeros((3, 1025)), jnp.ones((1025, 16))).shape
    (3, 16)
    """
    if filterbank is None:
        return jnp.log1p(magnitude)
    if magnitude.shape[-1] != filterbank.shape[0]:
        raise ValueError(
            f"log_spectrogram: magnitude has {magnitude.shape[-1]} bins but the filterbank "
            f"expects {filterbank.shape[0]}"
        )
    return jnp.log1p(magnitude @ filterbank)
