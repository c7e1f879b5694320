"""A run's outputs: its file names, the written waveform, the spectrogram figure, the run record.

:class:`Paths` names every file of one run from ``--output``; :func:`to_wave` turns the optimised
variable into a waveform (Griffin-Lim for the baseline's spectrogram) and :func:`for_file` scales it
for the WAV; :func:`write_figure` and :func:`write_page` write the figures and the listening page
(:func:`write_views`, both); :func:`run_record` is the run record ``<stem>.json`` of a single run
or of one batch row, from :func:`versions`, :func:`device`, :func:`config_record`,
:func:`io_record` and, added last, :func:`quality_block`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform

import jax
import jax.numpy as jnp
import numpy as np

from experiments import objectives, settings
from experiments.preflight import Inputs
from mst_jax import (
    content_floor, evaluate, loss_figure, quality_report, run_page, spectral, writing,
)


@dataclasses.dataclass(frozen=True)
class Paths:
    """The files of one run: ``<stem>`` is the output path without its extension."""

    wav: str
    json: str
    png: str
    state: str
    checkpoint: str
    html: str = ""  # the listening page (mst_jax.run_page)
    loss_png: str = ""  # the loss figure the page shows

    @classmethod
    def of(cls, output: str) -> Paths:
        stem, ext = os.path.splitext(output)
        stem = stem if ext else output
        return cls(
            output,
            stem + ".json",
            stem + ".png",
            stem + ".state.npz",
            stem + ".checkpoint" + (ext or ".wav"),
            stem + ".html",
            stem + ".loss.png",
        )

    def clash(self) -> str:
        """Why the audio path cannot be used, as the end of a one-line error ("" if it can): it
        is one of the run's own files (``--output=x.json`` would write the audio and then the
        record over it). The other files add to the stem (``x.loss.png``, ``x.state.npz``), so
        they cannot be the audio's path."""
        kinds = (("json", "run record"), ("png", "spectrogram figure"), ("html", "listening page"))
        here = os.path.abspath(self.wav)
        for field, kind in kinds:
            other = getattr(self, field)
            if other and os.path.abspath(other) == here:
                return (
                    f"the run writes its {kind} to that path; give the audio an audio extension "
                    "(.wav, .flac, .ogg or .mp3)"
                )
        return ""


def to_wave(cfg, x, inputs) -> np.ndarray:
    """The optimised variable as a waveform (:func:`experiments.objectives.of`'s ``to_wave``:
    the samples themselves, or Griffin-Lim of the baseline's log-magnitude STFT), as long as
    the inputs ask (``inputs.num_samples``), given the content's level back if the objective saw
    it evened (``--keep_dynamics``) and multiplied by the content's silence gate if they have
    one (``--keep_silence``)."""
    wave = objectives.of(cfg.preset).to_wave(
        x, stft=cfg.loss.stft, length=inputs.num_samples, n_iter=cfg.griffinlim_iter, seed=cfg.seed
    )
    if inputs.level is not None:
        wave = wave / inputs.level
    if inputs.gate is not None:
        wave = wave * inputs.gate
    return np.asarray(wave, np.float32)


def for_file(cfg, wave: np.ndarray) -> tuple[np.ndarray, float]:
    """Peak-normalised (if ``cfg.normalize``) copy and the gain applied."""
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if cfg.normalize and peak > 0:
        return (wave / peak).astype(np.float32), 1.0 / peak
    return np.clip(wave, -1.0, 1.0).astype(np.float32), 1.0


def write_figure(path: str, panels, cfg):
    """Log-magnitude STFTs side by side (matplotlib Agg, no global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_fft, hop = cfg.loss.stft.n_fft, cfg.loss.stft.hop_length
    specs = [
        np.log1p(np.asarray(spectral.stft_magnitude(jnp.asarray(w), n_fft=n_fft, hop_length=hop)))
        for _, w in panels
    ]
    vmax = max(float(s.max()) for s in specs) or 1.0
    fig = Figure(figsize=(4.2 * len(panels), 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, w), s in zip(axes, panels, specs):
        im = ax.imshow(
            s.T,
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=0.0,
            vmax=vmax,
            extent=(0.0, w.size / cfg.sr, 0.0, cfg.sr / 2000.0),
        )
        ax.set_title(title)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (kHz)")
    fig.colorbar(im, ax=list(axes), label="log(1 + |STFT|)")
    writing.save_png(path, fig, dpi=100)


def write_page(cfg: settings.RunConfig, record: dict, paths: Paths) -> None:
    """The loss figure ``<stem>.loss.png`` and the listening page ``<stem>.html`` (unless
    ``--nopage``), written after the WAV, the record and the spectrogram figure they show."""
    if not cfg.page:
        return
    loss_figure.write_loss_figure(paths.loss_png, record)
    run_page.write_run_page(
        paths.html, record, spectrogram_png=paths.png, loss_png=paths.loss_png, record_path=paths.json
    )


def write_views(
    cfg: settings.RunConfig, inputs: Inputs, wave: np.ndarray, record: dict, paths: Paths
) -> None:
    """The spectrogram figure (content, up to two styles, the result) and the listening page,
    written after the WAV and the record. An input read as an excerpt is titled with its
    seconds in the file (each panel's time axis starts at 0)."""

    def title(name, excerpt, wave):
        return name if excerpt.whole else f"{name}, {excerpt.where(wave, cfg.sr)}"

    panels = [] if inputs.content is None else [
        (title("content", cfg.content_excerpt, inputs.content), inputs.content)
    ]
    panels += [
        (title(f"style {i + 1}" if len(inputs.styles) > 1 else "style", cfg.style_excerpt, s), s)
        for i, s in enumerate(inputs.styles[:2])
    ]
    panels.append(("result", wave))
    write_figure(paths.png, panels, cfg)
    write_page(cfg, record, paths)


def run_record(
    cfg: settings.RunConfig,
    inputs: Inputs,
    paths: Paths,
    wave: np.ndarray,
    gain: float,
    *,
    flags: dict,
    beta: dict,
    norms: dict,
    history: dict,
    wall_seconds: float,
    result,
    floor: content_floor.FloorState | None,
    resumed: bool,
    notices: list[str],
) -> dict:
    """The run record (SPEC §2) of a written result, before its ``quality`` block.

    Args:
      beta, norms: per term, its Eq. 7-8 weight and gradient norm at the calibration point.
      history: ``loss`` (total per iteration), ``terms`` (name -> weighted loss per
        iteration), ``seconds`` (per iteration), each a list over the whole run.
      result: the :class:`mst_jax.synthesis.Result` (its iteration count and stop reason).
      floor: the content floor's state, if the run had one.
    """
    return {
        "script": cfg.script,
        "flags": flags,
        "versions": versions(),
        "device": device(),
        "terms": {
            t.name: {"gamma": t.gamma, "beta": beta[t.name], "grad_norm_at_init": norms[t.name]}
            for t in cfg.loss.terms
        },
        "loss_history": history["loss"],
        "term_history": history["terms"],
        "seconds_per_iteration": history["seconds"],
        "wall_seconds": wall_seconds,
        "iterations": int(result.state.iteration),
        "stop_reason": result.stop_reason,
        **({"content_floor": content_floor.record(floor)} if floor is not None else {}),
        "interrupted": result.stop_reason == "interrupted",
        "resumed": resumed,
        "config": config_record(cfg),
        **io_record(cfg, inputs, paths, wave, gain),
        "notices": notices,
        "term_history_weighted": True,
    }


def versions() -> dict:
    """Versions of Python and the packages a run depends on (the run record's ``versions``)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in (
        "mst_jax",
        "jax",
        "jaxlib",
        "jaxopt",
        "optax",
        "numpy",
        "scipy",
        "librosa",
        "soundfile",
        "absl-py",
        "matplotlib",
    ):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def device() -> dict:
    """The platform and devices JAX runs on (the run record's ``device``).

    ``peak_memory_bytes``: the first device's peak allocation so far in this process, where
    its backend reports one (GPUs, TPUs); None on the CPU, whose peak is the process's RSS.
    Called after the run, it is the run's peak on the accelerator."""
    d = jax.local_devices()[0]  # on several processes, one this process can ask
    stats = d.memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return {
        "platform": d.platform,
        "device_kind": getattr(d, "device_kind", ""),
        "devices": jax.device_count(),
        "cpu_cores": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "peak_memory_bytes": None if peak is None else int(peak),
    }


def config_record(cfg: settings.RunConfig) -> dict:
    """The run record's ``config``: the resolved terms, STFT, solver and output settings."""
    terms = []
    for t in cfg.loss.terms:
        net = None
        if t.net is not None:
            net = {"representation": t.net.representation, **dataclasses.asdict(t.net)}
        terms.append({"name": t.name, "kind": t.kind, "gamma": t.gamma, "net": net})
    domain = objectives.of(cfg.preset).domain
    return {
        "script": cfg.script,
        "preset": cfg.preset,
        "demo": cfg.demo,
        "terms": terms,
        "stft": dataclasses.asdict(cfg.loss.stft),
        "normalize_gradients": cfg.loss.normalize_gradients,
        "domain": domain,
        "receptive_field_frames": cfg.loss.receptive_field_frames,
        "solver": dataclasses.asdict(cfg.solver),
        "seed": cfg.seed,
        "sr": cfg.sr,
        "init": cfg.init,
        "content_floor": cfg.content_floor,
        "keep_silence": cfg.keep_silence,
        "keep_dynamics": cfg.keep_dynamics,
        "match_level": cfg.match_level,
        "style_level_db": cfg.style_level_db,
        "duration_s": cfg.duration_s,
        "normalize_output": cfg.normalize,
        "subtype": cfg.subtype,
        "griffinlim_iter": cfg.griffinlim_iter if domain == "spectrogram" else None,
    }


def io_record(cfg: settings.RunConfig, inputs: Inputs, paths: Paths, wave: np.ndarray, gain: float) -> dict:
    """The run record's ``inputs`` and ``output`` entries. Each input has its path, the
    seconds read, and the excerpt asked for: ``offset_s`` (where they start in the file) and
    ``duration_s`` (None: to the end of the file); each style, with ``--match_level`` or
    ``--style_level_db``, the gain in dB its clips were scaled by (``level_gain_db``: the match
    to the content's level plus the offset)."""

    def entry(path, wave, excerpt):
        return {
            "path": path,
            "seconds": wave.size / cfg.sr,
            "offset_s": excerpt.offset_s,
            "duration_s": excerpt.duration_s,
        }

    def style_entry(k, path, wave):
        e = entry(path, wave, cfg.style_excerpt)
        if inputs.style_gains is not None:
            e["level_gain_db"] = 20.0 * math.log10(inputs.style_gains[k])
        return e

    return {
        "inputs": {
            "content": None
            if inputs.content is None
            else entry(cfg.content, inputs.content, cfg.content_excerpt),
            "styles": [
                style_entry(k, p, w) for k, (p, w) in enumerate(zip(cfg.styles, inputs.styles))
            ],
        },
        "output": {
            "path": paths.wav,
            "seconds": wave.size / cfg.sr,
            "samples": int(wave.size),
            "gain": gain,
        },
    }


def quality_block(cfg: settings.RunConfig, inputs: Inputs, wave: np.ndarray) -> dict:
    """The run record's ``quality`` block (:func:`mst_jax.quality_report.record`): the written
    result measured against the content and the styles (the optimised waveform, as saved)."""
    q = evaluate.evaluate(
        wave, content=inputs.content, style=inputs.styles or None, sr=cfg.sr
    )
    return quality_report.record(q)
