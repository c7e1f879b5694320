"""How good a transfer is as music: content kept, style taken, noise-likeness (host side).

Loss values say how well the optimiser met its own objective, not whether the result is
music that keeps one piece and takes another's style. These measures use standard
features (librosa) that the loss never sees, plus one random network drawn with a key no
run uses, so they cannot be gamed by the optimisation:

* content kept: frame-wise chroma correlation with the content (melody and harmony in
  time), pitch-class-profile correlation with the content and with the style (which key
  and notes the result is in), onset-envelope correlation with the content (rhythm);
* style taken: Fréchet distance between Gaussian fits of MFCC frames (timbre), result to
  style and result to content; relative gram distance on a held-out random STFT net;
* noise-likeness: mean spectral flatness over the clip's sounding frames (white noise is
  about 0.5, music 0.001–0.05);
* dynamics: each clip's level range over half-second windows, the result's beside its
  inputs' (a result evened out by the style has a small range where the content's is large).

Each measure comes with a floor computed from the inputs themselves (the content against
itself shifted by half its length, the style against the content), so a number can be read
alone; :mod:`mst_jax.quality_report` says how (the table's rows, the one-line verdict). Everything here is numpy and librosa on the host except the held-out net, which
reuses :mod:`mst_jax.networks`.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "Features",
    "Quality",
    "chroma",
    "compare",
    "evaluate",
    "features",
    "flatness",
    "frame_correlation",
    "frechet_distance",
    "level_range",
    "pearson",
    "pooled",
]

HOP_LENGTH = 512  # samples, the paper's STFT hop: one feature frame per STFT frame
N_MFCC = 20  # coefficients, of which c0 (loudness) is dropped
GRAM_FILTERS = 256  # filters of the held-out STFT net
GRAM_KERNEL = 11  # frames, the paper's STFT kernel
GRAM_KEY = 20180215  # the held-out net's key; runs split --seed, never this fixed number


class Features(NamedTuple):
    """The per-clip features every comparison is made from.

    Attributes:
      chroma: ``(frames, 12)`` ``librosa.feature.chroma_cqt``, each frame scaled to max 1.
      onset: ``(frames,)`` onset-strength envelope.
      mfcc: ``(frames, N_MFCC - 1)`` MFCCs without c0.
      flatness: mean spectral flatness of the sounding frames, in [0, 1] (:func:`flatness`).
      gram: ``(GRAM_FILTERS, GRAM_FILTERS)`` gram of the held-out net's feature map.
      gram_self: mean relative distance of the grams of the clip's first and second halves to
        ``gram``: how far a stretch of the clip is from the whole (NaN under two frames).
      level_range: the clip's dynamic range in dB (:func:`level_range`).
    """

    chroma: np.ndarray
    onset: np.ndarray
    mfcc: np.ndarray
    flatness: float
    gram: np.ndarray
    gram_self: float
    level_range: float


class Quality(NamedTuple):
    """A result measured against its content and style. NaN where an input is absent.

    Attributes:
      chroma_content: mean frame-wise Pearson correlation of the result's chroma with the
        content's, in [-1, 1]. 1: the same notes at the same times; about 0: unrelated
        (white noise). Read against ``chroma_floor``.
      chroma_floor: the same measure between the content and itself shifted by half its
        length: what "same piece, wrong place" scores. A result above it keeps the content.
      chroma_style: the same measure between the style and the content (for reference).
      pcp_content: Pearson correlation of the time-averaged chroma (pitch-class profile) of
        the result and of the content: the result is in the content's key and notes.
      pcp_style: the same with the style: high means the result took the style's key.
      pcp_floor: the style's profile against the content's (what copying the style scores).
      onset_content: Pearson correlation of the onset-strength envelopes of result and
        content: the rhythm is kept. Floor: ``onset_floor`` (content shifted by half).
      onset_floor: the content's envelope against itself shifted by half its length.
      mfcc_to_style: Fréchet distance between Gaussian fits of the MFCC frames (c1-c19) of
        the result and of the style: timbre distance, 0 for identical statistics.
      mfcc_to_content: the same, result to content.
      mfcc_floor: the same, style to content: how far apart the inputs are.
      mfcc_ratio: ``mfcc_to_style / mfcc_to_content``: below 1 the result's timbre is nearer
        the style than the content; 0.5 means twice as near.
      gram_to_style: relative Frobenius distance ``|G_r - G_s| / |G_s|`` of the grams of a
        held-out random STFT net (a key no run uses): style statistics taken.
      gram_to_content: the same against the content's gram.
      gram_floor: the same, content against style.
      gram_self: the same, each half of the style against the whole style (mean of the two):
        what a stretch of the style itself scores, the reference for a texture (a half is
        shorter than the whole, so it varies a little more than a full-length stretch would).
      flatness: mean spectral flatness of the result's sounding frames (noise about 0.5,
        music 0.001–0.05; silent frames skipped, see :func:`flatness`).
      flatness_content: the content's, for comparison.
      flatness_style: the style's, for comparison.
      level_range: the result's dynamic range in dB (:func:`level_range`): near the content's
        the content's dynamics are kept; well below it they were evened out.
      level_range_content: the content's, for comparison.
      level_range_style: the style's, for comparison.
    """

    chroma_content: float
    chroma_floor: float
    chroma_style: float
    pcp_content: float
    pcp_style: float
    pcp_floor: float
    onset_content: float
    onset_floor: float
    mfcc_to_style: float
    mfcc_to_content: float
    mfcc_floor: float
    mfcc_ratio: float
    gram_to_style: float
    gram_to_content: float
    gram_floor: float
    gram_self: float
    flatness: float
    flatness_content: float
    flatness_style: float
    level_range: float
    level_range_content: float
    level_range_style: float


def pearson(a, b) -> float:
    """Pearson correlation of two equally long vectors (NaN when either is constant).

    >>> round(pearson([1, 2, 3], [2, 4, 7]), 4)
    0.9934
    """
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"pearson: shapes {a.shape} and {b.shape} differ")
    a, b = a - a.mean(), b - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 0 else float("nan")


def frame_correlation(a, b) -> float:
    """Mean over frames of the Pearson correlation of two ``(frames, dims)`` feature maps.

    The maps are cut to the shorter one's frames; frames where either vector is constant
    (silence) are skipped. NaN if no frame is left.

    >>> a = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> frame_correlation(a, a), frame_correlation(a, a[::-1])
    (1.0, -0.5)
    """
    n = min(len(a), len(b))
    a = np.asarray(a[:n], np.float64)
    b = np.asarray(b[:n], np.float64)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1))
    ok = den > 1e-12 * max(float(den.max(initial=0.0)), 1e-30)
    if not np.any(ok):
        return float("nan")
    return float(np.mean(np.sum(a * b, axis=1)[ok] / den[ok]))


EQUAL_FITS = 1e-9  # a Fréchet distance below this fraction of the fits' scale is 0 (rounding)


def frechet_distance(x, y) -> float:
    """Fréchet distance between Gaussian fits of two sets of frames ``(frames, dims)``.

    .. math:: \\|\\mu_x - \\mu_y\\|^2 + \\mathrm{tr}(\\Sigma_x + \\Sigma_y
              - 2 (\\Sigma_x^{1/2} \\Sigma_y \\Sigma_x^{1/2})^{1/2})

    (the form of the Fréchet audio / inception distance), computed with symmetric
    eigendecompositions only, so it is real and non-negative. A distance below
    :data:`EQUAL_FITS` of the fits' scale (``|mu_x - mu_y|^2 + tr(Sigma_x) + tr(Sigma_y)``) is
    the rounding of equal fits and returned as 0: a set against itself once left 2.3e-13, which
    made a result equal to its content read as 1e17 times nearer the style than the content.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(4000, 2))
    >>> round(frechet_distance(x, x), 6), round(frechet_distance(x, x + 3.0), 1)
    (0.0, 18.0)
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    mu = x.mean(axis=0) - y.mean(axis=0)
    sx = np.atleast_2d(np.cov(x, rowvar=False))
    sy = np.atleast_2d(np.cov(y, rowvar=False))
    w, v = np.linalg.eigh(sx)
    root_x = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    cross = np.linalg.eigvalsh(root_x @ sy @ root_x)
    trace_root = float(np.sum(np.sqrt(np.clip(cross, 0.0, None))))
    scale = float(mu @ mu) + float(np.trace(sx) + np.trace(sy))
    d = scale - 2.0 * trace_root
    return d if d > EQUAL_FITS * scale else 0.0


@functools.lru_cache(maxsize=1)
def _gram_net():
    """The held-out STFT net's jitted apply and its weights, built once per process."""
    import jax

    from mst_jax import networks
    from mst_jax.config import StftNetConfig

    net = networks.make(StftNetConfig(filters=GRAM_FILTERS, kernel=GRAM_KERNEL), n_fft=2048)
    return jax.jit(net.apply), net.init(jax.random.key(GRAM_KEY))


def _grams(wave: np.ndarray) -> tuple[np.ndarray, float]:
    """The held-out net's gram of ``wave`` and :attr:`Features.gram_self`."""
    from mst_jax import spectral, terms

    apply, params = _gram_net()
    mag = spectral.stft_magnitude(np.asarray(wave, np.float32), n_fft=2048, hop_length=HOP_LENGTH)
    maps = apply(params, spectral.log_spectrogram(mag))[-1]
    whole = np.asarray(terms.gram(maps), np.float64)
    half = maps.shape[0] // 2
    if half == 0:
        return whole, float("nan")
    halves = [np.asarray(terms.gram(h), np.float64) for h in (maps[:half], maps[half:])]
    return whole, float(np.mean([_gram_distance(g, whole) for g in halves]))


def _peak_normalised(wave) -> np.ndarray:
    y = np.asarray(wave, np.float32).ravel()
    if y.size == 0:
        raise ValueError("evaluate: an empty clip has no features")
    peak = float(np.max(np.abs(y)))
    return y / peak if peak > 0 else y


def chroma(wave, *, sr: int) -> np.ndarray:
    """``(frames, 12)`` chroma of one mono clip ``(samples,)`` at ``sr`` Hz, as
    :class:`Features` holds it (``librosa.feature.chroma_cqt``, hop :data:`HOP_LENGTH`).

    The one feature a run can afford to measure while it optimises (about 0.06 s for 10 s
    once librosa is warm): ``frame_correlation(chroma(r), chroma(c))`` is ``chroma_content``.
    """
    import librosa

    with warnings.catch_warnings():
        # librosa warns that its lowest CQT octaves are longer than a short clip: expected.
        warnings.simplefilter("ignore", UserWarning)
        return librosa.feature.chroma_cqt(y=_peak_normalised(wave), sr=sr, hop_length=HOP_LENGTH).T


def flatness(wave) -> float:
    """Mean spectral flatness of one mono clip ``(samples,)`` over its sounding frames.

    Per frame (``librosa.feature.spectral_flatness``, n_fft 2048, hop :data:`HOP_LENGTH`) the
    geometric over the arithmetic mean of the power spectrum, in [0, 1]; then the mean over
    the frames that sound (:func:`mst_jax.silence.sounding_frames`: RMS within 60 dB of the
    loudest frame's). A silent frame
    is flat (digital silence scores 1: every bin sits at librosa's power floor; a dithered
    one about 0.55), so a recording's silent lead-in would otherwise read as noise. A clip with
    no sounding frame (all zeros) keeps the mean over all its frames.
    """
    import librosa

    from mst_jax import silence

    y = _peak_normalised(wave)
    per_frame = librosa.feature.spectral_flatness(y=y, hop_length=HOP_LENGTH)[0]
    sounding = silence.sounding_frames(y, frame_length=2048, hop_length=HOP_LENGTH)
    n = min(len(per_frame), len(sounding))
    per_frame, sounding = per_frame[:n], sounding[:n]
    return float(np.mean(per_frame[sounding] if sounding.any() else per_frame))


def level_range(wave, *, sr: int) -> float:
    """The dynamic range of one mono clip ``(samples,)`` at ``sr`` Hz, in dB: the 95th minus the
    5th percentile of its level over half-second windows
    (:func:`mst_jax.dynamics.smoothed_power` in dB) over its sounding frames
    (:func:`mst_jax.silence.sounding_frames`). A level clip scores about 0; a piece whose second
    half is 24 dB quieter about 24. NaN for a clip with no sounding frame.
    """
    from mst_jax import dynamics, silence

    y = _peak_normalised(wave)
    power = dynamics.smoothed_power(y, sr=sr, frame_length=2048, hop_length=HOP_LENGTH)
    sounding = silence.sounding_frames(y, frame_length=2048, hop_length=HOP_LENGTH)
    if not sounding.any():
        return float("nan")
    level = 10.0 * np.log10(np.maximum(power[sounding], 1e-30))
    return float(np.percentile(level, 95) - np.percentile(level, 5))


def features(wave, *, sr: int) -> Features:
    """The :class:`Features` of one mono clip ``(samples,)`` at ``sr`` Hz (peak-normalised
    first, so the level of a file does not matter)."""
    import librosa

    y = _peak_normalised(wave)
    chroma_map = chroma(y, sr=sr)
    with warnings.catch_warnings():
        # librosa warns that its lowest CQT octaves are longer than a short clip: expected.
        warnings.simplefilter("ignore", UserWarning)
        onset = librosa.onset.onset_strength(y=y, sr=sr, hop_length=HOP_LENGTH)
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=N_MFCC, hop_length=HOP_LENGTH)[1:].T
    # The held-out net is defined at 22.05 kHz: other rates are resampled for it only.
    g_wave = y if sr == 22050 else librosa.resample(y, orig_sr=sr, target_sr=22050)
    return Features(chroma_map, onset, mfcc, flatness(y), *_grams(g_wave), level_range(y, sr=sr))


def pooled(feats: Sequence[Features]) -> Features:
    """Several style clips as one: frames concatenated, flatness, grams and level ranges
    averaged."""
    if len(feats) == 1:
        return feats[0]
    return Features(
        np.concatenate([f.chroma for f in feats]),
        np.concatenate([f.onset for f in feats]),
        np.concatenate([f.mfcc for f in feats]),
        float(np.mean([f.flatness for f in feats])),
        np.mean([f.gram for f in feats], axis=0),
        float(np.mean([f.gram_self for f in feats])),
        float(np.mean([f.level_range for f in feats])),
    )


def _half_shifted(f: Features) -> Features:
    n = len(f.chroma)
    return f._replace(chroma=np.roll(f.chroma, n // 2, axis=0), onset=np.roll(f.onset, len(f.onset) // 2))


def _onset_corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return pearson(a[:n], b[:n])


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else (0.0 if a == 0 else float("inf"))


def _gram_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def compare(result: Features, content: Features | None, style: Features | None) -> Quality:
    """:class:`Quality` from precomputed features (content or style may be None)."""
    nan = float("nan")
    c, s = content, style
    to_style = frechet_distance(result.mfcc, s.mfcc) if s else nan
    to_content = frechet_distance(result.mfcc, c.mfcc) if c else nan
    return Quality(
        chroma_content=frame_correlation(result.chroma, c.chroma) if c else nan,
        chroma_floor=frame_correlation(c.chroma, _half_shifted(c).chroma) if c else nan,
        chroma_style=frame_correlation(s.chroma, c.chroma) if c and s else nan,
        pcp_content=pearson(result.chroma.mean(0), c.chroma.mean(0)) if c else nan,
        pcp_style=pearson(result.chroma.mean(0), s.chroma.mean(0)) if s else nan,
        pcp_floor=pearson(s.chroma.mean(0), c.chroma.mean(0)) if c and s else nan,
        onset_content=_onset_corr(result.onset, c.onset) if c else nan,
        onset_floor=_onset_corr(c.onset, _half_shifted(c).onset) if c else nan,
        mfcc_to_style=to_style,
        mfcc_to_content=to_content,
        mfcc_floor=frechet_distance(s.mfcc, c.mfcc) if c and s else nan,
        mfcc_ratio=_ratio(to_style, to_content) if c and s else nan,
        gram_to_style=_gram_distance(result.gram, s.gram) if s else nan,
        gram_to_content=_gram_distance(result.gram, c.gram) if c else nan,
        gram_floor=_gram_distance(c.gram, s.gram) if c and s else nan,
        gram_self=s.gram_self if s else nan,
        flatness=result.flatness,
        flatness_content=c.flatness if c else nan,
        flatness_style=s.flatness if s else nan,
        level_range=result.level_range,
        level_range_content=c.level_range if c else nan,
        level_range_style=s.level_range if s else nan,
    )


def evaluate(result, *, content=None, style=None, sr: int) -> Quality:
    """Measures ``result`` against ``content`` and ``style`` (waveforms ``(samples,)``).

    Args:
      result: the transfer's waveform.
      content: the content waveform, or None (texture: content measures are NaN).
      style: one style waveform, a list of them (their frames pooled), or None.
      sr: sample rate of all three, Hz.

    Returns:
      :class:`Quality`.
    """
    styles = [] if style is None else (list(style) if isinstance(style, (list, tuple)) else [style])
    c = features(content, sr=sr) if content is not None else None
    s = pooled([features(w, sr=sr) for w in styles]) if styles else None
    return compare(features(result, sr=sr), c, s)
