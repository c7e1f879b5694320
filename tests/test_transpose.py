"""Transposed copies of a clip against an independent pitch estimate (librosa.yin)."""

import librosa
import numpy as np
import pytest

from mst_jax import signals, transpose

SR = 22050


def test_transposed_moves_the_pitch_by_the_shift_and_keeps_the_length():
    tone = signals.chord([64], duration_s=1.0, sr=SR)
    copies = transpose.transposed(tone, sr=SR, semitones=[0, 2, -3])
    assert copies[0] is not None and np.array_equal(copies[0], tone)
    f0 = [np.median(librosa.yin(w[2048:-2048], fmin=150.0, fmax=800.0, sr=SR)) for w in copies]
    for got, k in zip(f0[1:], (2, -3)):
        assert 12 * np.log2(got / f0[0]) == pytest.approx(k, abs=0.15)
    assert all(w.shape == tone.shape and w.dtype == np.float32 for w in copies)


@pytest.mark.parametrize("shifts", [[], [13], [1.5]])
def test_transposed_rejects_bad_shifts(shifts):
    with pytest.raises(ValueError, match="transposed: .*semitones"):
        transpose.transposed(np.zeros(4096, np.float32), sr=SR, semitones=shifts)
