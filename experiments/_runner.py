"""The run loop shared by ``experiments.transfer``, ``texture`` and ``reconstruct``.

Order of work (issue 7: nothing is compiled before every input has been checked):

1. validate the flags (:func:`experiments.resolve.run_config`), the output paths and the inputs
   (read, mixed down, resampled, at least one STFT frame long; a notice when shorter than the
   longest receptive field);
2. build the objective with a key from ``--seed`` (split into a network key and an init key),
   measure each term's gradient norm at the initial noise and set β by Eq. 7-8;
3. run ``mst_jax.synthesis.synthesize`` in chunks: one progress line per chunk, a checkpoint
   (WAV + resumable state) every ``--checkpoint_every`` iterations, SIGINT/SIGTERM polled
   between chunks; with ``--content_floor`` the content kept is measured each chunk
   (:mod:`mst_jax.content_floor`) and the run stops below the floor, keeping the last
   iterate above it;
4. write, each atomically: the WAV, the run record ``<stem>.json``, the figure ``<stem>.png``,
   then (unless ``--nopage``) the loss figure ``<stem>.loss.png`` and the listening page
   ``<stem>.html`` (:mod:`mst_jax.run_page`), also when interrupted.

Exit status: 0 done; 2 bad input or flags (one ``error:`` line on stderr, nothing written);
1 the run itself failed (e.g. out of memory; nothing written); 130 / 143 interrupted by
SIGINT / SIGTERM (the best result so far written, the state kept for ``--resume``).

The loop calls its parts by their public names: :mod:`experiments.console` (lines, exit statuses,
signals), :mod:`experiments.preflight` (inputs and memory checked before compiling),
:mod:`experiments.resume` (the state file), :mod:`experiments.outputs` (WAV, figure, run record)
and :mod:`experiments.compile_cache`.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from experiments import (
    _flags,
    compile_cache,
    console,
    objectives,
    outputs,
    preflight,
    resume,
    settings,
)
from experiments.console import EXIT_BAD_INPUT, EXIT_FAILED, RunError, notice, one_line, say
from experiments.preflight import Inputs
from mst_jax import audio, content_floor, filters, synthesis, transpose, weighting, writing


def style_clips(cfg: settings.RunConfig, inputs: Inputs) -> list[np.ndarray]:
    """The clips whose grams the style terms average: each style clip transposed by each of
    ``--style_shifts`` (``(0,)``: the clips as given)."""
    return [w for s in inputs.styles for w in transpose.transposed(s, sr=cfg.sr, semitones=cfg.style_shifts)]


def make_objective(cfg: settings.RunConfig, inputs: Inputs, *, styles: list[np.ndarray] | None = None):
    """The uncalibrated objective (β = Γ), the calibration point and the initial iterate, of the
    kind the preset optimises (:func:`experiments.objectives.of`).

    Args:
      cfg, inputs: the run's configuration and checked inputs.
      styles: :func:`style_clips` of ``inputs`` when the caller already has them (a batch whose
        rows share a style transposes it once); computed here otherwise.

    Returns:
      ``(objective, x_cal, x0)``. ``x_cal`` is the initial noise N(0, 1e-3²) as the optimised
      variable (its log-magnitude STFT for the baseline): Eq. 7-8 are measured there even with
      ``--init=content``, where the content term's gradient is zero.
    """
    kind = objectives.of(cfg.preset)
    key = jax.random.key(cfg.seed)
    net_key, init_key = jax.random.split(key)
    if styles is None:
        styles = style_clips(cfg, inputs)
    if inputs.style_gains is not None:  # --match_level, --style_level_db; file by file as style_clips
        per = len(styles) // len(inputs.style_gains)
        styles = [w * np.float32(inputs.style_gains[k // per]) for k, w in enumerate(styles)]
    style = None if not styles else (styles[0] if len(styles) == 1 else list(styles))
    objective = kind.build(
        cfg.loss,
        net_key,
        content=inputs.levelled_content,
        style=style,
        sr=cfg.sr,
        num_samples=inputs.num_samples,
    )
    noise = synthesis.init_noise(init_key, inputs.num_samples)
    start = inputs.levelled_content if cfg.init == "content" else noise
    stft = cfg.loss.stft
    return objective, kind.variable(noise, stft=stft), kind.variable(start, stft=stft)


def calibrated(objective, norms: dict[str, float]):
    """The objective weighted by :func:`mst_jax.weighting.beta_from_norms` (Eq. 7-8, or raw β = Γ);
    a term Eq. 7 cannot weight is a one-line :class:`RunError` naming the flags that avoid it."""
    try:
        beta = weighting.beta_from_norms(objective.config, norms)
    except weighting.CalibrationError as e:
        raise RunError(
            f"the {e.term} term has gradient norm {e.norm:g} at the initial noise, so Eq. 7 cannot weight it "
            f"(is the input silent?); use --raw_weights or --gamma_{e.term}=0",
            EXIT_BAD_INPUT,
        ) from None
    return objective._replace(params=dict(objective.params, beta={k: jnp.float32(v) for k, v in beta.items()}))


After = Callable[[settings.RunConfig, Inputs, np.ndarray, dict, bool], None]


def execute(
    argv: list[str],
    build: Callable[[list], settings.RunConfig],
    recorded_flags: dict,
    *,
    after: After | None = None,
    run: Callable | None = None,
):
    """Runs one command line; exits with the status in the module docstring (returns on success).

    Args:
      argv: what ``app.run`` left after the flags; anything beyond the program name is an error
        (one line, like every other bad input, rather than absl's full usage text).
      build: ``build(notices) -> RunConfig`` (validates the flags; may append notice lines).
      recorded_flags: ``{flag: value}`` for the run record.
      after: ``after(cfg, inputs, raw_wave, record, interrupted)``, called before writing, may
        add to the record (reconstruct's spectral convergence).
      run: ``run(build, recorded_flags, after, stopper) -> status`` in place of the single run
        (``experiments._batch.run`` for ``--batch``); same error handling and exit statuses.
    """
    if len(argv) > 1:
        sys.stderr.write(
            f"error: unexpected arguments {' '.join(argv[1:])!r}: give files as --content=, --style=, --input=\n"
        )
        sys.exit(EXIT_BAD_INPUT)
    console.install_notice_handler()
    compile_cache.use_compilation_cache(_flags.COMPILATION_CACHE_DIR.value)
    stopper = console.Stopper()
    stopper.install()
    status = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            # The preset's own 512 Mel bands leave 10 filters empty at n_fft 2048: nothing the
            # user did. resolve.run_config notes empty filters when the user chose n_mels.
            warnings.simplefilter("ignore", filters.EmptyMelFilterWarning)
            warnings.showwarning = lambda message, *args, **kwargs: notice(one_line(message))
            with jax.default_matmul_precision(_flags.MATMUL_PRECISION.value):
                status = (run or _execute)(build, recorded_flags, after, stopper)
    except RunError as error:
        sys.stderr.write(f"error: {one_line(error)}\n")
        status = error.status
    except (audio.AudioError, ValueError) as error:
        sys.stderr.write(f"error: {one_line(error)}\n")
        status = EXIT_BAD_INPUT
    except (MemoryError, jax.errors.JaxRuntimeError) as error:
        text = one_line(error)
        if isinstance(error, MemoryError) or "RESOURCE_EXHAUSTED" in text:
            text = "out of memory: try fewer filters (--stft_filters, --mel_filters, --cqt_filters) or a shorter clip"
        sys.stderr.write(f"error: {text[:500]}\n")
        status = EXIT_FAILED
    except OSError as error:
        sys.stderr.write(f"error: {one_line(error)}\n")
        status = EXIT_FAILED
    finally:
        stopper.uninstall()
        sys.stderr.flush()
    if status:
        sys.exit(status)


def _execute(build, recorded_flags, after, stopper) -> int:
    t_start = time.perf_counter()
    cfg_notices: list[str] = []
    cfg = build(cfg_notices)
    for line in cfg_notices:
        notice(line)
    paths = outputs.Paths.of(cfg.output)
    if clash := paths.clash():
        raise RunError(f"--output={cfg.output}: {clash}")
    for p in (paths.wav, paths.json, paths.png) + ((paths.html, paths.loss_png) if cfg.page else ()):
        writing.check_writable(p)
    out_abs = {os.path.abspath(p) for p in (paths.wav, paths.json, paths.png)}
    for p in ([cfg.content] if cfg.content else []) + list(cfg.styles):
        if os.path.abspath(p) in out_abs:
            raise RunError(f"--output={cfg.output}: would overwrite the input {p}")

    inputs = preflight.load_inputs(cfg)
    saved = resume.read_state(paths.state) if cfg.resume else None
    fingerprint = resume.fingerprint(cfg, inputs)
    if saved is not None:
        if saved["meta"]["fingerprint"] != fingerprint:
            raise RunError(
                f"--resume: {paths.state} was saved by a run with other flags or inputs "
                f"(its command line: {saved['meta'].get('argv', '?')})"
            )
        done = saved["meta"]["iteration"]
        if done > cfg.max_iter:
            raise RunError(
                f"--max_iter={cfg.max_iter}: the saved run has already done {done} iterations"
            )
    say(preflight.describe(cfg, inputs))
    say(preflight.check_memory(cfg, inputs.num_samples))

    # ---- compile and calibrate
    objective, x_cal, x0 = make_objective(cfg, inputs)
    if saved is not None:
        norms = saved["meta"]["grad_norm_at_init"]
        objective = objective._replace(
            params=dict(
                objective.params, beta={k: jnp.float32(v) for k, v in saved["meta"]["beta"].items()}
            )
        )
        state = resume.restore_state(saved, objective, x0, cfg.solver)
        prev = saved["history"]
        prev_wall = float(saved["meta"]["wall_seconds"])
        say(f"{cfg.script}: resuming from {paths.state} at iteration {saved['meta']['iteration']}")
    else:
        norms = weighting.term_gradient_norms(objective, x_cal)
        objective = calibrated(objective, norms)
        state = None
        prev = {"loss": [], "seconds": [], "terms": {t.name: [] for t in cfg.loss.terms}}
        prev_wall = 0.0
    beta = {k: float(v) for k, v in objective.params["beta"].items()}

    def history_with(info_or_result) -> dict:
        get = (
            info_or_result.get
            if isinstance(info_or_result, dict)
            else (lambda k: getattr(info_or_result, k))
        )
        loss = list(prev["loss"]) + list(np.asarray(get("loss_history")))
        terms = {
            k: list(prev["terms"].get(k, [])) + list(np.asarray(v))
            for k, v in get("term_history").items()
        }
        return {"loss": loss, "terms": terms}

    meta = {
        "version": resume.STATE_VERSION,
        "fingerprint": fingerprint,
        "argv": " ".join(sys.argv),
        "grad_norm_at_init": norms,
        "beta": beta,
    }
    seconds: list[float] = []
    start_iteration = int(saved["meta"]["iteration"]) if saved else 0
    chunks = {"n": 0, "it": start_iteration, "last_checkpoint": start_iteration}

    def wave_of(x):
        return outputs.to_wave(cfg, np.array(x), inputs)

    if cfg.content_floor is not None:
        x_first = state.x if state is not None else x0
        chunks["floor"] = content_floor.start(
            inputs.content, sr=cfg.sr, floor=cfg.content_floor, iteration=start_iteration,
            x=x_first, wave=wave_of(x_first),
        )

    def should_stop():
        if "floor" in chunks and chunks["floor"].crossed:
            return content_floor.STOP_REASON
        if seconds and console.out_of_time(  # the last chunk's rate, once one has run
            time.perf_counter() - t_start,
            seconds[-1],
            min(cfg.solver.chunk, cfg.max_iter - chunks["it"]),
            cfg.time_limit,
        ):
            return console.TIME_LIMIT
        return stopper()

    def on_chunk(info):
        seconds.extend([info["seconds_per_iteration"]] * (info["iteration"] - chunks["it"]))
        chunks["it"] = info["iteration"]
        it = info["iteration"]
        extra = ""
        if "floor" in chunks:
            x = info["state"].x
            chunks["floor"] = content_floor.check(chunks["floor"], it, x, wave_of(x))
            extra = f"  content kept {chunks['floor'].checks[-1][1]:.2f}"
        console.report_progress(cfg.script, info, cfg.max_iter, chunks["n"] == 0, extra)
        chunks["n"] += 1
        every = cfg.checkpoint_every
        if (
            every
            and it // every > chunks["last_checkpoint"] // every
            and it < cfg.max_iter
            and not should_stop()
        ):
            chunks["last_checkpoint"] = it
            st = info["state"]
            if math.isfinite(float(st.best_value)):
                wave, _ = outputs.for_file(cfg, outputs.to_wave(cfg, np.array(st.best_x), inputs))
                writing.save(paths.checkpoint, wave, sr=cfg.sr, subtype=cfg.subtype)
            hist = history_with(info)
            hist["seconds"] = list(prev["seconds"]) + seconds
            resume.save_state(
                paths.state,
                st,
                dict(meta, iteration=it, wall_seconds=prev_wall + time.perf_counter() - t_start),
                hist,
            )
            say(f"{cfg.script}: checkpoint at iteration {it}: {paths.checkpoint}, {paths.state}")

    result = synthesis.synthesize(
        objective,
        x0,
        max_iter=cfg.max_iter,
        solver=cfg.solver,
        state=state,
        on_chunk=on_chunk,
        should_stop=should_stop,
    )
    if "floor" in chunks:
        result = content_floor.result_of(result, chunks["floor"])
    interrupted = result.stop_reason == "interrupted"
    # A run stopped early, by a signal or by --time_limit, keeps its state for --resume.
    keep_state = interrupted or result.stop_reason == console.TIME_LIMIT
    iteration = int(result.state.iteration)
    signum = stopper.signum
    if interrupted and iteration == 0:
        sys.stderr.write("interrupted before the first iteration: nothing written\n")
        return 128 + int(signum)

    # ---- outputs
    raw = outputs.to_wave(cfg, result.wave, inputs)
    if not np.all(np.isfinite(raw)):
        raise RunError(
            "the optimisation produced no finite waveform (non-finite loss from the start)",
            EXIT_FAILED,
        )
    wave, gain = outputs.for_file(cfg, raw)
    hist = history_with(result)
    hist["seconds"] = list(prev["seconds"]) + list(np.asarray(result.seconds_per_iteration))
    wall = prev_wall + time.perf_counter() - t_start
    record = outputs.run_record(
        cfg, inputs, paths, wave, gain,
        flags=recorded_flags, beta=beta, norms=norms, history=hist, wall_seconds=wall,
        result=result, floor=chunks.get("floor"), resumed=saved is not None,
        notices=cfg_notices + inputs.notices,
    )
    if result.stop_reason == "non-finite loss":
        notice(
            f"the loss became non-finite at iteration {iteration}; the best iterate before it is written"
        )
    if after is not None:
        after(cfg, inputs, raw, record, interrupted)
    if cfg.quality:
        record["quality"] = outputs.quality_block(cfg, inputs, wave)

    writing.save(paths.wav, wave, sr=cfg.sr, subtype=cfg.subtype)
    if keep_state:
        record["state_file"] = paths.state
        resume.save_state(
            paths.state, result.state, dict(meta, iteration=iteration, wall_seconds=wall), hist
        )
    writing.save_json(paths.json, record)
    outputs.write_views(cfg, inputs, wave, record, paths)
    for p in [paths.checkpoint] if keep_state else [paths.checkpoint, paths.state]:
        if os.path.exists(p):
            os.remove(p)

    if interrupted:
        if cfg.quality:
            say(f"{cfg.script}: {record['quality']['verdict']}")
        sys.stderr.write(
            f"interrupted at iteration {iteration}/{cfg.max_iter}: best result so far written to {paths.wav} "
            f"(record {paths.json}); add --resume to continue\n"
        )
        return 128 + int(signum)
    spi = (
        np.median(result.seconds_per_iteration)
        if len(result.seconds_per_iteration)
        else float("nan")
    )
    say(
        f"{cfg.script}: wrote {paths.wav} ({wave.size / cfg.sr:.2f} s), {paths.json}, {paths.png}"
        f"{', ' + paths.html if cfg.page else ''}; "
        f"{iteration} iterations ({result.stop_reason}), median {spi:.3g} s/iteration, {wall:.1f} s in all"
    )
    if "floor" in chunks and chunks["floor"].crossed:
        say(f"{cfg.script}: {content_floor.summary(chunks['floor'])}")
    if result.stop_reason == console.TIME_LIMIT:
        say(
            f"{cfg.script}: --time_limit={cfg.time_limit:g}: stopped at iteration {iteration}/{cfg.max_iter} "
            f"before the next chunk would end past it; add --resume to continue from {paths.state}"
        )
    if cfg.quality:
        say(f"{cfg.script}: {record['quality']['verdict']}")
    return 0
