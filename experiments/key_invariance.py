"""The paper's key-invariance study (§4.2, Figure 5), with seeds and a verdict rule.

The opening of "The Star-Spangled Banner" (melody and accompaniment, piano, FluidSynth or the
numpy fallback) is rendered at 13 transpositions (-6..+6 semitones) as 4 s clips, each
peak-normalised. For every offset and every content representation (``stft``; ``mel`` with 10
bins; ``cqt`` with a 2 x 1 frequency max-pool; ``cqt+mel``; and the control ``style_only``, no
content term at all) a style transfer runs with the original key as content and the transposed
clip as style, and the result is scored by the MSE between its log-magnitude STFT and the
style's (:func:`mst_jax.metrics.log_stft_mse`). A key-invariant content representation lets the
result take the style's key, so its error should be lower.

Protocol (issue 13):

* **Identity first.** Offset 0 (content = style) must reach the paper's regime, a mean
  offset-0 MSE of the ``stft`` row <= 0.06 (Fig. 5: 0.031-0.062), or no verdict is given: run
  ``--offsets=0`` first and pick ``--max_iter`` by it, not by the clock.
* **Equal content weight.** Every row's content terms share one total Γ (``--gamma_content``,
  default 1): ``cqt+mel`` gives each of its two terms Γ ½. Style terms Γ 50 each (SPEC §1).
  Eq. 7-8 calibration at the initial noise (:func:`mst_jax.batch.calibrate`).
* **Control.** ``style_only`` (content Γ 0): where a content row is no nearer the content than
  this, its content term did nothing.
* **Seeds.** ``--seeds`` (default 0,1,2): each seed draws the network weights and the initial
  noise (``PRNGKey(seed)`` split in two). Cells are mean ± sd over seeds, the ± offset pairs
  pooled within a seed first (as Fig. 5 pools them).
* **Verdict** (:func:`experiments.study_analysis.key_invariance_claim`): only where a difference
  exceeds the spread: two means differ by more than the sum of their standard deviations
  over seeds; with one seed there is no verdict.
* **MSE on the raw result** (the optimiser's output, within [-1, 1]), not the peak-normalised
  one: the loss itself sets the result's level (its features match a peak-normalised content
  and style), while peak normalisation rescales it by a gain set by one sample, and log1p is
  level-dependent, so that gain adds an error unrelated to the key. Measured on the identity
  task (STFT content + style, 4 s, seed 0): 512 filters, 2825 iterations: raw 0.038,
  normalised 0.077; 1024 filters, 2325 iterations: raw 0.031, normalised 0.062; 2048 filters,
  1825 iterations: raw 0.024, normalised 0.030. Both are in the run record (``mse``,
  ``mse_normalised``); the saved audio is normalised.

Style representation: the STFT net (Table 1, column 1), the same in every run, so the content
representation is the only thing that changes. ``--style_terms`` offers the other columns.

Batching: runs that share one objective configuration and one seed differ only in their
style grams and β, so they are stacked (:func:`mst_jax.batch.stack`) and run by
:func:`mst_jax.batch_synthesis.synthesize_batch`, ``--batch_size`` at a time (0: all), one compiled
program per group and seed. ``--group=representation`` (default): one objective per content
representation, its offsets batched; ``all`` (default with ``--quick``): one objective with
every content term, a run switching those it does not use off with Γ 0.

Writes into ``--output_dir``: ``key_invariance.csv`` (``offset,representation,seed,mse``),
``key_invariance_summary.csv`` (``offset,representation,mean,sd,n,paper``, |offset| pooled),
``key_invariance.png`` (ours with ±1 sd bars beside the paper's values) and
``key_invariance.json`` (flags, sizes, per-run β, losses, MSE to the content, timings).
Exit status as the other scripts (``experiments._runner``): 2 with one ``error:`` line on bad
flags.

    python -m experiments.key_invariance --offsets=0 --output_dir=out/ki_identity
    python -m experiments.key_invariance --output_dir=out/key_invariance
    python -m experiments.key_invariance --quick --output_dir=/tmp/ki
"""

from __future__ import annotations

import os
import time

from absl import app, flags

from experiments import _flags, _study, console, study_analysis, study_figures

_OUTPUT_DIR = flags.DEFINE_string("output_dir", ".", "Directory for key_invariance.csv/_summary.csv/.png/.json.")
_QUICK = flags.DEFINE_bool(
    "quick", False, "Reduced run: offsets -1,0,1, 1 s clips, tiny nets, 6 iterations, 3 seeds."
)
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds: each draws the network weights and the initial noise.")
_DURATION = flags.DEFINE_float("duration", None, "Clip length in seconds (default 4; quick 1).")
_OFFSETS = flags.DEFINE_list(
    "offsets", None, "Semitone offsets of the style (default -6..6; quick -1,0,1). Run 0 alone first."
)
_REPRESENTATIONS = flags.DEFINE_list(
    "representations",
    ["stft", "mel", "cqt", "cqt+mel", "style_only"],
    "Content representations; style_only is the control without a content term.",
)
_STYLE_TERMS = flags.DEFINE_enum(
    "style_terms",
    "stft",
    ["stft", "stft+mel", "ensemble"],
    "Style representation (Table 1 columns): stft; stft+mel (1 layer, 512 bins); ensemble "
    "(stft + mel 1+2 residual + cqt 1+3 residual).",
)
_GAMMA_CONTENT = flags.DEFINE_float(
    "gamma_content", 1.0, "Total Γ of a row's content terms, split equally among them (Eq. 8)."
)
_GAMMA_STYLE = flags.DEFINE_float("gamma_style", 50.0, "Γ of every style term (Eq. 8).")
_BPM = flags.DEFINE_float("bpm", 120.0, "Tempo of the rendered melody.")
_ACCOMPANIMENT = flags.DEFINE_bool("accompaniment", True, "Add the bass and triads to the melody.")
_GROUP = flags.DEFINE_enum(
    "group",
    None,
    ["all", "representation"],
    "Runs sharing one objective: all (every content term, unused ones at Γ 0: one compilation "
    "per seed) or representation (one objective per row). Default: all with --quick.",
)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 0, "Runs per vmapped batch within a group (0: the whole group).")
_SAVE_AUDIO = flags.DEFINE_bool("save_audio", False, "Also write every clip and result as WAV.")

# Shared flags this script reads (experiments._flags); any other shared flag is refused.
USED_SHARED = (
    *_flags.STUDY_SOLVER_FLAGS,
    _flags.STFT_FILTERS,
    _flags.STFT_KERNEL,
    _flags.MEL_FILTERS,
    _flags.MEL_KERNEL,
    _flags.MEL_BLOCK_KERNEL,
    _flags.N_MELS_CONTENT,
    _flags.N_MELS_STYLE,
    _flags.CQT_FILTERS,
    _flags.CQT_KERNEL,
    _flags.CQT_POOL,
    _flags.GAMMAS["l1"],
    _flags.MATMUL_PRECISION,
    _flags.COMPILATION_CACHE_DIR,
)
for _holder in USED_SHARED:
    flags.declare_key_flag(_holder.name)

SCRIPT = "key_invariance"
REPRESENTATIONS = ("stft", "mel", "cqt", "cqt+mel")
CONTROL = study_analysis.CONTROL
# SPEC §4, Figure 5 read off the chart: |offset| -> (stft, mel, cqt, cqt+mel).
PAPER = {
    0: (0.053, 0.031, 0.062, 0.052),
    1: (0.345, 0.18, 0.26, 0.20),
    2: (0.33, 0.26, 0.265, 0.237),
    3: (0.365, 0.255, 0.21, 0.30),
    4: (0.277, 0.243, 0.208, 0.23),
    5: (0.29, 0.22, 0.222, 0.20),
    6: (0.32, 0.265, 0.20, 0.268),
}
PAPER_SIZES = {
    "stft_filters": 4096, "stft_kernel": 11, "mel_filters": 1025, "mel_kernel": 50, "mel_block_kernel": 25,
    "n_mels_style": 512, "cqt_filters": 256, "cqt_kernel": 11,
}
QUICK_SIZES = {
    "stft_filters": 16, "stft_kernel": 3, "mel_filters": 8, "mel_kernel": 5, "mel_block_kernel": 3,
    "n_mels_style": 32, "cqt_filters": 4, "cqt_kernel": 3,
}
OUTPUTS = (
    "key_invariance.csv", "key_invariance_summary.csv", "key_invariance.png", "key_invariance.json",
    "key_invariance.html",
)


def settings() -> dict:
    """The flags resolved and validated; ValueError (one line, naming the flag) otherwise."""
    quick = _QUICK.value
    sizes = _study.shared_settings(SCRIPT, USED_SHARED, QUICK_SIZES if quick else PAPER_SIZES)
    if _OFFSETS.value is None:
        offsets = [-1, 0, 1] if quick else list(range(-6, 7))
    else:
        try:
            offsets = [int(v) for v in _OFFSETS.value]
        except ValueError:
            raise ValueError(f"--offsets={','.join(_OFFSETS.value)}: offsets must be integers") from None
    if not offsets or len(set(offsets)) != len(offsets) or max(abs(o) for o in offsets) > 12:
        raise ValueError("--offsets must be a non-empty list of distinct integers within ±12")
    reps = list(_REPRESENTATIONS.value)
    known = REPRESENTATIONS + (CONTROL,)
    if not reps or any(r not in known for r in reps) or len(set(reps)) != len(reps):
        raise ValueError(f"--representations={','.join(reps)}: give distinct values among {','.join(known)}")
    max_iter = _flags.MAX_ITER.value if _flags.MAX_ITER.value is not None else (6 if quick else 500)
    duration = _DURATION.value if _DURATION.value is not None else (1.0 if quick else 4.0)
    chunk = _flags.CHUNK.value if flags.FLAGS["chunk"].present else (3 if quick else 25)
    if max_iter < 1 or chunk < 1:
        raise ValueError("--max_iter and --chunk must be >= 1")
    if not duration > 0.1:
        raise ValueError(f"--duration={duration} must be longer than 0.1 s")
    if _BATCH_SIZE.value < 0:
        raise ValueError(f"--batch_size={_BATCH_SIZE.value} must be >= 0")
    if not _GAMMA_CONTENT.value >= 0 or not _GAMMA_STYLE.value > 0:
        raise ValueError("--gamma_content must be >= 0 and --gamma_style > 0")
    gamma_l1 = _flags.GAMMAS["l1"].value or 0.0
    if gamma_l1 < 0:
        raise ValueError(f"--gamma_l1={gamma_l1} must be >= 0")
    n_mels = _flags.N_MELS_CONTENT.value or 10
    pool = _flags.CQT_POOL.value or 2
    s = {
        "group": _GROUP.value or ("all" if quick else "representation"),
        "quick": quick,
        "sizes": sizes,
        "offsets": offsets,
        "representations": reps,
        "seeds": _study.seeds_from_flag(_SEEDS.value),
        "max_iter": max_iter,
        "duration_s": duration,
        "chunk": chunk,
        "tol": _flags.TOL.value,
        "sr": None,  # below, once the configuration it must carry is known
        "gamma_l1": gamma_l1,
        "n_mels_content": n_mels,
        "cqt_pool": pool,
        "batch_size": _BATCH_SIZE.value,
        "output_dir": _OUTPUT_DIR.value,
    }
    s["sr"] = _study.checked_sr(
        [loss_config(s, reps)], remedy="--representations and --style_terms without a CQT net"
    )
    return s


def loss_config(s: dict, representations):
    """The LossConfig of a group of runs: every content term ``representations`` need (Γ set
    per run by :func:`experiments._study.content_gammas`), the style terms, and L1 (if Γ_L1 > 0)."""
    from mst_jax import presets
    from mst_jax.config import CqtNetConfig, LossConfig, MelNetConfig, StftNetConfig, Term

    z = s["sizes"]
    stft = StftNetConfig(filters=z["stft_filters"], kernel=z["stft_kernel"])
    content_nets = {
        "stft": stft,
        "mel": MelNetConfig(n_mels=s["n_mels_content"], blocks=0, filters=z["mel_filters"], kernel=z["mel_kernel"]),
        "cqt": CqtNetConfig(pool=s["cqt_pool"], blocks=0, filters=z["cqt_filters"], kernel=(z["cqt_kernel"],) * 2),
    }
    needed = sorted({p for r in representations if r != CONTROL for p in r.split("+")}, key=list(content_nets).index)
    terms = [Term("content", content_nets[r], _GAMMA_CONTENT.value) for r in needed]
    style = [Term("style", stft, _GAMMA_STYLE.value)]
    if _STYLE_TERMS.value in ("stft+mel", "ensemble"):
        blocks = 0 if _STYLE_TERMS.value == "stft+mel" else presets.MEL_STYLE_RES.blocks
        mel_style = MelNetConfig(
            n_mels=z["n_mels_style"],
            blocks=blocks,
            filters=z["mel_filters"],
            kernel=z["mel_kernel"],
            block_kernel=z["mel_block_kernel"],
        )
        style.append(Term("style", mel_style, _GAMMA_STYLE.value))
    if _STYLE_TERMS.value == "ensemble":
        k = (z["cqt_kernel"],) * 2
        style.append(
            Term(
                "style",
                CqtNetConfig(pool=1, blocks=presets.CQT_STYLE_RES.blocks, filters=z["cqt_filters"], kernel=k, block_kernel=k),
                _GAMMA_STYLE.value,
            )
        )
    extra = [Term("l1", None, s["gamma_l1"])] if s["gamma_l1"] > 0 else []
    return LossConfig(terms=tuple(terms + style + extra))


def body(s: dict, should_stop) -> int:
    import numpy as np

    from mst_jax import batch, batch_synthesis, devices, losses, music, synthesis, writing
    from mst_jax.config import SolverConfig

    out_dir = s["output_dir"]
    _study.prepare_output_dir(out_dir, OUTPUTS)
    t_start = time.perf_counter()
    sr, dur = s["sr"], s["duration_s"]
    notes = music.STAR_SPANGLED_BANNER + (music.STAR_SPANGLED_BANNER_ACCOMPANIMENT if _ACCOMPANIMENT.value else ())
    notices: list[str] = []
    clips = {}
    for off in sorted(set(s["offsets"]) | {0}):
        w = music.render(notes, sr=sr, bpm=_BPM.value, program=0, transpose=off, duration_s=dur, notices=notices)
        peak = float(np.max(np.abs(w)))
        clips[off] = (w / peak if peak > 0 else w).astype(np.float32)  # peak-normalise (SPEC §1)
    for n in dict.fromkeys(notices):
        console.notice(n)
    renderer = "additive fallback" if notices else "fluidsynth"
    print(f"{SCRIPT}: rendered {len(clips)} clips of {dur:g} s at {sr} Hz ({renderer})", flush=True)

    content = clips[0]
    offsets, reps, seeds = s["offsets"], s["representations"], s["seeds"]
    if s["group"] == "all":
        groups = [(loss_config(s, reps), [(r, o) for r in reps for o in offsets])]
    else:
        groups = [(loss_config(s, [r]), [(r, o) for o in offsets]) for r in reps]
    solver = SolverConfig(max_iter=s["max_iter"], chunk=s["chunk"], tol=s["tol"])
    sizes = [min(s["batch_size"] or len(g), len(g)) for _, g in groups]
    n_batches = [-(-len(g) // bs) for (_, g), bs in zip(groups, sizes)]
    progress = _study.Progress(SCRIPT, len(seeds) * sum(n_batches) * s["max_iter"])
    mesh = devices.batch_mesh()
    runs = []  # one dict per (seed, representation, offset)
    for si, seed in enumerate(seeds):
        weights_key, noise_key = _study.seed_keys(seed)
        noise = np.asarray(synthesis.init_noise(noise_key, len(content)))
        for gi, ((config, gruns), bs, nb) in enumerate(zip(groups, sizes, n_batches)):
            t0 = time.perf_counter()
            by_offset = {o: losses.build(config, weights_key, content=content, style=clips[o], sr=sr) for o in offsets}
            full = batch.stack([by_offset[o] for _, o in gruns])
            gammas = [_study.content_gammas(config, () if r == CONTROL else r.split("+"), _GAMMA_CONTENT.value) for r, _ in gruns]
            full = batch.calibrate(full, np.broadcast_to(noise, (full.size, noise.size)), mesh=mesh, gammas=gammas)
            print(
                f"{SCRIPT}: seed {seed} group {gi + 1}/{len(groups)}: {len(gruns)} runs, terms "
                + ", ".join(t.name for t in config.terms)
                + f"; objectives and Eq. 7-8 at the noise in {time.perf_counter() - t0:.1f} s",
                flush=True,
            )
            for b in range(nb):
                sel = list(range(b * bs, min((b + 1) * bs, len(gruns))))
                pad = sel + [sel[-1]] * (bs - len(sel))  # one batch size: one compiled program
                sub = batch.select(full, pad)
                label = f"seed {seed} ({si + 1}/{len(seeds)}) group {gi + 1}/{len(groups)} batch {b + 1}/{nb}"
                on_chunk, finish = progress.run(
                    label,
                    lambda info, m=len(sel): f"iteration {info['iteration']}/{s['max_iter']}  loss "
                    f"{np.nanmin(info['losses'][:m]):.4g}..{np.nanmax(info['losses'][:m]):.4g}  "
                    f"{info['seconds_per_iteration']:.3g} s/iteration (batched)",
                )
                results = batch_synthesis.synthesize_batch(
                    sub, np.broadcast_to(noise, (sub.size, noise.size)), max_iter=s["max_iter"], solver=solver,
                    mesh=mesh, on_chunk=on_chunk, should_stop=should_stop,
                )
                if any(res.stop_reason == "interrupted" for res in results):
                    raise console.RunError("interrupted: nothing written", 130)
                finish(s["max_iter"])
                for j, jj in enumerate(sel):
                    r, o = gruns[jj]
                    res = results[j]
                    # scored raw: the level the loss set (docstring); written normalised
                    scores, normed = study_analysis.key_invariance_scores(res.wave, clips[o], content)
                    hist = res.loss_history
                    runs.append({
                        "seed": seed, "representation": r, "offset": o, **scores,
                        "beta": {k: float(v[jj]) for k, v in full.params["beta"].items()},
                        "gamma": gammas[jj],
                        "final_loss": float(hist[-1]) if len(hist) else float("nan"),
                        "iterations": int(res.state.iteration),
                        "stop_reason": res.stop_reason,
                        "wave": normed.astype(np.float32) if _SAVE_AUDIO.value else None,
                    })
    order = {r: i for i, r in enumerate(reps)}
    runs.sort(key=lambda d: (d["offset"], order[d["representation"]], d["seed"]))
    rows = [(d["offset"], d["representation"], d["seed"], d["mse"]) for d in runs]
    _study.write_csv(os.path.join(out_dir, "key_invariance.csv"), ("offset", "representation", "seed", "mse"), rows)
    summary = study_analysis.key_invariance_summary(rows, reps, paper=PAPER, paper_representations=REPRESENTATIONS)
    _study.write_csv(
        os.path.join(out_dir, "key_invariance_summary.csv"),
        ("offset", "representation", "mean", "sd", "n", "paper"),
        summary,
    )
    study_figures.key_invariance_figure(
        os.path.join(out_dir, "key_invariance.png"), summary, reps, paper=PAPER,
        paper_representations=REPRESENTATIONS,
        title=f"Key invariance (Fig. 5): style={_STYLE_TERMS.value}, {dur:g} s clips, {s['max_iter']} iterations, "
        f"seeds {','.join(map(str, seeds))}; bars ±1 sd; x: paper{', quick' if s['quick'] else ''}",
    )
    if _SAVE_AUDIO.value:
        adir = os.path.join(out_dir, "audio")
        os.makedirs(adir, exist_ok=True)
        for o, w in clips.items():
            writing.save(os.path.join(adir, f"clip_{o:+d}.wav"), w, sr=sr)
        for d in runs:
            name = f"result_{d['representation'].replace('+', '_')}_{d['offset']:+d}_seed{d['seed']}.wav"
            writing.save(os.path.join(adir, name), d["wave"], sr=sr)

    print(f"\n{SCRIPT}: log-STFT MSE, result vs style (mean ± sd over seeds, ± pooled); paper in brackets")
    print(study_analysis.key_invariance_table(summary, reps))
    holds, lines = study_analysis.key_invariance_claim(study_analysis.pool_offsets(rows))
    verdict = study_analysis.verdict_word(holds)
    print(f"{SCRIPT}: claim 'at every non-zero offset STFT content gives the highest error': {verdict}")
    print(f"  rule: {study_analysis.VERDICT_RULE}")
    for line in lines:
        print(line)

    _study.finish(
        out_dir, SCRIPT, OUTPUTS, t_start, flags=_flags.flag_values(FLAG_HOLDERS), resolved=s, solver=solver,
        page_title="Key invariance (§4.2, Figure 5)",
        figure_alt="Log-STFT MSE between result and style against the semitone offset, one bar group per "
        "content representation, mean ± sd over seeds, the paper's values as markers",
        note=f"Claim 'at every non-zero offset STFT content gives the highest error': {verdict}. "
        f"Rule: {study_analysis.VERDICT_RULE} " + " ".join(lines),
        renderer=renderer,
        mse_on="raw result (mse_normalised: the peak-normalised one)",
        groups=[
            {"terms": [{"name": t.name, "net": repr(t.net), "gamma": t.gamma} for t in c.terms], "runs": len(g)}
            for c, g in groups
        ],
        runs=[{k: v for k, v in d.items() if k != "wave"} for d in runs],
        summary=[dict(zip(("offset", "representation", "mean", "sd", "n", "paper"), row)) for row in summary],
        claim_holds=holds,
        claim_lines=lines,
    )
    return 0


FLAG_HOLDERS = (
    _OUTPUT_DIR, _QUICK, _SEEDS, _DURATION, _OFFSETS, _REPRESENTATIONS, _STYLE_TERMS, _GAMMA_CONTENT,
    _GAMMA_STYLE, _BPM, _ACCOMPANIMENT, _GROUP, _BATCH_SIZE, _SAVE_AUDIO, *USED_SHARED,
)


def main(argv):
    _study.run(argv, SCRIPT, settings, body, _flags.flag_values(FLAG_HOLDERS))


if __name__ == "__main__":
    app.run(main, flags_parser=_flags.parse)
