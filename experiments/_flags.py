"""The command-line flags shared by ``experiments.transfer``, ``experiments.texture`` and
``experiments.reconstruct`` (and read by the studies), and the defaults they fall back to.

Flags are module-level holders read with ``.value`` (perch style). A size or Γ flag left unset
(``None``) keeps the preset's value, i.e. the paper's sizes (SPEC.md §1); 0 for a Γ removes the
term. :func:`experiments.resolve.run_config` validates every flag, on the host, before anything
is compiled, and turns them into an :class:`experiments.settings.RunConfig`.

With neither ``--content`` nor ``--style`` (``--input`` for reconstruct) the scripts run a short
demo on the clips shipped in ``mst_jax/data`` with the command's own defaults (the paper's
sizes and iteration counts).
"""

from __future__ import annotations

import sys

from absl import flags

from mst_jax import presets
from mst_jax.config import OPTIMIZERS, SolverConfig

DEFAULT_PRESET = (
    "5"  # Table 1 row 5: "works well on almost all examples" (CPU-affordable at paper size).
)
DEFAULT_MAX_ITER = 500  # SPEC.md §1: from noise (--init=noise, texture, reconstruct).
# From the content (transfer's default start) far fewer iterations keep the content and take the
# style; the count picks the point between the two (more: more style, less content). 160 met
# every condition written before its run: chroma >= 0.6 on the eight benchmark pairs (the content
# floor below stops a pair whose content fades), 11 % less MFCC distance to the style than 120,
# and 10 s at paper width in under two minutes on 2 CPU cores with an empty compilation cache
# (113 s) once the solver's Cauchy point stopped sorting (benchmarks/quality.py; BUILD_NOTES.md
# "Quality", "160 iterations, adopted").
DEFAULT_MAX_ITER_FROM_CONTENT = 160
# A transfer from the content stops where its chroma correlation with the content falls below
# this and writes the last iterate above it (mst_jax.content_floor). 0.7 is the margin the
# earlier 120-iteration rule kept (0.1 over issue 12's 0.6 goal); at 160 it stops one of the
# eight FluidR3 pairs (electronic <- string quartet, at 130), and at 120 it kept the one TimGM6mb
# pair that lost its content (BUILD_NOTES.md "Quality").
DEFAULT_CONTENT_FLOOR = 0.7
# Iterations between content-floor checks (--content_floor) when --chunk is not given: each
# check costs about 0.06 s for 10 s of audio, a chunk at paper width about 7 s.
FLOOR_CHUNK = 10
MIN_SR, MAX_SR = 1000, 384000  # Hz, as mst_jax.audio accepts.
SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")

# The no-flag demos run the command's own defaults on the shipped 6 s clips (a transfer about a
# minute on 2 CPU cores, a texture about 3.5 minutes). Until 2026-11-30 they ran at reduced widths
# (512 / 128 / 32) and 150 iterations, which took the style only halfway and left a texture three
# times as far from the style as the style is from itself (BUILD_NOTES.md "The demo at the
# paper's widths").

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
    "style",
    None,
    "Style audio file, or several separated by commas (their grams are averaged); an existing "
    "file whose name holds a comma is taken whole.",
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
    f"Griffin-Lim; as published with --init=noise). Default {DEFAULT_PRESET}.",
)
MAX_ITER = flags.DEFINE_integer(
    "max_iter",
    None,
    f"Optimiser iterations in all (default {DEFAULT_MAX_ITER_FROM_CONTENT} from the content, "
    f"{DEFAULT_MAX_ITER} from noise; --preset=baseline from noise: its published "
    f"{presets.BASELINE_MAX_ITER}).",
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
    None,
    f"Iterations per compiled chunk: one progress line, checkpoint and signal check each "
    f"(default {SolverConfig().chunk}, the library's; {FLOOR_CHUNK} with --content_floor, "
    f"which is measured every chunk).",
)
TIME_LIMIT = flags.DEFINE_float(
    "time_limit",
    0.0,
    "Seconds this run may take from reading its inputs (a resumed run counts afresh): between "
    "chunks it stops where the next chunk would end past this, writes its result so far (what "
    "--max_iter at that count writes) and keeps <stem>.state.npz for --resume; measuring and the "
    "page add a few seconds after. 0 (default): no limit, so a result does not depend on the "
    "machine's speed.",
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
HISTORY_SIZE = flags.DEFINE_integer(
    "history_size",
    None,
    f"L-BFGS memory, in pairs of vectors (default {SolverConfig.history_size}: scipy's maxcor, "
    "as in the paper's optimiser); --optimizer=lbfgsb and optax_lbfgs use it.",
)
LINESEARCH_INIT = flags.DEFINE_enum(
    "linesearch_init",
    None,
    ["max", "increase"],
    f"Where each L-BFGS-B line search starts (default {SolverConfig.linesearch_init}): max = "
    "step 1, the quasi-Newton step (scipy's L-BFGS-B); increase = 1.5 x the last accepted step "
    "(jaxopt's default). --optimizer=lbfgsb only.",
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
    "and bfloat16 multiply in reduced precision with float32 accumulation. Each loss+gradient is "
    "about 8x faster on a GPU, but the line searches fail near convergence, so an iteration costs "
    "several evaluations: a 500-iteration preset-6 transfer took 123 s on an H200 in TF32 "
    "(BUILD_NOTES.md, 'GPU, second lease').",
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

STYLE_SHIFTS = flags.DEFINE_list(
    "style_shifts",
    ["0"],
    "Semitones by which every style clip is also transposed (librosa pitch shift) before its "
    "grams are taken; the grams of all copies are averaged, so the style's key counts less "
    "(e.g. -2,-1,0,1,2). An addition to the paper (BUILD_NOTES.md, 'Key-neutral style statistics'); "
    "0 alone is the paper. Quality is still measured against the style as given.",
)
KEEP_SILENCE = flags.DEFINE_bool(
    "keep_silence",
    None,
    "Keep the content's silences (frames more than 60 dB below its loudest): the result is "
    "multiplied by a gain that is 0 there, since the style's grams otherwise fill a silent "
    "lead-in or break with the style's texture. Default on for a transfer from the content "
    "(not from noise, the paper's protocol, nor for the baseline); an addition to the paper "
    "(BUILD_NOTES.md, 'Keeping the content's silences').",
)
KEEP_DYNAMICS = flags.DEFINE_bool(
    "keep_dynamics",
    None,
    "Keep the content's dynamics: the transfer optimises the content with its level evened "
    "(every half second as loud as its loudest) and the result is given the content's level "
    "back, since the style's grams otherwise fill its quiet passages with the style's texture "
    "and notes. Default on for a transfer from the content (not from noise, the paper's "
    "protocol, nor for the baseline); an addition to the paper (BUILD_NOTES.md, 'Keeping the "
    "content's dynamics').",
)
MATCH_LEVEL = flags.DEFINE_bool(
    "match_level",
    None,
    "Match the style's level to the content's: each style clip is scaled to be as loud as the "
    "content the transfer optimises (mean power over its sounding frames) before its grams are "
    "taken, since both clips are peak-normalised and a level difference otherwise costs the "
    "transfer style (or content). Default on for a transfer from the content (not from noise, "
    "the paper's protocol, nor for the baseline); an addition to the paper (BUILD_NOTES.md, "
    "'Matching the style's level to the content's').",
)
STYLE_LEVEL_DB = flags.DEFINE_float(
    "style_level_db",
    0.0,
    "Raise (or, negative, lower) the style's level by this many dB against the content's, after "
    "--match_level. On the benchmark's eight pairs -6 took less of the style on every pair and "
    "kept more of the content on seven; +3 and +6 took more of it on some pairs and less on "
    "others, with less content and noisier results (BUILD_NOTES.md, 'The style's level as a "
    "knob'). Transfer only; 0 leaves the level as matched.",
)
QUALITY = flags.DEFINE_bool(
    "quality",
    True,
    "Measure the result against its content and style (mst_jax.evaluate: chroma, onsets, MFCC, "
    "flatness), print a one-line verdict and add a 'quality' block to the run record.",
)
STYLE_OFFSET = flags.DEFINE_float(
    "style_offset",
    0.0,
    "Read every style file from this many seconds in (an excerpt of a longer recording).",
)
STYLE_DURATION = flags.DEFINE_float(
    "style_duration",
    None,
    "Read this many seconds of every style file from --style_offset (default: to its end).",
)
STYLE_STRENGTH = flags.DEFINE_float(
    "style_strength",
    1.0,
    "Multiplies every style term's Gamma (after --gamma_style_* flags). From the content (the "
    "default) 0.3-3 barely moved the measured results; --max_iter chooses how much style is "
    "taken, and a negative --style_level_db takes less (BUILD_NOTES.md, Quality).",
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
    TIME_LIMIT,
    RAW_WEIGHTS,
    TOL,
    OPTIMIZER,
    LEARNING_RATE,
    HISTORY_SIZE,
    LINESEARCH_INIT,
    NORMALIZE,
    SUBTYPE,
    N_FFT,
    HOP_LENGTH,
    MATMUL_PRECISION,
    GRIFFINLIM_ITER,
    QUALITY,
    STYLE_STRENGTH,
    STYLE_SHIFTS,
    STYLE_OFFSET,
    STYLE_DURATION,
    PAGE,
    KEEP_SILENCE,
    KEEP_DYNAMICS,
    MATCH_LEVEL,
    STYLE_LEVEL_DB,
    *GAMMAS.values(),
    *SIZE_FLAGS,
)
# The solver flags every study reads (each adds the sizes it uses).
STUDY_SOLVER_FLAGS = (MAX_ITER, SR, CHUNK, TOL)
# Flags that mean nothing to reconstruct (it has one fixed term and no networks).
LOSS_FLAGS = (
    PRESET,
    STYLE,
    STYLE_OFFSET,
    STYLE_DURATION,
    RAW_WEIGHTS,
    GRIFFINLIM_ITER,
    STYLE_STRENGTH,
    STYLE_SHIFTS,
    KEEP_SILENCE,
    KEEP_DYNAMICS,
    MATCH_LEVEL,
    STYLE_LEVEL_DB,
    *GAMMAS.values(),
    *SIZE_FLAGS,
)


# Flags that name files or folders: "~" at the start of one (of each comma-separated file) is
# the home folder, as the shell would have made it had it not followed "=".
PATH_FLAGS = ("content", "style", "output", "input", "batch", "source", "output_dir",
              "compilation_cache_dir")


def parse(argv):
    """``flags_parser`` for ``app.run``: a flag that cannot be parsed gives one line, exit 2;
    then :func:`expand_home`."""
    try:
        rest = flags.FLAGS(argv)
    except flags.Error as error:
        message = " ".join(str(error).split())
        sys.stderr.write(f"error: {message} (--helpshort lists the flags)\n")
        sys.exit(2)
    expand_home()
    return rest


def expand_home(names=PATH_FLAGS) -> None:
    """Expands a leading ``~`` or ``~user`` in the path flags ``names`` that this program defines.

    Bash expands ``--content ~/a.wav`` but not ``--content=~/a.wav`` (a tilde only starts a word
    or follows ``=`` in an assignment), so the second read as a file named ``~`` and was "not
    found". In a comma-separated value each file is expanded (spaces after a comma kept).
    """
    import os

    def expand(text: str) -> str:
        pieces = text.split(",")
        return ",".join(
            p[: len(p) - len(p.lstrip())] + os.path.expanduser(p.lstrip()) for p in pieces
        )

    for name in names:
        if name not in flags.FLAGS:
            continue
        value = flags.FLAGS[name].value
        if isinstance(value, str) and "~" in value:
            flags.FLAGS[name].value = expand(value)
        elif isinstance(value, list) and any("~" in v for v in value):
            flags.FLAGS[name].value = [os.path.expanduser(v) for v in value]


def flag_values(holders) -> dict:
    """``{name: value}`` of ``holders`` (recorded in the run record)."""
    return {h.name: h.value for h in holders}


def flag_error(holder, value, need: str) -> ValueError:
    """The one-line error of a flag's bad value: ``--name=value: need``."""
    return ValueError(f"--{holder.name}={value!r}: {need}")


def int_value(holder, value, *, minimum: int, maximum: int | None = None) -> int:
    """``value`` (of the flag ``holder``) if it is None or an integer in ``[minimum, maximum]``,
    else :func:`flag_error`."""
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
        raise flag_error(holder, value, f"must be {bound}")
    return value
