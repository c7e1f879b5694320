"""``mst_jax.cost``: the analytic FLOP count against XLA's and by hand, and the timing helpers
(the runner's estimate line and the benchmarks use them)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mst_jax import cost
from mst_jax.config import CqtNetConfig, LossConfig, MelNetConfig, StftConfig, StftNetConfig, Term


def test_best_seconds_warms_up_once_then_keeps_the_shortest_call(monkeypatch):
    calls = []
    clock = iter([0.0, 3.0, 10.0, 11.0, 20.0, 25.0])  # three timed calls: 3 s, 1 s, 5 s
    monkeypatch.setattr(cost.time, "perf_counter", lambda: next(clock))
    seconds = cost.best_seconds(lambda x: calls.append(x) or x, 7, repeats=3)
    assert calls == [7, 7, 7, 7]  # one untimed warm-up call, then three timed
    assert seconds == 1.0


def test_matmul_rate_counts_two_flops_per_multiply_add(monkeypatch):
    seen = {}

    def fake_best(f, a, repeats):
        seen["shape"], seen["repeats"] = a.shape, repeats
        return 0.5

    monkeypatch.setattr(cost, "best_seconds", fake_best)
    rate = cost.matmul_flops_per_s(64, repeats=4, precision=jax.lax.Precision.HIGHEST)
    assert rate == 2 * 64**3 / 0.5
    assert seen == {"shape": (64, 64), "repeats": 4}


def test_matmul_probe_fills_an_accelerator(monkeypatch):
    """The default probe is 1024 on the CPU and 4096 on a GPU (a 1024 product leaves an H200
    two thirds idle, so the run's time estimate came out 3-4x too long there)."""
    seen = {}
    monkeypatch.setattr(cost, "best_seconds", lambda f, a, repeats: seen.setdefault("n", a.shape[0]) and 1.0)
    monkeypatch.setattr(cost.jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(cost.jax.random, "normal", lambda key, shape, dtype: np.zeros(shape, np.float32))
    cost.matmul_flops_per_s()
    assert seen["n"] == 4096
    assert cost.probe_size("cpu") == 1024 and cost.probe_size("tpu") == 4096


def test_bench_docstring_names_the_count_it_reports():
    """benchmarks/bench.py divides the analytic count (``cost.loss_grad_cost``) by the time; its
    docstring once said XLA's cost analysis. Read without importing (its flags are global)."""
    import ast
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"
    source = path.read_text()
    doc = " ".join(ast.get_docstring(ast.parse(source)).split())
    assert "flops = cost.loss_grad_cost(" in source and '"gflops_per_s": flops / step' in source
    claim = "GFLOP/s (the analytic count ``mst_jax.cost.loss_grad_cost`` divided by its time"
    assert claim in doc, doc
    assert "GFLOP/s (XLA's" not in doc, doc


def _compiled_loss_grad(cfg, n):
    """The loss + gradient of ``cfg`` for ``n`` samples, compiled by XLA (not run)."""
    from mst_jax import losses

    rng = np.random.default_rng(0)
    c, s = (rng.standard_normal((2, n)) * 0.1).astype(np.float32)
    obj = losses.build(cfg, jax.random.key(0), content=c if cfg.has_content else None,
                       style=s if cfg.has_style else None, sr=22050, num_samples=n)
    return jax.jit(jax.value_and_grad(obj.fn)).lower(jnp.asarray(c), obj.params).compile()


def _xla_flops(cfg, n):
    analysis = _compiled_loss_grad(cfg, n).cost_analysis()
    return (analysis[0] if isinstance(analysis, list) else analysis)["flops"]


@pytest.mark.parametrize(
    "term",
    [
        Term("style", StftNetConfig(filters=256), 1.0),
        Term("content", StftNetConfig(filters=256), 1.0),
        Term("style", MelNetConfig(n_mels=64, filters=128, blocks=2), 1.0),
        Term("content", CqtNetConfig(filters=32, pool=2), 1.0),
    ],
    ids=["stft style", "stft content", "mel style with blocks", "pooled cqt content"],
)
def test_loss_grad_flops_match_xlas_count_where_the_nets_are_gemms(term):
    """The analytic count of one loss + gradient against XLA's own (``cost_analysis`` on the CPU,
    where these nets are dots it counts; elementwise work is in XLA's count only)."""
    cfg = LossConfig(terms=(term,))
    n = 22050
    ours = cost.loss_grad_cost(cfg, num_samples=n).flops
    assert 0.85 < ours / _xla_flops(cfg, n) < 1.02


def test_loss_grad_flops_of_the_cqt_residual_blocks_by_hand():
    """XLA's CPU count leaves out the dilated 2-D convolutions, so the residual CQT style net is
    counted by hand: per (frame, bin) position a first layer of 121 taps x F filters, three
    blocks of 121 x F x F taps plus an F x F mix, four grams of F x F; MACs x 2 flops, the
    gradient as much again; per frame the 1025 x 86 pseudo-CQT projection, and the STFT at the
    usual 5 N log2 N flops per 2048-point FFT (forward and backward). A pooled content
    net's target is its map after the 2 x 1 pool: frames x 43 bins x F floats."""
    f, n = 32, 2 * 22050
    frames = 1 + n // 512
    cfg = LossConfig(terms=(Term("style", CqtNetConfig(filters=f, blocks=3), 1.0),))
    macs = frames * 86 * (121 * f + 3 * (121 * f * f + f * f) + 4 * f * f) + frames * 1025 * 86
    fft = 2 * 5 * 2048 * 11 * frames
    counted = cost.loss_grad_cost(cfg, num_samples=n).flops
    assert counted == pytest.approx(2 * 2 * macs + fft, rel=1e-9)
    pooled = LossConfig(terms=(Term("content", CqtNetConfig(filters=f, pool=2), 1.0),))
    assert cost.loss_grad_cost(pooled, num_samples=n).target_bytes == 4 * frames * 43 * f


def _xla_temp_bytes(cfg, n):
    return _compiled_loss_grad(cfg, n).memory_analysis().temp_size_in_bytes


_SHORT_STFT = StftConfig(n_fft=512, hop_length=256)


@pytest.mark.parametrize(
    "terms, stft",
    [
        ((Term("style", StftNetConfig(filters=256), 1.0),), StftConfig()),
        ((Term("style", MelNetConfig(n_mels=32, filters=128, kernel=5, blocks=4, block_kernel=3), 1.0),),
         _SHORT_STFT),
        ((Term("content", CqtNetConfig(filters=128, pool=2, kernel=(3, 3)), 1.0),), StftConfig()),
        ((Term("style", CqtNetConfig(filters=64, blocks=2, kernel=(3, 3), block_kernel=(3, 3)), 1.0),),
         StftConfig()),
        ((Term("style", StftNetConfig(filters=256), 1.0), Term("style", MelNetConfig(n_mels=64, filters=128, blocks=0), 1.0)),
         StftConfig()),
    ],
    ids=["stft", "mel blocks", "pooled cqt", "cqt blocks", "stft and mel"],
)
def test_activation_memory_per_second_matches_xlas_account(terms, stft):
    """What each further second of audio costs the backward pass, against XLA's own account of
    the compiled loss + gradient (``memory_analysis``, its temporaries, CPU). Each case is sized
    so that one of the model's counts weighs (small kernels and a short STFT where a net's
    kept maps must show; two nets where only the larger backward's transient may count).
    Measured 0.90-1.06 here and 1.03-1.24 for the Table 1 rows at paper widths
    (BUILD_NOTES.md "Long audio"); the model before the eleventh session of 2026-11-30, which
    counted three copies of each map only, read 0.15-0.61 and let clips through the memory
    check that then ran out of memory."""
    cfg = LossConfig(terms=terms, stft=stft)
    one, three = 22050, 3 * 22050
    ours = (cost.loss_grad_cost(cfg, num_samples=three).activation_bytes
            - cost.loss_grad_cost(cfg, num_samples=one).activation_bytes)
    xla = _xla_temp_bytes(cfg, three) - _xla_temp_bytes(cfg, one)
    assert 0.85 < ours / xla < 1.25


def test_padded_width_and_the_padded_copy_counted():
    """``networks.padded_width`` by hand (pad to a multiple of 64 where that adds at most n / 16
    columns), and the cost model holding one padded copy of each padded kernel: a 1025-filter
    Mel net's first kernel (kernel 50 x 64 mels), its block's dilated kernel (3 x 1025) and its
    mix (1025) each padded to 1088 columns, beside the kernels and the filterbank."""
    from mst_jax import networks

    assert [networks.padded_width(n) for n in (1025, 4096, 127, 100, 964, 963, 8)] == [
        1088, 4096, 128, 100, 1024, 963, 8
    ]
    net = MelNetConfig(n_mels=64, filters=1025, kernel=50, blocks=1, block_kernel=3)
    held = cost.loss_grad_cost(LossConfig(terms=(Term("style", net, 1.0),)), num_samples=22050).weight_bytes
    first, block, mix = 50 * 64, 3 * 1025, 1025  # rows of the three kernels, 1025 columns each
    assert held == 4 * ((first + block + mix) * (1025 + 1088) + 1025 * 64)
