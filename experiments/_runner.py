"""The run shared by ``experiments.transfer``, ``texture`` and ``reconstruct``.

Order of work (issue 7: nothing is compiled before every input has been checked):

1. validate the flags (:func:`experiments._flags.run_config`), the output paths and the inputs
   (read, mixed down, resampled, at least one STFT frame long; a notice when shorter than the
   longest receptive field);
2. build the objective with a key from ``--seed`` (split into a network key and an init key),
   measure each term's gradient norm at the initial noise and set β by Eq. 7-8;
3. run ``mst_jax.synthesis.synthesize`` in chunks: one progress line per chunk, a checkpoint
   (WAV + resumable state) every ``--checkpoint_every`` iterations, SIGINT/SIGTERM polled
   between chunks;
4. write, each atomically: the WAV, the run record ``<stem>.json``, the figure ``<stem>.png``,
   then (unless ``--nopage``) the loss figure ``<stem>.loss.png`` and the listening page
   ``<stem>.html`` (:mod:`mst_jax.run_page`), also when interrupted.

Exit status: 0 done; 2 bad input or flags (one ``error:`` line on stderr, nothing written);
1 the run itself failed (e.g. out of memory; nothing written); 130 / 143 interrupted by
SIGINT / SIGTERM (the best result so far written, the state kept for ``--resume``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import math
import os
import platform
import signal
import sys
import time
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from experiments import _flags
from mst_jax import audio, cost, evaluate, filters, losses, run_page, spectral, synthesis
from mst_jax.config import CqtNetConfig, MelNetConfig, StftNetConfig

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
STATE_VERSION = 1

logger = logging.getLogger("mst_jax.experiments")


class RunError(Exception):
    """A one-line failure with its exit status."""

    def __init__(self, message: str, status: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------- console


class _NoticeHandler(logging.Handler):
    """Prints each ``mst_jax`` notice (legal oddities) as one ``notice:`` line on stderr."""

    def emit(self, record):
        message = " ".join(record.getMessage().splitlines())
        sys.stderr.write(f"notice: {message}\n")
        sys.stderr.flush()


def _install_notice_handler():
    root = logging.getLogger("mst_jax")
    if not any(isinstance(h, _NoticeHandler) for h in root.handlers):
        root.addHandler(_NoticeHandler(level=logging.WARNING))
    root.setLevel(logging.WARNING)
    root.propagate = False  # absl's handler would print them a second time
    # JAX reports at INFO that it found no TPU; absl would print that on every run.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)


def notice(message: str, notices: list[str] | None = None):
    logger.warning(message)
    if notices is not None:
        notices.append(message)


def _one_line(message) -> str:
    return " ".join(str(message).split()) or "unknown error"


def _say(line: str):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def hms(seconds: float) -> str:
    """``h:mm:ss`` of ``seconds`` (``?`` if not finite), as the progress lines print an ETA."""
    if not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def report_progress(script: str, info: dict, max_iter: int, first: bool):
    """One progress line: iteration, total loss, seconds per iteration, estimated time left."""
    it, spi = info["iteration"], info["seconds_per_iteration"]
    # The first chunk's time is mostly compilation: no estimate from it.
    eta = float("nan") if first and it < max_iter else (max_iter - it) * spi
    note = " (first chunk: includes compilation)" if first else ""
    _say(
        f"{script}: iteration {it}/{max_iter}  loss {info['loss']:.6g}  "
        f"{spi:.3g} s/iteration  ETA {hms(eta)}{note}"
    )


# --------------------------------------------------------------------------- signals


class _Stopper:
    """SIGINT/SIGTERM set a flag polled between chunks; a second signal kills at once."""

    def __init__(self):
        self.signum = None
        self._old = {}

    def install(self):
        for s in (signal.SIGINT, signal.SIGTERM):
            self._old[s] = signal.signal(s, self._handle)

    def uninstall(self):
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old = {}

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
            sys.stderr.write(
                f"notice: {signal.Signals(signum).name} received: stopping after the current chunk "
                "and saving the best result so far (send it again to abort without saving)\n"
            )
            sys.stderr.flush()
        signal.signal(signum, signal.SIG_DFL)

    def __call__(self) -> bool:
        return self.signum is not None


# --------------------------------------------------------------------------- paths and inputs


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


@dataclasses.dataclass
class Inputs:
    content: np.ndarray | None
    styles: list[np.ndarray]
    num_samples: int
    notices: list[str]


def min_samples(cfg: _flags.RunConfig) -> tuple[int, int]:
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


def load_inputs(cfg: _flags.RunConfig, *, duration_flag: str = "--duration") -> Inputs:
    """Reads and checks every input (host only, nothing compiled)."""
    notices: list[str] = []
    content = None
    if cfg.content is not None:
        content = audio.load(cfg.content, sr=cfg.sr, notices=notices)
        _check_length(cfg.content, content.size, cfg, notices)
    styles = []
    for path in cfg.styles:
        wave = audio.load(path, sr=cfg.sr, notices=notices)
        _check_length(path, wave.size, cfg, notices)
        styles.append(wave)
    if content is not None:
        n = content.size
    elif cfg.duration_s is not None:
        n = round(cfg.duration_s * cfg.sr)
        _check_length(f"{duration_flag}={cfg.duration_s:g}", n, cfg, notices)
    else:
        n = styles[0].size
    return Inputs(content, styles, n, notices)


# --------------------------------------------------------------------------- objective


def make_objective(cfg: _flags.RunConfig, inputs: Inputs):
    """The uncalibrated objective (β = Γ), the calibration point and the initial iterate.

    Returns:
      ``(objective, x_cal, x0)``. ``x_cal`` is the initial noise N(0, 1e-3²) (or its log-magnitude
      STFT in the spectrogram domain): Eq. 7-8 are measured there even with ``--init=content``,
      where the content term's gradient is zero.
    """
    key = jax.random.key(cfg.seed)
    net_key, init_key = jax.random.split(key)
    styles = inputs.styles
    style = None if not styles else (styles[0] if len(styles) == 1 else list(styles))
    objective = losses.build(
        cfg.loss,
        net_key,
        content=inputs.content,
        style=style,
        sr=cfg.sr,
        num_samples=inputs.num_samples,
    )
    noise = synthesis.init_noise(init_key, inputs.num_samples)
    start = inputs.content if cfg.init == "content" else noise
    if cfg.loss.domain == "spectrogram":
        stft = cfg.loss.stft

        def to_x(w):
            mag = spectral.stft_magnitude(
                jnp.asarray(w, jnp.float32), n_fft=stft.n_fft, hop_length=stft.hop_length
            )
            return spectral.log_spectrogram(mag)

        return objective, to_x(noise), to_x(start)
    return objective, noise, jnp.asarray(start, jnp.float32)


def calibrated(objective, norms: dict[str, float]):
    """The objective weighted by :func:`mst_jax.losses.beta_from_norms` (Eq. 7-8, or raw β = Γ);
    a term Eq. 7 cannot weight is a one-line :class:`RunError` naming the flags that avoid it."""
    try:
        beta = losses.beta_from_norms(objective.config, norms)
    except losses.CalibrationError as e:
        raise RunError(
            f"the {e.term} term has gradient norm {e.norm:g} at the initial noise, so Eq. 7 cannot weight it "
            f"(is the input silent?); use --raw_weights or --gamma_{e.term}=0",
            EXIT_BAD_INPUT,
        ) from None
    return objective._replace(params=dict(objective.params, beta={k: jnp.float32(v) for k, v in beta.items()}))


def _fingerprint(cfg: _flags.RunConfig, inputs: Inputs) -> str:
    """What must match for ``--resume`` to continue the same run."""
    h = hashlib.sha256()
    solver = dataclasses.replace(cfg.solver, max_iter=1, chunk=1)
    for part in (
        cfg.script,
        repr(cfg.loss),
        repr(solver),
        cfg.seed,
        cfg.sr,
        cfg.init,
        inputs.num_samples,
    ):
        h.update(repr(part).encode())
    for w in ([inputs.content] if inputs.content is not None else []) + inputs.styles:
        h.update(np.ascontiguousarray(w, np.float32).tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- state files


def _save_state(path: str, state, meta: dict, history: dict):
    leaves = [np.array(leaf) for leaf in jax.tree_util.tree_leaves(state)]
    arrays = {f"leaf_{i:03d}": leaf for i, leaf in enumerate(leaves)}
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["loss_history"] = np.asarray(history["loss"], np.float32)
    arrays["seconds_per_iteration"] = np.asarray(history["seconds"], np.float64)
    for name, values in history["terms"].items():
        arrays[f"term__{name}"] = np.asarray(values, np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    audio.atomic_write_bytes(path, buf.getvalue())


def _read_state(path: str) -> dict:
    if not os.path.exists(path):
        raise RunError(
            f"--resume: {path}: no saved state (it is written on interrupt and at checkpoints)"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(str(data.pop("meta")))
    except Exception as error:  # noqa: BLE001 - any unreadable file is one message
        raise RunError(
            f"--resume: {path}: not a readable state file ({_one_line(error)})"
        ) from None
    if meta.get("version") != STATE_VERSION:
        raise RunError(
            f"--resume: {path}: state version {meta.get('version')} is not {STATE_VERSION}"
        )
    leaves = [data[k] for k in sorted(k for k in data if k.startswith("leaf_"))]
    terms = {k[len("term__") :]: v for k, v in data.items() if k.startswith("term__")}
    return {
        "meta": meta,
        "leaves": leaves,
        "history": {
            "loss": list(data["loss_history"]),
            "seconds": list(data["seconds_per_iteration"]),
            "terms": {k: list(v) for k, v in terms.items()},
        },
    }


def _restore_state(saved: dict, objective, x0, solver):
    template = jax.eval_shape(lambda x: synthesis.initial_state(objective, x, solver), x0)
    t_leaves, treedef = jax.tree_util.tree_flatten(template)
    leaves = saved["leaves"]
    if len(leaves) != len(t_leaves) or any(
        a.shape != b.shape or a.dtype != b.dtype for a, b in zip(leaves, t_leaves)
    ):
        raise RunError(
            "--resume: the saved state does not fit this run (saved by another version?)"
        )
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(a) for a in leaves])


# --------------------------------------------------------------------------- outputs


def griffinlim(log_magnitude, *, cfg, length: int, n_iter: int) -> np.ndarray:
    """Griffin-Lim (librosa) from an optimised log1p-magnitude STFT ``(frames, bins)``."""
    mag = np.expm1(np.maximum(np.asarray(log_magnitude, np.float64), 0.0)).T.astype(np.float32)
    return griffinlim_magnitude(mag, cfg=cfg, length=length, n_iter=n_iter)


def griffinlim_magnitude(magnitude, *, cfg, length: int, n_iter: int) -> np.ndarray:
    """``librosa.griffinlim`` of a magnitude STFT ``(bins, frames)`` with the run's STFT and seed."""
    import librosa

    stft = cfg.loss.stft
    return librosa.griffinlim(
        magnitude,
        n_iter=n_iter,
        hop_length=stft.hop_length,
        n_fft=stft.n_fft,
        win_length=stft.n_fft,
        window="hann",
        center=True,
        pad_mode="constant",
        length=length,
        random_state=cfg.seed,
    ).astype(np.float32)


def to_wave(cfg, x, num_samples: int) -> np.ndarray:
    """The optimised variable as a waveform (Griffin-Lim in the spectrogram domain)."""
    if cfg.loss.domain == "spectrogram":
        return griffinlim(x, cfg=cfg, length=num_samples, n_iter=cfg.griffinlim_iter)
    return np.asarray(x, np.float32)


def _for_file(cfg, wave: np.ndarray) -> tuple[np.ndarray, float]:
    """Peak-normalised (if ``cfg.normalize``) copy and the gain applied."""
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if cfg.normalize and peak > 0:
        return (wave / peak).astype(np.float32), 1.0 / peak
    return np.clip(wave, -1.0, 1.0).astype(np.float32), 1.0


def _write_figure(path: str, panels, cfg):
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
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    audio.atomic_write_bytes(path, buf.getvalue())


def write_page(cfg: _flags.RunConfig, record: dict, paths: Paths) -> None:
    """The loss figure ``<stem>.loss.png`` and the listening page ``<stem>.html`` (unless
    ``--nopage``), written after the WAV, the record and the spectrogram figure they show."""
    if not cfg.page:
        return
    run_page.write_loss_figure(paths.loss_png, record)
    run_page.write_run_page(
        paths.html, record, spectrogram_png=paths.png, loss_png=paths.loss_png, record_path=paths.json
    )


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
    """The platform and devices JAX runs on (the run record's ``device``)."""
    d = jax.devices()[0]
    return {
        "platform": d.platform,
        "device_kind": getattr(d, "device_kind", ""),
        "devices": jax.device_count(),
        "cpu_cores": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor(),
    }


def _config_record(cfg: _flags.RunConfig) -> dict:
    terms = []
    for t in cfg.loss.terms:
        net = None
        if t.net is not None:
            net = {"representation": t.net.representation, **dataclasses.asdict(t.net)}
        terms.append({"name": t.name, "kind": t.kind, "gamma": t.gamma, "net": net})
    return {
        "script": cfg.script,
        "preset": cfg.preset,
        "demo": cfg.demo,
        "terms": terms,
        "stft": dataclasses.asdict(cfg.loss.stft),
        "normalize_gradients": cfg.loss.normalize_gradients,
        "domain": cfg.loss.domain,
        "receptive_field_frames": cfg.loss.receptive_field_frames,
        "solver": dataclasses.asdict(cfg.solver),
        "seed": cfg.seed,
        "sr": cfg.sr,
        "init": cfg.init,
        "duration_s": cfg.duration_s,
        "normalize_output": cfg.normalize,
        "subtype": cfg.subtype,
        "griffinlim_iter": cfg.griffinlim_iter if cfg.loss.domain == "spectrogram" else None,
    }


def io_record(cfg: _flags.RunConfig, inputs: Inputs, paths: Paths, wave: np.ndarray, gain: float) -> dict:
    """The run record's ``inputs`` and ``output`` entries."""
    return {
        "inputs": {
            "content": None
            if inputs.content is None
            else {"path": cfg.content, "seconds": inputs.content.size / cfg.sr},
            "styles": [
                {"path": p, "seconds": w.size / cfg.sr} for p, w in zip(cfg.styles, inputs.styles)
            ],
        },
        "output": {
            "path": paths.wav,
            "seconds": wave.size / cfg.sr,
            "samples": int(wave.size),
            "gain": gain,
        },
    }


def quality_block(cfg: _flags.RunConfig, inputs: Inputs, wave: np.ndarray) -> dict:
    """The run record's ``quality`` block (:func:`mst_jax.evaluate.record`): the written
    result measured against the content and the styles (the optimised waveform, as saved)."""
    q = evaluate.evaluate(
        wave, content=inputs.content, style=inputs.styles or None, sr=cfg.sr
    )
    return evaluate.record(q)


def describe(cfg: _flags.RunConfig, inputs: Inputs) -> str:
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
    return (
        f"{cfg.script}: preset {cfg.preset}, {inputs.num_samples / cfg.sr:.2f} s at {cfg.sr} Hz, "
        f"{cfg.max_iter} iterations of {cfg.solver.optimizer}, seed {cfg.seed}, "
        f"on {jax.default_backend()}; terms: {', '.join(nets)}"
    )


def _host_available_bytes(meminfo: str = "/proc/meminfo") -> float | None:
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


def _memory_limit_bytes() -> float | None:
    """Memory the default device can give: the accelerator's limit, or the host's available RAM."""
    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return float(stats["bytes_limit"])
    return _host_available_bytes()


def check_memory(cfg: _flags.RunConfig, num_samples: int) -> str:
    """The estimate line printed before compiling; raises RunError before allocating when the
    estimate (``mst_jax.cost``, plus the L-BFGS-B history) exceeds the device's memory."""

    def need(n):
        c = cost.loss_grad_cost(cfg.loss, num_samples=n)
        return c, c.total_bytes + (2 * cfg.solver.history_size + 8) * 4.0 * n

    c, total = need(num_samples)
    rate = cost.matmul_flops_per_s()
    line = (
        f"estimate: {c.flops / 1e9:.0f} GFLOP and about {total / 1e9:.2f} GB per loss+gradient "
        f"(L-BFGS-B history included); {c.flops / rate:.2g}–{2 * c.flops / rate:.2g} s per iteration "
        f"for the nets' arithmetic at 100–50 % of this device's {rate / 1e9:.0f} GFLOP/s matmul rate "
        f"(the bounded solver adds ~0.6 µs per sample on a CPU)"
    )
    limit = _memory_limit_bytes()
    if limit is not None and total > 0.9 * limit:
        per_second = (need(10 * cfg.sr)[1] - need(cfg.sr)[1]) / 9.0
        fixed = need(cfg.sr)[1] - per_second
        fits = max(0.0, (0.9 * limit - fixed) / per_second)
        raise RunError(
            f"{num_samples / cfg.sr:.1f} s of audio needs about {total / 1e9:.1f} GB with these sizes, "
            f"{limit / 1e9:.1f} GB is available: about {fits:.0f} s fits (or use fewer filters)",
            EXIT_FAILED,
        )
    return line


# --------------------------------------------------------------------------- the run


def compilation_cache_dir(flag: str | None, environ=os.environ) -> str | None:
    """The persistent compilation cache folder for ``--compilation_cache_dir`` (None: off).

    Unset flag: ``$JAX_COMPILATION_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/mst_jax/jax``
    (``~/.cache/mst_jax/jax``); an empty flag turns the cache off.
    """
    if flag is not None:
        return os.path.expanduser(flag) if flag else None
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return environ["JAX_COMPILATION_CACHE_DIR"]
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mst_jax", "jax")


def use_compilation_cache(flag: str | None) -> None:
    """Points JAX's persistent compilation cache at :func:`compilation_cache_dir`.

    A rerun with the same shapes then loads its programs instead of compiling them: the
    demo on the 2-core CPU, 55.0 s -> 36.6 s end to end and peak RSS 1.26 -> 0.70 GB, the
    same output to the bit (BUILD_NOTES.md). A folder that cannot be made or written is one
    notice, not an error.
    """
    path = compilation_cache_dir(flag)
    if path is None:
        jax.config.update("jax_enable_compilation_cache", False)
        return
    try:
        os.makedirs(path, exist_ok=True)
        writable = os.access(path, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if not writable:
        notice(f"compilation cache off: cannot write {path} (--compilation_cache_dir)")
        jax.config.update("jax_enable_compilation_cache", False)
        return
    jax.config.update("jax_compilation_cache_dir", path)


After = Callable[[_flags.RunConfig, Inputs, np.ndarray, dict, bool], None]


def execute(
    argv: list[str],
    build: Callable[[list], _flags.RunConfig],
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
    _install_notice_handler()
    use_compilation_cache(_flags.COMPILATION_CACHE_DIR.value)
    stopper = _Stopper()
    stopper.install()
    status = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            # The preset's own 512 Mel bands leave 10 filters empty at n_fft 2048: nothing the
            # user did. _flags.run_config notes empty filters when the user chose n_mels.
            warnings.simplefilter("ignore", filters.EmptyMelFilterWarning)
            warnings.showwarning = lambda message, *args, **kwargs: notice(_one_line(message))
            with jax.default_matmul_precision(_flags.MATMUL_PRECISION.value):
                status = (run or _execute)(build, recorded_flags, after, stopper)
    except RunError as error:
        sys.stderr.write(f"error: {_one_line(error)}\n")
        status = error.status
    except (audio.AudioError, ValueError) as error:
        sys.stderr.write(f"error: {_one_line(error)}\n")
        status = EXIT_BAD_INPUT
    except (MemoryError, jax.errors.JaxRuntimeError) as error:
        text = _one_line(error)
        if isinstance(error, MemoryError) or "RESOURCE_EXHAUSTED" in text:
            text = "out of memory: try fewer filters (--stft_filters, --mel_filters, --cqt_filters) or a shorter clip"
        sys.stderr.write(f"error: {text[:500]}\n")
        status = EXIT_FAILED
    except OSError as error:
        sys.stderr.write(f"error: {_one_line(error)}\n")
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
    paths = Paths.of(cfg.output)
    for p in (paths.wav, paths.json, paths.png) + ((paths.html, paths.loss_png) if cfg.page else ()):
        audio.check_writable(p)
    out_abs = {os.path.abspath(p) for p in (paths.wav, paths.json, paths.png)}
    for p in ([cfg.content] if cfg.content else []) + list(cfg.styles):
        if os.path.abspath(p) in out_abs:
            raise RunError(f"--output={cfg.output}: would overwrite the input {p}")

    inputs = load_inputs(cfg)
    saved = _read_state(paths.state) if cfg.resume else None
    fingerprint = _fingerprint(cfg, inputs)
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
    _say(describe(cfg, inputs))
    _say(check_memory(cfg, inputs.num_samples))

    # ---- compile and calibrate
    objective, x_cal, x0 = make_objective(cfg, inputs)
    if saved is not None:
        norms = saved["meta"]["grad_norm_at_init"]
        objective = objective._replace(
            params=dict(
                objective.params, beta={k: jnp.float32(v) for k, v in saved["meta"]["beta"].items()}
            )
        )
        state = _restore_state(saved, objective, x0, cfg.solver)
        prev = saved["history"]
        prev_wall = float(saved["meta"]["wall_seconds"])
        _say(f"{cfg.script}: resuming from {paths.state} at iteration {saved['meta']['iteration']}")
    else:
        norms = losses.term_gradient_norms(objective, x_cal)
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
        "version": STATE_VERSION,
        "fingerprint": fingerprint,
        "argv": " ".join(sys.argv),
        "grad_norm_at_init": norms,
        "beta": beta,
    }
    seconds: list[float] = []
    start_iteration = int(saved["meta"]["iteration"]) if saved else 0
    chunks = {"n": 0, "it": start_iteration, "last_checkpoint": start_iteration}

    def on_chunk(info):
        seconds.extend([info["seconds_per_iteration"]] * (info["iteration"] - chunks["it"]))
        chunks["it"] = info["iteration"]
        report_progress(cfg.script, info, cfg.max_iter, chunks["n"] == 0)
        chunks["n"] += 1
        it = info["iteration"]
        every = cfg.checkpoint_every
        if (
            every
            and it // every > chunks["last_checkpoint"] // every
            and it < cfg.max_iter
            and not stopper()
        ):
            chunks["last_checkpoint"] = it
            st = info["state"]
            if math.isfinite(float(st.best_value)):
                wave, _ = _for_file(cfg, to_wave(cfg, np.array(st.best_x), inputs.num_samples))
                audio.save(paths.checkpoint, wave, sr=cfg.sr, subtype=cfg.subtype)
            hist = history_with(info)
            hist["seconds"] = list(prev["seconds"]) + seconds
            _save_state(
                paths.state,
                st,
                dict(meta, iteration=it, wall_seconds=prev_wall + time.perf_counter() - t_start),
                hist,
            )
            _say(f"{cfg.script}: checkpoint at iteration {it}: {paths.checkpoint}, {paths.state}")

    result = synthesis.synthesize(
        objective,
        x0,
        max_iter=cfg.max_iter,
        solver=cfg.solver,
        state=state,
        on_chunk=on_chunk,
        should_stop=stopper,
    )
    interrupted = result.stop_reason == "interrupted"
    iteration = int(result.state.iteration)
    signum = stopper.signum
    if interrupted and iteration == 0:
        sys.stderr.write("interrupted before the first iteration: nothing written\n")
        return 128 + int(signum)

    # ---- outputs
    raw = to_wave(cfg, result.wave, inputs.num_samples)
    if not np.all(np.isfinite(raw)):
        raise RunError(
            "the optimisation produced no finite waveform (non-finite loss from the start)",
            EXIT_FAILED,
        )
    wave, gain = _for_file(cfg, raw)
    hist = history_with(result)
    hist["seconds"] = list(prev["seconds"]) + list(np.asarray(result.seconds_per_iteration))
    wall = prev_wall + time.perf_counter() - t_start
    record = {
        "script": cfg.script,
        "flags": recorded_flags,
        "versions": versions(),
        "device": device(),
        "terms": {
            t.name: {"gamma": t.gamma, "beta": beta[t.name], "grad_norm_at_init": norms[t.name]}
            for t in cfg.loss.terms
        },
        "loss_history": hist["loss"],
        "term_history": hist["terms"],
        "seconds_per_iteration": hist["seconds"],
        "wall_seconds": wall,
        "iterations": iteration,
        "stop_reason": result.stop_reason,
        "interrupted": interrupted,
        "resumed": saved is not None,
        "config": _config_record(cfg),
        **io_record(cfg, inputs, paths, wave, gain),
        "notices": cfg_notices + inputs.notices,
        "term_history_weighted": True,
    }
    if result.stop_reason == "non-finite loss":
        notice(
            f"the loss became non-finite at iteration {iteration}; the best iterate before it is written"
        )
    if after is not None:
        after(cfg, inputs, raw, record, interrupted)
    if cfg.quality:
        record["quality"] = quality_block(cfg, inputs, wave)

    audio.save(paths.wav, wave, sr=cfg.sr, subtype=cfg.subtype)
    if interrupted:
        record["state_file"] = paths.state
        _save_state(
            paths.state, result.state, dict(meta, iteration=iteration, wall_seconds=wall), hist
        )
    audio.save_json(paths.json, record)
    panels = [("content", inputs.content)] if inputs.content is not None else []
    panels += [
        (f"style {i + 1}" if len(inputs.styles) > 1 else "style", s)
        for i, s in enumerate(inputs.styles[:2])
    ]
    panels.append(("result", wave))
    _write_figure(paths.png, panels, cfg)
    write_page(cfg, record, paths)
    for p in [paths.checkpoint] if interrupted else [paths.checkpoint, paths.state]:
        if os.path.exists(p):
            os.remove(p)

    if interrupted:
        if cfg.quality:
            _say(f"{cfg.script}: {record['quality']['verdict']}")
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
    _say(
        f"{cfg.script}: wrote {paths.wav} ({wave.size / cfg.sr:.2f} s), {paths.json}, {paths.png}"
        f"{', ' + paths.html if cfg.page else ''}; "
        f"{iteration} iterations ({result.stop_reason}), median {spi:.3g} s/iteration, {wall:.1f} s in all"
    )
    if cfg.quality:
        _say(f"{cfg.script}: {record['quality']['verdict']}")
    return 0
