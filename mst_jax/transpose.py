"""Transposed copies of a clip (``librosa.effects.pitch_shift``), for key-neutral style statistics.

A style's grams on the STFT and Mel nets are frequency-specific: they carry the style's pitch
distribution, and a transfer that matches them takes the style's key with its timbre (BUILD_NOTES,
"Where the chroma goes"). Averaging the grams of the style transposed by a few semitones (the
objective already averages the grams of a list of style clips) spreads that distribution while
a small shift leaves the instruments' spectra nearly as they are. Host-side numpy; not in the jit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MAX_SHIFT", "check_shifts", "transposed"]

MAX_SHIFT = 12  # semitones: an octave either way


def check_shifts(semitones: Sequence[int]) -> tuple[int, ...]:
    """``semitones`` as a tuple of ints, each a whole number in [-MAX_SHIFT, MAX_SHIFT].

    Raises:
      ValueError: an empty list or any other value.

    >>> check_shifts([0, 2.0, -3])
    (0, 2, -3)
    """
    if not semitones:
        raise ValueError("give at least one shift in semitones (0: the clip as given)")
    for k in semitones:
        if int(k) != k or not -MAX_SHIFT <= k <= MAX_SHIFT:
            raise ValueError(f"a shift of {k!r} semitones is not a whole number in [-{MAX_SHIFT}, {MAX_SHIFT}]")
    return tuple(int(k) for k in semitones)


def transposed(wave, *, sr: int, semitones: Sequence[int]) -> list[np.ndarray]:
    """``wave`` pitch-shifted by each of ``semitones`` (0: the clip itself, unchanged).

    Args:
      wave: ``(samples,)`` mono waveform.
      sr: its sample rate in Hz.
      semitones: shifts, each in [-12, 12]; the order is kept.

    Returns:
      One float32 ``(samples,)`` array per shift (librosa's phase vocoder and resampling keep
      the length and the tempo).

    Raises:
      ValueError: an empty list or a shift outside [-12, 12].

    >>> [w.shape for w in transposed(np.zeros(4096, np.float32), sr=22050, semitones=[0, 2])]
    [(4096,), (4096,)]
    """
    import librosa

    try:
        shifts = check_shifts(semitones)
    except ValueError as e:
        raise ValueError(f"transposed: {e}") from None
    y = np.asarray(wave, np.float32)
    return [y if k == 0 else librosa.effects.pitch_shift(y, sr=sr, n_steps=k).astype(np.float32)
            for k in shifts]
