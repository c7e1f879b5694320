"""The paper's texture study (§4.1, Figure 4), with seeds, long sources and an identity check.

Five texture syntheses (style terms only, no content) of each source, each row adding
receptive field in time:

1. ``STFT K=5``: STFT net, kernel 5 frames.
2. ``STFT K=10``: kernel 10.
3. ``STFT + Mel 1 layer 10 bins``: row 2 plus a one-layer Mel net on 10 Mel bins (kernel 50).
4. ``STFT + Mel 1 layer 512 bins``: the same on 512 bins.
5. ``STFT + Mel 1 layer + 3 residual blocks 512 bins``: plus 3 dilated residual blocks
   (dilations 2, 4, 8, kernel 25: 386 frames, 8.96 s), blocks as released (SPEC §1).

Rows 3-5 keep row 2's STFT net (K=10), so each row changes one thing. Every style term has
Γ 50, calibrated by Eq. 7-8 at the initial noise.

Protocol (issue 13):

* **Sources** (``--source``, a list): ``drums``, a 31 s drum-kit groove with fills (two
  grooves, snare and tom fills, crashes), and ``band``, a 30 s band loop (drums, bass,
  electric piano, strings and a lead over Am-F-C-G, two sections), both note data in
  :data:`mst_jax.scores.PIECES` (``drum_groove_fills``, ``band_loop``) rendered with FluidSynth; or any audio file soundfile reads.
* **Lengths.** Every row's receptive field must be shorter than the source and the texture
  at least twice as long as the longest receptive field (checked before anything runs; the
  texture has the source's length unless ``--texture_duration``).
* **Seeds** (``--seeds``, default 0,1,2): each draws the network weights and the initial
  noise. Cells are mean ± sd over seeds of the KL and of max |Φ|.
* **Identity check**: the same metrics for a second rendering of the source (the same notes,
  velocities and timing humanised by the seed; for an audio file, the file itself), so the KL
  and max |Φ| scales can be read: what "as close as a re-performance" looks like.
* **Verdict** (:func:`experiments.study_analysis.texture_claim`): only where a difference exceeds
  the spread over seeds (:data:`experiments.study_analysis.VERDICT_RULE`).

Metrics per texture (:mod:`mst_jax.metrics`): inter-onset intervals of source and texture in
beats at the source's tempo (librosa's estimate on the source); their histograms (32 bins of
1/8 beat on [0, 4]); KL(source ‖ texture) in nats; ``max |Φ|``, the maximum normalised
cross-correlation between texture and source (computed on the peak-normalised texture); and
the mean local autocorrelation of the onset envelope, averaged over seeds in the figure.

Writes into ``--output_dir``: ``texture_study.csv`` (``source,config,seed,kl,max_xcorr``),
``texture_study_summary.csv`` (mean, sd, n, receptive field, the paper's KL),
``texture_study.png`` (KL and max |Φ| with ±1 sd bars beside the paper's KL, and the mean local
autocorrelation curves), ``texture_study.json`` and (``--save_audio``) the textures as WAV.

    python -m experiments.texture_study --output_dir=out/texture_study
    python -m experiments.texture_study --source=song.wav --output_dir=out/ts_song
    python -m experiments.texture_study --quick --output_dir=/tmp/ts
"""

from __future__ import annotations

import os
import time

from absl import app, flags

from experiments import _flags, _study, console, study_analysis, study_figures
from mst_jax.scores import TEXTURE_SOURCES as NOTE_SOURCES  # --source name -> piece

_SOURCE = flags.DEFINE_list(
    "source", ["drums", "band"], "Sources: drums, band (note data rendered here) or audio files."
)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", ".", "Directory for texture_study.csv/_summary.csv/.png/.json.")
_QUICK = flags.DEFINE_bool(
    "quick", False, "Reduced run: drums only, 3 s of it, tiny nets, 6 iterations, 3 seeds."
)
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds: each draws the network weights and the initial noise.")
_DURATION = flags.DEFINE_float("duration", None, "Seconds of each source to use (default: all; quick 3).")
_OFFSET = flags.DEFINE_float("offset", 0.0, "Start of the source excerpt in seconds (audio files).")
_TEXTURE_DURATION = flags.DEFINE_float(
    "texture_duration", None, "Texture length in seconds (default: the source's length)."
)
_ROWS = flags.DEFINE_list("rows", ["1", "2", "3", "4", "5"], "Figure 4 rows to run (1-5).")
_GAMMA_STYLE = flags.DEFINE_float("gamma_style", 50.0, "Γ of every style term (Eq. 8).")
_MEL_ROWS_STFT_KERNEL = flags.DEFINE_integer(
    "mel_rows_stft_kernel", 10, "STFT kernel of rows 3-5 (default 10: row 2's net)."
)
_N_MELS_MANY = flags.DEFINE_integer("n_mels_many", 512, "Mel bins of rows 4-5.")
_N_MELS_FEW = flags.DEFINE_integer("n_mels_few", 10, "Mel bins of row 3.")
_SAVE_AUDIO = flags.DEFINE_bool("save_audio", True, "Write each texture as <source>_row<N>_seed<S>.wav.")

USED_SHARED = (
    *_flags.STUDY_SOLVER_FLAGS,
    _flags.STFT_FILTERS,
    _flags.MEL_FILTERS,
    _flags.MEL_KERNEL,
    _flags.MEL_BLOCK_KERNEL,
    _flags.MATMUL_PRECISION,
    _flags.COMPILATION_CACHE_DIR,
)
for _holder in USED_SHARED:
    flags.declare_key_flag(_holder.name)

SCRIPT = "texture_study"
ROW_NAMES = (
    "STFT K=5",
    "STFT K=10",
    "STFT + Mel 1 layer 10 bins",
    "STFT + Mel 1 layer 512 bins",
    "STFT + Mel 1 layer + 3 residual blocks 512 bins",
)
IDENTITY = "identity"  # the source re-rendered (humanised by the seed); an audio file: itself
# SPEC §4, Figure 4: KL for the paper's two songs, per row; max |Φ| 0.010-0.013 in every row.
PAPER_KL = ((1.17, 2.08), (0.82, 2.72), (0.63, 1.86), (0.96, 1.99), (0.80, 0.80))
PAPER_SIZES = {"stft_filters": 4096, "mel_filters": 1025, "mel_kernel": 50, "mel_block_kernel": 25}
QUICK_SIZES = {"stft_filters": 16, "mel_filters": 8, "mel_kernel": 5, "mel_block_kernel": 3}
OUTPUTS = (
    "texture_study.csv", "texture_study_summary.csv", "texture_study.png", "texture_study.json",
    "texture_study.html",
)
HOP = 512  # onset-envelope hop, as the STFT (SPEC §1)

# --------------------------------------------------------------------------- flags


def settings() -> dict:
    """The flags resolved and validated; ValueError (one line, naming the flag) otherwise."""
    quick = _QUICK.value
    sizes = _study.shared_settings(SCRIPT, USED_SHARED, QUICK_SIZES if quick else PAPER_SIZES)
    try:
        rows = sorted({int(r) for r in _ROWS.value})
    except ValueError:
        raise ValueError(f"--rows={','.join(_ROWS.value)}: rows must be integers 1-5") from None
    if not rows or rows[0] < 1 or rows[-1] > 5:
        raise ValueError(f"--rows={','.join(_ROWS.value)}: give a non-empty list of integers 1-5")
    sources = list(_SOURCE.value) if flags.FLAGS["source"].present or not quick else ["drums"]
    if not sources or len(set(sources)) != len(sources):
        raise ValueError("--source: give a non-empty list without repeats")
    for src in sources:
        if src not in NOTE_SOURCES and not os.path.isfile(src):
            raise ValueError(f"--source={src}: neither {' nor '.join(NOTE_SOURCES)} nor an audio file")
    max_iter = _flags.MAX_ITER.value if _flags.MAX_ITER.value is not None else (6 if quick else 500)
    chunk = _flags.CHUNK.value if flags.FLAGS["chunk"].present else (3 if quick else 25)
    duration = _DURATION.value if _DURATION.value is not None else (3.0 if quick else None)
    if max_iter < 1 or chunk < 1:
        raise ValueError("--max_iter and --chunk must be >= 1")
    for name, v in (("duration", duration), ("texture_duration", _TEXTURE_DURATION.value)):
        if v is not None and not v > 0.1:
            raise ValueError(f"--{name}={v} must be longer than 0.1 s")
    if _OFFSET.value < 0:
        raise ValueError(f"--offset={_OFFSET.value} must be >= 0")
    if not _GAMMA_STYLE.value > 0:
        raise ValueError(f"--gamma_style={_GAMMA_STYLE.value} must be > 0")
    return {
        "quick": quick,
        "sizes": sizes,
        "rows": rows,
        "sources": sources,
        "seeds": _study.seeds_from_flag(_SEEDS.value),
        "max_iter": max_iter,
        "chunk": chunk,
        "tol": _flags.TOL.value,
        "sr": _study.checked_sr(),  # Figure 4's rows have no CQT net
        "duration_s": duration,
        "texture_duration_s": _TEXTURE_DURATION.value,
        "output_dir": _OUTPUT_DIR.value,
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


# --------------------------------------------------------------------------- the study


def load_source(name: str, s: dict, notices: list):
    """``(waveform, label, second_rendering(seed) -> waveform)`` of one ``--source`` entry."""
    import numpy as np

    from mst_jax import audio, music, notes, scores

    sr = s["sr"]
    if name in NOTE_SOURCES:
        piece = scores.PIECES[NOTE_SOURCES[name]]
        parts, bpm, beats = piece.parts, piece.bpm, piece.beats
        length = beats * 60.0 / bpm if s["duration_s"] is None else s["duration_s"]

        def render(p):
            w = music.render(p, sr=sr, bpm=bpm, duration_s=length, notices=notices)
            peak = float(np.max(np.abs(w)))
            return (w / peak if peak > 0 else w).astype(np.float32)

        return render(parts), f"{name} ({bpm:g} bpm note data)", lambda seed: render(notes.humanize(parts, 1000 + seed))
    try:
        wave = audio.load(name, sr=sr, offset_s=_OFFSET.value, duration_s=s["duration_s"], normalize=True, notices=notices)
    except audio.AudioError as e:
        raise console.RunError(f"--source={name}: {' '.join(str(e).split())}") from None
    return wave, name, lambda seed: wave


def body(s: dict, should_stop) -> int:
    import numpy as np

    from mst_jax import losses, metrics, synthesis, writing
    from mst_jax.config import SolverConfig

    out_dir = s["output_dir"]
    _study.prepare_output_dir(out_dir, OUTPUTS)
    t_start = time.perf_counter()
    sr, seeds, rows = s["sr"], s["seeds"], s["rows"]
    notices: list[str] = []
    configs = {row: row_config(row, s["sizes"], _GAMMA_STYLE.value) for row in rows}
    rf_s = {row: c.receptive_field_frames * c.stft.hop_length / sr for row, c in configs.items()}
    sources = {}
    for name in s["sources"]:
        wave, label, second = load_source(name, s, notices)
        src_s = len(wave) / sr
        tex_s = s["texture_duration_s"] or src_s
        longest = max(rf_s.values())
        if max(rf_s.values()) >= src_s:
            raise console.RunError(
                f"--source={name}: {src_s:.2f} s is not longer than the longest receptive field ({longest:.2f} s, row "
                f"{max(rf_s, key=rf_s.get)}); use a longer source or --duration"
            )
        if tex_s < 2 * longest:
            raise console.RunError(
                f"--texture_duration: {tex_s:.2f} s is shorter than twice the longest receptive field ({longest:.2f} s)"
            )
        sources[name] = {"wave": wave, "label": label, "second": second, "texture_samples": int(round(tex_s * sr))}
    for n in dict.fromkeys(notices):
        console.notice(n)

    solver = SolverConfig(max_iter=s["max_iter"], chunk=s["chunk"], tol=s["tol"])
    progress = _study.Progress(SCRIPT, len(sources) * len(rows) * len(seeds) * s["max_iter"])
    results = []  # one dict per (source, row or identity, seed)
    source_stats = {}
    for name, src in sources.items():
        source = src["wave"]
        ioi_src, tempo = metrics.inter_onset_intervals_beats(source, sr=sr, hop_length=HOP)
        source_hist = metrics.ioi_histogram(ioi_src)
        source_stats[name] = {
            "label": src["label"],
            "seconds": len(source) / sr,
            "tempo_bpm": tempo,
            "onsets": len(ioi_src) + 1,
            "hist": source_hist,
            "autocorr": metrics.mean_local_autocorrelation(source, sr=sr, hop_length=HOP),
        }
        print(
            f"{SCRIPT}: source {name}: {src['label']}, {len(source) / sr:.2f} s, tempo {tempo:.1f} bpm, "
            f"{len(ioi_src) + 1} onsets; texture {src['texture_samples'] / sr:.2f} s",
            flush=True,
        )
        for seed in seeds:
            r = study_analysis.texture_scores(src["second"](seed), source, sr=sr, hop_length=HOP, tempo=tempo, source_hist=source_hist)
            results.append({"source": name, "row": 0, "config": IDENTITY, "seed": seed, **r})
        for row in rows:
            config = configs[row]
            for seed in seeds:
                weights_key, noise_key = _study.seed_keys(seed)
                t0 = time.perf_counter()
                noise = synthesis.init_noise(noise_key, src["texture_samples"])
                objective = losses.build(
                    config, weights_key, style=source, sr=sr, num_samples=src["texture_samples"], init_wave=noise
                )
                label = f"{name} row {row} seed {seed}"
                on_chunk, finish = progress.run(
                    label,
                    lambda info: f"iteration {info['iteration']}/{s['max_iter']}  loss {info['loss']:.4g}  "
                    f"{info['seconds_per_iteration']:.3g} s/iteration",
                )
                res = synthesis.synthesize(
                    objective, noise, max_iter=s["max_iter"], solver=solver, on_chunk=on_chunk, should_stop=should_stop
                )
                if res.stop_reason == "interrupted":
                    raise console.RunError("interrupted: nothing written", 130)
                finish(s["max_iter"])
                r = study_analysis.texture_scores(res.wave, source, sr=sr, hop_length=HOP, tempo=tempo, source_hist=source_hist)
                results.append({
                    "source": name, "row": row, "config": ROW_NAMES[row - 1], "seed": seed, **r,
                    "receptive_field_frames": config.receptive_field_frames,
                    "receptive_field_s": rf_s[row],
                    "beta": {k: float(v) for k, v in objective.params["beta"].items()},
                    "final_loss": float(res.loss_history[-1]) if len(res.loss_history) else float("nan"),
                    "stop_reason": res.stop_reason,
                    "seconds": time.perf_counter() - t0,
                })
                print(
                    f"{SCRIPT}: {label}: KL={r['kl']:.3f}, max|Φ|={r['max_xcorr']:.4f}, receptive field "
                    f"{rf_s[row]:.2f} s, {res.stop_reason}, {time.perf_counter() - t0:.1f} s",
                    flush=True,
                )
                if _SAVE_AUDIO.value:
                    wave = np.asarray(res.wave, np.float32)
                    writing.save(os.path.join(out_dir, f"{os.path.basename(name)}_row{row}_seed{seed}.wav"), wave, sr=sr, normalize=True)

    _study.write_csv(
        os.path.join(out_dir, "texture_study.csv"),
        ("source", "config", "seed", "kl", "max_xcorr"),
        [(r["source"], r["config"], r["seed"], r["kl"], r["max_xcorr"]) for r in results],
    )
    summary = study_analysis.texture_summary(results, rf_s, paper_kl=PAPER_KL)
    _study.write_csv(
        os.path.join(out_dir, "texture_study_summary.csv"),
        ("source", "config", "kl_mean", "kl_sd", "max_xcorr_mean", "max_xcorr_sd", "n", "receptive_field_s", "paper_kl"),
        [tuple(d.values()) for d in summary],
    )
    study_figures.texture_figure(
        os.path.join(out_dir, "texture_study.png"), results, summary, source_stats, row_names=ROW_NAMES,
        identity=IDENTITY, hop_length=HOP, sr=sr,
        title=f"Texture study (Fig. 4): {s['max_iter']} iterations, seeds {','.join(map(str, seeds))}"
        + (", quick" if s["quick"] else ""),
    )

    claims = {}
    print(f"\n{SCRIPT}: KL(source‖texture) of IOI histograms (nats) and max |Φ|, mean ± sd over seeds "
          "(paper: max |Φ| 0.010-0.013)")
    for name in sources:
        print(f"[{name}]")
        print(study_analysis.texture_table(summary, name))
        cells = {
            row: {k: [r[k] for r in results if r["source"] == name and r["row"] == row] for k in ("kl", "max_xcorr")}
            for row in rows
        }
        holds, text = study_analysis.texture_claim(cells)
        claims[name] = {"holds": holds, "text": text}
        verdict = study_analysis.verdict_word(holds)
        print(f"{SCRIPT}: [{name}] claim 'a longer receptive field lowers the KL without raising max|Φ|': {verdict}")
        print(f"  {text}")
    print(f"  rule: {study_analysis.VERDICT_RULE}")

    _study.finish(
        out_dir, SCRIPT, OUTPUTS, t_start, flags=_flags.flag_values(FLAG_HOLDERS), resolved=s, solver=solver,
        page_title="Texture receptive field (§4.1, Figure 4)",
        figure_alt="KL divergence of inter-onset-interval histograms and max cross-correlation per "
        "configuration, mean ± sd over seeds, and the mean local autocorrelation curves",
        note=" ".join(
            f"[{k}] claim 'a longer receptive field lowers the KL without raising max|Φ|': "
            f"{study_analysis.verdict_word(v['holds'])}. {v['text']}"
            for k, v in claims.items()
        )
        + f" Rule: {study_analysis.VERDICT_RULE}",
        sources={k: {kk: vv for kk, vv in v.items() if kk != "autocorr"} for k, v in source_stats.items()},
        ioi_bins_beats=metrics.IOI_BINS,
        kl_direction="KL(source || texture), nats",
        runs=[{k: v for k, v in r.items() if k != "autocorr"} for r in results],
        summary=summary,
        claims=claims,
        notices=list(dict.fromkeys(notices)),
    )
    return 0


FLAG_HOLDERS = (
    _SOURCE, _OUTPUT_DIR, _QUICK, _SEEDS, _DURATION, _OFFSET, _TEXTURE_DURATION, _ROWS, _GAMMA_STYLE,
    _MEL_ROWS_STFT_KERNEL, _N_MELS_MANY, _N_MELS_FEW, _SAVE_AUDIO, *USED_SHARED,
)


def main(argv):
    _study.run(argv, SCRIPT, settings, body, _flags.flag_values(FLAG_HOLDERS))


if __name__ == "__main__":
    app.run(main, flags_parser=_flags.parse)
