"""The configurations refuse what the paper's objective cannot mean, each with its reason."""

import dataclasses

import pytest

from mst_jax.config import (
    CqtNetConfig,
    LossConfig,
    MelNetConfig,
    SolverConfig,
    StftConfig,
    StftNetConfig,
    Term,
)

REFUSED = [
    # an STFT needs at least a few samples per frame, and a hop
    (lambda: StftConfig(n_fft=3), "n_fft=3 must be at least 4"),
    (lambda: StftConfig(hop_length=0), "hop_length=0 must be a positive integer"),
    (lambda: StftNetConfig(filters=True), "must be a positive integer"),
    (lambda: StftNetConfig(activation="tanh"), "activation='tanh' must be one of"),
    (lambda: MelNetConfig(blocks=-1), "mel blocks=-1 must be a non-negative integer"),
    (lambda: CqtNetConfig(blocks=-1), "cqt blocks=-1 must be a non-negative integer"),
    (lambda: CqtNetConfig(kernel=(11,)), "must be a \\(time, frequency\\) pair"),
    (lambda: CqtNetConfig(filter_scale=0.0), "filter_scale=0.0 must be positive"),
    # L1 and spectrum terms read the STFT itself; content and style terms read a net
    (lambda: Term("l1", StftNetConfig(), 1.0), "l1 and spectrum terms have no net"),
    (lambda: Term("spectrum", MelNetConfig(), 1.0), "l1 and spectrum terms have no net"),
    (lambda: Term("content", None, 1.0), "content and style terms need one"),
    (lambda: Term("style", StftNetConfig(), float("inf")), "must be finite and >= 0"),
    (lambda: Term("style", StftNetConfig(), float("nan")), "must be finite and >= 0"),
    (lambda: LossConfig(terms=(Term("style", StftNetConfig(), 1.0),
                               Term("style", StftNetConfig(filters=8), 2.0))),
     "duplicate loss terms"),
    (lambda: SolverConfig(lower=1.0, upper=1.0), "must satisfy lower < upper"),
    (lambda: SolverConfig(learning_rate=float("inf")), "learning_rate=inf must be finite"),
    (lambda: SolverConfig(tol=-1e-9), "tol=-1e-09 must be >= 0"),
]


@pytest.mark.parametrize("make,message", REFUSED, ids=[m for _, m in REFUSED])
def test_configs_refuse_with_their_reason(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_the_edges_of_what_is_refused_are_accepted():
    assert StftConfig(n_fft=4, hop_length=1).n_fft == 4
    assert MelNetConfig(blocks=0).dilations == ()
    assert Term("l1", None, 0.0).name == "l1"
    assert SolverConfig(tol=0.0, lower=-1.0, upper=-0.5).upper == -0.5


def test_receptive_field_counts_time_taps_only_and_takes_the_longest_net():
    """Frames seen by one output frame: kernel + (block kernel - 1) x dilation per block,
    along time (SPEC: Mel dilations 2, 4, ...; CQT dilations 1, 2, ...); a CQT kernel's
    frequency taps do not widen it."""
    cqt = CqtNetConfig(kernel=(5, 11), blocks=2, block_kernel=(3, 9))
    assert cqt.receptive_field_frames == 5 + 2 * 1 + 2 * 2
    mel = MelNetConfig(kernel=3, blocks=3, block_kernel=5)
    assert mel.receptive_field_frames == 3 + 4 * (2 + 4 + 8)
    loss = LossConfig(terms=(Term("content", mel, 1.0), Term("style", cqt, 1.0),
                             Term("l1", None, 1.0)))
    assert loss.receptive_field_frames == 59  # the content net's, longer than the style's
    assert LossConfig(terms=(Term("l1", None, 1.0),)).receptive_field_frames == 1
    assert dataclasses.replace(loss, terms=loss.terms[1:]).receptive_field_frames == 11
