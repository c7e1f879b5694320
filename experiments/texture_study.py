"""The paper's texture study (§4.1, Figure 4): rhythm of textures as the receptive field grows.

Five texture syntheses (style terms only, no content) of one source clip, each row adding
receptive field in time:

1. ``STFT K=5``: STFT net, kernel 5 frames.
2. ``STFT K=10``: kernel 10.
3. ``STFT + Mel 1 layer 10 bins``: row 2 plus a one-layer Mel net on 10 Mel bins (kernel 50).
4. ``STFT + Mel 1 layer 512 bins``: the same on 512 bins.
5. ``STFT + Mel 1 layer + 3 residual blocks 512 bins``: plus 3 dilated residual blocks
   (dilations 2, 4, 8, kernel 25: 386 frames, about 9 s).

Rows 3-5 keep row 2's STFT net (K=10, the same weights), so each row changes one thing.
Every style term has Γ 50, calibrated by Eq. 7-8 at the initial noise; the noise and the
weights come from ``--seed`` and are the same in every row. The texture has the source's
length.

Metrics per row (:mod:`mst_jax.metrics`): inter-onset intervals of source and texture in
beats, both measured at the source's tempo (librosa's estimate on the source); their
histograms (32 bins of 1/8 beat on [0, 4]); the KL divergence KL(source ‖ texture) in nats
(source histogram first, smoothing as in :func:`mst_jax.metrics.kl_divergence`); and
``max |Φ|``, the maximum normalised cross-correlation between texture and source. The
figure adds each row's mean local autocorrelation of the onset envelope.

Writes ``texture_study.csv`` (``config,kl,max_xcorr``), ``texture_study.png``,
``texture_study.json`` and (``--save_audio``) one WAV per row into ``--output_dir``.

    python -m experiments.texture_study --output_dir=out/texture_study
    python -m experiments.texture_study --quick --output_dir=/tmp/ts
"""

from __future__ import annotations

import os
import platform
import sys
import time

from absl import app, flags

_SOURCE = flags.DEFINE_string(
    "source", None, "Source clip (default: the shipped mst_jax/data/style.flac)."
)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", ".", "Directory for texture_study.csv/.png/.json.")
_QUICK = flags.DEFINE_bool(
    "quick", False, "Reduced run: 1.5 s of the source, tiny nets, 10 iterations."
)
_MAX_ITER = flags.DEFINE_integer(
    "max_iter", None, "L-BFGS-B iterations per row (default 500; quick 10)."
)
_SEED = flags.DEFINE_integer(
    "seed", 0, "Seed of the network weights and the initial noise (all rows)."
)
_DURATION = flags.DEFINE_float(
    "duration", None, "Seconds of the source to use (default: all of it; quick 1.5)."
)
_OFFSET = flags.DEFINE_float("offset", 0.0, "Start of the source excerpt in seconds.")
_ROWS = flags.DEFINE_list("rows", ["1", "2", "3", "4", "5"], "Figure 4 rows to run (1-5).")
_GAMMA_STYLE = flags.DEFINE_float("gamma_style", 50.0, "Γ of every style term (Eq. 8).")
_SR = flags.DEFINE_integer("sr", 22050, "Sample rate in Hz.")
_STFT_FILTERS = flags.DEFINE_integer(
    "stft_filters", None, "STFT net filters (paper 4096; quick 32)."
)
_MEL_ROWS_STFT_KERNEL = flags.DEFINE_integer(
    "mel_rows_stft_kernel", 10, "STFT kernel of rows 3-5 (default 10: row 2's net)."
)
_MEL_FILTERS = flags.DEFINE_integer("mel_filters", None, "Mel net filters (paper 1025; quick 16).")
_MEL_KERNEL = flags.DEFINE_integer(
    "mel_kernel", None, "Mel first-layer kernel in frames (paper 50; quick 5)."
)
_MEL_BLOCK_KERNEL = flags.DEFINE_integer(
    "mel_block_kernel", None, "Mel residual-block kernel in frames (paper 25; quick 3)."
)
_N_MELS_MANY = flags.DEFINE_integer("n_mels_many", 512, "Mel bins of rows 4-5.")
_N_MELS_FEW = flags.DEFINE_integer("n_mels_few", 10, "Mel bins of row 3.")
_CHUNK = flags.DEFINE_integer("chunk", None, "Iterations per compiled chunk (default 25; quick 5).")
_SAVE_AUDIO = flags.DEFINE_bool("save_audio", True, "Write each texture as texture_row<N>.wav.")

ROW_NAMES = (
    "STFT K=5",
    "STFT K=10",
    "STFT + Mel 1 layer 10 bins",
    "STFT + Mel 1 layer 512 bins",
    "STFT + Mel 1 layer + 3 residual blocks 512 bins",
)
# SPEC §4, Figure 4: KL for the paper's two songs, per row; max |Φ| 0.010-0.013 in every row.
PAPER_KL = ((1.17, 2.08), (0.82, 2.72), (0.63, 1.86), (0.96, 1.99), (0.80, 0.80))
PAPER_SIZES = {"stft_filters": 4096, "mel_filters": 1025, "mel_kernel": 50, "mel_block_kernel": 25}
QUICK_SIZES = {"stft_filters": 32, "mel_filters": 16, "mel_kernel": 5, "mel_block_kernel": 3}


def _settings():
    quick = _QUICK.value
    sizes = dict(QUICK_SIZES if quick else PAPER_SIZES)
    for name, holder in (
        ("stft_filters", _STFT_FILTERS),
        ("mel_filters", _MEL_FILTERS),
        ("mel_kernel", _MEL_KERNEL),
        ("mel_block_kernel", _MEL_BLOCK_KERNEL),
    ):
        if holder.value is not None:
            sizes[name] = holder.value
    try:
        rows = sorted({int(r) for r in _ROWS.value})
    except ValueError:
        raise ValueError(f"--rows must be integers 1-5, got {','.join(_ROWS.value)}") from None
    if not rows or rows[0] < 1 or rows[-1] > 5:
        raise ValueError("--rows must be a non-empty list of integers 1-5")
    max_iter = _MAX_ITER.value if _MAX_ITER.value is not None else (10 if quick else 500)
    chunk = _CHUNK.value if _CHUNK.value is not None else (5 if quick else 25)
    duration = _DURATION.value if _DURATION.value is not None else (1.5 if quick else None)
    if max_iter < 1 or chunk < 1:
        raise ValueError("--max_iter and --chunk must be >= 1")
    if duration is not None and not duration > 0.1:
        raise ValueError(f"--duration={duration} must be longer than 0.1 s")
    return {
        "quick": quick,
        "sizes": sizes,
        "rows": rows,
        "max_iter": max_iter,
        "chunk": chunk,
        "duration_s": duration,
    }


def row_config(row: int, sizes: dict, gamma: float):
    """The texture LossConfig of Figure 4's row ``row`` (1-5): style terms only."""
    from mst_jax.config import LossConfig, MelNetConfig, StftNetConfig, Term

    kernel = {1: 5, 2: 10}.get(row, _MEL_ROWS_STFT_KERNEL.value)
    terms = [Term("style", StftNetConfig(filters=sizes["stft_filters"], kernel=kernel), gamma)]
    if row >= 3:
        mel = MelNetConfig(
            n_mels=_N_MELS_FEW.value if row == 3 else _N_MELS_MANY.value,
            blocks=3 if row == 5 else 0,
            filters=sizes["mel_filters"],
            kernel=sizes["mel_kernel"],
            block_kernel=sizes["mel_block_kernel"],
        )
        terms.append(Term("style", mel, gamma))
    return LossConfig(terms=tuple(terms))


def _plot(path, results, source_hist, source_ac, bins, sr, hop, s):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from experiments import _study

    n = len(results)
    fig, axes = plt.subplots(
        n, 2, figsize=(10, 2.1 * n + 0.6), squeeze=False, constrained_layout=True
    )
    centers = 0.5 * (bins[:-1] + bins[1:])
    width = bins[1] - bins[0]
    for ax_row, r in zip(axes, results):
        a, b = ax_row
        a.bar(centers, source_hist, width=width, color="0.75", label="source")
        a.bar(centers, r["hist"], width=width * 0.5, color="tab:blue", label="texture")
        a.set_title(f"{r['config']}: KL={r['kl']:.2f}", fontsize=8)
        a.set_xlim(bins[0], bins[-1])
        a.set_ylabel("p", fontsize=7)
        lags, ac = r["autocorr"]
        b.plot(np.asarray(source_ac[0]) * hop / sr, source_ac[1], color="0.6", lw=1, label="source")
        b.plot(np.asarray(lags) * hop / sr, ac, color="tab:red", lw=1, label="texture")
        b.set_title(f"mean local autocorrelation, max|Φ|={r['max_xcorr']:.4f}", fontsize=8)
        b.set_ylim(-0.05, 1.05)
        for ax in (a, b):
            ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    axes[0][1].legend(fontsize=7)
    axes[-1][0].set_xlabel("inter-onset interval (beats at the source tempo)", fontsize=8)
    axes[-1][1].set_xlabel("lag (s)", fontsize=8)
    fig.suptitle(
        f"Texture study (Fig. 4): {s['max_iter']} iterations{', quick' if s['quick'] else ''}",
        fontsize=9,
    )
    _study.save_figure(fig, path)


def _fail(message: str):
    """Exits with status 1 and a one-line message (SPEC §3)."""
    raise SystemExit(f"texture_study: error: {message}")


def main(argv):
    if len(argv) > 1:
        _fail(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        s = _settings()
    except ValueError as e:
        _fail(str(e))
    out_dir = _OUTPUT_DIR.value

    import jax
    import numpy as np

    from experiments import _study
    from mst_jax import audio, losses, metrics, music, synthesis
    from mst_jax.config import SolverConfig

    source_path = _SOURCE.value or str(music.example_path("style"))
    _study.prepare_output_dir("texture_study", out_dir, ("texture_study.csv", "texture_study.png", "texture_study.json"))
    sr = _SR.value
    notices: list[str] = []
    try:
        source = audio.load(
            source_path,
            sr=sr,
            offset_s=_OFFSET.value,
            duration_s=s["duration_s"],
            normalize=True,
            notices=notices,
        )
    except audio.AudioError as e:
        _fail(str(e))
    t_start = time.perf_counter()
    print(f"[texture_study] {_study.device_line()}", flush=True)
    for n in notices:
        print(f"[texture_study] notice: {n}", flush=True)
    print(f"[texture_study] source {source_path}: {len(source) / sr:.2f} s at {sr} Hz", flush=True)

    hop = 512  # onset-envelope hop, as the STFT (SPEC §1)
    ioi_src, tempo = metrics.inter_onset_intervals_beats(source, sr=sr, hop_length=hop)
    source_hist = metrics.ioi_histogram(ioi_src)
    source_ac = metrics.mean_local_autocorrelation(source, sr=sr, hop_length=hop)
    print(f"[texture_study] source tempo {tempo:.1f} bpm, {len(ioi_src) + 1} onsets", flush=True)

    key = jax.random.PRNGKey(_SEED.value)
    weights_key, noise_key = jax.random.split(key)
    noise = synthesis.init_noise(noise_key, len(source))
    solver = SolverConfig(max_iter=s["max_iter"], chunk=s["chunk"])
    results = []
    for row in s["rows"]:
        name = ROW_NAMES[row - 1]
        config = row_config(row, s["sizes"], _GAMMA_STYLE.value)
        t0 = time.perf_counter()
        objective = losses.build(
            config, weights_key, style=source, sr=sr, num_samples=len(source), init_wave=noise
        )

        def progress(info, row=row):
            print(
                f"[texture_study] row {row} iteration {info['iteration']}/{s['max_iter']}: "
                f"loss {info['loss']:.4g}, {info['seconds_per_iteration']:.3f} s/iteration",
                flush=True,
            )

        res = synthesis.synthesize(
            objective, noise, max_iter=s["max_iter"], solver=solver, on_chunk=progress
        )
        wave = np.asarray(res.wave, np.float64)
        peak = np.max(np.abs(wave))
        texture = wave / peak if peak > 0 else wave
        ioi_tex, _ = metrics.inter_onset_intervals_beats(
            texture, sr=sr, hop_length=hop, tempo_bpm=tempo
        )
        hist = metrics.ioi_histogram(ioi_tex)
        kl = metrics.kl_divergence(source_hist, hist)
        xc, lag = metrics.max_normalized_xcorr(texture, source)
        rf = config.receptive_field_frames
        results.append(
            {
                "row": row,
                "config": name,
                "kl": kl,
                "max_xcorr": xc,
                "xcorr_lag_samples": lag,
                "intervals": len(ioi_tex),
                "hist": hist,
                "autocorr": metrics.mean_local_autocorrelation(texture, sr=sr, hop_length=hop),
                "receptive_field_frames": rf,
                "receptive_field_s": rf * config.stft.hop_length / sr,
                "beta": {k: float(v) for k, v in objective.params["beta"].items()},
                "final_loss": float(res.loss_history[-1])
                if len(res.loss_history)
                else float("nan"),
                "stop_reason": res.stop_reason,
                "seconds": time.perf_counter() - t0,
                "seconds_per_iteration": res.seconds_per_iteration,
            }
        )
        print(
            f"[texture_study] row {row} '{name}': KL(source‖texture)={kl:.3f}, max|Φ|={xc:.4f} "
            f"(lag {lag}), receptive field {rf} frames, {res.stop_reason}, {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        if _SAVE_AUDIO.value:
            audio.save(
                os.path.join(out_dir, f"texture_row{row}.wav"), texture.astype(np.float32), sr=sr
            )

    _study.write_csv(
        os.path.join(out_dir, "texture_study.csv"),
        ("config", "kl", "max_xcorr"),
        [(r["config"], r["kl"], r["max_xcorr"]) for r in results],
    )
    _plot(
        os.path.join(out_dir, "texture_study.png"),
        results,
        source_hist,
        source_ac,
        metrics.IOI_BINS,
        sr,
        hop,
        s,
    )

    header = ["row", "config", "RF (s)", "KL", "max|Φ|", "paper KL (song 1 / 2)"]
    table = [
        [
            r["row"],
            r["config"],
            r["receptive_field_s"],
            r["kl"],
            f"{r['max_xcorr']:.4f}",
            "{:.2f} / {:.2f}".format(*PAPER_KL[r["row"] - 1]),
        ]
        for r in results
    ]
    print(
        "\n[texture_study] KL(source‖texture) of IOI histograms (nats) and max |Φ| (paper: 0.010-0.013)"
    )
    print(_study.format_table(header, table))
    holds, text = _study.texture_claim(results)
    verdict = {True: "HOLDS", False: "DOES NOT HOLD", None: "not evaluated"}[holds]
    print(
        f"[texture_study] claim 'a longer receptive field lowers the KL without raising max|Φ|': {verdict}"
    )
    print(f"  {text}")
    kls = [r["kl"] for r in results]
    if len(results) >= 3:
        rf_rank = np.argsort(
            np.argsort([r["receptive_field_frames"] + 1e-3 * r["row"] for r in results])
        )
        kl_rank = np.argsort(np.argsort(kls))
        rho = float(np.corrcoef(rf_rank, kl_rank)[0, 1])
        print(f"  Spearman rank correlation of receptive field and KL over the rows: {rho:+.2f}")

    wall = time.perf_counter() - t_start
    record = {
        "flags": {
            f.name: f.value for f in flags.FLAGS.get_key_flags_for_module(sys.modules[__name__])
        },
        "resolved": s,
        "source": source_path,
        "source_tempo_bpm": tempo,
        "source_hist": source_hist,
        "ioi_bins_beats": metrics.IOI_BINS,
        "kl_direction": "KL(source || texture), nats",
        "versions": {
            "python": platform.python_version(),
            "jax": jax.__version__,
            "numpy": np.__version__,
        },
        "device": _study.device_line(),
        "solver": repr(solver),
        "rows": [{k: v for k, v in r.items() if k != "autocorr"} for r in results],
        "claim_holds": holds,
        "claim": text,
        "wall_seconds": wall,
    }
    audio.save_json(os.path.join(out_dir, "texture_study.json"), record)
    print(
        f"[texture_study] wrote texture_study.csv, .png, .json to {out_dir} in {wall:.1f} s",
        flush=True,
    )


if __name__ == "__main__":
    app.run(main)
