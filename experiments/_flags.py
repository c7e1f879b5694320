"""Flags shared by ``experiments.transfer``, ``experiments.texture`` and ``experiments.reconstruct``,
and :func:`run_config`, the one function that turns them into a :class:`RunConfig`.

Flags are module-level holders read with ``.value`` (perch style). A size or Γ flag left unset
(``None``) keeps the preset's value, i.e. the paper's sizes (SPEC.md §1); 0 for a Γ removes the
term. Every flag is validated here, on the host, before anything is compiled: a bad value raises
``ValueError`` whose one-line message names the flag.

With neither ``--content`` nor ``--style`` (``--input`` for reconstruct) the scripts run a short
demo on the clips shipped in ``mst_jax/data``, at the reduced sizes in :data:`DEMO` (each applied
only where its flag is unset), so that it finishes in a few minutes on a 2-core CPU.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import warnings

from absl import flags

from experiments import objectives
from mst_jax import filters, presets
from mst_jax.config import (
    OPTIMIZERS,
    CqtNetConfig,
    LossConfig,
    MelNetConfig,
    SolverConfig,
    StftConfig,
    StftNetConfig,
)

DEFAULT_PRESET = (
    "5"  # Table 1 row 5: "works well on almost all examples" (CPU-affordable at paper size).
)
DEFAULT_MAX_ITER = 500  # SPEC.md §1: from noise (--init=noise, texture, reconstruct).
# From the content (transfer's default start) far fewer iterations already keep the content and
# take the style, and 10 s at paper width then fit in about two minutes on 2 CPU cores
# (benchmarks/quality.py; BUILD_NOTES.md "Quality").
DEFAULT_MAX_ITER_FROM_CONTENT = 80
MIN_SR, MAX_SR = 1000, 384000  # Hz, as mst_jax.audio accepts.
SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")

# The no-flag demo: Table 1 row 5 at reduced widths (kernels, n_mels and blocks stay the paper's),
# DEMO["max_iter"] iterations. Measured on 2 CPU cores on the two shipped 6 s clips: see
# BUILD_NOTES.md. The --max_iter help and the "demo:" notice read their numbers from DEMO.
DEMO = {"preset": "5", "max_iter": 150, "stft_filters": 512, "mel_filters": 128, "cqt_filters": 32}

TERM_NAMES = (
    "content_stft",
    "content_mel",
    "content_cqt",
    "style_stft",
    "style_mel",
    "style_cqt",
    "l1",
)

# --------------------------------------------------------------------------- flags

STYLE = flags.DEFINE_string(
    "style", None, "Style audio file, or several separated by commas (their grams are averaged)."
)
OUTPUT = flags.DEFINE_string(
    "output",
    None,
    "Output audio file (.wav; .flac/.ogg also work). The run record <stem>.json and the figure "
    "<stem>.png are written beside it. Default: <script>.wav in the current directory.",
)
PRESET = flags.DEFINE_string(
    "preset",
    None,
    f"Table 1 row 1-6 or 'baseline' (Ulyanov & Lebedev: optimise the log-magnitude STFT, then "
    f"Griffin-Lim). Default {DEFAULT_PRESET}.",
)
MAX_ITER = flags.DEFINE_integer(
    "max_iter",
    None,
    f"Optimiser iterations in all (default {DEFAULT_MAX_ITER_FROM_CONTENT} from the content, "
    f"{DEFAULT_MAX_ITER} from noise; {DEMO['max_iter']} in the demo).",
)
SEED = flags.DEFINE_integer("seed", 0, "Random seed of the network weights and the initial noise.")
SR = flags.DEFINE_integer("sr", 22050, "Sample rate in Hz; inputs are resampled to it.")
CHECKPOINT_EVERY = flags.DEFINE_integer(
    "checkpoint_every",
    100,
    "Write <stem>.checkpoint.wav and the resumable state <stem>.state.npz every N iterations "
    "(rounded up to a chunk); 0 turns checkpoints off. Both are removed when the run completes.",
)
RESUME = flags.DEFINE_bool(
    "resume",
    False,
    "Continue from <stem>.state.npz (left by an interrupted or checkpointed run with the same "
    "flags and inputs) up to --max_iter iterations in all.",
)
CHUNK = flags.DEFINE_integer(
    "chunk",
    SolverConfig().chunk,  # one default, the library's
    "Iterations per compiled chunk: one progress line, checkpoint and signal check each.",
)
RAW_WEIGHTS = flags.DEFINE_bool(
    "raw_weights", False, "Use beta = Gamma as is, instead of Eq. 7-8 gradient-norm weighting."
)
TOL = flags.DEFINE_float("tol", 1e-9, "Stop when the projected-gradient norm falls below this.")
OPTIMIZER = flags.DEFINE_enum(
    "optimizer",
    "lbfgsb",
    list(OPTIMIZERS),
    "lbfgsb = jaxopt's L-BFGS-B (default); optax_lbfgs = optax's L-BFGS, zoom line search, "
    "iterate projected into the bounds; adam = optax's Adam (the PyTorch peers'), projected.",
)
LEARNING_RATE = flags.DEFINE_float(
    "learning_rate",
    None,
    f"Adam's step size in waveform units (default {SolverConfig.learning_rate}); "
    "only --optimizer=adam uses it.",
)
NORMALIZE = flags.DEFINE_bool(
    "normalize",
    True,
    "Peak-normalise the output to 1 (as the inputs are); --nonormalize keeps the samples.",
)
SUBTYPE = flags.DEFINE_string("subtype", "PCM_16", f"Output sample format: {', '.join(SUBTYPES)}.")
N_FFT = flags.DEFINE_integer("n_fft", 2048, "STFT length in samples.")
HOP_LENGTH = flags.DEFINE_integer("hop_length", 512, "STFT hop in samples.")
MATMUL_PRECISION = flags.DEFINE_enum(
    "matmul_precision",
    "highest",
    ["highest", "tensorfloat32", "bfloat16"],
    "Matrix-product precision of the networks: highest = true float32 (default); tensorfloat32 "
    "and bfloat16 multiply in reduced precision with float32 accumulation (GPU/TPU speed-ups).",
)
COMPILATION_CACHE_DIR = flags.DEFINE_string(
    "compilation_cache_dir",
    None,
    "Where compiled programs are kept between runs (JAX's persistent compilation cache), so a "
    "rerun with the same shapes skips compiling. Unset: $JAX_COMPILATION_CACHE_DIR, else "
    "$XDG_CACHE_HOME/mst_jax/jax (~/.cache/mst_jax/jax); empty: off.",
)
PAGE = flags.DEFINE_bool(
    "page",
    True,
    "Write the listening page <stem>.html (players for content, style and result, the "
    "spectrograms, the loss curves <stem>.loss.png, the numbers) beside the output, and with "
    "--batch an index.html; --nopage turns them off.",
)
GRIFFINLIM_ITER = flags.DEFINE_integer(
    "griffinlim_iter",
    100,
    "Griffin-Lim iterations after the baseline preset's spectrogram optimisation.",
)

QUALITY = flags.DEFINE_bool(
    "quality",
    True,
    "Measure the result against its content and style (mst_jax.evaluate: chroma, onsets, MFCC, "
    "flatness), print a one-line verdict and add a 'quality' block to the run record.",
)
STYLE_STRENGTH = flags.DEFINE_float(
    "style_strength",
    1.0,
    "Multiplies every style term's Gamma (after --gamma_style_* flags): above 1 takes more of the "
    "style, below 1 keeps more of the content.",
)

GAMMAS = {
    name: flags.DEFINE_float(
        f"gamma_{name}",
        None,
        f"Gamma of the {name} term (Eq. 8); unset keeps the preset's, 0 removes the term.",
    )
    for name in TERM_NAMES
}

# Sizes: None keeps the preset's (the paper's) value.
STFT_FILTERS = flags.DEFINE_integer("stft_filters", None, "Filters of the STFT net (paper 4096).")
STFT_KERNEL = flags.DEFINE_integer(
    "stft_kernel", None, "Kernel of the STFT net in frames (paper 11)."
)
MEL_FILTERS = flags.DEFINE_integer(
    "mel_filters", None, "Channels of every Mel-net layer (paper 1025)."
)
MEL_KERNEL = flags.DEFINE_integer(
    "mel_kernel", None, "First-layer kernel of the Mel nets in frames (paper 50)."
)
MEL_BLOCK_KERNEL = flags.DEFINE_integer(
    "mel_block_kernel", None, "Residual-block kernel of the Mel style net in frames (paper 25)."
)
MEL_BLOCKS = flags.DEFINE_integer(
    "mel_blocks",
    None,
    "Residual blocks of the Mel style net (dilations 2, 4, ...); content stays 1 layer.",
)
N_MELS_CONTENT = flags.DEFINE_integer(
    "n_mels_content", None, "Mel bins of the content net (default 16)."
)
N_MELS_STYLE = flags.DEFINE_integer(
    "n_mels_style", None, "Mel bins of the style net (default 512)."
)
CQT_FILTERS = flags.DEFINE_integer(
    "cqt_filters", None, "Filters of every CQT-net layer (paper 256)."
)
CQT_KERNEL = flags.DEFINE_integer("cqt_kernel", None, "First-layer CQT kernel, k x k (paper 11).")
CQT_BLOCK_KERNEL = flags.DEFINE_integer(
    "cqt_block_kernel", None, "Residual-block CQT kernel, k x k (11)."
)
CQT_BLOCKS = flags.DEFINE_integer(
    "cqt_blocks",
    None,
    "Residual blocks of the CQT style net (dilations 1, 2, 4, ...); content stays 1 layer.",
)
CQT_POOL = flags.DEFINE_integer(
    "cqt_pool", None, "Frequency max-pool of the CQT content net (paper 2; 1 turns it off)."
)

SIZE_FLAGS = (
    STFT_FILTERS,
    STFT_KERNEL,
    MEL_FILTERS,
    MEL_KERNEL,
    MEL_BLOCK_KERNEL,
    MEL_BLOCKS,
    N_MELS_CONTENT,
    N_MELS_STYLE,
    CQT_FILTERS,
    CQT_KERNEL,
    CQT_BLOCK_KERNEL,
    CQT_BLOCKS,
    CQT_POOL,
)
SHARED = (
    STYLE,
    OUTPUT,
    PRESET,
    MAX_ITER,
    SEED,
    SR,
    CHECKPOINT_EVERY,
    RESUME,
    CHUNK,
    RAW_WEIGHTS,
    TOL,
    OPTIMIZER,
    LEARNING_RATE,
    NORMALIZE,
    SUBTYPE,
    N_FFT,
    HOP_LENGTH,
    MATMUL_PRECISION,
    GRIFFINLIM_ITER,
    QUALITY,
    STYLE_STRENGTH,
    PAGE,
    *GAMMAS.values(),
    *SIZE_FLAGS,
)
# Flags that mean nothing to reconstruct (it has one fixed term and no networks).
LOSS_FLAGS = (
    PRESET, STYLE, RAW_WEIGHTS, GRIFFINLIM_ITER, STYLE_STRENGTH, *GAMMAS.values(), *SIZE_FLAGS
)


def parse(argv):
    """``flags_parser`` for ``app.run``: a flag that cannot be parsed gives one line, exit 2."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        message = " ".join(str(error).split())
        sys.stderr.write(f"error: {message} (--helpshort lists the flags)\n")
        sys.exit(2)


def flag_values(holders) -> dict:
    """``{name: value}`` of ``holders`` (recorded in the run record)."""
    return {h.name: h.value for h in holders}


# --------------------------------------------------------------------------- resolved config


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything a run needs, resolved from the flags and validated.

    Attributes:
      script: ``"transfer"``, ``"texture"`` or ``"reconstruct"``.
      content: content (or reconstruct input) file, or None (texture).
      styles: style files (empty for reconstruct).
      output: output audio path.
      preset: ``"1"``-``"6"``, ``"baseline"`` or ``"reconstruction"``.
      loss: the loss configuration (sizes and Γ applied).
      solver: optimiser settings (``max_iter`` is the total).
      seed: the run's seed (network key and initial noise).
      sr: sample rate in Hz.
      init: ``"noise"`` or ``"content"``.
      duration_s: texture length in seconds (None: the first style's length).
      checkpoint_every: iterations between checkpoints, 0 for none.
      resume: continue from the saved state.
      normalize: peak-normalise the output.
      subtype: soundfile subtype of the output.
      griffinlim_iter: Griffin-Lim iterations after a spectrogram-domain run (the baseline).
      demo: the no-flag demo on the shipped clips.
      page: write the listening page (``--page``).
      quality: measure the result (``--quality``, :mod:`mst_jax.evaluate`).
    """

    script: str
    content: str | None
    styles: tuple[str, ...]
    output: str
    preset: str
    loss: LossConfig
    solver: SolverConfig
    seed: int
    sr: int
    init: str = "noise"
    duration_s: float | None = None
    checkpoint_every: int = 100
    resume: bool = False
    normalize: bool = True
    subtype: str = "PCM_16"
    griffinlim_iter: int = 100
    demo: bool = False
    quality: bool = True
    page: bool = True

    @property
    def max_iter(self) -> int:
        return self.solver.max_iter


def _flag_error(holder, value, need: str) -> ValueError:
    return ValueError(f"--{holder.name}={value!r}: {need}")


def _int_flag(holder, value, *, minimum: int, maximum: int | None = None) -> int:
    if value is None:
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bound = (
            f"an integer >= {minimum}"
            if maximum is None
            else f"an integer in [{minimum}, {maximum}]"
        )
        raise _flag_error(holder, value, f"must be {bound}")
    return value


def _gamma(holder) -> float | None:
    g = holder.value
    if g is None:
        return None
    if not (math.isfinite(g) and g >= 0):
        raise _flag_error(holder, g, "Gamma must be a finite number >= 0")
    return float(g)


def _resize(loss: LossConfig, sizes: dict, notices: list[str]) -> LossConfig:
    """Apply the size flags that are set; a set flag that touches no net of the preset is noted."""
    used = set()

    def fn(term):
        net = term.net
        changes = {}

        def take(flag, field, value=None):
            v = sizes.get(flag)
            if v is not None:
                changes[field] = v if value is None else value(v)
                used.add(flag)

        if isinstance(net, StftNetConfig):
            take("stft_filters", "filters")
            take("stft_kernel", "kernel")
        elif isinstance(net, MelNetConfig):
            take("mel_filters", "filters")
            take("mel_kernel", "kernel")
            if term.kind == "content":
                take("n_mels_content", "n_mels")
            else:
                take("n_mels_style", "n_mels")
                take("mel_blocks", "blocks")
                take("mel_block_kernel", "block_kernel")
        elif isinstance(net, CqtNetConfig):
            take("cqt_filters", "filters")
            take("cqt_kernel", "kernel", lambda k: (k, k))
            if term.kind == "content":
                take("cqt_pool", "pool")
            else:
                take("cqt_blocks", "blocks")
                take("cqt_block_kernel", "block_kernel", lambda k: (k, k))
        return dataclasses.replace(net, **changes) if changes else net

    loss = presets.map_nets(loss, fn)
    for name, v in sizes.items():
        if v is not None and name not in used:
            notices.append(f"--{name}={v} has no effect: no term of this configuration uses it")
    return loss


def _empty_mel_notices(loss: LossConfig, sr: int) -> list[str]:
    """One line per Mel net whose ``--n_mels_*`` the user chose and whose filterbank has filters
    covering no STFT bin. The preset's own sizes are not noted (its 512 bands leave 10 of them
    empty at n_fft 2048, as in the paper); the library's warning is silenced in the runner."""
    lines = []
    for t in loss.terms:
        holder = N_MELS_CONTENT if t.kind == "content" else N_MELS_STYLE
        if not isinstance(t.net, MelNetConfig) or holder.value is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", filters.EmptyMelFilterWarning)
            bank = filters.mel_filterbank(
                sr=sr, n_fft=loss.stft.n_fft, n_mels=t.net.n_mels, fmin=t.net.fmin, fmax=t.net.fmax
            )
        empty = filters.empty_filters(bank).size
        if empty:
            lines.append(
                f"--{holder.name}={t.net.n_mels}: {empty} of the {t.net.n_mels} Mel filters "
                f"cover no STFT bin at --n_fft={loss.stft.n_fft}, --sr={sr} (they add nothing)"
            )
    return lines


def _validate_sizes() -> dict:
    sizes = {}
    for h in SIZE_FLAGS:
        minimum = 0 if h.name in ("mel_blocks", "cqt_blocks") else 1
        sizes[h.name] = _int_flag(h, h.value, minimum=minimum)
    return sizes


def _common(script: str, demo: bool, init: str = "noise"):
    """Validated shared scalars: (max_iter, sr, seed, chunk, checkpoint_every, n_fft, hop, subtype)."""
    max_iter = MAX_ITER.value
    if max_iter is None:
        if demo:
            max_iter = DEMO["max_iter"]
        else:
            max_iter = DEFAULT_MAX_ITER_FROM_CONTENT if init == "content" else DEFAULT_MAX_ITER
    _int_flag(MAX_ITER, max_iter, minimum=1)
    sr = _int_flag(SR, SR.value, minimum=MIN_SR, maximum=MAX_SR)
    seed = _int_flag(SEED, SEED.value, minimum=0, maximum=2**32 - 1)
    chunk = _int_flag(CHUNK, CHUNK.value, minimum=1)
    every = _int_flag(CHECKPOINT_EVERY, CHECKPOINT_EVERY.value, minimum=0)
    n_fft = _int_flag(N_FFT, N_FFT.value, minimum=16)
    hop = _int_flag(HOP_LENGTH, HOP_LENGTH.value, minimum=1)
    if hop > n_fft:
        raise _flag_error(HOP_LENGTH, hop, f"must not exceed --n_fft={n_fft}")
    _int_flag(GRIFFINLIM_ITER, GRIFFINLIM_ITER.value, minimum=1)
    if SUBTYPE.value not in SUBTYPES:
        raise _flag_error(SUBTYPE, SUBTYPE.value, f"must be one of {', '.join(SUBTYPES)}")
    tol = TOL.value
    if not (math.isfinite(tol) and tol >= 0):
        raise _flag_error(TOL, tol, "must be a finite number >= 0")
    return max_iter, sr, seed, chunk, every, n_fft, hop, tol


def _optimizer(notices: list[str]) -> dict:
    """``SolverConfig`` fields from ``--optimizer`` and ``--learning_rate`` (validated)."""
    fields = {"optimizer": OPTIMIZER.value}
    lr = LEARNING_RATE.value
    if lr is not None:
        if not (math.isfinite(lr) and lr > 0):
            raise _flag_error(LEARNING_RATE, lr, "must be a finite number > 0")
        if OPTIMIZER.value != "adam":
            notices.append(f"--learning_rate={lr} has no effect: only --optimizer=adam uses it")
        fields["learning_rate"] = float(lr)
    return fields


def _paths(value: str | None, holder) -> tuple[str, ...]:
    if value is None:
        return ()
    paths = tuple(p.strip() for p in value.split(","))
    if not paths or any(not p for p in paths):
        raise _flag_error(holder, value, "empty file name")
    return paths


def run_config(
    script: str,
    *,
    content: str | None = None,
    content_flag=None,
    init: str = "noise",
    duration_s: float | None = None,
    duration_flag=None,
    notices: list[str] | None = None,
    styles: tuple[str, ...] | None = None,
) -> RunConfig:
    """Turns the flags (plus the script's own: content/input, init, duration) into a RunConfig.

    Args:
      script: ``"transfer"``, ``"texture"`` or ``"reconstruct"``.
      content: ``--content`` (transfer) or ``--input`` (reconstruct); None means unset.
      content_flag: that flag's holder (for messages).
      init: ``--init`` (transfer only).
      duration_s: ``--duration`` (texture only).
      duration_flag: its holder.
      notices: receives one line per legal oddity (a size flag with no effect, the demo).
      styles: style files in place of ``--style`` (one row of ``--batch``); None reads the flag.

    Returns:
      The validated configuration. Nothing has been read or compiled yet.

    Raises:
      ValueError: a one-line message naming the flag.
    """
    from mst_jax import music  # the shipped example clips

    notices = [] if notices is None else notices
    styles = _paths(STYLE.value, STYLE) if styles is None else tuple(styles)
    if script == "transfer":
        demo = content is None and not styles
        if content is None and styles:
            raise ValueError("--content is required with --style (or give neither for the demo)")
        if content is not None and not styles:
            raise ValueError(
                f"--style is required with --{content_flag.name} (or give neither for the demo)"
            )
    elif script == "texture":
        demo = not styles
    else:
        demo = content is None
    if script == "reconstruct":
        stray = [f"--{h.name}" for h in LOSS_FLAGS if h.value != h.default]
        if stray:
            raise ValueError(
                f"{', '.join(stray)}: not used by reconstruct (it has one fixed spectrum term)"
            )
    if content is not None and not content.strip():
        raise _flag_error(content_flag, content, "empty file name")
    if init not in ("noise", "content"):
        raise ValueError(f"--init={init!r}: must be 'noise' or 'content'")

    if demo:
        if script in ("transfer", "reconstruct"):
            content = str(music.example_path("content"))
        if script in ("transfer", "texture"):
            styles = (str(music.example_path("style")),)

    max_iter, sr, seed, chunk, every, n_fft, hop, tol = _common(script, demo, init)
    stft = StftConfig(n_fft=n_fft, hop_length=hop)

    if script == "reconstruct":
        preset = "reconstruction"
        loss = dataclasses.replace(presets.reconstruction(), stft=stft)
    else:
        preset = (
            PRESET.value
            if PRESET.value is not None
            else (DEMO["preset"] if demo else DEFAULT_PRESET)
        )
        preset = str(preset).strip().lower()
        sizes = _validate_sizes()
        if demo:
            for name in ("stft_filters", "mel_filters", "cqt_filters"):
                if sizes[name] is None:
                    sizes[name] = DEMO[name]
        if preset not in objectives.PRESETS:
            raise _flag_error(PRESET, preset, "must be a Table 1 row 1-6 or 'baseline'")
        loss = objectives.loss_config(preset, stft_filters=sizes["stft_filters"])
        if script == "texture":
            loss = presets.texture(loss)
        gammas = {name: _gamma(h) for name, h in GAMMAS.items()}
        known = {t.name for t in loss.terms}
        for name, g in gammas.items():
            if g not in (None, 0.0) and name not in known:
                raise _flag_error(
                    GAMMAS[name],
                    g,
                    f"preset {preset}{' (texture: style terms only)' if script == 'texture' else ''} "
                    f"has no {name} term (it has {', '.join(sorted(known))})",
                )
        loss = presets.with_gammas(loss, **gammas)
        strength = STYLE_STRENGTH.value
        if not (math.isfinite(strength) and strength > 0):
            raise _flag_error(STYLE_STRENGTH, strength, "must be a finite number > 0")
        loss = presets.scale_style(loss, strength)
        if not loss.terms:
            raise ValueError("every term has Gamma 0: nothing to optimise")
        loss = _resize(loss, sizes, notices)
        loss = dataclasses.replace(
            loss, stft=stft, normalize_gradients=loss.normalize_gradients and not RAW_WEIGHTS.value
        )
        notices.extend(_empty_mel_notices(loss, sr))

    if (
        script == "texture"
        and duration_s is not None
        and not (
            isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and duration_s > 0
        )
    ):
        raise _flag_error(duration_flag, duration_s, "must be a finite number of seconds > 0")

    lower, upper = objectives.of(preset).bounds
    solver = SolverConfig(
        max_iter=max_iter,
        tol=tol,
        chunk=chunk,
        lower=lower,
        upper=upper,
        **_optimizer(notices),
    )
    output = (
        OUTPUT.value
        if OUTPUT.value is not None
        else f"{'reconstruction' if script == 'reconstruct' else script}.wav"
    )
    if not output.strip():
        raise _flag_error(OUTPUT, output, "empty file name")
    if demo:
        notices.append(
            f"demo: no input given, running preset {preset} on the shipped example clips at reduced sizes "
            f"({', '.join(f'--{k}={v}' for k, v in DEMO.items() if k != 'preset')} where unset)"
        )
    return RunConfig(
        script=script,
        content=content,
        styles=styles,
        output=output,
        preset=preset,
        loss=loss,
        solver=solver,
        seed=seed,
        sr=sr,
        init=init,
        duration_s=None if duration_s is None else float(duration_s),
        checkpoint_every=every,
        resume=RESUME.value,
        normalize=NORMALIZE.value,
        subtype=SUBTYPE.value,
        griffinlim_iter=GRIFFINLIM_ITER.value,
        demo=demo,
        quality=QUALITY.value,
        page=PAGE.value,
    )
