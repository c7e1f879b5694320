"""A content's level evened and given back (mst_jax.dynamics): the gain against numpy's frame
power and scipy's moving average, and its promises (phrases evened, notes and beats not, quiet
capped at the silence line)."""

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from mst_jax import dynamics, silence

SR = 22050
HOP, FRAME = 512, 2048


def _tone(seconds, hz=440.0, amplitude=0.5):
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def numpy_frame_power(y):
    """Frame mean square by hand: centred frames of FRAME samples every HOP, zero padding."""
    padded = np.pad(y.astype(np.float64), FRAME // 2)
    n = 1 + y.size // HOP
    return np.array([np.mean(padded[i * HOP : i * HOP + FRAME] ** 2) for i in range(n)])


def numpy_sounding_power(y):
    """The mean of :func:`numpy_frame_power` over the frames within 60 dB of the loudest (also
    the reference of ``tests/test_experiments.py``'s level-match test)."""
    power = numpy_frame_power(y)
    return power[power > power.max() * 10 ** (-silence.SILENCE_DB / 10)].mean()


def _window_db(y, seconds=0.5):
    """RMS in dB of each whole ``seconds`` stretch of ``y``."""
    n = int(seconds * SR)
    return np.array([10 * np.log10(np.mean(y[i : i + n] ** 2)) for i in range(0, y.size - n + 1, n)])


def test_gain_at_frame_centres_is_the_smoothed_power_by_numpy_and_scipy():
    """Three tones at 0, -12 and -30 dB and a hiss: at every frame centre the gain is
    sqrt(max / P) of the frame power (numpy by hand) averaged over 23 frames with the edges
    repeated (scipy's uniform filter, mode 'nearest')."""
    rng = np.random.default_rng(0)
    y = np.concatenate([
        _tone(1.0), _tone(1.0, 330.0, 0.5 * 10 ** (-12 / 20)), _tone(1.0, 550.0, 0.5 * 10 ** (-30 / 20)),
        0.02 * rng.standard_normal(SR // 2),
    ]).astype(np.float32)
    w = dynamics.window_frames(sr=SR, hop_length=HOP)
    assert w == 23  # 0.5 s at 22050 Hz, hop 512, to the odd count nearest
    smooth = uniform_filter1d(numpy_frame_power(y), w, mode="nearest")
    expected = np.sqrt(smooth.max() / smooth)
    g = dynamics.levelling_gain(y, sr=SR, frame_length=FRAME, hop_length=HOP)
    assert g.shape == y.shape and g.dtype == np.float32
    centres = np.arange(expected.size) * HOP
    inside = centres < y.size
    # float32 frame power in librosa against float64 here: 1e-4 relative.
    np.testing.assert_allclose(g[centres[inside]], expected[inside], rtol=1e-4)
    assert g.min() == pytest.approx(1.0, abs=1e-6)  # the loudest stretch is left as it is


def test_phrases_are_evened_and_given_back():
    """A phrase at 0 dB then one 24 dB quieter: levelled, every whole half second of the two is
    within 1.5 dB of the others away from the step (the half seconds either side of it mix the
    two); divided by the same gain, the clip is itself again."""
    y = np.concatenate([_tone(2.0), _tone(2.0, 330.0, 0.5 * 10 ** (-24 / 20))])
    g = dynamics.levelling_gain(y, sr=SR)
    levelled = _window_db(y * g)
    away = np.r_[levelled[:3], levelled[5:]]  # windows 3 and 4 hold the step's smoothing
    assert _window_db(y)[0] - _window_db(y)[-1] == pytest.approx(24.0, abs=0.1)
    assert away.max() - away.min() < 1.5
    np.testing.assert_allclose((y * g) / g, y, atol=1e-6)


def test_notes_and_beats_are_not_evened():
    """A tone under a 4 Hz tremolo 20 dB deep (a quarter-second beat, the style's or the
    content's texture) keeps at least 17 dB of its depth: the gain averages over half a second,
    so it moves by under 3 dB across a beat."""
    t = np.arange(2 * SR) / SR
    depth = 10 ** (-20 / 20)
    envelope = depth + (1 - depth) * 0.5 * (1 + np.cos(2 * np.pi * 4 * t))
    y = (0.5 * envelope * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    g = dynamics.levelling_gain(y, sr=SR)
    inner = slice(SR // 2, 3 * SR // 2)  # away from the clip's edges
    assert 20 * np.log10(g[inner].max() / g[inner].min()) < 3.0
    beat = y[inner] * g[inner]
    frames = beat.reshape(-1, SR // 50)  # 20 ms frames: 12.5 per beat
    rms = np.sqrt(np.mean(frames**2, axis=1))
    assert 20 * np.log10(rms.max() / rms.min()) > 17.0


def test_gain_is_capped_at_the_silence_line_and_none_for_zeros():
    """A passage 80 dB down is raised by 60 dB (SILENCE_DB), not 80: what is quieter is silence,
    the silence gate's to keep. An all-zero clip has no level to even."""
    y = np.concatenate([_tone(1.0), _tone(1.0, amplitude=0.5e-4)])
    g = dynamics.levelling_gain(y, sr=SR)
    assert g.max() == pytest.approx(10 ** (silence.SILENCE_DB / 20), rel=1e-4)
    assert g[-SR // 4 :].min() == pytest.approx(g.max(), rel=1e-4)
    assert dynamics.levelling_gain(np.zeros(SR, np.float32), sr=SR) is None


def test_sounding_power_is_numpy_frame_power_over_the_sounding_frames():
    """A second of digital silence, a tone, a hiss 40 dB down: the mean of the frame power
    (numpy by hand) over the frames within 60 dB of the loudest, so the silence is left out
    and the hiss counted; an all-zero clip is 0."""
    rng = np.random.default_rng(1)
    y = np.concatenate([
        np.zeros(SR, np.float32), _tone(1.0), 0.005 * rng.standard_normal(SR).astype(np.float32)
    ])
    power = numpy_frame_power(y)
    sounding = np.sqrt(power) > np.sqrt(power.max()) * 10 ** (-silence.SILENCE_DB / 20)
    assert 0 < np.count_nonzero(~sounding) < power.size // 3  # the silent second, not the hiss
    got = dynamics.sounding_power(y, frame_length=FRAME, hop_length=HOP)
    assert got == pytest.approx(numpy_sounding_power(y), rel=1e-4)
    assert got > 1.3 * np.mean(y.astype(np.float64) ** 2)  # not the whole clip's mean square
    assert dynamics.sounding_power(np.zeros(SR, np.float32)) == 0.0


def test_matching_gain_makes_the_clips_equally_loud():
    """A drum-like clip (noise bursts decaying in 50 ms, every quarter second) matched to a
    tone: scaled by the gain, its mean frame power (numpy; no frame of either is silent) is the
    tone's; a clip already as loud gets 1 and a clip at a tenth gets 10 (20 dB); all zeros on
    either side: 1."""
    tone = _tone(2.0)
    rng = np.random.default_rng(2)
    t = (np.arange(2 * SR) % (SR // 4)) / SR
    drums = (3.0 * np.exp(-t / 0.05) * rng.standard_normal(2 * SR)).astype(np.float32)
    g = dynamics.matching_gain(drums, tone, frame_length=FRAME, hop_length=HOP)
    p_tone, p_drums = numpy_frame_power(tone), numpy_frame_power(drums * np.float32(g))
    for p in (p_tone, p_drums):
        assert p.min() > p.max() * 10 ** (-silence.SILENCE_DB / 10)  # every frame sounding
    assert p_drums.mean() == pytest.approx(p_tone.mean(), rel=1e-3)
    assert 20 * np.log10(g) < -6.0  # the bursts are louder than the tone: turned down
    assert dynamics.matching_gain(tone, tone) == pytest.approx(1.0, rel=1e-6)
    assert dynamics.matching_gain(0.1 * tone, tone) == pytest.approx(10.0, rel=1e-4)
    assert dynamics.matching_gain(np.zeros(SR, np.float32), tone) == 1.0
    assert dynamics.matching_gain(tone, np.zeros(SR, np.float32)) == 1.0
