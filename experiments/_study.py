"""Running the paper's two studies (``experiments.key_invariance``, ``experiments.texture_study``).

* :func:`run`: a study on the shared runner (:func:`experiments._runner.execute`): one
  ``error:`` line and exit 2 on bad flags or inputs, 1 when the run fails, 128 + signal when
  interrupted; JAX's persistent compilation cache.
* :func:`shared_settings`, :func:`checked_sr`, :func:`seeds_from_flag`, :func:`seed_keys`,
  :func:`content_gammas`: the flags shared with the transfer scripts, ``--seeds`` (each seed
  gives the network key and the initial noise of one repetition) and the content weights of a
  run.
* :class:`Progress`: progress lines with the ETA of the whole study.
* :func:`prepare_output_dir`, :func:`write_csv`, :func:`save_figure`, :func:`finish` (the run
  record with ``versions`` and ``device``, and the study's page).

What is measured and concluded is :mod:`experiments.study_analysis`; the figures are
:mod:`experiments.study_figures`. The runs themselves go through the library:
:func:`mst_jax.batch_synthesis.synthesize_batch` (the only vmapped solver),
:func:`mst_jax.synthesis.synthesize`, :func:`mst_jax.weighting.calibrate`.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from experiments import _flags, _runner, console, outputs, sizes, study_analysis
from mst_jax import audio, writing

# --------------------------------------------------------------------------- running


def run(argv, script: str, settings: Callable[[], dict], body: Callable[[dict, Callable], int], recorded: dict):
    """Runs ``body(settings, should_stop) -> status`` on the shared runner.

    ``settings()`` validates the flags (raising :class:`experiments.console.RunError` or
    ``ValueError`` with one line: exit 2) before anything is compiled.
    """

    def study(build, recorded_flags, after, stopper):
        import jax

        # Each seed builds its objectives anew (new functions, so JAX's in-memory cache misses)
        # but with the same shapes: the persistent cache then serves every program after the
        # first seed's, however short its compilation was.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        s = build([])
        print(f"{script}: {device_line()}", flush=True)
        return body(s, stopper)

    _runner.execute(argv, lambda notices: settings(), recorded, run=study)


def checked_sr(configs=(), *, remedy: str = "") -> int:
    """``--sr`` checked as the transfer checks it: an integer in ``[MIN_SR, MAX_SR]`` whose
    Nyquist is above the top CQT bin of every configuration in ``configs`` (one-line
    ValueError otherwise, before any clip is rendered); ``remedy``: the other way out."""
    sr = _flags.int_value(_flags.SR, _flags.SR.value, minimum=_flags.MIN_SR, maximum=_flags.MAX_SR)
    for config in configs:
        sizes.check_cqt_nyquist(config, sr, remedy=remedy)
    return sr


def shared_settings(script: str, used_shared, default_sizes: dict) -> dict:
    """Checks a study's use of the shared flags and returns its network sizes.

    ``--seed`` is refused (the studies take ``--seeds``), as is any shared flag the study does
    not use (not in ``used_shared``); each size flag that is set (>= 1) replaces its entry of
    ``default_sizes``. Raises ValueError with one line naming the flag.
    """
    from absl import flags

    from experiments import _flags

    if flags.FLAGS["seed"].present:
        raise ValueError("--seed: the studies take --seeds (a list)")
    used = {h.name for h in used_shared}
    for h in _flags.SHARED:
        if h.name not in used and flags.FLAGS[h.name].present:
            raise ValueError(f"--{h.name} is not a flag of {script} (--helpshort lists them)")
    sizes = dict(default_sizes)
    for name in sizes:
        holder = getattr(_flags, name.upper())
        if holder.value is not None:
            if holder.value < 1:
                raise ValueError(f"--{name}={holder.value} must be >= 1")
            sizes[name] = holder.value
    return sizes


def write_page(out_dir: str, name: str, title: str, *, figure_alt: str, note: str) -> None:
    """``<out_dir>/<name>.html``: the study's figure ``<name>.png``, its summary and per-run
    CSV tables, and ``note`` (the verdict) above them (:func:`mst_jax.page.write_study_page`)."""
    from mst_jax import page

    path = functools.partial(os.path.join, out_dir)
    page.write_study_page(
        path(f"{name}.html"),
        title,
        figures=[(path(f"{name}.png"), figure_alt)],
        tables=[(path(f"{name}_summary.csv"), "Mean and sd over seeds"), (path(f"{name}.csv"), "Every run")],
        note=note,
    )


def device_line() -> str:
    """``"JAX 0.x on cpu: 1 device(s), ..."``: what every computation below runs on."""
    d = outputs.device()
    import jax

    return f"JAX {jax.__version__} on {d['platform']} ({d['device_kind']}): {d['devices']} device(s), {d['cpu_cores']} CPU cores"


def seeds_from_flag(values: Sequence[str], flag: str = "--seeds") -> list[int]:
    """Distinct integer seeds from a list flag; ``ValueError`` (one line, naming ``flag``) otherwise."""
    try:
        seeds = [int(v) for v in values]
    except ValueError:
        raise ValueError(f"{flag}={','.join(values)}: seeds must be integers") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"{flag}={','.join(values)}: give distinct non-negative integers")
    return seeds


def seed_keys(seed: int):
    """``(network key, noise key)`` of one repetition: ``PRNGKey(seed)`` split in two."""
    import jax

    return tuple(jax.random.split(jax.random.PRNGKey(seed)))


class Progress:
    """Progress lines with the ETA of the whole study, from the seconds per unit of work so far.

    ``total`` units (e.g. iterations x batches); :meth:`chunk` reports ``done`` more units. The
    first chunk of each compiled program includes compilation; the ETA is the mean rate so far.
    """

    def __init__(self, script: str, total: float):
        self.script, self.total, self.done = script, float(total), 0.0
        self.t0 = time.perf_counter()

    def chunk(self, label: str, units: float, text: str) -> None:
        self.done += units
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
        print(
            f"{self.script}: {label}: {text}  [{100 * self.done / self.total:.0f} %, "
            f"{console.hms(elapsed)} elapsed, ETA {console.hms(eta)}]",
            flush=True,
        )

    def run(self, label: str, describe: Callable[[dict], str]) -> tuple[Callable[[dict], None], Callable[[int], None]]:
        """``(on_chunk, finish)`` for one solver run: ``on_chunk(info)`` reports the iterations
        done since its last call with the text ``describe(info)``; ``finish(max_iter)`` counts
        the iterations a run did not need (it converged early) as done."""
        seen = {"iteration": 0}

        def on_chunk(info: dict) -> None:
            self.chunk(label, info["iteration"] - seen["iteration"], describe(info))
            seen["iteration"] = info["iteration"]

        def finish(max_iter: int) -> None:
            self.done += max_iter - seen["iteration"]

        return on_chunk, finish


# --------------------------------------------------------------------------- files


def prepare_output_dir(out_dir: str, names: Sequence[str]) -> None:
    """Creates ``out_dir`` and checks that each of ``names`` can be written there, before any
    work; raises :class:`experiments.console.RunError` (exit 2, one line naming the flag)."""
    try:
        os.makedirs(out_dir, exist_ok=True)
        for name in names:
            writing.check_writable(os.path.join(out_dir, name))
    except (OSError, audio.AudioError) as e:
        raise console.RunError(f"--output_dir={out_dir}: {' '.join(str(e).split())}") from None


def write_csv(path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Writes a CSV atomically (temporary file, then rename); floats with 6 significant digits."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
    writing.atomic_write_bytes(path, buf.getvalue().encode())


def save_figure(fig, path) -> None:
    """Saves a matplotlib figure as PNG atomically and closes it."""
    import matplotlib.pyplot as plt

    try:
        writing.save_png(path, fig, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)


def content_gammas(config, representations: Sequence[str], gamma_content: float) -> dict[str, float]:
    """Γ per term of one run with equal total content weight: the content terms of
    ``representations`` share ``gamma_content`` equally (``cqt+mel``: ½ each), every other content
    term is off (Γ 0; none at all for a style-only control), style and L1 terms keep their Γ.

    Args:
      config: the run's :class:`~mst_jax.config.LossConfig`, holding at least those content terms.
      representations: e.g. ``("cqt", "mel")``; empty for the control.
      gamma_content: the total content Γ of the run.
    """
    on = set(representations)
    return {
        t.name: (t.gamma if t.kind != "content" else (gamma_content / len(on) if t.representation in on else 0.0))
        for t in config.terms
    }


def finish(out_dir: str, script: str, names: Sequence[str], t_start: float, *, flags: dict, resolved: dict, solver,
           page_title: str, figure_alt: str, note: str, **fields) -> None:
    """Writes ``<script>.json`` (the run record: flags, resolved settings, versions, device,
    solver, the verdict rule, ``fields``, wall seconds since ``t_start``) and ``<script>.html``
    (:func:`write_page`), then prints the closing line naming the study's outputs ``names``."""
    wall = time.perf_counter() - t_start
    record = {
        "script": script,
        "flags": flags,
        "resolved": resolved,
        "versions": outputs.versions(),
        "device": outputs.device(),
        "solver": repr(solver),
        "verdict_rule": study_analysis.VERDICT_RULE,
        **fields,
        "wall_seconds": wall,
    }
    writing.save_json(os.path.join(out_dir, f"{script}.json"), record)
    write_page(out_dir, script, page_title, figure_alt=figure_alt, note=note)
    print(f"{script}: wrote {', '.join(names)} to {out_dir} in {wall:.1f} s", flush=True)
