"""Phase retrieval: rebuild a recording from its own magnitude STFT by the time-domain optimiser.

    python -m experiments.reconstruct                          # demo on the shipped content clip
    python -m experiments.reconstruct --input=A.wav --output=C.wav --max_iter=200

Optimises a waveform from noise with L-BFGS-B so that its magnitude STFT matches A's (the
``reconstruction`` preset: one ``spectrum`` term, no network), then prints the spectral convergence
‖|X| - |Y|‖_F / ‖|Y|‖_F of the result, of ``librosa.griffinlim`` with the same number of iterations,
and of Griffin-Lim given the same time (our steady-state seconds per iteration times our
iterations, compilation excluded). They are recorded in C.json under ``spectral_convergence``.
"""

import math
import time

import numpy as np
from absl import app, flags

from experiments import _flags, _runner, console, resolve
from mst_jax import baseline, metrics

INPUT = flags.DEFINE_string(
    "input", None, "Audio file to reconstruct (any format soundfile reads)."
)
flags.adopt_module_key_flags(_flags)


def build(notices):
    """The flags of this script as a RunConfig (validated, nothing compiled)."""
    return resolve.run_config(
        "reconstruct", content=INPUT.value, content_flag=INPUT, notices=notices
    )


def _griffinlim(reference, cfg, n_iter):
    import librosa

    stft = cfg.loss.stft
    mag = np.abs(
        librosa.stft(
            reference,
            n_fft=stft.n_fft,
            hop_length=stft.hop_length,
            center=True,
            pad_mode="constant",
        )
    )
    t0 = time.perf_counter()
    wave = baseline.griffinlim(mag, stft=stft, length=reference.size, n_iter=n_iter, seed=cfg.seed)
    return wave, time.perf_counter() - t0


def after(cfg, inputs, raw, record, interrupted):
    """Adds ``spectral_convergence`` (ours, Griffin-Lim at the same iterations and the same time)."""
    stft = cfg.loss.stft
    ref = inputs.content

    def sc(wave):
        return metrics.spectral_convergence(wave, ref, n_fft=stft.n_fft, hop_length=stft.hop_length)

    result = {"ours": sc(raw)}
    iterations = record["iterations"]
    if interrupted:
        record["spectral_convergence"] = result
        return
    same_iter, t_same_iter = _griffinlim(ref, cfg, iterations)
    result["griffinlim_same_iterations"] = sc(same_iter)
    spi = np.asarray(record["seconds_per_iteration"][-iterations:], float)
    # Steady state: the first chunk's seconds include compilation, so take the median.
    ours_s = float(np.median(spi)) * iterations
    n_time = max(1, math.ceil(ours_s / max(t_same_iter / iterations, 1e-9)))
    same_time, t_same_time = (
        _griffinlim(ref, cfg, n_time) if n_time != iterations else (same_iter, t_same_iter)
    )
    result["griffinlim_same_time"] = sc(same_time)
    record["spectral_convergence"] = result
    record["spectral_convergence_detail"] = {
        "measured_on": "the optimised waveform before peak normalisation",
        "ours_seconds_steady_state": ours_s,
        "griffinlim_same_iterations": {"iterations": iterations, "seconds": t_same_iter},
        "griffinlim_same_time": {"iterations": n_time, "seconds": t_same_time},
    }
    console.say(
        f"spectral convergence: ours {result['ours']:.4f} ({iterations} iterations, {ours_s:.2f} s); "
        f"Griffin-Lim {result['griffinlim_same_iterations']:.4f} ({iterations} iterations, {t_same_iter:.2f} s), "
        f"{result['griffinlim_same_time']:.4f} ({n_time} iterations, {t_same_time:.2f} s)"
    )


def main(argv):
    _runner.execute(argv, build, _flags.flag_values((INPUT, *_flags.SHARED)), after=after)


if __name__ == "__main__":
    app.run(main, flags_parser=_flags.parse)
