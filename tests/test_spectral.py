"""Spectral front ends against librosa, and their gradients."""

import warnings

import chex
import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest

from mst_jax import signals, spectral
from mst_jax.config import C1_HZ

SR = 22050


@pytest.mark.parametrize("n_fft,hop", [(2048, 512), (1024, 256), (512, 128), (1024, 300)])
@pytest.mark.parametrize("signal", ["chord", "noise"])
def test_stft_magnitude_matches_librosa(n_fft, hop, signal, chord_wave, noise_wave):
    y = chord_wave if signal == "chord" else noise_wave
    y = y[: SR // 2 + 123]  # a length that is no multiple of the hop
    ours = np.asarray(jax.jit(spectral.stft_magnitude, static_argnames=("n_fft", "hop_length"))(
        y, n_fft=n_fft, hop_length=hop))
    ref = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant")).T
    assert ours.shape == ref.shape == (1 + len(y) // hop, n_fft // 2 + 1)
    # float32 FFTs of length <= 2048 agree to ~1e-6 of the peak; 1e-4 is the bound.
    assert np.abs(ours - ref).max() <= 1e-4 * ref.max()


@pytest.mark.parametrize("n_mels,fmax", [(16, None), (512, None), (10, 11025.0), (40, 8000.0)])
def test_mel_filterbank_matches_librosa_htk(n_mels, fmax):
    with warnings.catch_warnings():
        # 512 HTK bands over 1025 bins leave the lowest bands empty; both libraries warn.
        warnings.simplefilter("ignore", UserWarning)
        ours = spectral.mel_filterbank(sr=SR, n_fft=2048, n_mels=n_mels, fmax=fmax)
        ref = librosa.filters.mel(sr=SR, n_fft=2048, n_mels=n_mels, fmax=fmax, htk=True, norm=None).T
    assert ours.shape == (1025, n_mels)
    np.testing.assert_allclose(ours, ref, atol=1e-6)  # same float64 formula, cast to float32


def test_cqt_filterbank_shape_and_centres():
    fb = spectral.cqt_filterbank(sr=SR, n_fft=2048)
    assert fb.shape == (1025, 86)
    centres = librosa.cqt_frequencies(n_bins=86, fmin=librosa.note_to_hz("C1"), bins_per_octave=12)
    np.testing.assert_allclose(C1_HZ, librosa.note_to_hz("C1"), rtol=1e-9)
    bin_hz = SR / 2048
    for k, f in enumerate(centres):
        if f >= 200.0:
            # peak at the STFT bin nearest the centre frequency
            assert abs(int(np.argmax(fb[:, k])) - int(round(f / bin_hz))) == 0, k
    assert np.all(fb.max(axis=0) > 0.5)  # no empty filter, even at the oversampled low end


def test_cqt_filters_have_semitone_bandwidth_and_interpolate_below_one_bin():
    """SPEC: semitone resolution, Q = 1/(2^(1/12) - 1). Where a semitone is wider than an STFT
    bin, filter k is the triangle 1 - |f - f_k| / (f_k / Q) (so at f_k its upper neighbour
    weighs 1 - 2^(-1/12) and its lower one 0); where it is narrower (the low end), the filter
    interpolates linearly between the two STFT bins around f_k (weights summing to 1)."""
    fb = np.asarray(spectral.cqt_filterbank(sr=SR, n_fft=2048), np.float64)
    centres = librosa.cqt_frequencies(n_bins=86, fmin=librosa.note_to_hz("C1"), bins_per_octave=12)
    freqs = np.arange(1025) * SR / 2048
    semitone = centres * (2 ** (1 / 12) - 1)  # f_k / Q, Hz
    wide = np.flatnonzero(semitone > SR / 2048)
    narrow = np.flatnonzero(semitone < SR / 2048)
    assert len(wide) > 20 and len(narrow) > 20
    for k in wide:
        hand = np.maximum(0.0, 1.0 - np.abs(freqs - centres[k]) / semitone[k])
        np.testing.assert_allclose(fb[:, k], hand, atol=1e-6, err_msg=f"bin {k}")
    for k in narrow:
        j = int(np.floor(centres[k] / (SR / 2048)))
        frac = centres[k] / (SR / 2048) - j
        np.testing.assert_allclose(fb[[j, j + 1], k], [1 - frac, frac], atol=1e-6,
                                   err_msg=f"bin {k}")
        assert np.count_nonzero(fb[:, k]) <= 2


@pytest.mark.parametrize("bins_per_octave,filter_scale", [(24, 1.0), (12, 2.0), (36, 0.5)])
def test_cqt_filterbank_follows_bins_per_octave_and_filter_scale(bins_per_octave, filter_scale):
    """Centres f_k = fmin 2^(k/b), half-widths max(s f_k / Q, one STFT bin) with
    Q = 1/(2^(1/b) - 1), written out here from §3.2.2 for other resolutions and bandwidths."""
    fmin, n_bins = 65.41, 4 * bins_per_octave
    fb = np.asarray(spectral.cqt_filterbank(sr=SR, n_fft=2048, n_bins=n_bins, fmin=fmin,
                                            bins_per_octave=bins_per_octave,
                                            filter_scale=filter_scale), np.float64)
    freqs = np.arange(1025) * SR / 2048
    centres = fmin * 2.0 ** (np.arange(n_bins) / bins_per_octave)
    half = np.maximum(filter_scale * centres * (2 ** (1 / bins_per_octave) - 1), SR / 2048)
    hand = np.maximum(0.0, 1.0 - np.abs(freqs[:, None] - centres) / half)
    np.testing.assert_allclose(fb, hand, atol=1e-6)


def test_filterbanks_refuse_what_they_cannot_build():
    with pytest.raises(ValueError, match="n_fft >= 2"):
        spectral.mel_filterbank(sr=SR, n_fft=1, n_mels=4)
    for scale in (0.0, -1.0):
        with pytest.raises(ValueError, match="filter_scale must be positive"):
            spectral.cqt_filterbank(sr=SR, n_fft=2048, filter_scale=scale)
    # 13 semitones from 2 kHz end at exactly 4 kHz, the Nyquist frequency at 8 kHz: refused.
    with pytest.raises(ValueError, match="not below Nyquist"):
        spectral.cqt_filterbank(sr=8000, n_fft=512, n_bins=13, fmin=2000.0)
    assert spectral.cqt_filterbank(sr=8000, n_fft=512, n_bins=12, fmin=2000.0).shape == (257, 12)


@pytest.mark.parametrize("midi", [48, 55, 60, 67, 72, 84, 96, 103, 108])
def test_cqt_tone_lands_in_its_semitone_bin(midi):
    """A pure tone at MIDI note n (C3..C8) peaks, averaged over frames, at CQT bin n - 24."""
    y = signals.tone(librosa.midi_to_hz(midi), duration_s=0.5, sr=SR)
    c = spectral.log_spectrogram(spectral.stft_magnitude(y), spectral.cqt_filterbank(sr=SR, n_fft=2048))
    assert int(np.argmax(np.asarray(c).mean(axis=0))) == midi - 24


@pytest.mark.parametrize("front", ["stft", "mel", "cqt"])
@pytest.mark.parametrize("signal", ["silence", "impulse", "clipped_noise"])
def test_gradients_are_finite_everywhere(front, signal):
    n = 4096
    if signal == "silence":
        y = np.zeros(n, np.float32)
    elif signal == "impulse":
        y = np.zeros(n, np.float32)
        y[n // 2] = 1.0
    else:
        y = np.sign(np.random.default_rng(1).standard_normal(n)).astype(np.float32)
    fb = {"stft": None, "mel": spectral.mel_filterbank(sr=SR, n_fft=2048, n_mels=16),
          "cqt": spectral.cqt_filterbank(sr=SR, n_fft=2048)}[front]

    @jax.jit
    def f(w):
        return jnp.sum(spectral.log_spectrogram(spectral.stft_magnitude(w), fb))

    g = jax.grad(f)(jnp.asarray(y))
    assert bool(jnp.all(jnp.isfinite(g)))


def test_jit_and_vmap_over_batch(chord_wave, noise_wave):
    batch = jnp.stack([chord_wave[:8000], noise_wave[:8000]])
    fb = spectral.mel_filterbank(sr=SR, n_fft=1024, n_mels=20)
    f = jax.jit(lambda w: spectral.log_spectrogram(spectral.stft_magnitude(w, n_fft=1024, hop_length=256), fb))
    out = jax.vmap(f)(batch)
    chex.assert_shape(out, (2, 1 + 8000 // 256, 20))
    np.testing.assert_allclose(out[1], f(batch[1]), rtol=1e-5, atol=1e-5)  # vmap == per-example
    # leading axes work without vmap too
    np.testing.assert_allclose(f(batch), out, rtol=1e-5, atol=1e-5)


def test_stft_gradient_matches_finite_differences():
    y = jnp.asarray(np.random.default_rng(2).standard_normal(600).astype(np.float32) * 0.3)
    fb = spectral.mel_filterbank(sr=SR, n_fft=256, n_mels=8)
    f = lambda w: jnp.sum(spectral.log_spectrogram(spectral.stft_magnitude(w, n_fft=256, hop_length=64), fb))
    with jax.enable_x64(True):  # float64 so that central differences resolve 1e-4
        chex.assert_numerical_grads(f, (y.astype(jnp.float64),), order=1, atol=1e-4, rtol=1e-4)
