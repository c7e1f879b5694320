"""Phase retrieval by L-BFGS-B on the magnitude STFT against librosa's Griffin-Lim.

  python -m benchmarks.phase_retrieval --iterations=50

For four synthesised clips: spectral convergence after the same number of iterations,
ours from N(0, 1e-3^2) and Griffin-Lim (momentum 0.99) from three random phases.
"""

import warnings

from absl import app, flags

import jax
import librosa
import numpy as np

from mst_jax import losses, metrics, presets, render, scores, signals, synthesis
from mst_jax.config import SolverConfig

_ITERATIONS = flags.DEFINE_integer("iterations", 50, "Iterations for both methods.")
SR = 22050


def clips():
    return {
        "C-major triad, 1 s": signals.chord([60, 64, 67], duration_s=1.0, sr=SR),
        "drum pattern, 1.5 s": signals.drum_pattern(bpm=120, duration_s=1.5, sr=SR, seed=1),
        "5 piano notes, 1.5 s": render.render(scores.STAR_SPANGLED_BANNER[:5], sr=SR, bpm=120, duration_s=1.5),
        "click track, 1 s": signals.click_track(bpm=120, duration_s=1.0, sr=SR),
    }


def main(argv):
    del argv
    warnings.simplefilter("ignore")
    n = _ITERATIONS.value
    print(f"{'clip':<24} {'loss ratio':>10} {'ours':>7}  griffin-lim (seeds 0, 1, 2)")
    for name, c in clips().items():
        x0 = synthesis.init_noise(jax.random.key(1), len(c))
        obj = losses.build(presets.reconstruction(), jax.random.key(0), content=c, sr=SR, init_wave=x0)
        r = synthesis.synthesize(obj, x0, max_iter=n, solver=SolverConfig(chunk=n))
        ratio = float(obj.fn(x0, obj.params)) / r.loss_history[-1]
        mag = np.abs(librosa.stft(c, n_fft=2048, hop_length=512, center=True, pad_mode="constant"))
        gl = [
            metrics.spectral_convergence(
                librosa.griffinlim(mag, n_iter=n, n_fft=2048, hop_length=512, center=True, pad_mode="constant",
                                   length=len(c), random_state=seed), c)
            for seed in range(3)
        ]
        print(f"{name:<24} {ratio:>10.0f} {metrics.spectral_convergence(r.wave, c):>7.3f}  "
              + ", ".join(f"{g:.3f}" for g in gl))


if __name__ == "__main__":
    app.run(main)
