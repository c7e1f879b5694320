"""A run's settings: :class:`RunConfig`, what the command-line flags resolve to, and the
:class:`Excerpt` of each input file it reads.

:func:`experiments.resolve.run_config` makes one from the flags (:mod:`experiments._flags`),
validated; everything after it (reading the inputs, building the objective, running, writing)
reads only this.
"""

from __future__ import annotations

import dataclasses

from mst_jax.config import LossConfig, SolverConfig


@dataclasses.dataclass(frozen=True)
class Excerpt:
    """The part of an input file a run reads (``--content_offset``/``--content_duration``,
    ``--style_offset``/``--style_duration``; ``mst_jax.audio.load``'s ``offset_s``/``duration_s``).

    Attributes:
      offset_s: start, in seconds from the start of the file (>= 0).
      duration_s: length in seconds (> 0), or None: to the end of the file.
    """

    offset_s: float = 0.0
    duration_s: float | None = None

    @property
    def whole(self) -> bool:
        """True when the whole file is read."""
        return self.offset_s == 0.0 and self.duration_s is None

    def where(self, wave, sr: int) -> str:
        """``"1.50–5.50 s of its file"``: the seconds of the file that ``wave`` (this excerpt as
        read, at ``sr`` Hz) holds, for the summary line and the figure's titles."""
        return f"{self.offset_s:.2f}–{self.offset_s + wave.size / sr:.2f} s of its file"


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
      time_limit: seconds the run may take (``--time_limit``): it stops between chunks where the
        next would end past this (:func:`experiments.console.out_of_time`); 0: no limit.
      resume: continue from the saved state.
      normalize: peak-normalise the output.
      subtype: soundfile subtype of the output.
      griffinlim_iter: Griffin-Lim iterations after a spectrogram-domain run (the baseline).
      demo: the no-flag demo on the shipped clips.
      page: write the listening page (``--page``).
      quality: measure the result (``--quality``, :mod:`mst_jax.evaluate`).
      style_shifts: semitones by which each style clip is also transposed for its grams
        (``--style_shifts``; ``(0,)``: the clips as given).
      content_floor: stop when the result's chroma correlation with the content falls below
        this, keeping the last iterate above it (``--content_floor``, transfer from the
        content; :mod:`mst_jax.content_floor`); None: run every iteration.
      keep_silence: multiply the result by :func:`mst_jax.silence.gate` of the content, so the
        content's silent frames stay silent (``--keep_silence``; transfer only).
      keep_dynamics: optimise the content levelled by :func:`mst_jax.dynamics.levelling_gain`
        and divide the result by that gain, so it keeps the content's dynamics
        (``--keep_dynamics``; transfer only).
      match_level: scale each style clip by :func:`mst_jax.dynamics.matching_gain` so it is as
        loud as the content the objective sees (``--match_level``; transfer only).
      style_level_db: a further gain on every style clip, in dB (``--style_level_db``;
        transfer only; 0: none).
      content_excerpt: the part of the content file read (transfer only).
      style_excerpt: the part of every style file read.
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
    time_limit: float = 0.0
    resume: bool = False
    normalize: bool = True
    subtype: str = "PCM_16"
    griffinlim_iter: int = 100
    demo: bool = False
    quality: bool = True
    page: bool = True
    style_shifts: tuple[int, ...] = (0,)
    content_floor: float | None = None
    keep_silence: bool = False
    keep_dynamics: bool = False
    match_level: bool = False
    style_level_db: float = 0.0
    content_excerpt: Excerpt = Excerpt()
    style_excerpt: Excerpt = Excerpt()

    @property
    def max_iter(self) -> int:
        return self.solver.max_iter
