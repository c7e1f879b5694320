"""Levels through a transfer: the content's evened and given back, the style's matched to it (host side).

The style terms' grams are averages over every frame, so an optimisation spends the style's
texture where the content is quiet as freely as where it is loud: a piece whose second half is
24 dB quieter came out of the default 4.5 dB quieter, and a quartet's 30 dB crescendo lost
its quiet opening to the style's notes (content kept 0.71, stopped by the content floor at
iteration 20) (BUILD_NOTES "Keeping the content's dynamics"). A transfer from the content
therefore optimises the content *levelled* (multiplied by :func:`levelling_gain`, every half
second as loud as its loudest half second) and divides its result by the same gain, so the
result has the content's dynamics and the style's timbre throughout.

Levels are librosa's frame RMS (centred frames, 2048 samples, hop 512 by default), their power
averaged over :data:`WINDOW_S`: short enough for a phrase's dynamics, long enough that a note's
attack and a beat are not evened (they are texture, the style's to give); a decay longer than
the window is partly evened, and given back with the rest.

Both inputs are peak-normalised (SPEC §1), so how loud the content is against the style is an
accident of their crest factors, and the features (``log1p`` magnitudes, their grams) are not
level-blind: the style terms hold the style's level as the content terms hold the content's.
Lowering the content 6 dB against a drum groove moved the result's MFCC ratio from 0.31 to
0.05 (and its chroma with the content from 0.98 to 0.82). A transfer therefore scales each
style clip by :func:`matching_gain`, so that it is as loud (:func:`sounding_power`) as the
content the objective sees (BUILD_NOTES "Matching the style's level to the content's").
"""

from __future__ import annotations

import numpy as np

from mst_jax.silence import SILENCE_DB, sounding_frames

__all__ = [
    "WINDOW_S",
    "levelling_gain",
    "matching_gain",
    "smoothed_power",
    "sounding_power",
    "window_frames",
]

WINDOW_S = 0.5  # seconds over which a level is averaged


def window_frames(*, sr: int, hop_length: int = 512, window_s: float = WINDOW_S) -> int:
    """The odd number of frames nearest ``window_s`` seconds at ``sr`` Hz and ``hop_length``.

    >>> window_frames(sr=22050)  # 0.5 s at hop 512: 23 frames (0.53 s)
    23
    """
    return 2 * round(window_s * sr / hop_length / 2) + 1


def smoothed_power(
    wave, *, sr: int, frame_length: int = 2048, hop_length: int = 512, window_s: float = WINDOW_S
) -> np.ndarray:
    """``(frames,)`` float64: the frame power (mean square, ``librosa.feature.rms`` squared,
    centred frames) of ``wave`` ``(samples,)`` averaged over :func:`window_frames` frames, the
    edge frames repeated: the clip's level, in linear power, every ``hop_length`` samples.

    >>> p = smoothed_power(np.r_[np.ones(44100), 0.1 * np.ones(44100)], sr=22050)
    >>> [round(float(p[i]), 3) for i in (43, 129)]  # 1 s and 3 s: 0 dB and -20 dB
    [1.0, 0.01]
    """
    import librosa

    y = np.asarray(wave, np.float32).ravel()
    power = librosa.feature.rms(y=y, frame_length=frame_length, hop_length=hop_length)[0] ** 2
    w = window_frames(sr=sr, hop_length=hop_length, window_s=window_s)
    padded = np.pad(power.astype(np.float64), w // 2, mode="edge")
    return np.convolve(padded, np.ones(w) / w, mode="valid")


def levelling_gain(
    wave, *, sr: int, frame_length: int = 2048, hop_length: int = 512, window_s: float = WINDOW_S
) -> np.ndarray | None:
    """A gain ``(samples,)`` float32, at least 1, that makes every ``window_s`` stretch of
    ``wave`` ``(samples,)`` about as loud as its loudest; None for an all-zero clip.

    The gain at a frame's centre is ``sqrt(P_max / P)``, where ``P`` is the clip's
    :func:`smoothed_power` and ``P_max`` its largest value; it is capped at
    :data:`mst_jax.silence.SILENCE_DB` (what is quieter than that is silence, and the silence
    gate's to keep), and linear between frame centres.
    Divide a result by the same gain to give it ``wave``'s level back.

    >>> y = np.r_[np.ones(44100), 0.1 * np.ones(44100)].astype(np.float32)
    >>> g = levelling_gain(y, sr=22050)
    >>> [round(float(g[i]), 2) for i in (22050, 66150)]  # loud half 1, quiet half 10 (20 dB)
    [1.0, 10.0]
    """
    y = np.asarray(wave, np.float32).ravel()
    smooth = smoothed_power(
        y, sr=sr, frame_length=frame_length, hop_length=hop_length, window_s=window_s
    )
    top = float(smooth.max(initial=0.0))
    if top == 0.0:
        return None
    floor = top * 10.0 ** (-SILENCE_DB / 10.0)  # power SILENCE_DB below the loudest
    gain = np.sqrt(top / np.maximum(smooth, floor))
    centres = np.arange(gain.size) * hop_length
    return np.interp(np.arange(y.size), centres, gain).astype(np.float32)


def sounding_power(wave, *, frame_length: int = 2048, hop_length: int = 512) -> float:
    """The mean frame power (``librosa.feature.rms`` squared, centred frames) of ``wave``
    ``(samples,)`` over its sounding frames (:func:`mst_jax.silence.sounding_frames`): how loud
    the clip is where it plays, a silent lead-in left out. 0.0 for an all-zero clip.

    >>> y = np.r_[np.zeros(22050), 0.5 * np.ones(22050)].astype(np.float32)
    >>> round(sounding_power(y), 2)  # the silent second left out: about 0.5 squared
    0.24
    """
    import librosa

    y = np.asarray(wave, np.float32).ravel()
    rms = librosa.feature.rms(y=y, frame_length=frame_length, hop_length=hop_length)[0]
    keep = sounding_frames(y, frame_length=frame_length, hop_length=hop_length)
    return float(np.mean(np.square(rms[keep], dtype=np.float64))) if keep.any() else 0.0


def matching_gain(
    wave, reference, *, frame_length: int = 2048, hop_length: int = 512
) -> float:
    """The factor that makes ``wave`` as loud as ``reference`` (both ``(samples,)``) by
    :func:`sounding_power`: ``sqrt(P_reference / P_wave)``; 1.0 where either is all zeros.

    >>> y = np.ones(22050, np.float32)
    >>> round(matching_gain(0.1 * y, y), 3), round(matching_gain(y, 0.1 * y), 3)  # +-20 dB
    (10.0, 0.1)
    """
    kw = dict(frame_length=frame_length, hop_length=hop_length)
    p_wave, p_ref = sounding_power(wave, **kw), sounding_power(reference, **kw)
    if p_wave == 0.0 or p_ref == 0.0:
        return 1.0
    return float(np.sqrt(p_ref / p_wave))
