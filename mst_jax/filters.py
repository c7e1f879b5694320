"""Host-side numpy filterbanks: HTK Mel (Eq. 6, by librosa) and the pseudo-CQT (paper §3.2.2).

Filterbanks are plain ``(n_fft // 2 + 1, n_filters)`` float32 matrices, built once on
the host and applied inside the jitted loss by a matmul on the magnitude STFT. Results
are cached; the cached arrays are read-only. What librosa already builds (the Mel
filterbank, bin and CQT frequencies, the window) is librosa's; only the pseudo-CQT, which
librosa has no filterbank for, is ours.
"""

from __future__ import annotations

import functools
import warnings

import librosa
import numpy as np

from mst_jax.config import C1_HZ


class EmptyMelFilterWarning(UserWarning):
    """Some Mel filters cover no STFT bin (legal: they contribute zeros)."""


def empty_filters(filterbank) -> np.ndarray:
    """Indices of the filters (columns) of a ``(bins, n_filters)`` filterbank that weight no bin."""
    return np.flatnonzero(np.asarray(filterbank).max(axis=0) <= 0)


@functools.lru_cache(maxsize=64)
def mel_filterbank(
    *, sr: float, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular filters equally spaced on the Eq. 6 Mel scale, peak 1 (no area norm).

    ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
    htk=True, norm=None).T``: the ``n_mels + 2`` edges are equally spaced in HTK Mel
    between ``fmin`` and ``fmax``; filter ``m`` rises linearly from edge ``m`` to 1 at edge
    ``m + 1`` and falls to 0 at edge ``m + 2`` (linear in Hz). librosa's HTK scale is
    ``2595 log10(1 + f / 700)``, Eq. 6's ``1125 ln(1 + f / 700)``: the constant cancels,
    since equally spaced Mel values map back to the same edges in Hz.

    Args:
      sr: sample rate in Hz.
      n_fft: DFT length in samples.
      n_mels: number of filters.
      fmin: lowest edge in Hz.
      fmax: highest edge in Hz; ``None`` means ``sr / 2``.

    Returns:
      ``(n_fft // 2 + 1, n_mels)`` float32, read-only.

    Raises:
      ValueError: on a non-positive size or an empty frequency range.

    Warns:
      EmptyMelFilterWarning: when some filters cover no STFT bin (too many bands for
        ``n_fft``: the paper's 512 HTK bands at ``n_fft`` 2048 leave the lowest 10 empty).

    >>> mel_filterbank(sr=22050, n_fft=2048, n_mels=16).shape
    (1025, 16)
    """
    if n_mels < 1 or n_fft < 2 or sr <= 0:
        raise ValueError(f"mel_filterbank: need n_mels >= 1, n_fft >= 2, sr > 0 (got {n_mels}, {n_fft}, {sr})")
    fmax = float(sr) / 2 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax:
        raise ValueError(f"mel_filterbank: need 0 <= fmin < fmax (got fmin={fmin}, fmax={fmax})")
    with warnings.catch_warnings():
        # librosa's own empty-filter warning: replaced by ours, which counts them.
        warnings.filterwarnings("ignore", message="Empty filters detected", category=UserWarning)
        weights = librosa.filters.mel(
            sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=True, norm=None,
            dtype=np.float32,
        )
    weights = np.ascontiguousarray(weights.T)
    empty = empty_filters(weights)
    if empty.size:
        warnings.warn(
            f"mel_filterbank: {empty.size} of {n_mels} Mel filters cover no STFT bin "
            f"(n_mels too large for n_fft={n_fft}?)",
            EmptyMelFilterWarning,
            stacklevel=2,
        )
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=64)
def cqt_filterbank(
    *,
    sr: float,
    n_fft: int,
    n_bins: int = 86,
    bins_per_octave: int = 12,
    fmin: float = C1_HZ,
    filter_scale: float = 1.0,
) -> np.ndarray:
    """Pseudo-CQT: constant-Q triangles on the magnitude-STFT bins (paper §3.2.2, SPEC §1).

    Filter ``k`` is centred on ``f_k = fmin * 2 ** (k / bins_per_octave)`` with
    half-width ``w_k = filter_scale * f_k / Q``, ``Q = 1 / (2 ** (1 / bins_per_octave) - 1)``
    (one bin of the constant-Q grid: neighbouring filters cross at about one half).
    Weight on STFT bin ``j`` at ``f_j`` is ``max(0, 1 - |f_j - f_k| / w_k)``: peak 1 at
    the centre, as for the Mel filters. Where ``w_k`` is narrower than one STFT bin
    (``sr / n_fft`` Hz) it is widened to one bin, so the filter interpolates linearly
    between the two STFT bins around ``f_k``: the low end is oversampled, several
    CQT bins sharing the same STFT bins.

    Args:
      sr: sample rate in Hz.
      n_fft: DFT length in samples.
      n_bins: number of CQT bins (paper: 86, C1 to C#8).
      bins_per_octave: bins per octave (12: semitones).
      fmin: centre of bin 0 in Hz (default C1, 32.70 Hz).
      filter_scale: bandwidth multiplier (1: semitone resolution).

    Returns:
      ``(n_fft // 2 + 1, n_bins)`` float32, read-only.

    Raises:
      ValueError: if a centre frequency is at or above Nyquist, or a size is invalid.

    >>> cqt_filterbank(sr=22050, n_fft=2048).shape
    (1025, 86)
    """
    if n_bins < 1 or bins_per_octave < 1 or n_fft < 2 or sr <= 0:
        raise ValueError("cqt_filterbank: n_bins, bins_per_octave, n_fft and sr must be positive")
    if not (fmin > 0 and filter_scale > 0):
        raise ValueError(f"cqt_filterbank: fmin and filter_scale must be positive (got {fmin}, {filter_scale})")
    centres = librosa.cqt_frequencies(n_bins, fmin=fmin, bins_per_octave=bins_per_octave)
    if centres[-1] >= sr / 2:
        raise ValueError(
            f"cqt_filterbank: top bin at {centres[-1]:.1f} Hz is not below Nyquist ({sr / 2:.1f} Hz); "
            "use fewer bins or a higher sample rate"
        )
    q = 1.0 / (2.0 ** (1.0 / bins_per_octave) - 1.0)
    bin_hz = float(sr) / n_fft
    half_width = np.maximum(filter_scale * centres / q, bin_hz)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    weights = np.maximum(0.0, 1.0 - np.abs(freqs[:, None] - centres[None, :]) / half_width[None, :])
    weights = weights.astype(np.float32)
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=16)
def hann_window(n_fft: int) -> np.ndarray:
    """Periodic Hann window of ``n_fft`` samples (``librosa.stft``'s), float32, read-only."""
    w = librosa.filters.get_window("hann", n_fft, fftbins=True).astype(np.float32)
    w.setflags(write=False)
    return w
