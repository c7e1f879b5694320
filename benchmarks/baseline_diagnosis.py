"""Why the Ulyanov & Lebedev baseline sounds like noise: its spectrogram before and after Griffin-Lim.

    python3 -m benchmarks.baseline_diagnosis --pair=0 --filters=512 --output_dir=out/baseline_diagnosis

For one content/style pair of :data:`mst_jax.scores.QUALITY_PAIRS` (rendered as in
:mod:`benchmarks.quality`, peak-normalised as the command line loads them), the baseline
objective (:func:`mst_jax.baseline.build`, raw weights as published) is minimised from noise
in each ``--variants`` and the result is taken apart:

* ``published``: bounds [0, inf), the start is the log-magnitude STFT of N(0, 1e-3^2) noise
  (what ``--preset=baseline --init=noise`` does), ``--gl_iterations`` Griffin-Lim iterations;
* ``their_start``: the start of their released code, ``x = 1e-3 * N(0, 1)`` per bin (projected
  into the bounds);
* ``unbounded``: their code's freedom, no bounds, start ``1e-3 * N(0, 1)``, magnitude
  ``|expm1(x)|``;
* ``gl500``: ``published``'s spectrogram with 500 Griffin-Lim iterations (their code's count).

Per variant: the mean magnitude of the optimised spectrogram ``expm1(x)`` in six bands beside
the content's and the style's (is the spectrum itself flat, or does Griffin-Lim make it so?),
Griffin-Lim's inconsistency (``‖ |STFT(y)| - M ‖ / ‖M‖`` after a least-squares gain), and the
quality measures of the waveform (:mod:`mst_jax.evaluate`). Prints one line per variant; writes
``baseline_diagnosis.csv`` and each variant's audio into ``--output_dir``.
"""

from __future__ import annotations

import os
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from benchmarks import quality, quality_table
from mst_jax import presets

# Flag names that experiments/ and the other benchmarks do not use: tests import this module
# beside them in one process (absl refuses a flag defined twice).
PAIR = flags.DEFINE_integer("pair", 0, "Index into scores.QUALITY_PAIRS.")
FILTERS = flags.DEFINE_integer("filters", 512, "STFT filters of the baseline net (published: 4096).")
LBFGS_ITERATIONS = flags.DEFINE_integer(
    "lbfgs_iterations", presets.BASELINE_MAX_ITER, "L-BFGS-B iterations (default: published)."
)
GL_ITERATIONS = flags.DEFINE_integer("gl_iterations", 100, "Griffin-Lim iterations (our default).")
VARIANTS = flags.DEFINE_list("variants", ["published", "their_start", "unbounded", "gl500"], "Variants to run.")
# --duration_s and --output_dir are the quality benchmark's flags: the inputs are rendered the
# same way, and an --output_dir shared with it reuses its rendered inputs.
DURATION_S, OUTPUT_DIR = quality.DURATION_S, quality.OUTPUT_DIR
NET_SEED = flags.DEFINE_integer("net_seed", 0, "Network key and initial noise.")

SR = 22050
BAND_EDGES_HZ = (0, 500, 1000, 2000, 4000, 7500, SR / 2)


def band_means(magnitude: np.ndarray, *, n_fft: int) -> list[float]:
    """Mean magnitude of ``(frames, bins)`` in each band of :data:`BAND_EDGES_HZ`."""
    freqs = np.arange(magnitude.shape[1]) * SR / n_fft
    return [
        float(magnitude[:, (freqs >= lo) & (freqs < hi if hi < SR / 2 else freqs <= hi)].mean())
        for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:])
    ]


def inconsistency(wave: np.ndarray, magnitude: np.ndarray, *, stft) -> float:
    """``‖g |STFT(wave)| - M‖ / ‖M‖`` with the least-squares gain ``g``; ``M`` ``(frames, bins)``."""
    from mst_jax import spectral

    got = np.asarray(spectral.stft_magnitude(jnp.asarray(wave), n_fft=stft.n_fft, hop_length=stft.hop_length))
    got = got[: magnitude.shape[0]]
    gain = float(np.sum(got * magnitude) / max(np.sum(got * got), 1e-30))
    return float(np.linalg.norm(gain * got - magnitude) / max(np.linalg.norm(magnitude), 1e-30))


def main(argv):
    del argv
    from mst_jax import audio, baseline, evaluate, synthesis, writing
    from mst_jax.config import SolverConfig
    from mst_jax.scores import QUALITY_PAIRS

    c_name, s_name = QUALITY_PAIRS[PAIR.value]
    paths = quality.render_inputs([c_name, s_name], OUTPUT_DIR.value, DURATION_S.value)
    content = audio.load(paths[c_name], sr=SR)
    style = audio.load(paths[s_name], sr=SR)
    config = presets.baseline(filters=FILTERS.value)
    stft = config.stft
    net_key, init_key = jax.random.split(jax.random.key(NET_SEED.value))
    objective = baseline.build(config, net_key, sr=SR, content=content, style=style)
    bands = {
        "content": band_means(np.expm1(np.asarray(baseline.variable(content, stft=stft))), n_fft=stft.n_fft),
        "style": band_means(np.expm1(np.asarray(baseline.variable(style, stft=stft))), n_fft=stft.n_fft),
    }
    rows, solved = [], {}
    for variant in VARIANTS.value:
        t0 = time.perf_counter()
        gl_iter = 500 if variant == "gl500" else GL_ITERATIONS.value
        if variant == "gl500" and "published" in solved:
            x, terms = solved["published"]
        else:
            lower = -np.inf if variant == "unbounded" else baseline.BOUNDS[0]
            if variant in ("their_start", "unbounded"):
                x0 = 1e-3 * jax.random.normal(init_key, objective.shape)
            else:
                x0 = baseline.variable(synthesis.init_noise(init_key, content.size), stft=stft)
            solver = SolverConfig(max_iter=LBFGS_ITERATIONS.value, chunk=25, lower=float(lower), upper=np.inf)
            result = synthesis.synthesize(objective, x0, solver=solver)
            x = np.asarray(result.wave)
            terms = {k: float(v[-1]) for k, v in result.term_history.items()}
            solved[variant] = (x, terms)
        mag = np.abs(np.expm1(x)) if variant == "unbounded" else np.expm1(np.maximum(x, 0.0))
        wave = baseline.griffinlim(mag.T.astype(np.float32), stft=stft, length=content.size, n_iter=gl_iter, seed=NET_SEED.value)
        q = evaluate.evaluate(wave, content=content, style=style, sr=SR)
        audio_path = os.path.join(OUTPUT_DIR.value, f"pair{PAIR.value}_f{FILTERS.value}_{variant}.wav")
        writing.save(audio_path, wave / max(float(np.max(np.abs(wave))), 1e-9), sr=SR)
        row = {
            "variant": variant, "filters": FILTERS.value, "seconds": round(time.perf_counter() - t0, 1),
            **{f"loss_{k}": round(v, 1) for k, v in terms.items()},
            **{f"band{i}_vs_content": round(m / max(c, 1e-12), 2)
               for i, (m, c) in enumerate(zip(band_means(mag, n_fft=stft.n_fft), bands["content"]))},
            "gl_inconsistency": round(inconsistency(wave, mag, stft=stft), 3),
            "chroma_content": round(q.chroma_content, 3), "mfcc_ratio": round(q.mfcc_ratio, 3),
            "flatness": round(q.flatness, 3), "flatness_content": round(q.flatness_content, 3),
            "flatness_style": round(q.flatness_style, 3),
        }
        rows.append(row)
        print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    bands_line = ", ".join(f"{lo:g}-{hi:g} Hz" for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:]))
    print(f"bands: {bands_line}")
    print("style / content band means: " + " ".join(f"{s / max(c, 1e-12):.2f}" for s, c in zip(bands["style"], bands["content"])))
    path = os.path.join(OUTPUT_DIR.value, "baseline_diagnosis.csv")
    quality_table.write_csv(path, rows)  # every row has the same keys: one objective
    print(f"wrote {path}")


if __name__ == "__main__":
    app.run(main)
