"""The timing helpers in ``mst_jax.cost`` (the runner's estimate line and the benchmarks use them)."""

import jax
import numpy as np

from mst_jax import cost


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
