"""``experiments.objectives``: the one place a ``--preset`` picks its loss configuration and its
kind of objective (the waveform, or the baseline's log-magnitude STFT)."""

import math

import numpy as np
import pytest
from absl import flags
from absl.testing import flagsaver
from conftest import SR

from experiments import _runner, objectives, outputs, preflight, resolve
from mst_jax import presets, spectral

flags.FLAGS.mark_as_parsed()


@pytest.mark.parametrize("preset", ["1", "2", "3", "4", "5", "6", "reconstruction"])
def test_table1_and_reconstruction_optimise_the_waveform_in_its_bounds(preset):
    kind = objectives.of(preset)
    assert kind.domain == "waveform" and kind.bounds == (-1.0, 1.0)  # SPEC.md §1
    x = np.linspace(-0.5, 0.5, 7, dtype=np.float32)
    assert np.array_equal(kind.to_wave(x, stft=None, length=7, n_iter=1, seed=0), x)


def test_the_baseline_optimises_the_log_magnitude_stft():
    kind = objectives.of("baseline")
    assert kind.domain == "spectrogram" and kind.bounds == (0.0, math.inf)  # log1p|X| >= 0
    cfg = objectives.loss_config("baseline", stft_filters=64)
    # their raw style sum in our Eq. 4 (1 / N^2): Gamma_style = width^2, as presets.baseline(filters=64)
    assert cfg == presets.baseline(filters=64) and cfg.term("style_stft").gamma == 64.0**2
    assert objectives.loss_config("baseline") == presets.baseline()
    assert objectives.loss_config("3", stft_filters=64) == presets.table1(3)  # resized later, by the flags
    with pytest.raises(ValueError, match="unknown preset '7'"):
        objectives.loss_config("7")


def test_a_baseline_run_starts_and_ends_in_its_own_domain(tmp_path):
    """resolve.run_config bounds the solver by the kind; make_objective starts at the log-magnitude
    STFT of the noise (calibration) and of the content (x0); outputs.to_wave runs Griffin-Lim."""
    import soundfile as sf
    from mst_jax import signals

    path = str(tmp_path / "c.wav")
    sf.write(path, signals.chord([60, 64, 67], duration_s=0.5, sr=SR), SR)
    with flagsaver.flagsaver(style=path, preset="baseline", stft_filters=8, stft_kernel=3, griffinlim_iter=2):
        cfg = resolve.run_config("transfer", content=path, init="content")
    assert (cfg.solver.lower, cfg.solver.upper) == (0.0, math.inf)
    inputs = preflight.load_inputs(cfg)
    objective, x_cal, x0 = _runner.make_objective(cfg, inputs)
    frames = spectral.num_frames(inputs.num_samples, hop_length=512)
    assert objective.shape == x_cal.shape == x0.shape == (frames, 1025)
    content = spectral.log_spectrogram(spectral.stft_magnitude(inputs.content))
    np.testing.assert_array_equal(np.asarray(x0), np.asarray(content))  # --init=content, as x
    wave = outputs.to_wave(cfg, x0, inputs)
    assert wave.shape == (inputs.num_samples,) and wave.dtype == np.float32
    assert float(np.max(np.abs(wave))) > 0.01  # Griffin-Lim of the content, not the spectrogram


def test_the_baseline_from_noise_runs_its_published_iterations_and_from_the_content_says_so(tmp_path):
    """Ulyanov & Lebedev's code makes 300 L-BFGS-B iterations: --preset=baseline --init=noise
    without --max_iter runs that many (Table 1 rows: SPEC's 500); from the content, the
    transfer's start, one notice says how to run it as published. --max_iter overrides."""
    import soundfile as sf
    from mst_jax import signals

    path = str(tmp_path / "c.wav")
    sf.write(path, signals.chord([60, 64, 67], duration_s=0.5, sr=SR), SR)

    def resolved(preset, init, **values):
        notices = []
        with flagsaver.flagsaver(style=path, preset=preset, **values):
            cfg = resolve.run_config("transfer", content=path, init=init, notices=notices)
        said = [n for n in notices if "as published it starts from noise" in n]
        return cfg.solver.max_iter, said

    assert resolved("baseline", "noise") == (300, [])
    assert resolved("baseline", "noise", max_iter=40) == (40, [])
    assert resolved("1", "noise") == (500, [])
    max_iter, said = resolved("baseline", "content")
    assert max_iter == 160 and said == [
        "--preset=baseline starts from the content here, the transfer's default; as published "
        "it starts from noise: --init=noise, then 300 iterations unless --max_iter says"
    ]
    assert resolved("5", "content") == (160, [])


def test_a_table1_run_optimises_samples(tmp_path):
    import soundfile as sf
    from mst_jax import signals

    path = str(tmp_path / "c.wav")
    sf.write(path, signals.chord([60, 64, 67], duration_s=0.5, sr=SR), SR)
    with flagsaver.flagsaver(style=path, preset="1", stft_filters=8, stft_kernel=3):
        cfg = resolve.run_config("transfer", content=path, init="noise")
    assert (cfg.solver.lower, cfg.solver.upper) == (-1.0, 1.0)
    objective, x_cal, x0 = _runner.make_objective(cfg, preflight.load_inputs(cfg))
    assert objective.shape == x_cal.shape == x0.shape == (len(sf.read(path)[0]),)
    np.testing.assert_array_equal(np.asarray(x_cal), np.asarray(x0))  # --init=noise: both the noise
    assert float(np.std(np.asarray(x0))) == pytest.approx(1e-3, rel=0.1)  # N(0, 1e-3^2) over 11025 samples
