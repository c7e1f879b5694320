"""Ulyanov & Lebedev's baseline (:mod:`mst_jax.baseline`): the log-magnitude STFT as the
variable, its objective, its bounds and Griffin-Lim, against librosa and numpy."""

import dataclasses

import jax
import librosa
import numpy as np
import pytest

from conftest import SR
from mst_jax import baseline, metrics, networks, presets, synthesis, weighting
from mst_jax.config import LossConfig, MelNetConfig, SolverConfig, StftConfig, StftNetConfig, Term

STFT = StftConfig()  # n_fft 2048, hop 512


def test_variable_is_librosas_log_magnitude_stft(chord_wave):
    x = baseline.variable(chord_wave, stft=STFT)
    stft = librosa.stft(chord_wave, n_fft=2048, hop_length=512, center=True, pad_mode="constant")
    ref = np.log1p(np.abs(stft)).T
    assert x.shape == ref.shape == (1 + SR // 512, 1025)
    # float32 FFT against librosa's float32 (plus stft_magnitude's 1e-8 floor): atol 1e-4 on log1p
    np.testing.assert_allclose(np.asarray(x), ref, atol=1e-4)


def test_objective_is_eq1_and_eq4_on_the_spectrogram(chord_wave, rhythm_wave):
    """The objective of x (not of a waveform): its content term at x is Eq. 1 between the net's
    last layer on x and on the content's log-magnitude STFT, computed here by hand; Γ raw."""
    cfg = presets.baseline(filters=8)
    obj = baseline.build(cfg, jax.random.key(0), content=chord_wave, style=rhythm_wave, sr=SR)
    frames = 1 + SR // 512
    assert obj.shape == (frames, 1025)
    x_content = baseline.variable(chord_wave, stft=STFT)
    x = x_content + 0.1 * jax.random.normal(jax.random.key(1), obj.shape)
    net = networks.make(cfg.terms[0].net, n_fft=2048)
    w = obj.params["nets"]["stft"]  # content and style share one net
    a = np.asarray(net.apply(w, x)[-1], np.float64)
    c = np.asarray(net.apply(w, x_content)[-1], np.float64)
    s = np.asarray(net.apply(w, baseline.variable(rhythm_wave, stft=STFT))[-1], np.float64)
    terms = jax.jit(obj.terms)(x, obj.params)
    # float32 network against the same maps in float64 arithmetic: rtol 1e-4
    assert float(terms["content_stft"]) == pytest.approx(0.5 * np.sum((a - c) ** 2), rel=1e-4)
    g_x, g_s = a.T @ a / frames, s.T @ s / len(s)
    assert float(terms["style_stft"]) == pytest.approx(np.sum((g_x - g_s) ** 2) / 8**2, rel=1e-4)
    # raw weights (their code): beta = Gamma, so fn is the Gamma-weighted sum
    gammas = {t.name: t.gamma for t in cfg.terms}
    total = sum(gammas[k] * float(v) for k, v in terms.items())
    assert float(jax.jit(obj.fn)(x, obj.params)) == pytest.approx(total, rel=1e-5)
    # the content target is the content's own spectrogram: zero up to float32 rounding there
    at_content = jax.jit(obj.terms)(x_content, obj.params)["content_stft"]
    assert float(at_content) <= 1e-6 * float(terms["content_stft"])


@pytest.mark.parametrize(
    "term",
    [Term("content", MelNetConfig(n_mels=16, filters=8), 1.0), Term("spectrum", None, 1.0)],
    ids=["mel", "spectrum"],
)
def test_terms_that_need_the_waveform_are_refused(term, chord_wave):
    cfg = LossConfig(terms=(Term("style", StftNetConfig(filters=8), 1.0), term))
    with pytest.raises(ValueError, match="STFT content, style and l1 terms only"):
        baseline.build(cfg, jax.random.key(0), content=chord_wave, style=chord_wave, sr=SR)


def test_optimising_the_spectrogram_then_griffin_lim(chord_wave):
    """A short run within the bounds (x >= 0) lowers the loss, and Griffin-Lim of the content's own
    log-magnitude gives a waveform whose magnitude STFT is close to the content's."""
    cfg = LossConfig(terms=(Term("content", StftNetConfig(filters=8, kernel=3), 1.0),), normalize_gradients=False)
    obj = baseline.build(cfg, jax.random.key(0), content=chord_wave, sr=SR)
    x0 = baseline.variable(synthesis.init_noise(jax.random.key(1), len(chord_wave)), stft=STFT)
    lower, upper = baseline.BOUNDS
    result = synthesis.synthesize(
        obj, x0, max_iter=6, solver=SolverConfig(chunk=3, lower=lower, upper=upper)
    )
    assert result.wave.shape == obj.shape and float(np.min(result.wave)) >= lower
    assert result.loss_history[-1] < float(obj.fn(x0, obj.params))
    x_content = baseline.variable(chord_wave, stft=STFT)
    wave = baseline.to_wave(x_content, stft=STFT, length=len(chord_wave), n_iter=32, seed=0)
    assert wave.dtype == np.float32 and wave.shape == chord_wave.shape
    # 32 Griffin-Lim iterations on a steady chord: well below 1 (noise scores about 1)
    assert metrics.spectral_convergence(wave, chord_wave) < 0.2


def test_calibrating_the_baseline_happens_at_a_spectrogram(chord_wave, rhythm_wave):
    """Eq. 7-8 apply to any objective: calibrated at x = variable(noise), each term's weighted
    gradient norm equals its Gamma (the same check as test_losses' presets, on the spectrogram)."""
    cfg = presets.baseline(filters=8)
    obj = baseline.build(cfg, jax.random.key(0), content=chord_wave, style=rhythm_wave, sr=SR)
    x0 = baseline.variable(synthesis.init_noise(jax.random.key(5), len(chord_wave)), stft=STFT)
    normalized = dataclasses.replace(cfg, normalize_gradients=True)
    obj = weighting.calibrate(obj._replace(config=normalized), x0)
    norms = weighting.term_gradient_norms(obj, x0)
    for t in cfg.terms:
        assert norms[t.name] * float(obj.params["beta"][t.name]) == pytest.approx(t.gamma, rel=1e-4)


def test_the_baseline_preset_is_ulyanov_and_lebedevs_net():
    """Their released net, written out from their code and SPEC §1 (not from mst_jax.presets):
    one STFT conv layer of 4096 filters, kernel 11, ReLU, their Glorot-normal-with-ReLU-gain
    kernel, content and style on that one net, raw weights."""
    cfg = presets.baseline()
    assert [t.name for t in cfg.terms] == ["content_stft", "style_stft"]
    assert not cfg.normalize_gradients
    for t in cfg.terms:
        assert isinstance(t.net, StftNetConfig)
        assert (t.net.filters, t.net.kernel, t.net.activation, t.net.init) == (
            4096, 11, "relu", "glorot_normal_relu")


def test_griffin_lim_uses_the_objectives_framing_and_seed(monkeypatch):
    """``griffinlim`` hands librosa the STFT the magnitude came from (Hann, centred, zero
    padding, n_fft and hop) and its seed; ``to_wave`` gives it expm1 of the spectrogram
    clipped at 0 (a log magnitude below 0 is no magnitude)."""
    seen = {}

    def fake(magnitude, **kwargs):
        seen.update(kwargs, magnitude=np.array(magnitude))
        return np.zeros(kwargs["length"])

    monkeypatch.setattr(librosa, "griffinlim", fake)
    stft = StftConfig(n_fft=1024, hop_length=256)
    x = np.array([[-0.5, 0.0, 1.0], [2.0, -3.0, 0.5]])  # (frames, bins)
    wave = baseline.to_wave(x, stft=stft, length=700, n_iter=7, seed=11)
    assert wave.shape == (700,) and wave.dtype == np.float32
    want = dict(n_fft=1024, hop_length=256, win_length=1024, window="hann", center=True,
                pad_mode="constant", n_iter=7, random_state=11, length=700)
    assert {k: seen[k] for k in want} == want
    np.testing.assert_allclose(seen["magnitude"], np.expm1(np.maximum(x, 0.0)).T, rtol=1e-6)
