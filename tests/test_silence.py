"""Where a clip is silent (mst_jax.silence): frames against numpy's RMS, and the gate's promises
(silent where the content is, never cutting its sound)."""

import numpy as np
import pytest

from mst_jax import silence

SR = 22050
HOP, FRAME = 512, 2048


def _tone(seconds, hz=440.0):
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _numpy_rms(y):
    """Frame RMS by hand: centred frames of FRAME samples every HOP, zero padding."""
    padded = np.pad(y.astype(np.float64), FRAME // 2)
    n = 1 + y.size // HOP
    return np.array([np.sqrt(np.mean(padded[i * HOP : i * HOP + FRAME] ** 2)) for i in range(n)])


def test_sounding_frames_are_those_within_60_db_of_the_loudest_by_numpy():
    """A tone, a hiss 40 dB down (sounds), 16-bit dither about 85 dB down (silent), zeros."""
    rng = np.random.default_rng(0)
    y = np.concatenate([
        _tone(1.0),
        0.005 * rng.uniform(-1, 1, SR // 2),
        3e-5 * rng.uniform(-1, 1, SR // 2),
        np.zeros(SR // 2),
    ]).astype(np.float32)
    rms = _numpy_rms(y)
    expected = rms > rms.max() * 1e-3
    got = silence.sounding_frames(y, frame_length=FRAME, hop_length=HOP)
    assert got.shape == expected.shape and np.array_equal(got, expected)
    assert 0.3 < expected.mean() < 0.8  # both kinds, the hiss among the sounding
    assert not silence.sounding_frames(np.zeros(SR, np.float32)).any()


def test_gate_silences_the_content_silence_and_never_its_sound():
    """Two seconds of silence, a tone, a silent break, a tone: the gain is 0 wherever a whole
    frame window around the sample is silent, 1 from a hop before the first sound to a hop after
    the last (attacks and tails never cut), and in [0, 1] with ramps of one hop."""
    y = np.concatenate([np.zeros(2 * SR), _tone(1.0), np.zeros(SR), _tone(0.5)]).astype(np.float32)
    g = silence.gate(y, frame_length=FRAME, hop_length=HOP)
    assert g.shape == y.shape and g.dtype == np.float32 and g.min() == 0.0 and g.max() == 1.0
    sound = np.flatnonzero(y != 0)
    for start, stop in ((2 * SR, 3 * SR), (4 * SR, y.size)):
        assert np.all(g[start:stop] == 1.0)  # every sounding sample kept whole
    lead, brk = g[: 2 * SR - FRAME], g[3 * SR + FRAME : 4 * SR - FRAME]
    assert np.all(lead == 0.0) and np.all(brk == 0.0)
    rising = np.flatnonzero((g > 0) & (g < 1))
    assert rising.size <= 3 * HOP  # two ramps up, one down, each under a hop
    assert sound[0] - np.flatnonzero(g > 0)[0] <= FRAME // 2 + HOP  # the ramp starts near the sound


def test_gate_is_none_where_there_is_nothing_to_keep():
    assert silence.gate(_tone(1.0)) is None  # no silent frame: the result is left as it is
    assert silence.gate(np.zeros(SR, np.float32)) is None  # nothing sounds: nothing to keep


def test_a_gated_result_is_silent_where_the_content_is():
    """The use: a result with texture everywhere, times the content's gate, is 0 in the
    content's silent lead-in and unchanged where the content sounds."""
    content = np.concatenate([np.zeros(SR), _tone(1.0)]).astype(np.float32)
    result = np.random.default_rng(1).uniform(-0.5, 0.5, content.size).astype(np.float32)
    gated = result * silence.gate(content)
    assert np.all(gated[: SR - FRAME] == 0.0)
    np.testing.assert_array_equal(gated[SR:], result[SR:])
    assert silence.SILENCE_DB == pytest.approx(60.0)
