"""Frozen, hashable configuration for front ends, networks, loss terms and the solver.

Every dataclass here holds plain Python values only (no arrays), so a config can be a
``static_argnames`` argument of ``jax.jit`` and a key of a dict. Defaults are the
paper's values as fixed by ``SPEC.md`` §1; the docstrings cite the section.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

SR = 22050  # Hz, paper §3.2.1
C1_HZ = 32.70319566257483  # Hz, MIDI note 24 at A4 = 440 Hz

Activation = Literal["selu", "relu"]
Init = Literal["lecun_normal", "glorot_uniform", "glorot_normal_relu"]
INITS = ("lecun_normal", "glorot_uniform", "glorot_normal_relu")
Kind = Literal["content", "style", "l1", "spectrum"]

REPRESENTATIONS = ("stft", "mel", "cqt")


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name}={value!r} must be one of {', '.join(choices)}")


@dataclasses.dataclass(frozen=True)
class StftConfig:
    """Short-time Fourier transform shared by every front end (SPEC §1).

    Attributes:
      n_fft: DFT length and Hann window length in samples (paper: N_DFT = 2048).
      hop_length: hop between frames in samples.
    """

    n_fft: int = 2048
    hop_length: int = 512

    def __post_init__(self):
        _check_positive_int("n_fft", self.n_fft)
        _check_positive_int("hop_length", self.hop_length)
        if self.n_fft < 4:
            raise ValueError(f"n_fft={self.n_fft} must be at least 4")


@dataclasses.dataclass(frozen=True)
class StftNetConfig:
    """1-D convolution over time of the log-magnitude STFT, bins as channels (paper §3.1).

    Attributes:
      filters: number of kernels N_f (paper: 4096).
      kernel: kernel length K in frames (paper: 11, about 25 ms per frame hop).
      activation: ``"selu"`` (paper §3.5) or ``"relu"`` (Ulyanov & Lebedev baseline).
      init: ``"lecun_normal"`` for SELU; ``"glorot_normal_relu"`` (Ulyanov & Lebedev's
        released code) or ``"glorot_uniform"`` for the ReLU baseline.
    """

    filters: int = 4096
    kernel: int = 11
    activation: Activation = "selu"
    init: Init = "lecun_normal"

    representation = "stft"

    def __post_init__(self):
        _check_positive_int("stft filters", self.filters)
        _check_positive_int("stft kernel", self.kernel)
        _check_choice("activation", self.activation, ("selu", "relu"))
        _check_choice("init", self.init, INITS)

    @property
    def receptive_field_frames(self) -> int:
        return self.kernel


@dataclasses.dataclass(frozen=True)
class MelNetConfig:
    """Mel front end, 1-D conv, then dilated residual blocks (paper §3.2.1, SPEC §1).

    Attributes:
      n_mels: number of HTK (Eq. 6) triangular filters, peak 1.
      fmin: lowest filter edge in Hz.
      fmax: highest filter edge in Hz; ``None`` means ``sr / 2``.
      filters: channels of every layer (paper: 1025).
      kernel: first-layer kernel length in frames (paper: 50).
      blocks: number of residual blocks; block ``b`` is dilated ``2**(b+1)`` (2, 4, ...).
      block_kernel: residual-block kernel length in frames (paper: 25).
    """

    n_mels: int = 512
    fmin: float = 0.0
    fmax: float | None = None
    filters: int = 1025
    kernel: int = 50
    blocks: int = 2
    block_kernel: int = 25
    activation: Activation = "selu"
    init: Init = "lecun_normal"

    representation = "mel"

    def __post_init__(self):
        _check_positive_int("n_mels", self.n_mels)
        _check_positive_int("mel filters", self.filters)
        _check_positive_int("mel kernel", self.kernel)
        _check_positive_int("mel block_kernel", self.block_kernel)
        if not isinstance(self.blocks, int) or self.blocks < 0:
            raise ValueError(f"mel blocks={self.blocks!r} must be a non-negative integer")
        _check_choice("activation", self.activation, ("selu", "relu"))
        _check_choice("init", self.init, INITS)

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(2 ** (b + 1) for b in range(self.blocks))

    @property
    def receptive_field_frames(self) -> int:
        return self.kernel + sum((self.block_kernel - 1) * d for d in self.dilations)


@dataclasses.dataclass(frozen=True)
class CqtNetConfig:
    """Pseudo-CQT front end and a 2-D conv net over (frames, bins) (paper §3.2.2, §3.4).

    Attributes:
      n_bins: CQT bins (paper: 86, C1 upwards).
      bins_per_octave: bins per octave (12: semitones).
      fmin: centre of bin 0 in Hz (C1).
      filter_scale: bandwidth multiplier of the constant-Q filters (1: one semitone).
      filters: channels of every layer (paper: 256).
      kernel: (time, frequency) kernel of the first layer (paper: 11 x 11).
      blocks: residual blocks after the first layer, dilated 1, 2, 4, ... in both axes.
      block_kernel: (time, frequency) kernel of the residual blocks.
      pool: max-pool width and stride along frequency after the first layer (1 = off;
        paper §3.4: 2 for the key-invariant content representation).
    """

    n_bins: int = 86
    bins_per_octave: int = 12
    fmin: float = C1_HZ
    filter_scale: float = 1.0
    filters: int = 256
    kernel: tuple[int, int] = (11, 11)
    blocks: int = 0
    block_kernel: tuple[int, int] = (11, 11)
    pool: int = 1
    activation: Activation = "selu"
    init: Init = "lecun_normal"

    representation = "cqt"

    def __post_init__(self):
        _check_positive_int("n_bins", self.n_bins)
        _check_positive_int("bins_per_octave", self.bins_per_octave)
        _check_positive_int("cqt filters", self.filters)
        _check_positive_int("cqt pool", self.pool)
        for name, k in (("cqt kernel", self.kernel), ("cqt block_kernel", self.block_kernel)):
            if len(k) != 2:
                raise ValueError(f"{name}={k!r} must be a (time, frequency) pair")
            for v in k:
                _check_positive_int(name, v)
        if not isinstance(self.blocks, int) or self.blocks < 0:
            raise ValueError(f"cqt blocks={self.blocks!r} must be a non-negative integer")
        if not self.filter_scale > 0:
            raise ValueError(f"filter_scale={self.filter_scale!r} must be positive")
        if not self.fmin > 0:
            raise ValueError(f"cqt fmin={self.fmin!r} must be positive")
        _check_choice("activation", self.activation, ("selu", "relu"))
        _check_choice("init", self.init, INITS)

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(2**b for b in range(self.blocks))

    @property
    def receptive_field_frames(self) -> int:
        return self.kernel[0] + sum((self.block_kernel[0] - 1) * d for d in self.dilations)


NetConfig = StftNetConfig | MelNetConfig | CqtNetConfig


@dataclasses.dataclass(frozen=True)
class Term:
    """One loss term of Eq. 9: its kind, the network it reads, and its Γ (Eq. 8).

    Attributes:
      kind: ``"content"`` (Eq. 1, last layer), ``"style"`` (Eq. 4, every layer) or
        ``"l1"`` (sparsity of the log-magnitude STFT; ``net`` is ``None``) or
        ``"spectrum"`` (Eq. 1 on the magnitude STFT itself, no network: phase
        retrieval, ``experiments.reconstruct``; ``net`` is ``None``; not for :mod:`mst_jax.baseline`).
      net: the network configuration; its type names the representation.
      gamma: Γ_{Type,Net}; with gradient normalisation on, the term's gradient norm
        with respect to the initial waveform equals ``gamma``.
    """

    kind: Kind
    net: NetConfig | None
    gamma: float

    def __post_init__(self):
        _check_choice("term kind", self.kind, ("content", "style", "l1", "spectrum"))
        if (self.kind in ("l1", "spectrum")) != (self.net is None):
            raise ValueError("l1 and spectrum terms have no net; content and style terms need one")
        g = float(self.gamma)
        if not (g >= 0.0 and g < float("inf")):
            raise ValueError(f"gamma for {self.name} must be finite and >= 0, got {self.gamma!r}")

    @property
    def representation(self) -> str:
        return "stft" if self.net is None else self.net.representation

    @property
    def name(self) -> str:
        """``content_stft``, ``style_mel``, ``l1`` ... (the flag suffix of SPEC §3)."""
        return self.kind if self.net is None else f"{self.kind}_{self.representation}"


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """A full objective (Eq. 9): the terms, the shared STFT, and the weighting rule.

    Attributes:
      terms: the loss terms; at most one per ``Term.name``.
      stft: the STFT every front end projects.
      normalize_gradients: Eq. 7-8 (β = Γ / ‖∂L/∂x‖ at the initial waveform) if True,
        raw weights β = Γ if False.
    """

    terms: tuple[Term, ...]
    stft: StftConfig = StftConfig()
    normalize_gradients: bool = True

    def __post_init__(self):
        names = [t.name for t in self.terms]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate loss terms: {names}")

    def term(self, name: str) -> Term | None:
        for t in self.terms:
            if t.name == name:
                return t
        return None

    @property
    def has_content(self) -> bool:
        return any(t.kind in ("content", "spectrum") for t in self.terms)

    @property
    def has_style(self) -> bool:
        return any(t.kind == "style" for t in self.terms)

    @property
    def receptive_field_frames(self) -> int:
        """The longest receptive field, in STFT frames, of any network in the objective."""
        return max([t.net.receptive_field_frames for t in self.terms if t.net] + [1])


OPTIMIZERS = ("lbfgsb", "optax_lbfgs", "adam")


@dataclasses.dataclass(frozen=True)
class SolverConfig:
    """Optimiser settings (SPEC §1: ``jaxopt.LBFGSB``, bounds [-1, 1], 500 iterations).

    Attributes:
      max_iter: iterations in all.
      tol: stop when the projected-gradient norm falls below this.
      history_size: L-BFGS memory (pairs of vectors), for both L-BFGS variants.
      chunk: iterations per compiled chunk; progress, checkpoints and signals are
        handled between chunks.
      lower, upper: box bounds on every sample.
      linesearch: jaxopt line search (``optimizer="lbfgsb"`` only). ``"zoom"`` (strong
        Wolfe, jaxopt's default) is the robust choice, and with the redundant evaluation
        removed (``optimizers._ZoomWithoutAuxRecompute``) it takes 1.0 evaluations per
        iteration on the paper's nets. ``"backtracking"`` (Armijo) failed every line
        search of a paper-size TF32 transfer on an H100 and the loss stalled (BUILD_NOTES.md).
      linesearch_init: where each line search starts. ``"max"``: step 1, the quasi-Newton
        step, as L-BFGS-B's own line search does (``lnsrlb``: ``stp = one``), so a shorter
        step is taken only after the full one failed; ``"increase"`` (jaxopt's default):
        1.5 x the last accepted step, so one short step shortens the next few.
      optimizer: ``"lbfgsb"`` (``jaxopt.LBFGSB``, the SPEC default), ``"optax_lbfgs"``
        (``optax.lbfgs`` with its zoom line search, the iterate projected into the bounds
        after every step) or ``"adam"`` (``optax.adam``, the optimiser of the PyTorch
        audio-style-transfer peers, projected likewise).
      learning_rate: Adam's step size in waveform units per iteration (ignored by the
        L-BFGS variants, whose line searches choose the step). The default 0.03 gave the
        lowest loss after 150 iterations of 0.001, 0.01, 0.03 and 0.1, from the content
        and from noise, on the shipped 6 s demo clips at widths 512 / 128 / 32 (0.1 overshoots:
        its loss was 1.8-2x higher) (BUILD_NOTES.md, "Optimisers").
    """

    max_iter: int = 500
    tol: float = 1e-9
    history_size: int = 10
    chunk: int = 25
    lower: float = -1.0
    upper: float = 1.0
    linesearch: Literal["zoom", "backtracking", "hager-zhang"] = "zoom"
    linesearch_init: Literal["increase", "max"] = "increase"
    optimizer: Literal["lbfgsb", "optax_lbfgs", "adam"] = "lbfgsb"
    learning_rate: float = 0.03

    def __post_init__(self):
        _check_positive_int("max_iter", self.max_iter)
        _check_positive_int("history_size", self.history_size)
        _check_positive_int("chunk", self.chunk)
        if not self.tol >= 0:
            raise ValueError(f"tol={self.tol!r} must be >= 0")
        _check_choice("linesearch", self.linesearch, ("backtracking", "zoom", "hager-zhang"))
        _check_choice("linesearch_init", self.linesearch_init, ("increase", "max"))
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        lr = float(self.learning_rate)
        if not (lr > 0 and lr < float("inf")):
            raise ValueError(f"learning_rate={self.learning_rate!r} must be finite and > 0")
        if not self.lower < self.upper:
            raise ValueError(f"bounds ({self.lower}, {self.upper}) must satisfy lower < upper")
