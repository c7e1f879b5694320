"""A run's inputs, read and checked on the host before anything is compiled (issue 7).

:func:`load_inputs` reads, mixes down and resamples every clip and checks its length against
one STFT frame (an error) and the longest receptive field (a notice); :func:`describe` is the
run's summary line and :func:`check_memory` its memory estimate, an error before allocating when
the device cannot hold it.
"""

from __future__ import annotations

import dataclasses
import os

import jax
import numpy as np

from experiments import settings
from experiments.console import EXIT_FAILED, RunError, notice
from mst_jax import audio, cost, dynamics, silence
from mst_jax.config import CqtNetConfig, MelNetConfig, StftNetConfig


@dataclasses.dataclass
class Inputs:
    """The checked inputs: waveforms ``(samples,)`` at ``cfg.sr``, the output length in samples,
    the notice lines for the run record, the gain that keeps the content's silences
    (``cfg.keep_silence``; None where there are none, or not asked) and the gain that evens the
    content's level (``cfg.keep_dynamics``: the objective sees ``content * level``, whose peak
    is 1, and the result is divided by it; None where not asked) and, per style file, the factor
    its clips are scaled by: to be as loud as that content (``cfg.match_level``), times
    ``cfg.style_level_db`` (None where neither is asked)."""

    content: np.ndarray | None
    styles: list[np.ndarray]
    num_samples: int
    notices: list[str]
    gate: np.ndarray | None = None
    level: np.ndarray | None = None
    style_gains: tuple[float, ...] | None = None

    @property
    def levelled_content(self) -> np.ndarray | None:
        """The content as the objective sees it: ``content * level`` (the content itself where
        no level is kept)."""
        if self.content is None or self.level is None:
            return self.content
        return (self.content * self.level).astype(np.float32)


def min_samples(cfg: settings.RunConfig) -> tuple[int, int]:
    """(receptive field in frames, samples a clip needs so its STFT has that many frames)."""
    rf = cfg.loss.receptive_field_frames
    return rf, max((rf - 1) * cfg.loss.stft.hop_length, cfg.loss.stft.n_fft)


def _check_length(what: str, n: int, cfg, notices: list[str]):
    """Rejects a clip shorter than one STFT frame; notes one shorter than the longest receptive
    field (the networks pad it with zeros, so it runs, but no kernel sees a whole window)."""
    frame = cfg.loss.stft.n_fft
    if n < frame:
        raise RunError(
            f"{what}: {n / cfg.sr:.3g} s is too short (one STFT frame is {frame} samples); it "
            f"must be at least {frame / cfg.sr:.3g} s ({frame} samples at {cfg.sr} Hz)"
        )
    rf, rf_samples = min_samples(cfg)
    if n < rf_samples:
        notice(
            f"{what}: {n / cfg.sr:.3g} s is shorter than the longest receptive field of preset "
            f"{cfg.preset} ({rf} STFT frames, {rf_samples / cfg.sr:.3g} s): the networks pad it "
            "with zeros",
            notices,
        )


def _check_sounds(what: str, wave: np.ndarray) -> None:
    """Rejects a clip with no sound: every sample the same value (digital silence, or a constant
    offset, which the loader's peak normalisation turns into 1.0). A content with nothing to
    keep, or a style whose grams are zero, has nothing to transfer; left in, a silent content
    failed only after compiling (the content floor could not measure it) and a silent style's
    terms asked for the features of silence."""
    reason = audio.no_sound(wave)
    if reason is not None:
        raise RunError(f"{what}: has no sound ({reason}); give a clip that sounds")


def _read(load, path: str, excerpt: settings.Excerpt, cfg, notices: list[str]) -> np.ndarray:
    """One input: its excerpt read (a file that ends first is the loader's notice), its length
    checked, and refused when it has no sound."""
    wave = load(
        path, sr=cfg.sr, notices=notices, offset_s=excerpt.offset_s, duration_s=excerpt.duration_s
    )
    _check_length(path, wave.size, cfg, notices)
    _check_sounds(path, wave)
    return wave


def load_inputs(cfg: settings.RunConfig, *, duration_flag: str = "--duration", load=audio.load) -> Inputs:
    """Reads and checks every input (host only, nothing compiled): the content's and the
    styles' excerpts (``cfg.content_excerpt``, ``cfg.style_excerpt``). ``load``: ``audio.load``
    or a stand-in with its signature (a batch's :func:`reading_once`)."""
    notices: list[str] = []
    content = None
    if cfg.content is not None:
        content = _read(load, cfg.content, cfg.content_excerpt, cfg, notices)
    styles = [_read(load, path, cfg.style_excerpt, cfg, notices) for path in cfg.styles]
    if content is not None:
        n = content.size
    elif cfg.duration_s is not None:
        n = round(cfg.duration_s * cfg.sr)
        _check_length(f"{duration_flag}={cfg.duration_s:g}", n, cfg, notices)
    else:
        n = styles[0].size
    inputs = Inputs(
        content, styles, n, notices,
        _silence_gate(cfg, content, notices), _levelling_gain(cfg, content, notices),
    )
    return dataclasses.replace(inputs, style_gains=_style_gains(cfg, inputs))


def _silence_gate(cfg: settings.RunConfig, content, notices: list[str]) -> np.ndarray | None:
    """:func:`mst_jax.silence.gate` of the content when the run keeps its silences, with a
    notice saying how much of it is silent."""
    if not cfg.keep_silence or content is None:
        return None
    stft = cfg.loss.stft
    gain = silence.gate(content, frame_length=stft.n_fft, hop_length=stft.hop_length)
    if gain is not None:
        silent = float(np.count_nonzero(gain == 0.0)) / cfg.sr
        notice(
            f"{cfg.content}: {silent:.2f} s of it is silent (more than {silence.SILENCE_DB:g} dB "
            "below its loudest frame); the result is kept silent there (--nokeep_silence leaves "
            "it to the style)",
            notices,
        )
    return gain


def _style_gains(cfg: settings.RunConfig, inputs: Inputs) -> tuple[float, ...] | None:
    """Each style clip's gain: :func:`mst_jax.dynamics.matching_gain` to the content the
    objective sees when the run matches the style's level to it (1 otherwise), times
    ``cfg.style_level_db``; None where neither applies (the styles as given)."""
    if inputs.content is None or not (cfg.match_level or cfg.style_level_db):
        return None
    stft = cfg.loss.stft
    offset = 10.0 ** (cfg.style_level_db / 20.0)
    return tuple(
        offset * (dynamics.matching_gain(
            s, inputs.levelled_content, frame_length=stft.n_fft, hop_length=stft.hop_length
        ) if cfg.match_level else 1.0)
        for s in inputs.styles
    )


LEVEL_NOTICE_DB = 20.0  # a content whose level varies by at least this much is told so


def _levelling_gain(cfg: settings.RunConfig, content, notices: list[str]) -> np.ndarray | None:
    """:func:`mst_jax.dynamics.levelling_gain` of the content when the run keeps its dynamics,
    scaled so the levelled content peaks at 1 (within the waveform's bounds, as the content is),
    with a notice where its level varies by :data:`LEVEL_NOTICE_DB` or more."""
    if not cfg.keep_dynamics or content is None:
        return None
    stft = cfg.loss.stft
    gain = dynamics.levelling_gain(
        content, sr=cfg.sr, frame_length=stft.n_fft, hop_length=stft.hop_length
    )
    if gain is None:
        return None
    sounding = silence.gate(content, frame_length=stft.n_fft, hop_length=stft.hop_length)
    span = gain if sounding is None else gain[sounding > 0]
    range_db = 20.0 * float(np.log10(span.max() / span.min()))
    if range_db >= LEVEL_NOTICE_DB:
        notice(
            f"{cfg.content}: its level varies by {range_db:.0f} dB over "
            f"{dynamics.WINDOW_S:g} s windows; the transfer evens it and gives it back to the "
            "result (--nokeep_dynamics leaves the quiet passages to the style)",
            notices,
        )
    return (gain / float(np.max(np.abs(content * gain)))).astype(np.float32)


def reading_once():
    """``audio.load`` that reads, mixes down and resamples each excerpt once: a later call for
    the same path, rate and excerpt gets the same waveform, and that file's notice lines are
    added to its ``notices`` list again without being printed again (a batch whose rows share
    a file)."""
    seen: dict[tuple, tuple[np.ndarray, list[str]]] = {}

    def load(
        path: str, *, sr: int, notices: list[str], offset_s: float = 0.0, duration_s=None
    ) -> np.ndarray:
        key = (os.path.abspath(path), sr, offset_s, duration_s)
        if key not in seen:
            own: list[str] = []
            wave = audio.load(path, sr=sr, notices=own, offset_s=offset_s, duration_s=duration_s)
            seen[key] = (wave, own)
        wave, own = seen[key]
        notices.extend(own)
        return wave

    return load


def describe(cfg: settings.RunConfig, inputs: Inputs) -> str:
    """The run's summary line: preset, length, iterations, seed, backend, the excerpts read
    (where not whole files) and each term's net."""
    nets = []
    for t in cfg.loss.terms:
        n = t.net
        if isinstance(n, StftNetConfig):
            nets.append(f"{t.name}(filters {n.filters}, kernel {n.kernel})")
        elif isinstance(n, MelNetConfig):
            nets.append(f"{t.name}({n.n_mels} mels, filters {n.filters}, blocks {n.blocks})")
        elif isinstance(n, CqtNetConfig):
            nets.append(f"{t.name}(filters {n.filters}, blocks {n.blocks}, pool {n.pool})")
        else:
            nets.append(t.name)
    excerpts = ""
    if not cfg.content_excerpt.whole:
        excerpts += f"; content {cfg.content_excerpt.where(inputs.content, cfg.sr)}"
    if not cfg.style_excerpt.whole:
        e = cfg.style_excerpt
        excerpts += f"; style from {e.offset_s:g} s" + (
            f" for {e.duration_s:g} s" if e.duration_s is not None else " to its end"
        )
    return (
        f"{cfg.script}: preset {cfg.preset}, {inputs.num_samples / cfg.sr:.2f} s at {cfg.sr} Hz, "
        f"{cfg.max_iter} iterations of {cfg.solver.optimizer}, seed {cfg.seed}, "
        f"on {jax.default_backend()}{excerpts}; terms: {', '.join(nets)}"
    )


def host_available_bytes(meminfo: str = "/proc/meminfo") -> float | None:
    """RAM a new allocation can get: Linux's ``MemAvailable`` (free pages plus the page cache
    and other memory the kernel reclaims on demand), else the free pages (other systems)."""
    try:
        with open(meminfo) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0  # the file counts kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def memory_limit_bytes() -> float | None:
    """Memory the default device can give: the accelerator's limit, or the host's available RAM."""
    stats = jax.local_devices()[0].memory_stats() or {}  # several processes: our own device
    if "bytes_limit" in stats:
        return float(stats["bytes_limit"])
    return host_available_bytes()


def check_memory(cfg: settings.RunConfig, num_samples: int, *, rows: int = 1) -> str:
    """The estimate line printed before compiling; raises RunError before allocating when the
    estimate (``mst_jax.cost``, plus the optimiser's state) exceeds the device's memory.

    The state is counted in float32 values per sample: the L-BFGS pairs (two per remembered
    step) or Adam's two moments, plus 8 for the iterate, its gradient and the solver's work.

    ``rows``: the examples each device holds (a ``--batch`` split over the devices): they share
    the networks' weights; each has its own targets, activations and optimiser state."""
    solver = cfg.solver
    state, state_per_sample = {  # as the line names it; float32 values per sample
        "lbfgsb": ("L-BFGS-B history", 2 * solver.history_size),
        "optax_lbfgs": ("L-BFGS history", 2 * solver.history_size),
        "adam": ("Adam's moments", 2),
    }[solver.optimizer]

    def need(n):
        c = cost.loss_grad_cost(cfg.loss, num_samples=n)
        one = c.target_bytes + c.activation_bytes + (state_per_sample + 8) * 4.0 * n
        return c, c.weight_bytes + rows * one

    c, total = need(num_samples)
    rate = cost.matmul_flops_per_s()
    flops = rows * c.flops
    where = f" on each device ({rows} transfers each)" if rows > 1 else ""
    line = (
        f"estimate: {flops / 1e9:.0f} GFLOP and about {total / 1e9:.2f} GB per loss+gradient{where} "
        f"({state} included); {flops / rate:.2g}–{2 * flops / rate:.2g} s per "
        f"iteration for the nets' arithmetic at 100–50 % of this device's {rate / 1e9:.0f} GFLOP/s "
        "matmul rate"
        + (" (the bounded solver adds ~0.07 µs per sample on a CPU)" if solver.optimizer == "lbfgsb" else "")
    )
    limit = memory_limit_bytes()
    if limit is None or total <= 0.9 * limit:
        return line
    if rows > 1:
        fits = int(max(0.0, (0.9 * limit - c.weight_bytes) / ((total - c.weight_bytes) / rows)))
        raise RunError(
            f"{rows} transfers of {num_samples / cfg.sr:.1f} s on one device need about {total / 1e9:.1f} GB "
            f"with these sizes, {limit / 1e9:.1f} GB is available: about {fits} fit at once (split the "
            "--batch CSV, read less of each content with --content_duration, or use fewer filters)",
            EXIT_FAILED,
        )
    per_second = (need(10 * cfg.sr)[1] - need(cfg.sr)[1]) / 9.0
    fixed = need(cfg.sr)[1] - per_second
    fits = int(max(0.0, (0.9 * limit - fixed) / per_second))  # whole seconds, rounded down
    shorter = {"transfer": "--content_duration", "texture": "--duration"}.get(cfg.script)
    how = f"{shorter}={fits}, " if shorter and fits >= 1 else ""
    raise RunError(
        f"{num_samples / cfg.sr:.1f} s of audio needs about {total / 1e9:.1f} GB with these sizes, "
        f"{limit / 1e9:.1f} GB is available: about {fits} s fits ({how}or use fewer filters)",
        EXIT_FAILED,
    )
