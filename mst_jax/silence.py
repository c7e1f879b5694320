"""Where a clip is silent, and a gain that keeps a content's silences in a transfer (host side).

A frame is silent when its RMS is more than :data:`SILENCE_DB` below the clip's loudest frame
(librosa's frames: centred, 2048 samples, hop 512 by default). Two uses:

* :func:`sounding_frames`: the frames a measure should read (:func:`mst_jax.evaluate.flatness`
  skips silent ones, which are flat and would read as noise);
* :func:`gate`: a per-sample gain, 1 where the content sounds and 0 where it is silent. The
  style terms' grams are averages over every frame, so an optimisation fills a content's silent
  lead-in or break with the style's texture (2 s of digital silence before a piano piece came
  out 4.5 dB below the music, BUILD_NOTES "Keeping the content's silences"); a transfer's result
  multiplied by the gate keeps them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SILENCE_DB", "gate", "sounding_frames"]

SILENCE_DB = 60.0  # dB below the loudest frame's RMS: silence (librosa.effects.split's top_db)


def sounding_frames(wave, *, frame_length: int = 2048, hop_length: int = 512) -> np.ndarray:
    """``(frames,)`` bool: the frames of ``wave`` ``(samples,)`` whose RMS
    (``librosa.feature.rms``, centred frames) is within :data:`SILENCE_DB` of the loudest
    frame's. All False for an all-zero clip.

    >>> sounding_frames(np.r_[np.zeros(4096), np.ones(4096)], hop_length=1024).astype(int)
    array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    import librosa

    y = np.asarray(wave, np.float32).ravel()
    rms = librosa.feature.rms(y=y, frame_length=frame_length, hop_length=hop_length)[0]
    return rms > float(rms.max(initial=0.0)) * 10.0 ** (-SILENCE_DB / 20.0)


def gate(wave, *, frame_length: int = 2048, hop_length: int = 512) -> np.ndarray | None:
    """A gain ``(samples,)`` float32 in [0, 1] that silences a result where ``wave`` (the
    content, ``(samples,)``) is silent, or None where no frame of it is (nothing to keep).

    The gain is 1 at the centre of every sounding frame and 0 at the centre of every silent
    one, linear in between (a ramp of ``hop_length`` samples). A silent frame's whole window
    is silent, so the ramp ends before the content's first sound: its attacks are never cut.
    A clip with no sounding frame (all zeros) has nothing to keep either: None.
    """
    y = np.asarray(wave, np.float32).ravel()
    sounding = sounding_frames(y, frame_length=frame_length, hop_length=hop_length)
    if sounding.all() or not sounding.any():
        return None
    centres = np.arange(sounding.size) * hop_length
    return np.interp(np.arange(y.size), centres, sounding.astype(np.float64)).astype(np.float32)
