"""Host-side evaluation metrics in numpy/librosa (paper §4.1-4.2, SPEC §2).

* §4.2 key invariance: :func:`log_stft_mse` between a result and the style.
* Phase retrieval (``experiments.reconstruct``): :func:`spectral_convergence`.
* §4.1 texture: inter-onset intervals in beats (:func:`inter_onset_intervals_beats`), their
  histogram (:func:`ioi_histogram`) and :func:`kl_divergence`; copying is checked with
  :func:`max_normalized_xcorr`; rhythmic structure with :func:`mean_local_autocorrelation`.

Waveforms are mono ``(samples,)`` arrays; spectrograms follow librosa's STFT with
``center=True, pad_mode="constant"`` and a periodic Hann window, as the differentiable transforms
in :mod:`mst_jax.spectral` do. None of these functions use JAX.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DEFAULT_TEMPO_BPM",
    "IOI_BINS",
    "inter_onset_intervals_beats",
    "ioi_histogram",
    "kl_divergence",
    "log_stft_mse",
    "max_normalized_xcorr",
    "mean_local_autocorrelation",
    "spectral_convergence",
]

DEFAULT_TEMPO_BPM = 120.0  # beats per minute used when no tempo can be estimated
IOI_BINS = np.linspace(0.0, 4.0, 33)  # beats; 32 bins of an eighth of a beat from 0 to 4 beats


def _mono(wave, name: str) -> np.ndarray:
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1:
        raise ValueError(f"{name}: expected a mono waveform of shape (samples,), got {wave.shape}")
    if wave.size == 0:
        raise ValueError(f"{name}: empty waveform")
    if not np.all(np.isfinite(wave)):
        raise ValueError(f"{name}: waveform contains NaN or inf")
    return wave


def _stft_magnitudes(a, b, n_fft: int, hop_length: int) -> tuple[np.ndarray, np.ndarray]:
    """``|STFT|`` of both, ``(frames, bins)`` time-major, cut to the common number of frames."""
    import librosa

    mags = [
        np.abs(
            librosa.stft(w, n_fft=n_fft, hop_length=hop_length, center=True, pad_mode="constant")
        ).T
        for w in (a, b)
    ]
    frames = min(m.shape[0] for m in mags)
    return mags[0][:frames], mags[1][:frames]


def log_stft_mse(a, b, *, n_fft: int = 2048, hop_length: int = 512) -> float:
    """Mean squared error between log-magnitude STFTs (the §4.2 key-invariance metric, Fig. 5).

    .. math::
        \\frac{1}{T K} \\sum_{t<T} \\sum_{k<K} \\big(\\log(1+|A_{tk}|) - \\log(1+|B_{tk}|)\\big)^2

    with ``A``, ``B`` the STFTs of ``a`` and ``b`` (``librosa.stft``, periodic Hann window,
    ``center=True``, ``pad_mode="constant"``), ``K = n_fft // 2 + 1`` bins and ``T`` the smaller of
    the two frame counts (the longer signal's extra frames are ignored).

    Args:
        a: ``(samples_a,)`` waveform, e.g. the transfer result.
        b: ``(samples_b,)`` waveform, e.g. the style.
        n_fft: FFT size in samples (SPEC §1: 2048).
        hop_length: Hop in samples (SPEC §1: 512).

    Returns:
        The MSE, a non-negative float (0 for identical inputs).

    Raises:
        ValueError: A waveform is not 1-D, empty or not finite.

    Example:
        >>> x = np.sin(np.linspace(0, 1000, 8000))
        >>> log_stft_mse(x, x)
        0.0
    """
    A, B = _stft_magnitudes(_mono(a, "a"), _mono(b, "b"), n_fft, hop_length)
    return float(np.mean((np.log1p(A) - np.log1p(B)) ** 2))


def spectral_convergence(estimate, reference, *, n_fft: int = 2048, hop_length: int = 512) -> float:
    """Spectral convergence of a phase-retrieval result against its reference.

    .. math::
        \\frac{\\lVert |X| - |Y| \\rVert_F}{\\lVert |Y| \\rVert_F}

    with ``X`` the STFT of ``estimate`` and ``Y`` of ``reference`` (same STFT as
    :func:`log_stft_mse`), both cut to the common number of frames. Lower is better; 0 means equal
    magnitudes.

    Args:
        estimate: ``(samples_e,)`` waveform.
        reference: ``(samples_r,)`` waveform, not silent.
        n_fft: FFT size in samples.
        hop_length: Hop in samples.

    Returns:
        The ratio, a non-negative float.

    Raises:
        ValueError: Bad waveform, or ``reference`` has an all-zero magnitude.

    Example:
        >>> x = np.sin(np.linspace(0, 1000, 8000))
        >>> spectral_convergence(x, x)
        0.0
    """
    X, Y = _stft_magnitudes(
        _mono(estimate, "estimate"), _mono(reference, "reference"), n_fft, hop_length
    )
    denom = np.linalg.norm(Y)
    if denom == 0:
        raise ValueError("reference: silent, spectral convergence is undefined")
    return float(np.linalg.norm(X - Y) / denom)


def inter_onset_intervals_beats(
    wave, *, sr: int, hop_length: int = 512, tempo_bpm: float | None = None
) -> tuple[np.ndarray, float]:
    """Inter-onset intervals measured in beats (§4.1).

    Onsets are ``librosa.onset.onset_detect(y=wave, sr=sr, hop_length=hop_length, units="time")``
    (peak picking on the spectral-flux onset strength). The tempo is librosa's global estimate,
    ``librosa.feature.tempo`` on the same onset envelope (the tempo ``librosa.beat.beat_track``
    reports), unless ``tempo_bpm`` is given. Rule: if the estimate is not a positive finite
    number, :data:`DEFAULT_TEMPO_BPM` = 120 bpm is used (a guard: librosa's estimate, with its
    prior, is about 117 bpm even for silence). Each interval between consecutive onsets, in
    seconds, is divided by the beat period ``60 / tempo``.

    Args:
        wave: ``(samples,)`` waveform.
        sr: Sample rate in Hz.
        hop_length: Onset-envelope hop in samples (onset times are quantised to it).
        tempo_bpm: Tempo to measure beats in, e.g. the source's when comparing a texture with it;
            None estimates it from ``wave``.

    Returns:
        ``(ioi_beats, tempo_bpm)``: ``(onsets - 1,)`` float intervals in beats (empty with fewer
        than two onsets) and the tempo used in beats per minute.

    Raises:
        ValueError: Bad waveform or tempo.

    Example:
        >>> from mst_jax.signals import click_track
        >>> ioi, bpm = inter_onset_intervals_beats(click_track(bpm=120.0, duration_s=4.0), sr=22050,
        ...                                        tempo_bpm=120.0)
        >>> bool(np.allclose(ioi, 1.0, atol=0.05))
        True
    """
    import librosa

    wave = _mono(wave, "wave")
    onset_env = librosa.onset.onset_strength(y=wave, sr=sr, hop_length=hop_length)
    onset_times = librosa.onset.onset_detect(
        onset_envelope=onset_env, sr=sr, hop_length=hop_length, units="time"
    )
    if tempo_bpm is None:
        tempo_bpm = float(
            np.ravel(librosa.feature.tempo(onset_envelope=onset_env, sr=sr, hop_length=hop_length))[
                0
            ]
        )
        if not (np.isfinite(tempo_bpm) and tempo_bpm > 0):
            tempo_bpm = DEFAULT_TEMPO_BPM
    elif not (np.isfinite(tempo_bpm) and tempo_bpm > 0):
        raise ValueError(f"tempo_bpm must be a positive number, got {tempo_bpm}")
    ioi_beats = np.diff(np.asarray(onset_times, dtype=np.float64)) * float(tempo_bpm) / 60.0
    return ioi_beats, float(tempo_bpm)


def ioi_histogram(ioi_beats, *, bins=IOI_BINS) -> np.ndarray:
    """Inter-onset-interval distribution: a normalised histogram (§4.1, Fig. 4 columns 1 and 3).

    Intervals outside ``[bins[0], bins[-1]]`` are dropped (``np.histogram``'s rule; the last bin
    is closed on the right).

    Args:
        ioi_beats: ``(intervals,)`` inter-onset intervals in beats.
        bins: ``(n_bins + 1,)`` increasing bin edges in beats; default 32 bins of 1/8 beat on
            [0, 4].

    Returns:
        ``(n_bins,)`` probabilities summing to 1, or all zeros when no interval falls in range
        (:func:`kl_divergence` then treats it as uniform).

    Example:
        >>> ioi_histogram([1.0, 1.0], bins=[0.0, 0.5, 1.5, 2.0]).tolist()
        [0.0, 1.0, 0.0]
    """
    bins = np.asarray(bins, dtype=np.float64)
    if bins.ndim != 1 or bins.size < 2 or np.any(np.diff(bins) <= 0):
        raise ValueError("bins: expected at least two strictly increasing edges")
    counts, _ = np.histogram(np.asarray(ioi_beats, dtype=np.float64).ravel(), bins=bins)
    total = counts.sum()
    return counts / total if total > 0 else np.zeros(bins.size - 1)


def kl_divergence(p, q, *, eps: float = 1e-3) -> float:
    """Kullback-Leibler divergence KL(p ‖ q) in nats between two histograms (§4.1, Fig. 4).

    Smoothing, so that empty bins give finite values: each input is first normalised to sum 1
    (an all-zero input becomes uniform), then ``eps`` is added to every bin and it is normalised
    to sum 1 again:

    .. math::
        \\tilde p_i = \\frac{p_i + \\epsilon}{1 + n\\epsilon}, \\qquad
        \\mathrm{KL}(p\\Vert q) = \\sum_i \\tilde p_i \\log\\frac{\\tilde p_i}{\\tilde q_i}

    Identical inputs give exactly 0.

    Args:
        p: ``(bins,)`` non-negative weights, e.g. the texture's IOI histogram.
        q: ``(bins,)`` non-negative weights, e.g. the source's IOI histogram.
        eps: Smoothing mass added to every bin after normalising; must be > 0.

    Returns:
        KL(p ‖ q) in nats, >= 0.

    Raises:
        ValueError: Shapes differ, negative weights, or ``eps <= 0``.

    Example:
        >>> kl_divergence([0.5, 0.5], [0.5, 0.5])
        0.0
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"p and q must be 1-D of equal shape, got {p.shape} and {q.shape}")
    if np.any(p < 0) or np.any(q < 0) or not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
        raise ValueError("p and q must be finite and non-negative")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")

    def smooth(h):
        s = h.sum()
        h = h / s if s > 0 else np.full_like(h, 1.0 / h.size)
        h = h + eps
        return h / h.sum()

    ps, qs = smooth(p), smooth(q)
    return float(max(np.sum(ps * np.log(ps / qs)), 0.0))


def max_normalized_xcorr(x, y) -> tuple[float, int]:
    """Maximum absolute normalised cross-correlation ``max |Φ_XY|`` over all lags (§4.1).

    .. math::
        \\Phi_{XY}[\\ell] = \\frac{\\sum_n x[n + \\ell]\\, y[n]}{\\lVert x\\rVert_2 \\lVert y\\rVert_2},
        \\qquad -(N_y - 1) \\le \\ell \\le N_x - 1

    (``scipy.signal.correlate(x, y, mode="full")`` over ``scipy.signal.correlation_lags``; values
    outside a signal are zero). By Cauchy-Schwarz ``|Φ| <= 1``, with 1 at lag ``d`` exactly when
    ``x`` is a scaled copy of ``y`` delayed by ``d`` samples. Near 0 means no copying.

    Args:
        x: ``(samples_x,)`` waveform, e.g. the texture.
        y: ``(samples_y,)`` waveform, e.g. the source.

    Returns:
        ``(value, lag_samples)``: the maximum of ``|Φ|`` and its lag ``ℓ`` (positive when ``x``
        lags behind ``y``); ``(0.0, 0)`` if either signal is silent.

    Example:
        >>> x = np.random.default_rng(0).standard_normal(1000)
        >>> value, lag = max_normalized_xcorr(x, x)
        >>> round(value, 6), lag
        (1.0, 0)
    """
    from scipy import signal

    x = _mono(x, "x")
    y = _mono(y, "y")
    norm = np.linalg.norm(x) * np.linalg.norm(y)
    if norm == 0:
        return 0.0, 0
    phi = signal.correlate(x, y, mode="full", method="auto") / norm
    lags = signal.correlation_lags(x.size, y.size, mode="full")
    i = int(np.argmax(np.abs(phi)))
    return float(np.abs(phi[i])), int(lags[i])


def mean_local_autocorrelation(
    wave,
    *,
    sr: int,
    hop_length: int = 512,
    window_frames: int = 256,
    max_lag_frames: int = 128,
    window_hop_frames: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean local autocorrelation of the onset-strength envelope (§4.1, Fig. 4 columns 2 and 4).

    Definition: ``e = librosa.onset.onset_strength(y=wave, sr=sr, hop_length=hop_length)``, shape
    ``(frames,)``. It is cut into windows ``w_j = e[j·H : j·H + W]`` of ``W = window_frames``
    frames every ``H = window_hop_frames`` frames (only whole windows; one window of the whole
    envelope if it is shorter than ``W``). Each window's autocorrelation, without mean removal or
    taper (``librosa.autocorrelate``), is normalised by its lag-0 value:

    .. math::
        r_j[\\ell] = \\frac{\\sum_{n=0}^{W-1-\\ell} w_j[n]\\, w_j[n+\\ell]}{\\sum_{n=0}^{W-1} w_j[n]^2},
        \\qquad 0 \\le \\ell \\le L,

    and the result is the mean of ``r_j`` over windows with non-zero energy. ``r[0] = 1``;
    periodic rhythms give peaks at multiples of their period, and a stronger hierarchy of peaks
    means more rhythmic structure. The biased sum (fewer terms at longer lags) tapers the curve
    linearly towards ``ℓ = W``.

    Args:
        wave: ``(samples,)`` waveform.
        sr: Sample rate in Hz.
        hop_length: Onset-envelope hop in samples (one lag = ``hop_length / sr`` s).
        window_frames: ``W``, window length in frames (256 ≈ 5.9 s at 22050 Hz, hop 512).
        max_lag_frames: ``L``, the largest lag in frames (128 ≈ 3 s); clipped to ``W' - 1`` where
            ``W'`` is the actual window length.
        window_hop_frames: ``H``, frames between window starts; None means ``W // 2``.

    Returns:
        ``(lags, values)``: ``(L + 1,)`` int lags in frames and ``(L + 1,)`` float mean
        normalised autocorrelation (all zeros if the envelope is all zero).

    Raises:
        ValueError: Bad waveform or non-positive sizes.

    Example:
        >>> from mst_jax.signals import click_track
        >>> lags, r = mean_local_autocorrelation(click_track(bpm=120.0, duration_s=8.0), sr=22050)
        >>> float(r[0])
        1.0
    """
    import librosa

    wave = _mono(wave, "wave")
    if window_frames < 1 or max_lag_frames < 0:
        raise ValueError("window_frames must be >= 1 and max_lag_frames >= 0")
    hop = window_frames // 2 if window_hop_frames is None else int(window_hop_frames)
    if hop < 1:
        raise ValueError(f"window_hop_frames must be >= 1, got {hop}")
    env = librosa.onset.onset_strength(y=wave, sr=sr, hop_length=hop_length).astype(np.float64)
    if env.size < window_frames:
        windows = env[None, :]
    else:
        starts = range(0, env.size - window_frames + 1, hop)
        windows = np.stack([env[s : s + window_frames] for s in starts])
    n_lags = min(int(max_lag_frames), windows.shape[1] - 1) + 1
    lags = np.arange(n_lags)
    energy = np.einsum("wn,wn->w", windows, windows)
    used = energy > 0
    if not used.any():
        return lags, np.zeros(n_lags)
    r = librosa.autocorrelate(windows[used], max_size=n_lags, axis=-1)  # (windows, lags)
    return lags, np.mean(r / energy[used, None], axis=0)
