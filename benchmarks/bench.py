"""Loss + gradient and L-BFGS-B timing for each network and the Table 1 row 6 ensemble.

Prints one table row per (duration, net): compile seconds, seconds per loss+gradient,
GFLOP/s (the analytic count ``mst_jax.cost.loss_grad_cost`` divided by its time; XLA's cost
analysis, which misses cuBLAS/cuDNN custom calls on GPUs, goes to the JSON as ``xla_gflop``),
that rate as a fraction of the fp32 GEMM rate measured in the same run, seconds per L-BFGS-B
iteration and its ratio to one loss+gradient, peak memory, device. Writes the rows as
JSON too. Paper sizes by default; synthetic noise inputs (timing does not depend on
content).

  python -m benchmarks.bench --durations=10 --nets=all
  python -m benchmarks.bench --durations=5,10,30,60 --nets=ensemble --json=out/bench.json
"""

from __future__ import annotations

import os
import resource
import time

from absl import app, flags

import jax
import numpy as np

from mst_jax import cost, losses, presets, synthesis
from mst_jax.config import LossConfig, SolverConfig

_DURATIONS = flags.DEFINE_list("durations", ["10"], "Clip durations in seconds.")
_NETS = flags.DEFINE_list(
    "nets", ["all"], "Any of stft, mel_style, cqt_style, mel_content, cqt_content, ensemble, or all."
)
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed loss+gradient calls (the minimum is reported).")
_LBFGS_ITERS = flags.DEFINE_integer(
    "lbfgs_iters", 10, "Timed L-BFGS-B iterations, after as many untimed ones (0 skips)."
)
_PRECISION = flags.DEFINE_enum(
    "precision", "highest", ["highest", "high", "default", "bfloat16", "tensorfloat32"],
    "jax.default_matmul_precision for the nets (highest = true float32).",
)
_JSON = flags.DEFINE_string("json", None, "Write the rows here as JSON.")
_GEMM_N = flags.DEFINE_integer("gemm_n", 4096, "Square fp32 GEMM size for the reference rate.")

SR = 22050


def _configs() -> dict[str, LossConfig]:
    row6 = presets.table1(6)
    by_name = {t.name: t for t in row6.terms}
    single = lambda name: LossConfig(terms=(by_name[name],))
    return {
        "stft": single("style_stft"),
        "mel_style": single("style_mel"),
        "cqt_style": single("style_cqt"),
        "mel_content": single("content_mel"),
        "cqt_content": single("content_cqt"),
        "ensemble": row6,
    }


def _peak_bytes() -> float | None:
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return float(stats["peak_bytes_in_use"])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0  # Linux: KiB


def bench_one(name: str, cfg: LossConfig, duration_s: float, gemm: float) -> dict:
    """Time one configuration at one duration (see the module docstring for the columns)."""
    n = int(duration_s * SR)
    key = jax.random.key(0)
    rng = np.random.default_rng(0)
    content = (rng.standard_normal(n) * 0.1).astype(np.float32)
    style = (rng.standard_normal(n) * 0.1).astype(np.float32)
    x0 = synthesis.init_noise(jax.random.key(1), n)
    t = time.perf_counter()
    obj = losses.build(cfg, key, content=content if cfg.has_content else None,
                       style=style if cfg.has_style else None, sr=SR, num_samples=n, init_wave=x0)
    build_s = time.perf_counter() - t
    vg = jax.jit(jax.value_and_grad(obj.fn))
    t = time.perf_counter()
    compiled = vg.lower(x0, obj.params).compile()
    compile_s = time.perf_counter() - t
    xla_cost = compiled.cost_analysis()
    xla_cost = xla_cost[0] if isinstance(xla_cost, (list, tuple)) else xla_cost
    xla_flops = float(xla_cost.get("flops", float("nan"))) if xla_cost else float("nan")
    # XLA's count misses cuBLAS/cuDNN custom calls on GPUs: report the analytic count.
    flops = cost.loss_grad_cost(cfg, num_samples=n).flops
    mem = compiled.memory_analysis()
    xla_bytes = None
    if mem is not None:
        xla_bytes = float(mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes)
    jax.block_until_ready(compiled(x0, obj.params))
    times = []
    for _ in range(_REPEATS.value):
        t = time.perf_counter()
        jax.block_until_ready(compiled(x0, obj.params))
        times.append(time.perf_counter() - t)
    step = min(times)
    row = {
        "net": name,
        "duration_s": duration_s,
        "samples": n,
        "frames": 1 + n // 512,
        "build_s": build_s,
        "compile_s": compile_s,
        "loss_grad_s": step,
        "gflop": flops / 1e9,
        "xla_gflop": xla_flops / 1e9,
        "gflops_per_s": flops / step / 1e9,
        "gemm_fraction": flops / step / 1e9 / gemm,
        "xla_bytes": xla_bytes,
    }
    if _LBFGS_ITERS.value > 0:
        k = _LBFGS_ITERS.value
        solver = SolverConfig(chunk=k, tol=0.0)
        # the first chunk compiles and takes the unscaled first steps; the next is timed
        res = synthesis.synthesize(obj, x0, max_iter=k, solver=solver)
        evals0 = int(res.state.solver_state.num_fun_eval)
        t = time.perf_counter()
        res = synthesis.synthesize(obj, state=res.state, max_iter=2 * k, solver=solver)
        it = (time.perf_counter() - t) / k
        row["lbfgs_iter_s"] = it
        row["lbfgs_over_loss_grad"] = it / step
        row["fun_evals_per_iter"] = (int(res.state.solver_state.num_fun_eval) - evals0) / k
    row["peak_bytes"] = _peak_bytes()
    row["device"] = str(jax.devices()[0].device_kind)
    return row


def _fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    configs = _configs()
    names = list(configs) if "all" in _NETS.value else _NETS.value
    for name in names:
        if name not in configs:
            raise app.UsageError(f"--nets: unknown net {name!r} (choose from {', '.join(configs)})")
    gemm = cost.matmul_flops_per_s(_GEMM_N.value, repeats=5, precision=jax.lax.Precision.HIGHEST) / 1e9
    device = jax.devices()[0]
    print(f"device: {device.platform} {device.device_kind} x{jax.device_count()}, "
          f"cores: {os.cpu_count()}, precision: {_PRECISION.value}, "
          f"fp32 GEMM {_GEMM_N.value}^3: {gemm:.1f} GFLOP/s")
    header = (f"{'dur_s':>6} {'net':<12} {'frames':>6} {'compile_s':>9} {'loss+grad_s':>11} {'GFLOP':>8} "
              f"{'GFLOP/s':>8} {'%GEMM':>6} {'lbfgs_it_s':>10} {'it/lg':>6} {'evals/it':>8} {'peak_GB':>8}")
    print(header)
    rows = []
    with jax.default_matmul_precision(_PRECISION.value):
        for d in _DURATIONS.value:
            for name in names:
                r = bench_one(name, configs[name], float(d), gemm)
                r["gemm_gflops_per_s"] = gemm
                r["precision"] = _PRECISION.value
                rows.append(r)
                print(f"{r['duration_s']:>6g} {name:<12} {r['frames']:>6} {r['compile_s']:>9.2f} "
                      f"{r['loss_grad_s']:>11.4f} {r['gflop']:>8.1f} {r['gflops_per_s']:>8.1f} "
                      f"{100 * r['gemm_fraction']:>5.0f}% {_fmt(r.get('lbfgs_iter_s'), '10.4f')} "
                      f"{_fmt(r.get('lbfgs_over_loss_grad'), '6.2f')} {_fmt(r.get('fun_evals_per_iter'), '8.2f')} "
                      f"{r['peak_bytes'] / 1e9:>8.2f}", flush=True)
    if _JSON.value:
        from mst_jax import writing

        writing.save_json(_JSON.value, {"rows": rows})


if __name__ == "__main__":
    app.run(main)
