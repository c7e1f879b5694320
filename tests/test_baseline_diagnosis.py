"""The baseline diagnosis's two measures against librosa and numpy."""

import librosa
import numpy as np

from benchmarks import baseline_diagnosis as bd
from mst_jax.config import StftConfig

SR = bd.SR


def test_inconsistency_is_zero_for_a_real_signals_own_magnitude_and_large_for_noise():
    rng = np.random.default_rng(0)
    t = np.arange(SR // 2) / SR
    wave = (np.sin(2 * np.pi * 440 * t) + 0.1 * rng.standard_normal(t.size)).astype(np.float32)
    stft = StftConfig()
    own = np.abs(librosa.stft(wave, n_fft=stft.n_fft, hop_length=stft.hop_length, center=True, pad_mode="constant")).T
    assert bd.inconsistency(wave, own, stft=stft) < 1e-3
    assert bd.inconsistency(wave, 3.0 * own, stft=stft) < 1e-3  # level-free
    scrambled = rng.permutation(own.ravel()).reshape(own.shape)
    assert bd.inconsistency(wave, scrambled, stft=stft) > 0.5


def test_band_means_average_each_band_of_bins():
    n_fft = 2048
    freqs = np.arange(n_fft // 2 + 1) * SR / n_fft
    magnitude = np.tile(freqs, (3, 1))  # each bin's value is its frequency
    got = bd.band_means(magnitude, n_fft=n_fft)
    edges = bd.BAND_EDGES_HZ
    want = [freqs[(freqs >= lo) & (freqs < hi)].mean() for lo, hi in zip(edges[:-2], edges[1:-1])]
    want.append(freqs[freqs >= edges[-2]].mean())
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert len(got) == len(edges) - 1
