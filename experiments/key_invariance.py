"""The paper's key-invariance study (§4.2, Figure 5).

The opening of "The Star-Spangled Banner" (melody and accompaniment, piano, FluidSynth or the
numpy fallback) is rendered at 13 transpositions (-6..+6 semitones) as 4 s clips. For every
offset and every content representation (``stft``; ``mel`` with 10 bins; ``cqt`` with a 2 x 1
frequency max-pool; ``cqt+mel``) a style transfer runs with the original key as content and
the transposed clip as style, and the result is scored by the MSE between its log-magnitude
STFT and the style's (:func:`mst_jax.metrics.log_stft_mse`). A key-invariant content
representation lets the result take the style's key, so its error should be lower.

Style representation: the STFT net (Table 1, column 1), the same in every run, so that the
content representation is the only thing that changes (Table 1 rows 1 and 4 differ in just
this way). Its gram is key-dependent (the STFT bins are its input channels), so it pulls the
result towards the transposed key; the CQT style gram is built to be key-invariant (§3.4)
and would not. ``--style_terms`` offers the other Table 1 columns.

Weighting: Γ content 1, Γ style 50 (SPEC §1), calibrated by Eq. 7-8 at the initial noise,
which, like the network weights, is the same in every run (``--seed``).

Batching (``--group``): runs that share an objective differ only in their style grams and
β, so they go through one compiled L-BFGS-B program, vmapped over runs (``--batch_size`` at a
time; 0 = the whole group), with identical weights and initial noise. ``representation``
(default): one objective per content representation, its 13 offsets batched (four
compilations). ``all`` (default with ``--quick``, where compilation dominates): one objective
holding every content term, a run switching the terms it does not use off with β = 0 (the
same loss and gradient as leaving them out, but their networks are still evaluated).

Writes ``key_invariance.csv`` (``offset,representation,mse``), ``key_invariance.png`` and
``key_invariance.json`` (flags, sizes, per-run β and losses, timings) into ``--output_dir``.

    python -m experiments.key_invariance --output_dir=out/key_invariance
    python -m experiments.key_invariance --quick --output_dir=/tmp/ki
"""

from __future__ import annotations

import os
import platform
import sys
import time

from absl import app, flags

_OUTPUT_DIR = flags.DEFINE_string("output_dir", ".", "Directory for key_invariance.csv/.png/.json.")
_QUICK = flags.DEFINE_bool(
    "quick", False, "Reduced run: offsets 0, ±1, ±3, 1.5 s clips, tiny nets, 10 iterations."
)
_MAX_ITER = flags.DEFINE_integer(
    "max_iter", None, "L-BFGS-B iterations per run (default 500; quick 10)."
)
_SEED = flags.DEFINE_integer(
    "seed", 0, "Seed of the network weights and the initial noise (all runs)."
)
_DURATION = flags.DEFINE_float("duration", None, "Clip length in seconds (default 4; quick 1.5).")
_OFFSETS = flags.DEFINE_list(
    "offsets", None, "Semitone offsets of the style (default -6..6; quick -3,-1,0,1,3)."
)
_REPRESENTATIONS = flags.DEFINE_list(
    "representations", ["stft", "mel", "cqt", "cqt+mel"], "Content representations."
)
_STYLE_TERMS = flags.DEFINE_enum(
    "style_terms",
    "stft",
    ["stft", "stft+mel", "ensemble"],
    "Style representation (Table 1 columns): stft; stft+mel (1 layer, 512 bins); ensemble "
    "(stft + mel 1+2 residual + cqt 1+3 residual).",
)
_GAMMA_CONTENT = flags.DEFINE_float("gamma_content", 1.0, "Γ of every content term (Eq. 8).")
_GAMMA_STYLE = flags.DEFINE_float("gamma_style", 50.0, "Γ of every style term (Eq. 8).")
_GAMMA_L1 = flags.DEFINE_float("gamma_l1", 0.0, "Γ of the L1 sparsity term (0: off, as in Fig. 5).")
_SR = flags.DEFINE_integer("sr", 22050, "Sample rate in Hz.")
_BPM = flags.DEFINE_float("bpm", 120.0, "Tempo of the rendered melody.")
_ACCOMPANIMENT = flags.DEFINE_bool("accompaniment", True, "Add the bass and triads to the melody.")
_STFT_FILTERS = flags.DEFINE_integer(
    "stft_filters", None, "STFT net filters (paper 4096; quick 32)."
)
_STFT_KERNEL = flags.DEFINE_integer(
    "stft_kernel", None, "STFT net kernel in frames (paper 11; quick 11)."
)
_MEL_FILTERS = flags.DEFINE_integer("mel_filters", None, "Mel net filters (paper 1025; quick 16).")
_MEL_KERNEL = flags.DEFINE_integer(
    "mel_kernel", None, "Mel net kernel in frames (paper 50; quick 5)."
)
_N_MELS_CONTENT = flags.DEFINE_integer(
    "n_mels_content", 10, "Mel bins of the content net (Fig. 5: 10)."
)
_CQT_FILTERS = flags.DEFINE_integer("cqt_filters", None, "CQT net filters (paper 256; quick 8).")
_CQT_KERNEL = flags.DEFINE_integer("cqt_kernel", None, "CQT kernel, both axes (paper 11; quick 3).")
_CQT_POOL = flags.DEFINE_integer(
    "cqt_pool", 2, "CQT content max-pool width along frequency (§3.4: 2)."
)
_GROUP = flags.DEFINE_enum(
    "group",
    None,
    ["all", "representation"],
    "How runs share compiled programs: all (one objective with every content term, unused ones "
    "at β = 0: one compilation, every run pays for every content net) or representation (one "
    "objective per representation: four compilations, no wasted arithmetic). Default: all "
    "with --quick, else representation.",
)
_BATCH_SIZE = flags.DEFINE_integer(
    "batch_size", 0, "Runs per vmapped batch within a group (0: the whole group)."
)
_CHUNK = flags.DEFINE_integer("chunk", None, "Iterations per compiled chunk (default 25; quick 5).")
_SAVE_AUDIO = flags.DEFINE_bool("save_audio", False, "Also write every clip and result as WAV.")

REPRESENTATIONS = ("stft", "mel", "cqt", "cqt+mel")
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
    "stft_filters": 4096,
    "stft_kernel": 11,
    "mel_filters": 1025,
    "mel_kernel": 50,
    "cqt_filters": 256,
    "cqt_kernel": 11,
}
QUICK_SIZES = {
    "stft_filters": 32,
    "stft_kernel": 11,
    "mel_filters": 16,
    "mel_kernel": 5,
    "cqt_filters": 8,
    "cqt_kernel": 3,
}


def _settings():
    """Resolves the mode-dependent defaults; raises ValueError on bad values."""
    quick = _QUICK.value
    sizes = dict(QUICK_SIZES if quick else PAPER_SIZES)
    for name, holder in (
        ("stft_filters", _STFT_FILTERS),
        ("stft_kernel", _STFT_KERNEL),
        ("mel_filters", _MEL_FILTERS),
        ("mel_kernel", _MEL_KERNEL),
        ("cqt_filters", _CQT_FILTERS),
        ("cqt_kernel", _CQT_KERNEL),
    ):
        if holder.value is not None:
            sizes[name] = holder.value
    if _OFFSETS.value is None:
        offsets = [-3, -1, 0, 1, 3] if quick else list(range(-6, 7))
    else:
        try:
            offsets = [int(v) for v in _OFFSETS.value]
        except ValueError:
            raise ValueError(
                f"--offsets must be integers, got {','.join(_OFFSETS.value)}"
            ) from None
    if not offsets or len(set(offsets)) != len(offsets):
        raise ValueError("--offsets must be a non-empty list without repeats")
    reps = list(_REPRESENTATIONS.value)
    bad = [r for r in reps if r not in REPRESENTATIONS]
    if not reps or bad or len(set(reps)) != len(reps):
        raise ValueError(
            f"--representations must be distinct values among {','.join(REPRESENTATIONS)}"
        )
    max_iter = _MAX_ITER.value if _MAX_ITER.value is not None else (10 if quick else 500)
    duration = _DURATION.value if _DURATION.value is not None else (1.5 if quick else 4.0)
    chunk = _CHUNK.value if _CHUNK.value is not None else (5 if quick else 25)
    if max_iter < 1 or chunk < 1:
        raise ValueError("--max_iter and --chunk must be >= 1")
    if not duration > 0.1:
        raise ValueError(f"--duration={duration} must be longer than 0.1 s")
    if _BATCH_SIZE.value < 0:
        raise ValueError("--batch_size must be >= 0")
    return {
        "group": _GROUP.value or ("all" if quick else "representation"),
        "quick": quick,
        "sizes": sizes,
        "offsets": offsets,
        "representations": reps,
        "max_iter": max_iter,
        "duration_s": duration,
        "chunk": chunk,
    }


def _loss_config(s, representations):
    """The LossConfig of a group of runs: every content term that ``representations`` need,
    the style terms, and L1 (if Γ_L1 > 0)."""
    from mst_jax import presets
    from mst_jax.config import CqtNetConfig, LossConfig, MelNetConfig, StftNetConfig, Term

    z, q = s["sizes"], s["quick"]
    stft = StftNetConfig(filters=z["stft_filters"], kernel=z["stft_kernel"])
    mel_content = MelNetConfig(
        n_mels=_N_MELS_CONTENT.value, blocks=0, filters=z["mel_filters"], kernel=z["mel_kernel"]
    )
    cqt_content = CqtNetConfig(
        pool=_CQT_POOL.value, blocks=0, filters=z["cqt_filters"], kernel=(z["cqt_kernel"],) * 2
    )
    content_nets = {"stft": stft, "mel": mel_content, "cqt": cqt_content}
    needed = sorted(
        {part for r in representations for part in r.split("+")}, key=["stft", "mel", "cqt"].index
    )
    terms = [Term("content", content_nets[r], _GAMMA_CONTENT.value) for r in needed]
    style = [Term("style", stft, _GAMMA_STYLE.value)]
    if _STYLE_TERMS.value in ("stft+mel", "ensemble"):
        blocks = 0 if _STYLE_TERMS.value == "stft+mel" else presets.MEL_STYLE_RES.blocks
        mel_style = MelNetConfig(
            n_mels=32 if q else 512,
            blocks=blocks,
            filters=z["mel_filters"],
            kernel=z["mel_kernel"],
            block_kernel=3 if q else 25,
        )
        style.append(Term("style", mel_style, _GAMMA_STYLE.value))
    if _STYLE_TERMS.value == "ensemble":
        cqt_style = CqtNetConfig(
            pool=1,
            blocks=presets.CQT_STYLE_RES.blocks,
            filters=z["cqt_filters"],
            kernel=(z["cqt_kernel"],) * 2,
            block_kernel=(z["cqt_kernel"],) * 2,
        )
        style.append(Term("style", cqt_style, _GAMMA_STYLE.value))
    extra = [Term("l1", None, _GAMMA_L1.value)] if _GAMMA_L1.value > 0 else []
    return LossConfig(terms=tuple(terms + style + extra))


def _run_gammas(config, representation):
    """Γ per term for one run: its content terms on, the other content terms off (Γ 0)."""
    on = set(representation.split("+"))
    return {
        t.name: (t.gamma if t.kind != "content" or t.representation in on else 0.0)
        for t in config.terms
    }


def _plot(path, pool, representations, s):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments import _study

    colors = {"stft": "tab:blue", "mel": "tab:orange", "cqt": "tab:green", "cqt+mel": "tab:red"}
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    xs = sorted(pool)
    width = 0.15
    for j, r in enumerate(representations):
        pts = [(a, *pool[a][r]) for a in xs if r in pool[a]]
        if not pts:
            continue
        a, mean, lo, hi = (list(v) for v in zip(*pts))
        shift = (j - (len(representations) - 1) / 2) * width
        x = [v + shift for v in a]
        err = [[m - l for m, l in zip(mean, lo)], [h - m for m, h in zip(mean, hi)]]
        ax.errorbar(x, mean, yerr=err, marker="o", capsize=3, color=colors[r], label=f"{r} (ours)")
        k = REPRESENTATIONS.index(r)
        px = [v for v in range(7)]
        ax.plot(
            px,
            [PAPER[v][k] for v in px],
            ls="--",
            lw=1,
            color=colors[r],
            alpha=0.45,
            label=f"{r} (paper)",
        )
    ax.set_xlabel("|semitone offset| of the style (± pooled; bars: min/max of the pair)")
    ax.set_ylabel("MSE of log-magnitude STFT, result vs style")
    ax.set_xticks(range(7))
    ax.set_title(
        f"Key invariance (Fig. 5): style={_STYLE_TERMS.value}, {s['duration_s']:g} s clips, "
        f"{s['max_iter']} iterations{', quick' if s['quick'] else ''}",
        fontsize=9,
    )
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    _study.save_figure(fig, path)


def _fail(message: str):
    """Exits with status 1 and a one-line message (SPEC §3)."""
    raise SystemExit(f"key_invariance: error: {message}")


def main(argv):
    if len(argv) > 1:
        _fail(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        s = _settings()
    except ValueError as e:
        _fail(str(e))
    out_dir = _OUTPUT_DIR.value

    import jax
    import jax.numpy as jnp
    import numpy as np

    from experiments import _study
    from mst_jax import audio, losses, metrics, music, synthesis
    from mst_jax.config import SolverConfig

    _study.prepare_output_dir("key_invariance", out_dir, ("key_invariance.csv", "key_invariance.png", "key_invariance.json"))

    t_start = time.perf_counter()
    print(f"[key_invariance] {_study.device_line()}", flush=True)
    sr, dur = _SR.value, s["duration_s"]
    notes = music.STAR_SPANGLED_BANNER + (
        music.STAR_SPANGLED_BANNER_ACCOMPANIMENT if _ACCOMPANIMENT.value else ()
    )
    notices: list[str] = []
    clips = {}
    for off in sorted(set(s["offsets"]) | {0}):
        w = music.render(
            notes, sr=sr, bpm=_BPM.value, program=0, transpose=off, duration_s=dur, notices=notices
        )
        peak = float(np.max(np.abs(w)))
        clips[off] = (w / peak if peak > 0 else w).astype(np.float32)  # peak-normalise (SPEC §1)
    for n in dict.fromkeys(notices):
        print(f"[key_invariance] notice: {n}", flush=True)
    print(
        f"[key_invariance] rendered {len(clips)} clips of {dur:g} s at {sr} Hz "
        f"({'additive fallback' if notices else 'fluidsynth'})",
        flush=True,
    )

    key = jax.random.PRNGKey(_SEED.value)
    weights_key, noise_key = jax.random.split(key)
    content = clips[0]
    noise = synthesis.init_noise(noise_key, len(content))
    offsets = s["offsets"]
    style_stack = np.stack([clips[o] for o in offsets])
    index = {o: i for i, o in enumerate(offsets)}
    runs = [(r, o) for r in s["representations"] for o in offsets]
    if s["group"] == "all":  # one objective with every content term; β = 0 switches terms off
        groups = [(_loss_config(s, s["representations"]), runs)]
    else:  # one objective per representation, its offsets batched
        groups = [(_loss_config(s, [r]), [(r, o) for o in offsets]) for r in s["representations"]]

    solver = SolverConfig(max_iter=s["max_iter"], chunk=s["chunk"])
    print(f"[key_invariance] {solver}", flush=True)
    n = len(runs)
    waves = np.zeros((n, len(content)), np.float32)
    mse, final_loss, best_loss, stop = [0.0] * n, [0.0] * n, [0.0] * n, [""] * n
    betas, grad_norms, secs = [None] * n, [None] * n, []
    done_runs = 0
    for gi, (config, gruns) in enumerate(groups):
        t0 = time.perf_counter()
        objective = losses.build(
            config, weights_key, content=content, style=clips[offsets[0]], sr=sr
        )
        print(
            f"[key_invariance] group {gi + 1}/{len(groups)} ({len(gruns)} runs), terms: "
            + ", ".join(f"{t.name}({t.net})" if t.net else t.name for t in config.terms),
            flush=True,
        )
        grams = _study.style_grams(objective, style_stack)  # {name: [(offsets, N, N)]}
        for name, layers in grams.items():  # the vmapped grams must equal build's own
            for g, ref in zip(layers, objective.params["targets"][name]):
                scale = float(jnp.max(jnp.abs(ref))) + 1e-12
                if float(jnp.max(jnp.abs(g[0] - ref))) > 1e-3 * scale:
                    raise RuntimeError(f"style grams of {name} disagree with losses.build")
        idx = np.array([index[o] for _, o in gruns])
        targets = {name: [g[idx] for g in layers] for name, layers in grams.items()}
        names = [t.name for t in config.terms]
        params, axes = _study.stack_params(
            objective, targets, {k: np.zeros(len(gruns)) for k in names}
        )
        norms = _study.gradient_norms(objective, noise, params, axes)
        gbetas = [
            _study.calibrated_beta(
                _run_gammas(config, r), {k: norms[k][j] for k in names}, f"{r} offset {o:+d}"
            )
            for j, (r, o) in enumerate(gruns)
        ]
        print(
            f"[key_invariance] group {gi + 1}: style grams and Eq. 7-8 calibration at the noise: "
            f"{time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        bs = min(_BATCH_SIZE.value or len(gruns), len(gruns))
        n_batches = -(-len(gruns) // bs)
        run_batch = None
        for b in range(n_batches):
            sel = list(range(b * bs, min((b + 1) * bs, len(gruns))))
            pad = np.array(
                sel + [sel[-1]] * (bs - len(sel))
            )  # same batch size: one compiled program
            p_tgt = {name: [g[pad] for g in layers] for name, layers in targets.items()}
            p_beta = {k: np.array([gbetas[j][k] for j in pad]) for k in names}
            p, ax = _study.stack_params(objective, p_tgt, p_beta)
            tb = time.perf_counter()

            def progress(info, b=b, gi=gi, nb=n_batches, m=len(sel)):
                loss = info["loss"][:m]
                print(
                    f"[key_invariance] group {gi + 1}/{len(groups)} batch {b + 1}/{nb} ({m} runs) iteration "
                    f"{info['iteration']}/{s['max_iter']}: loss {np.nanmin(loss):.4g}..{np.nanmax(loss):.4g}, "
                    f"{info['seconds_per_iteration']:.3f} s/iteration (batched)",
                    flush=True,
                )

            if run_batch is None:  # one compiled program for every batch of the group
                run_batch = _study.make_batch_synthesizer(objective, ax, solver=solver)
            res = run_batch(noise, p, max_iter=s["max_iter"], on_chunk=progress)
            secs.append(res.seconds_per_iteration)
            for j, jj in enumerate(sel):
                r, o = gruns[jj]
                i = runs.index((r, o))
                waves[i] = res.waves[j]
                hist = res.loss_history[j]
                final_loss[i] = (
                    float(hist[np.isfinite(hist)][-1])
                    if np.any(np.isfinite(hist))
                    else float("nan")
                )
                best_loss[i] = float(res.best_loss[j])
                stop[i] = res.stop_reason[j]
                betas[i] = gbetas[jj]
                grad_norms[i] = {k: float(norms[k][jj]) for k in names}
                mse[i] = metrics.log_stft_mse(waves[i], clips[o])
                done_runs += 1
                print(
                    f"[key_invariance] run {done_runs}/{n}: offset={o:+d} representation={r} "
                    f"mse={mse[i]:.4f} (loss {best_loss[i]:.4g}, {stop[i]}, batch {time.perf_counter() - tb:.1f} s)",
                    flush=True,
                )
    rows = [(o, r, m) for (r, o), m in zip(runs, mse)]

    _study.write_csv(
        os.path.join(out_dir, "key_invariance.csv"), ("offset", "representation", "mse"), rows
    )
    pool = _study.pool_offsets(rows, s["representations"])
    _plot(os.path.join(out_dir, "key_invariance.png"), pool, s["representations"], s)
    if _SAVE_AUDIO.value:
        adir = os.path.join(out_dir, "audio")
        os.makedirs(adir, exist_ok=True)
        for o, w in clips.items():
            audio.save(os.path.join(adir, f"clip_{o:+d}.wav"), w, sr=sr)
        for (r, o), w in zip(runs, waves):
            audio.save(
                os.path.join(adir, f"result_{r.replace('+', '_')}_{o:+d}.wav"),
                w,
                sr=sr,
                normalize=True,
            )

    header = ["|offset|"] + [f"{r}" for r in s["representations"]]
    table = [
        [f"{'±' if a else ''}{a}"]
        + [pool[a][r][0] if r in pool[a] else "" for r in s["representations"]]
        for a in pool
    ]
    paper = [
        [f"{'±' if a else ''}{a}"]
        + [PAPER[a][REPRESENTATIONS.index(r)] for r in s["representations"]]
        for a in pool
        if a in PAPER
    ]
    print("\n[key_invariance] ours: mean log-STFT MSE (result vs style), ± pooled")
    print(_study.format_table(header, table))
    print("[key_invariance] paper (SPEC §4, Figure 5):")
    print(_study.format_table(header, paper))
    holds, lines = _study.key_invariance_claim(pool)
    verdict = {
        True: "HOLDS",
        False: "DOES NOT HOLD",
        None: "not evaluated (needs stft and another representation at a non-zero offset)",
    }[holds]
    print(
        f"[key_invariance] claim 'at every non-zero offset STFT content gives the highest error': {verdict}"
    )
    for line in lines:
        print(line)

    wall = time.perf_counter() - t_start
    record = {
        "flags": {
            f.name: f.value for f in flags.FLAGS.get_key_flags_for_module(sys.modules[__name__])
        },
        "resolved": s,
        "versions": {
            "python": platform.python_version(),
            "jax": jax.__version__,
            "numpy": np.__version__,
        },
        "device": _study.device_line(),
        "solver": repr(SolverConfig(max_iter=s["max_iter"], chunk=s["chunk"])),
        "renderer": "additive fallback" if notices else "fluidsynth",
        "groups": [
            {
                "terms": [{"name": t.name, "net": repr(t.net), "gamma": t.gamma} for t in c.terms],
                "runs": len(g),
            }
            for c, g in groups
        ],
        "runs": [
            {
                "offset": o,
                "representation": r,
                "mse": m,
                "mse_to_content": metrics.log_stft_mse(waves[i], content),
                "beta": betas[i],
                "grad_norm_at_init": grad_norms[i],
                "final_loss": final_loss[i],
                "best_loss": best_loss[i],
                "stop_reason": stop[i],
            }
            for i, ((r, o), (_, _, m)) in enumerate(zip(runs, rows))
        ],
        "pooled": {str(a): v for a, v in pool.items()},
        "claim_holds": holds,
        "seconds_per_iteration": np.concatenate(secs).tolist(),
        "wall_seconds": wall,
    }
    audio.save_json(os.path.join(out_dir, "key_invariance.json"), record)
    print(
        f"[key_invariance] wrote key_invariance.csv, .png, .json to {out_dir} in {wall:.1f} s",
        flush=True,
    )


if __name__ == "__main__":
    app.run(main)
