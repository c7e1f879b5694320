"""``python -m experiments.transfer --batch=jobs.csv``: many same-length transfers run together.

The CSV (:mod:`experiments.batch_csv`) has the header ``content,style,output`` and one transfer
per row; relative paths are read from the CSV's folder; a style cell may list several files
separated by commas (quote the cell). Optional columns ``content_offset`` and ``style_offset``
give a row's own start in its files, in seconds (an empty cell: the flag's value);
``--content_duration`` then gives every row's content one length. Every other flag applies to
every row, so each row is the run ``--content=... --style=...
--output=...`` with the same flags would be (same seed: same networks and initial noise), and
writes the same files (WAV, ``<stem>.json``, ``<stem>.png``, ``<stem>.loss.png``, ``<stem>.html``);
the rows' L-BFGS-B runs are vmapped and split over every device (:mod:`mst_jax.batch_synthesis`).
Checkpoints and ``--resume`` do not apply. Unless ``--nopage``, ``index.html`` in the deepest
folder common to every row's output lists the rows (players, numbers, a link to each page),
sortable by any column; it is checked writable, and no row's page may be it, before compiling.

Order of work as in :mod:`experiments._runner`: every row's flags, paths and inputs are checked
(contents of one length) before anything is compiled; a bad row gives one ``error:`` line naming
its CSV line. On several hosts (``jax.distributed``, :mod:`experiments.hosts`) every process
reads the inputs, a check that fails on one stops them all, and process 0 writes the outputs.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import jax
import numpy as np
from absl import flags

from experiments import _flags, _runner, batch_csv, console, hosts, outputs, preflight, resolve, settings
from experiments.console import RunError
from mst_jax import audio, batch, batch_synthesis, content_floor, devices, page, run_page, writing


BATCH = flags.DEFINE_string(
    "batch",
    None,
    "CSV of transfers (header content,style,output; paths relative to the CSV's folder; a style "
    "cell may list several files separated by commas, quoted; optional columns content_offset, "
    "style_offset: each row's start in its files, seconds) run together: same-length contents, "
    "one L-BFGS-B each, vmapped and split over every device. The other flags apply to every row; "
    "--content, --style, --output, --resume and checkpoints do not apply.",
)
flags.adopt_module_key_flags(hosts)
FLAGS = (BATCH, *hosts.FLAGS)


def check_unused():
    """Raises ValueError if a flag of this module is set without ``--batch``."""
    for h in FLAGS[1:]:
        if h.value != h.default:
            raise ValueError(f"--{h.name}: only used with --batch")


def _say(line: str):
    if jax.process_index() == 0:
        console.say(line)


@dataclasses.dataclass(frozen=True)
class Job:
    line: int  # line of the CSV (the header is line 1)
    cfg: settings.RunConfig


@dataclasses.dataclass(frozen=True)
class Jobs:
    csv: str
    jobs: tuple[Job, ...]


def index_path(outputs) -> str:
    """The batch's ``index.html``: in the deepest folder common to every row's output."""
    return os.path.join(
        os.path.commonpath([os.path.dirname(os.path.abspath(o)) for o in outputs]), "index.html"
    )


def _row_error(csv_path: str, line: int, error) -> RunError:
    return RunError(f"--batch={csv_path} line {line}: {console.one_line(error)}")


def builder(content_flag, init_flag, floor_flag=None, *, excerpt_flags=()):
    """``build(notices) -> Jobs`` for :func:`experiments._runner.execute`: every row validated.
    ``excerpt_flags``: the holders of ``--content_offset`` and ``--content_duration``, which
    apply to every row's content (a row's ``content_offset``/``style_offset`` cell replaces the
    offset flag's value for that row)."""

    def build(notices: list[str]) -> Jobs:
        csv_path = BATCH.value
        for holder in (content_flag, _flags.STYLE, _flags.OUTPUT):
            if holder.value is not None:
                raise ValueError(
                    f"--{holder.name}: not used with --batch (each CSV row names its files)"
                )
        if _flags.RESUME.value:
            raise ValueError("--resume: not available with --batch (a batch keeps no state files)")
        if _flags.TIME_LIMIT.value:
            raise ValueError(
                "--time_limit: not available with --batch (a batch keeps no state files to resume from)"
            )
        if not csv_path.strip():
            raise ValueError("--batch: empty file name")
        jobs = []
        for line, content, styles, output, offsets in batch_csv.read(csv_path):
            try:
                cfg = resolve.run_config(
                    "transfer",
                    content=content,
                    content_flag=content_flag,
                    init=init_flag.value,
                    content_floor=None if floor_flag is None else floor_flag.value,
                    content_floor_flag=floor_flag,
                    content_excerpt_flags=excerpt_flags,
                    styles=styles,
                    notices=notices if not jobs else [],
                )
            except ValueError as error:
                raise _row_error(csv_path, line, error) from None
            own = {}  # the row's offset cells replace the offset flags' values
            if "content_offset" in offsets:
                own["content_excerpt"] = dataclasses.replace(
                    cfg.content_excerpt, offset_s=offsets["content_offset"]
                )
            if "style_offset" in offsets:
                own["style_excerpt"] = dataclasses.replace(
                    cfg.style_excerpt, offset_s=offsets["style_offset"]
                )
            jobs.append(Job(line, dataclasses.replace(cfg, output=output, **own)))
        seen = {}
        inputs = {os.path.abspath(p) for j in jobs for p in (j.cfg.content, *j.cfg.styles)}
        for j in jobs:
            paths = outputs.Paths.of(j.cfg.output)
            if clash := paths.clash():
                raise RunError(f"--batch={csv_path} line {j.line}: output {paths.wav}: {clash}")
            pages = (paths.html, paths.loss_png) if j.cfg.page else ()
            for p in (paths.wav, paths.json, paths.png) + pages:
                a = os.path.abspath(p)
                if a in seen:
                    raise RunError(
                        f"--batch={csv_path} line {j.line}: output {p} is also written by line {seen[a]}"
                    )
                if a in inputs:
                    raise RunError(
                        f"--batch={csv_path} line {j.line}: output {p} would overwrite an input"
                    )
                seen[a] = j.line
                try:
                    writing.check_writable(p)
                except (audio.AudioError, OSError) as error:
                    raise _row_error(csv_path, j.line, error) from None
        if jobs[0].cfg.page:
            index = index_path([j.cfg.output for j in jobs])
            if os.path.abspath(index) in seen:
                raise RunError(
                    f"--batch={csv_path} line {seen[os.path.abspath(index)]}: its page would be the "
                    f"batch's {index}; rename that output or give --nopage"
                )
            try:
                writing.check_writable(index)
            except (audio.AudioError, OSError) as error:
                raise RunError(
                    f"--batch={csv_path}: cannot write the batch's index ({console.one_line(error)}); "
                    "--nopage turns it off"
                ) from None
        return Jobs(csv_path, tuple(jobs))

    return build


def _progress(info, max_iter: int, size: int, first: bool, extra: str = ""):
    """The batch's progress line: every row's loss, the seconds per iteration of them all."""
    eta = console.seconds_left(info, max_iter, first)
    losses = ", ".join(f"{v:.4g}" for v in info["losses"])
    _say(
        f"transfer --batch: iteration {info['iteration']}/{max_iter}  losses [{losses}]  "
        f"{info['seconds_per_iteration']:.3g} s/iteration for {size}  ETA {console.hms(eta)}{extra}"
        f"{console.FIRST_CHUNK_NOTE if first else ''}"
    )


def _checked(build, notices: list[str]):
    """Every row's flags, paths and inputs checked (contents of one length), and the memory of
    each device's share of the rows: ``(jobs, inputs)``. Nothing is compiled."""
    jobs = build(notices)
    for line in notices:
        console.notice(line)
    csv_path, rows = jobs.csv, jobs.jobs
    cfg0 = rows[0].cfg
    inputs, load = [], preflight.reading_once()
    for j in rows:
        try:
            inputs.append(preflight.load_inputs(j.cfg, load=load))
        except (RunError, audio.AudioError, ValueError) as error:
            raise _row_error(csv_path, j.line, error) from None
        n, n0 = inputs[-1].num_samples, inputs[0].num_samples
        if n != n0:
            raise RunError(
                f"--batch={csv_path} line {j.line}: content {j.cfg.content} has {n} samples "
                f"({n / cfg0.sr:.3g} s), line {rows[0].line}'s has {n0}: a batch needs contents "
                "of one length (--content_duration=S reads S seconds of each)"
            )
    n_devices = jax.device_count()
    _say(
        preflight.describe(cfg0, inputs[0]).replace(
            "transfer:", f"transfer --batch: {len(rows)} transfers,", 1
        )
        + f"; {n_devices} device{'s' if n_devices > 1 else ''} over the batch axis"
    )
    _say(preflight.check_memory(cfg0, inputs[0].num_samples, rows=-(-len(rows) // n_devices)))
    return jobs, inputs


def run(build, recorded_flags, after, stopper) -> int:
    """The batch run (``run`` of :func:`experiments._runner.execute`); returns the exit status."""
    del after  # transfer has no post-processing hook
    t_start = time.perf_counter()
    notices: list[str] = []
    hosts.initialize()
    jobs, inputs = hosts.on_every_process(lambda: _checked(build, notices))
    csv_path, rows = jobs.csv, jobs.jobs
    cfg0 = rows[0].cfg

    # style paths and excerpt -> their (transposed) clips: rows sharing a style share the work
    clips = {}
    for j, i in zip(rows, inputs):
        key = (j.cfg.styles, j.cfg.style_excerpt)
        if key not in clips:
            clips[key] = _runner.style_clips(j.cfg, i)
    made = [
        _runner.make_objective(j.cfg, i, styles=clips[j.cfg.styles, j.cfg.style_excerpt])
        for j, i in zip(rows, inputs)
    ]
    try:
        bobj = batch.stack([m[0] for m in made])
    except ValueError as error:
        raise RunError(f"--batch={csv_path}: {console.one_line(error)}") from None
    mesh = devices.batch_mesh()
    norms = batch.term_gradient_norms(bobj, np.stack([np.asarray(m[1]) for m in made]), mesh=mesh)
    betas = []
    for j, (objective, _, _), n in zip(rows, made, norms):
        try:
            betas.append(
                {k: float(v) for k, v in _runner.calibrated(objective, n).params["beta"].items()}
            )
        except RunError as error:
            raise _row_error(csv_path, j.line, error) from None
    bobj = batch.with_beta(bobj, betas)

    # The content floor, row by row: the rows run as one optimisation, so a row that falls below
    # its floor keeps its last iterate above it while the others go on; the batch stops when
    # every row has fallen below.
    def wave_of(k, x):
        return outputs.to_wave(rows[k].cfg, np.asarray(x), inputs[k])

    floors = {
        k: content_floor.start(
            i.content, sr=j.cfg.sr, floor=j.cfg.content_floor, iteration=0, x=x0, wave=wave_of(k, x0)
        )
        for k, (j, i, (_, _, x0)) in enumerate(zip(rows, inputs, made))
        if j.cfg.content_floor is not None
    }
    chunks = {"n": 0}

    def should_stop():
        if len(floors) == len(rows) and all(f.crossed for f in floors.values()):
            return content_floor.STOP_REASON
        return stopper()

    def on_chunk(info):
        extra = ""
        if floors:
            xs, its = devices.gather(info["state"].x), devices.gather(info["state"].iteration)
            for k, f in floors.items():
                x = xs[k]
                floors[k] = content_floor.check(f, int(its[k]), x, wave_of(k, x))
            kept = ", ".join(f"{floors[k].checks[-1][1]:.2f}" for k in sorted(floors))
            extra = f"  content kept [{kept}]"
        _progress(info, cfg0.max_iter, len(rows), chunks["n"] == 0, extra)
        chunks["n"] += 1

    results = batch_synthesis.synthesize_batch(
        bobj,
        np.stack([np.asarray(m[2]) for m in made]),
        max_iter=cfg0.max_iter,
        solver=cfg0.solver,
        mesh=mesh,
        on_chunk=on_chunk,
        should_stop=should_stop,
    )
    for k, f in floors.items():  # as a single run: the last iterate at or above the floor
        results[k] = content_floor.result_of(results[k], f)
    iteration = max(int(r.state.iteration) for r in results)
    interrupted = any(r.stop_reason == "interrupted" for r in results)
    # On several hosts the signal may have reached another process only: all exit with its status.
    status_interrupted = 128 + devices.largest(stopper.signum or 0) if interrupted else 0
    if interrupted and iteration == 0:
        sys.stderr.write("interrupted before the first iteration: nothing written\n")
        return status_interrupted
    if jax.process_index() != 0:
        return status_interrupted  # on several hosts, process 0 writes

    wall = time.perf_counter() - t_start
    status, written, index_rows = 0, [], []
    for k, (j, i, r, beta, n) in enumerate(zip(rows, inputs, results, betas, norms)):
        cfg, paths = j.cfg, outputs.Paths.of(j.cfg.output)
        raw = outputs.to_wave(cfg, r.wave, i)
        if not np.all(np.isfinite(raw)):
            sys.stderr.write(
                f"error: --batch={csv_path} line {j.line}: no finite waveform (non-finite loss from the start); "
                "nothing written for it\n"
            )
            status = console.EXIT_FAILED
            continue
        wave, gain = outputs.for_file(cfg, raw)
        history = {
            "loss": r.loss_history.tolist(),
            "terms": {name: v.tolist() for name, v in r.term_history.items()},
            "seconds": r.seconds_per_iteration.tolist(),
        }
        record = outputs.run_record(
            cfg, i, paths, wave, gain,
            flags=dict(
                recorded_flags, content=cfg.content, style=",".join(cfg.styles), output=cfg.output
            ),
            beta=beta, norms=n, history=history, wall_seconds=wall, result=r, floor=floors.get(k),
            resumed=False, notices=notices + i.notices,
        )
        record["batch"] = {
            "csv": os.path.abspath(csv_path),
            "line": j.line,
            "size": len(rows),
            "devices": jax.device_count(),
            "processes": jax.process_count(),
            "note": "seconds_per_iteration and wall_seconds are the whole batch's",
        }
        if k in floors and floors[k].crossed:
            _say(f"transfer --batch: line {j.line}: {content_floor.summary(floors[k])}")
        if cfg.quality:
            record["quality"] = outputs.quality_block(cfg, i, wave)
            _say(f"transfer --batch: line {j.line}: {record['quality']['verdict']}")
        if r.stop_reason == "non-finite loss":
            console.notice(
                f"line {j.line}: the loss became non-finite; the best iterate before it is written"
            )
        writing.save(paths.wav, wave, sr=cfg.sr, subtype=cfg.subtype)
        writing.save_json(paths.json, record)
        outputs.write_views(cfg, i, wave, record, paths)
        row = run_page.index_row(record, page=paths.html if cfg.page else None)
        index_rows.append(dict(row, config={"CSV line": j.line, **row["config"]}))
        written.append(paths.wav)

    if cfg0.page and index_rows:
        index = index_path([j.cfg.output for j in rows])
        page.write_index(
            index,
            index_rows,
            title=f"Batch {os.path.basename(csv_path)}",
            note=f"{len(index_rows)} of {len(rows)} transfers of --batch={csv_path}, preset "
            f"{cfg0.preset}, {iteration} iterations, {wall:.1f} s for the whole batch"
            + (" (interrupted: best results so far)" if interrupted else "")
            + ".",
        )
        _say(f"transfer --batch: the listening pages are indexed in {index}")
    if interrupted:
        sys.stderr.write(
            f"interrupted at iteration {iteration}/{cfg0.max_iter}: best results so far written "
            f"({len(written)} of {len(rows)}); a batch cannot be resumed\n"
        )
        return status_interrupted
    _say(
        f"transfer --batch: wrote {len(written)} of {len(rows)} outputs ({', '.join(written)}); "
        f"{iteration} iterations, {wall:.1f} s in all"
    )
    return status
