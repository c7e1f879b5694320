"""Tests for mst_jax.metrics: known answers on synthesised signals and independent numpy references."""

import numpy as np
import pytest

from mst_jax import metrics
from mst_jax.signals import click_track, drum_pattern, tone

SR = 22050  # Hz


def _numpy_log_stft(wave, n_fft, hop_length):
    """Plain numpy STFT: zero-pad n_fft//2 each side, periodic Hann, rfft; (frames, bins)."""
    padded = np.pad(np.asarray(wave, dtype=np.float64), n_fft // 2)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    n_frames = 1 + (padded.size - n_fft) // hop_length
    frames = np.stack([padded[i * hop_length : i * hop_length + n_fft] for i in range(n_frames)])
    return np.log1p(np.abs(np.fft.rfft(frames * window, axis=-1)))


@pytest.mark.parametrize("n_fft, hop_length", [(2048, 512), (512, 128), (1024, 256)])
def test_log_stft_mse_matches_numpy(n_fft, hop_length):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(SR // 2)
    b = tone(440.0, duration_s=0.6, sr=SR).astype(np.float64)  # longer: extra frames are ignored
    A = _numpy_log_stft(a, n_fft, hop_length)
    B = _numpy_log_stft(b, n_fft, hop_length)
    frames = min(len(A), len(B))
    expected = np.mean((A[:frames] - B[:frames]) ** 2)
    got = metrics.log_stft_mse(a, b, n_fft=n_fft, hop_length=hop_length)
    # Both are float64 FFTs of the same frames; 1e-9 relative leaves room for summation order.
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    assert frames == 1 + a.size // hop_length  # SPEC §2 frame count, the shorter signal


def test_log_stft_mse_identical_is_zero_and_symmetric():
    x = drum_pattern(duration_s=1.0, sr=SR)
    y = tone(220.0, duration_s=1.0, sr=SR)
    assert metrics.log_stft_mse(x, x) == 0.0
    assert metrics.log_stft_mse(x, y) > 0.0
    assert metrics.log_stft_mse(x, y) == pytest.approx(metrics.log_stft_mse(y, x), rel=1e-12)


def test_spectral_convergence_known_values():
    y = tone(330.0, duration_s=0.5, sr=SR).astype(np.float64)
    assert metrics.spectral_convergence(y, y) == 0.0
    # |2Y| - |Y| = |Y| and |0.5Y| - |Y| = -0.5|Y| exactly (the STFT is linear): ratios 1 and 0.5.
    assert metrics.spectral_convergence(2.0 * y, y) == pytest.approx(1.0, rel=1e-12)
    assert metrics.spectral_convergence(0.5 * y, y) == pytest.approx(0.5, rel=1e-12)
    # Sign (a phase change) does not alter magnitudes.
    assert metrics.spectral_convergence(-y, y) == 0.0
    with pytest.raises(ValueError, match="silent"):
        metrics.spectral_convergence(y, np.zeros_like(y))


def test_click_train_ioi_peaks_at_one_beat():
    wave = click_track(bpm=120.0, duration_s=8.0, sr=SR, offset_s=0.1)
    ioi, tempo = metrics.inter_onset_intervals_beats(wave, sr=SR)
    # librosa's tempo grid is quantised by the 512-sample hop: 117.5 bpm is its bin nearest 120.
    assert tempo == pytest.approx(120.0, rel=0.05)
    hist = metrics.ioi_histogram(ioi)
    assert hist.sum() == pytest.approx(1.0)
    centres = 0.5 * (metrics.IOI_BINS[1:] + metrics.IOI_BINS[:-1])
    # One bin is 1/8 beat; a 2 % tempo error moves 1 beat to 0.98, which may sit one bin below.
    assert abs(centres[np.argmax(hist)] - 1.0) <= 0.125
    # With the true tempo every interval is 1 beat up to one onset frame (512/22050 s = 0.05 beat).
    ioi_true, tempo_true = metrics.inter_onset_intervals_beats(wave, sr=SR, tempo_bpm=120.0)
    assert tempo_true == 120.0
    assert len(ioi_true) >= 14  # 16 clicks in 8 s, minus edge effects
    np.testing.assert_allclose(ioi_true, 1.0, atol=0.05)


def test_identical_onset_patterns_give_zero_kl():
    # Same rhythm, different click timbre and level. The beat period is exactly 22 hops, so every
    # click starts on the same onset-frame phase and both onset lists are the same frames.
    bpm = 60.0 * SR / (22 * 512)  # 117.45 bpm
    a = click_track(bpm=bpm, duration_s=6.0, sr=SR, click_hz=1000.0)
    b = 0.3 * click_track(bpm=bpm, duration_s=6.0, sr=SR, click_hz=2000.0, decay_s=0.02)
    p = metrics.ioi_histogram(metrics.inter_onset_intervals_beats(a, sr=SR)[0])
    q = metrics.ioi_histogram(metrics.inter_onset_intervals_beats(b, sr=SR)[0])
    assert metrics.kl_divergence(p, q) < 1e-9  # identical histograms: 0 up to rounding
    assert metrics.kl_divergence(p, p) == 0.0


def test_different_rhythms_give_positive_kl():
    clicks = click_track(bpm=120.0, duration_s=6.0, sr=SR)
    drums = drum_pattern(bpm=120.0, duration_s=6.0, sr=SR, pattern="rock")  # eighth-note hats
    p = metrics.ioi_histogram(metrics.inter_onset_intervals_beats(drums, sr=SR, tempo_bpm=120.0)[0])
    q = metrics.ioi_histogram(
        metrics.inter_onset_intervals_beats(clicks, sr=SR, tempo_bpm=120.0)[0]
    )
    assert metrics.kl_divergence(p, q) > 0.5  # half-beat vs one-beat intervals: disjoint support


def test_kl_divergence_smoothing_by_hand():
    p, q, eps = np.array([1.0, 0.0]), np.array([1.0, 1.0]), 1e-3
    ps = np.array([1 + eps, eps]) / (1 + 2 * eps)
    qs = np.array([0.5 + eps, 0.5 + eps]) / (1 + 2 * eps)
    expected = np.sum(ps * np.log(ps / qs))
    assert metrics.kl_divergence(p, q, eps=eps) == pytest.approx(expected, rel=1e-12)
    assert metrics.kl_divergence(q, p) > 0.0
    assert metrics.kl_divergence(q, p) != pytest.approx(metrics.kl_divergence(p, q))  # asymmetric
    # Counts and probabilities give the same result (inputs are normalised first).
    assert metrics.kl_divergence(3 * p, 7 * q) == pytest.approx(
        metrics.kl_divergence(p, q), rel=1e-12
    )
    with pytest.raises(ValueError):
        metrics.kl_divergence(p, q[:1])
    with pytest.raises(ValueError):
        metrics.kl_divergence(p, q, eps=0.0)


def test_ioi_histogram_drops_out_of_range_and_handles_empty():
    hist = metrics.ioi_histogram([0.5, 1.0, 1.0, 9.0], bins=[0.0, 0.75, 1.5])
    np.testing.assert_array_equal(hist, [1 / 3, 2 / 3])
    np.testing.assert_array_equal(metrics.ioi_histogram([]), np.zeros(32))


def test_xcorr_with_itself_is_one_at_lag_zero():
    x = np.random.default_rng(1).standard_normal(5000)
    value, lag = metrics.max_normalized_xcorr(x, x)
    assert lag == 0
    assert value == pytest.approx(1.0, abs=1e-9)  # FFT correlation in float64: ~1e-15 rounding


@pytest.mark.parametrize("delay", [1, 37, 1234])
def test_xcorr_peak_lag_equals_delay(delay):
    y = np.random.default_rng(2).standard_normal(4000)
    x = np.concatenate([np.zeros(delay), y])  # y delayed by `delay` samples, zero padded
    value, lag = metrics.max_normalized_xcorr(x, y)
    assert lag == delay
    assert value == pytest.approx(1.0, abs=1e-9)  # exact copy, float64 rounding only
    value, lag = metrics.max_normalized_xcorr(y, x)
    assert lag == -delay


def test_xcorr_matches_brute_force_and_is_small_for_independent_noise():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal(300), rng.standard_normal(200)
    phi = np.correlate(x, y, mode="full") / (np.linalg.norm(x) * np.linalg.norm(y))
    value, lag = metrics.max_normalized_xcorr(x, y)
    assert value == pytest.approx(np.max(np.abs(phi)), rel=1e-9)  # float64, summation order
    assert lag == int(np.argmax(np.abs(phi))) - (y.size - 1)  # np.correlate's lag of index 0
    x, y = rng.standard_normal(SR), rng.standard_normal(SR)
    # Independent white noise: each lag ~ N(0, 1/N); the maximum over 2N lags is ~5/sqrt(N) = 0.034.
    assert metrics.max_normalized_xcorr(x, y)[0] < 0.05
    assert metrics.max_normalized_xcorr(x, np.zeros(10)) == (0.0, 0)


def test_mean_local_autocorrelation_click_train():
    hop = 512
    wave = click_track(bpm=120.0, duration_s=10.0, sr=SR)
    lags, r = metrics.mean_local_autocorrelation(wave, sr=SR, hop_length=hop, max_lag_frames=100)
    assert lags.shape == r.shape == (101,)
    np.testing.assert_array_equal(lags, np.arange(101))
    assert r[0] == pytest.approx(1.0, abs=1e-12)  # normalised by the lag-0 value
    beat_frames = 0.5 * SR / hop  # 21.5 frames per beat
    search = slice(10, 33)  # lags between half a beat and 1.5 beats
    peak = lags[search][np.argmax(r[search])]
    assert abs(peak - beat_frames) <= 1.0  # onset frames are quantised to one hop
    # The peak at two beats is also a local maximum (hierarchical periodicity).
    assert abs(lags[33:55][np.argmax(r[33:55])] - 2 * beat_frames) <= 1.0


def test_mean_local_autocorrelation_matches_definition():
    import librosa

    wave = drum_pattern(duration_s=7.0, sr=SR, pattern="half")
    _, r = metrics.mean_local_autocorrelation(
        wave, sr=SR, window_frames=128, max_lag_frames=40, window_hop_frames=100
    )
    env = librosa.onset.onset_strength(y=wave, sr=SR, hop_length=512)
    windows = [env[s : s + 128] for s in range(0, env.size - 128 + 1, 100)]
    ref = np.mean([librosa.autocorrelate(w)[:41] / np.dot(w, w) for w in windows], axis=0)
    np.testing.assert_allclose(r, ref, rtol=1e-5, atol=1e-6)  # float32 envelope, FFT vs direct sums


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="mono"):
        metrics.log_stft_mse(np.zeros((2, 100)), np.zeros(100))
    with pytest.raises(ValueError, match="NaN"):
        metrics.max_normalized_xcorr(np.array([np.nan, 1.0]), np.ones(2))
    with pytest.raises(ValueError, match="tempo_bpm"):
        metrics.inter_onset_intervals_beats(np.ones(SR), sr=SR, tempo_bpm=0.0)


def test_tempo_falls_back_to_120_bpm_when_librosa_gives_none(monkeypatch):
    import librosa

    wave = click_track(bpm=90.0, duration_s=4.0, sr=SR)
    for bad in (0.0, float("nan")):
        monkeypatch.setattr(librosa.feature, "tempo", lambda *a, _v=bad, **k: np.array([_v]))
        ioi, bpm = metrics.inter_onset_intervals_beats(wave, sr=SR)
        assert bpm == 120.0
        np.testing.assert_allclose(ioi, 60 / 90 * 120 / 60, atol=0.05)  # 2/3 s at 120 bpm


def test_mean_local_autocorrelation_defaults_by_hand():
    """Default windows: W = 256 frames every W / 2; a window shorter than W is used whole, and
    the lags stop at its length - 1."""
    import librosa

    wave = drum_pattern(duration_s=13.0, sr=SR, pattern="rock")
    env = librosa.onset.onset_strength(y=wave, sr=SR, hop_length=512)
    assert env.size > 2 * 256  # three whole windows at hop 128, two at hop 256
    windows = [env[s : s + 256] for s in range(0, env.size - 256 + 1, 128)]
    ref = np.mean([librosa.autocorrelate(w)[:129] / np.dot(w, w) for w in windows], axis=0)
    _, r = metrics.mean_local_autocorrelation(wave, sr=SR)
    np.testing.assert_allclose(r, ref, rtol=1e-5, atol=1e-6)
    short = drum_pattern(duration_s=1.0, sr=SR)  # 44 frames < W
    env = librosa.onset.onset_strength(y=short, sr=SR, hop_length=512)
    lags, r = metrics.mean_local_autocorrelation(short, sr=SR, max_lag_frames=128)
    np.testing.assert_array_equal(lags, np.arange(env.size))
    np.testing.assert_allclose(r, librosa.autocorrelate(env) / np.dot(env, env), rtol=1e-5,
                               atol=1e-6)
