"""Synthetic test signals in numpy: sine tones, harmonic chords, click tracks and drum loops.

Short, exactly known signals for tests, doctests and benchmarks (no files, no soundfont). Each
returns mono ``float32`` of shape ``(round(duration_s * sr),)`` with peak at most 1.

Example:
    >>> click_track(bpm=120.0, duration_s=1.0, sr=8000).shape
    (8000,)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mst_jax.additive import drum_hit, peak_normalise
from mst_jax.notes import HAT, KICK, SNARE, midi_to_hz

__all__ = ["chord", "click_track", "drum_pattern", "tone"]

DEFAULT_SR = 22050  # Hz, the paper's sample rate (SPEC §1)
FADE_S = 0.005  # s, linear fade at both ends of tones and chords


def fades(n: int, sr: int, fade_s: float | None = None) -> np.ndarray:
    """``(n,)`` envelope: linear fade-in and fade-out of ``fade_s`` seconds (default
    ``FADE_S``), each at most half the length."""
    fade_s = FADE_S if fade_s is None else fade_s
    env = np.ones(n)
    m = min(int(fade_s * sr), n // 2)
    if m > 0:
        ramp = np.linspace(0.0, 1.0, m, endpoint=False)
        env[:m] = ramp
        env[n - m :] = ramp[::-1]
    return env


def tone(
    freq_hz: float, *, duration_s: float, sr: int = DEFAULT_SR, amplitude: float = 0.5
) -> np.ndarray:
    """A sine tone with 5 ms linear fades at both ends.

    Args:
        freq_hz: Frequency in Hz.
        duration_s: Length in seconds.
        sr: Sample rate in Hz.
        amplitude: Peak amplitude, at most 1.

    Returns:
        ``(round(duration_s * sr),)`` float32.

    Example:
        >>> tone(440.0, duration_s=0.1, sr=8000).shape
        (800,)
    """
    n = int(round(duration_s * sr))
    t = np.arange(n) / sr
    wave = min(abs(amplitude), 1.0) * np.sin(2 * np.pi * freq_hz * t)
    return (wave * fades(n, sr)).astype(np.float32)


def chord(
    midi_notes: Sequence[int], *, duration_s: float, sr: int = DEFAULT_SR, amplitude: float = 0.5
) -> np.ndarray:
    """Equal-amplitude notes at the given MIDI pitches, 3 harmonics each (1, 1/2, 1/4).

    Args:
        midi_notes: MIDI pitches.
        duration_s: Length in seconds.
        sr: Sample rate in Hz.
        amplitude: Peak amplitude of the sum, at most 1.

    Returns:
        ``(round(duration_s * sr),)`` float32 with peak ``amplitude``.

    Example:
        >>> float(abs(chord([60, 64, 67], duration_s=0.5, sr=8000)).max()) <= 0.5 + 1e-6
        True
    """
    n = int(round(duration_s * sr))
    t = np.arange(n) / sr
    wave = np.zeros(n)
    for f0 in np.atleast_1d(midi_to_hz(np.asarray(midi_notes))):
        for k, amp in ((1, 1.0), (2, 0.5), (3, 0.25)):
            if k * f0 < sr / 2:
                wave += amp * np.sin(2 * np.pi * k * f0 * t)
    wave *= fades(n, sr)
    return (min(abs(amplitude), 1.0) * peak_normalise(wave)).astype(np.float32)


def click_track(
    *,
    bpm: float,
    duration_s: float,
    sr: int = DEFAULT_SR,
    click_hz: float = 1000.0,
    decay_s: float = 0.01,
    offset_s: float = 0.0,
) -> np.ndarray:
    """Short exponentially decaying sine clicks, one on every beat.

    Args:
        bpm: Clicks per minute.
        duration_s: Length in seconds.
        sr: Sample rate in Hz.
        click_hz: Frequency of each click in Hz.
        decay_s: Decay time constant of each click in seconds (clicks last 6 time constants).
        offset_s: Time of the first click in seconds.

    Returns:
        ``(round(duration_s * sr),)`` float32 with peak 1 (clicks start at sample
        ``round((offset_s + k * 60 / bpm) * sr)``).

    Example:
        >>> w = click_track(bpm=120.0, duration_s=2.0, sr=8000)
        >>> np.flatnonzero(w == 1.0).tolist()
        [0, 4000, 8000, 12000]
    """
    n = int(round(duration_s * sr))
    m = max(1, int(6 * decay_s * sr))
    t = np.arange(m) / sr
    click = np.sin(2 * np.pi * click_hz * t + np.pi / 2) * np.exp(-t / decay_s)
    out = np.zeros(n)
    period_s = 60.0 / bpm
    k = 0
    while (start := int(round((offset_s + k * period_s) * sr))) < n:
        seg = click[: n - start]
        out[start : start + len(seg)] += seg
        k += 1
    return peak_normalise(out)


# Patterns on an eighth-note grid of one 4/4 bar (8 steps): percussion key -> steps.
_GRIDS = {
    "rock": {KICK: (0, 4), SNARE: (2, 6), HAT: tuple(range(8))},
    "four": {KICK: (0, 2, 4, 6), HAT: (1, 3, 5, 7)},
    "half": {KICK: (0,), SNARE: (4,), HAT: (0, 2, 4, 6)},
}
_VELOCITY = {KICK: 120, SNARE: 110, HAT: 70}


def drum_pattern(
    *,
    bpm: float = 120.0,
    duration_s: float,
    sr: int = DEFAULT_SR,
    pattern: str = "rock",
    seed: int = 0,
) -> np.ndarray:
    """A kick/snare/hi-hat loop of the additive synthesiser's drums (no soundfont needed).

    Patterns are written on an eighth-note grid of one 4/4 bar (8 steps):

    * ``"rock"``: kick on steps 0, 4 (beats 1, 3), snare on 2, 6 (beats 2, 4), hat on every step.
    * ``"four"``: kick on every beat, hat on the off-beats.
    * ``"half"``: kick on step 0, snare on step 4, hat on the beats.

    Args:
        bpm: Tempo in beats per minute.
        duration_s: Length in seconds.
        sr: Sample rate in Hz.
        pattern: ``"rock"``, ``"four"`` or ``"half"``.
        seed: Seed of ``np.random.default_rng`` for the noise (same seed, same samples).

    Returns:
        ``(round(duration_s * sr),)`` float32 with peak 1.

    Raises:
        ValueError: Unknown pattern.

    Example:
        >>> a = drum_pattern(duration_s=1.0, sr=8000)
        >>> bool(np.array_equal(a, drum_pattern(duration_s=1.0, sr=8000)))
        True
    """
    if pattern not in _GRIDS:
        raise ValueError(f"pattern must be one of {sorted(_GRIDS)}, got {pattern!r}")
    n = int(round(duration_s * sr))
    step_s = 30.0 / bpm  # an eighth note
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    for step in range(int(math.ceil(duration_s / step_s))):
        for drum, steps in _GRIDS[pattern].items():
            if step % 8 in steps:
                hit = drum_hit(drum, _VELOCITY[drum], sr=sr, rng=rng)
                i = int(round(step * step_s * sr))
                seg = hit[: max(0, n - i)]
                out[i : i + len(seg)] += seg
    return peak_normalise(out)
