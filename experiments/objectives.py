"""What each ``--preset`` optimises: its loss configuration and its kind of objective, the
waveform (Table 1 rows, reconstruction) or the log-magnitude STFT (Ulyanov & Lebedev's
baseline), with how that kind is built, started, bounded and turned back into sound.

The one place the scripts choose between :func:`mst_jax.losses.build` and
:func:`mst_jax.baseline.build`; the runner, the batch runner and the outputs call
:func:`of` and stay generic.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from mst_jax import baseline, losses, presets
from mst_jax.config import LossConfig

PRESETS = ("1", "2", "3", "4", "5", "6", "baseline")  # the values --preset accepts


class Kind(NamedTuple):
    """A kind of objective.

    Attributes:
      domain: ``"waveform"`` or ``"spectrogram"`` (the run record's ``config.domain``).
      build: ``build(loss, key, *, content, style, sr, num_samples) -> Objective`` (β = Γ).
      variable: ``variable(wave (samples,), *, stft) -> x``: a waveform (the initial noise,
        the content) as the optimised variable.
      bounds: ``(lower, upper)`` on every element of ``x``.
      to_wave: ``to_wave(x, *, stft, length, n_iter, seed) -> (samples,)`` float32 (``n_iter``
        and ``seed`` are Griffin-Lim's).
      max_iter_from_noise: the iterations a run from noise makes when ``--max_iter`` is not
        given: None for the flags' default (SPEC's 500), else the kind's published count.
    """

    domain: str
    build: Callable[..., losses.Objective]
    variable: Callable
    bounds: tuple[float, float]
    to_wave: Callable[..., np.ndarray]
    max_iter_from_noise: int | None = None


WAVEFORM = Kind(
    domain="waveform",
    build=losses.build,
    variable=lambda wave, *, stft: losses.WAVEFORM.of_wave(wave, stft),
    bounds=(-1.0, 1.0),  # SPEC.md §1: samples within [-1, 1]
    to_wave=lambda x, **_: np.asarray(x, np.float32),
)
SPECTROGRAM = Kind(
    domain="spectrogram",
    build=baseline.build,
    variable=baseline.variable,
    bounds=baseline.BOUNDS,
    to_wave=baseline.to_wave,
    max_iter_from_noise=presets.BASELINE_MAX_ITER,
)


def of(preset: str) -> Kind:
    """The kind of objective ``preset`` optimises (``"1"``-``"6"``, ``"baseline"``,
    ``"reconstruction"``): the one place the choice is made."""
    return SPECTROGRAM if preset == "baseline" else WAVEFORM


def loss_config(preset: str, *, stft_filters: int | None = None) -> LossConfig:
    """The loss configuration of a ``--preset`` value in :data:`PRESETS`.

    Args:
      preset: a Table 1 row ``"1"``-``"6"`` or ``"baseline"``.
      stft_filters: the baseline's width (``--stft_filters``), None for the published 4096.
        Its style Γ is the width squared (their raw sum), so the width is chosen here, before
        the size flags resize the nets; Table 1 rows ignore it here.

    Raises:
      ValueError: ``preset`` not in :data:`PRESETS`.
    """
    if preset == "baseline":
        if stft_filters is None:
            return presets.baseline()
        return presets.baseline(filters=stft_filters)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}: not one of {', '.join(PRESETS)}")
    return presets.table1(int(preset))
