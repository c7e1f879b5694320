"""A stop on a content floor: keep the last iterate whose chroma still follows the content.

Started from the content, a transfer walks down the style loss and the content's melody and
harmony fade as it goes; how many iterations they survive differs from pair to pair (on the
quality benchmark's pairs, from under 80 to over 500: BUILD_NOTES.md "Quality"). One iteration
count cannot serve every pair. This module measures, between chunks of iterations, the
frame-wise chroma correlation of the current iterate with the content (the ``chroma_content``
of :mod:`mst_jax.evaluate`, host side, about 0.06 s for 10 s of audio) and says when it has
fallen below a floor; the run then returns the last iterate that was at or above it.

Pure functions over a :class:`FloorState` (no stateful class): :func:`start` measures the
initial iterate, :func:`check` each later one, :func:`result_of` is what a crossed floor does
to a run's result, :func:`record` and :func:`summary` report it (the run record's block, one
line).

>>> import numpy as np
>>> sr = 22050
>>> t = np.arange(sr) / sr
>>> a4, e5 = np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 659.26 * t)
>>> s = start(a4, sr=sr, floor=0.7, iteration=0, x=a4, wave=a4)
>>> s = check(s, 10, a4 + 0.1 * e5, a4 + 0.1 * e5)
>>> s = check(s, 20, e5, e5)
>>> s.crossed, s.kept_iteration, [it for it, _ in s.checks]
(True, 10, [0, 10, 20])
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from mst_jax import evaluate

__all__ = ["STOP_REASON", "FloorState", "check", "record", "result_of", "start", "summary"]

STOP_REASON = "content floor"  # the stop reason of a run that fell below its floor


class FloorState(NamedTuple):
    """Where a run stands against its content floor.

    Attributes:
      floor: the chroma correlation an iterate must keep, in (0, 1].
      sr: sample rate of the waveforms, Hz.
      content_chroma: ``(frames, 12)`` the content's :func:`mst_jax.evaluate.chroma`.
      checks: ``((iteration, chroma correlation), ...)`` every measurement so far.
      kept_iteration: the last iteration measured at or above the floor.
      kept_x: that iterate (the optimiser's variable, a host copy).
      kept_chroma: its chroma correlation with the content.
      crossed: an iterate has fallen below the floor; the run should stop.
    """

    floor: float
    sr: int
    content_chroma: np.ndarray
    checks: tuple[tuple[int, float], ...]
    kept_iteration: int
    kept_x: np.ndarray
    kept_chroma: float
    crossed: bool


def _kept(content_chroma: np.ndarray, wave, sr: int) -> float:
    return evaluate.frame_correlation(evaluate.chroma(wave, sr=sr), content_chroma)


def start(content, *, sr: int, floor: float, iteration: int, x, wave) -> FloorState:
    """Measures the first iterate.

    Args:
      content: the content waveform ``(samples,)``.
      sr: sample rate, Hz.
      floor: the chroma correlation to keep, in (0, 1].
      iteration: the iterate's iteration (0, or where a resumed run starts).
      x: the iterate (any array; kept as a host copy).
      wave: its waveform ``(samples,)``.

    Raises:
      ValueError: ``floor`` outside (0, 1], or the first iterate already below it (a run
        from noise has no content to keep; a resumed run may have passed a higher floor).
    """
    if not (isinstance(floor, (int, float)) and 0.0 < floor <= 1.0):
        raise ValueError(f"content floor {floor!r}: must be in (0, 1]")
    content_chroma = evaluate.chroma(content, sr=sr)
    kept = _kept(content_chroma, wave, sr)
    if not kept >= floor:
        raise ValueError(
            f"content floor {floor:g}: the iterate at iteration {iteration} keeps chroma "
            f"{kept:.2f} of the content, already below it (a floor needs a run that starts from "
            "the content, or a resumed one still above it)"
        )
    return FloorState(
        float(floor), int(sr), content_chroma, ((int(iteration), kept),), int(iteration),
        np.array(x), kept, False,
    )


def check(state: FloorState, iteration: int, x, wave) -> FloorState:
    """Measures the iterate ``x`` (waveform ``wave``, at the content's rate) at ``iteration``.

    At or above the floor it becomes the kept iterate; below it (or unmeasurable: a silent
    result) the state is ``crossed`` and the kept iterate stays the previous one. Once
    crossed, later calls change nothing.
    """
    if state.crossed:
        return state
    kept = _kept(state.content_chroma, wave, state.sr)
    checks = state.checks + ((int(iteration), kept),)
    if kept >= state.floor:  # False for NaN
        return state._replace(
            checks=checks, kept_iteration=int(iteration), kept_x=np.array(x), kept_chroma=kept
        )
    return state._replace(checks=checks, crossed=True)


def record(state: FloorState) -> dict:
    """The run record's ``content_floor`` block (JSON-ready)."""
    return {
        "floor": state.floor,
        "crossed": state.crossed,
        "kept_iteration": state.kept_iteration,
        "kept_chroma": state.kept_chroma,
        "checks": [[it, c if math.isfinite(c) else None] for it, c in state.checks],
    }


def summary(state: FloorState) -> str:
    """One line on where the content fell below the floor and what was kept.

    >>> s = FloorState(0.7, 22050, np.zeros((1, 12)), ((0, 1.0), (10, 0.8), (20, 0.6)), 10,
    ...                np.zeros(1), 0.8, True)
    >>> summary(s)
    "content floor 0.7: content kept 0.600 at iteration 20; wrote iteration 10's result (0.800)"
    """
    it, below = state.checks[-1]
    if not state.crossed:
        return (
            f"content floor {state.floor:g}: never crossed "
            f"(last check {below:.3f} at iteration {it})"
        )
    return (
        f"content floor {state.floor:g}: content kept {below:.3f} at iteration {it}; "
        f"wrote iteration {state.kept_iteration}'s result ({state.kept_chroma:.3f})"
    )


def result_of(result, state: FloorState):
    """A run's :class:`mst_jax.synthesis.Result` as the floor leaves it: unchanged unless the
    floor was crossed; then the kept iterate, with stop reason :data:`STOP_REASON` (a run
    stopped by a non-finite loss keeps that reason)."""
    if not state.crossed:
        return result
    reason = result.stop_reason if result.stop_reason == "non-finite loss" else STOP_REASON
    return result._replace(wave=state.kept_x, stop_reason=reason)
