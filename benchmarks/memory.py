"""The memory estimate against XLA's own account of the compiled loss + gradient (BUILD_NOTES).

  python -m benchmarks.memory --rows=1,2,3,4,5,6 --seconds=10,30
  python -m benchmarks.memory --rows=6 --per_net

For each Table 1 row at paper sizes (or, with ``--per_net``, each of its networks alone),
compiles ``value_and_grad`` of the objective for each clip length (nothing is run) and prints
XLA's temporaries and arguments (``compiled.memory_analysis()``) beside
``mst_jax.cost.loss_grad_cost``'s estimate, their ratio, and both per-second slopes of the
activations between the first and last length: what the command lines' memory check
(``experiments.preflight.check_memory``) relies on. Compiling a row-6 objective at 30 s takes
a minute or two on 2 CPU cores.
"""

from __future__ import annotations

import dataclasses

from absl import app, flags

_ROWS = flags.DEFINE_list("rows", ["1", "2", "3", "4", "5", "6"], "Table 1 rows.")
_SECONDS = flags.DEFINE_list("seconds", ["10", "30"], "Clip lengths in seconds (two or more).")
_PER_NET = flags.DEFINE_bool("per_net", False, "One line per network of each row instead of the row.")

SR = 22050


def _xla_bytes(cfg, n: int) -> tuple[float, float]:
    """(temporaries, arguments) in bytes of the compiled loss + gradient for ``n`` samples."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from mst_jax import losses

    x = (np.random.default_rng(0).standard_normal(n) * 0.1).astype(np.float32)
    obj = losses.build(cfg, jax.random.key(0), content=x if cfg.has_content else None,
                       style=x[: 5 * SR] if cfg.has_style else None, sr=SR, num_samples=n)
    m = jax.jit(jax.value_and_grad(obj.fn)).lower(jnp.asarray(x), obj.params).compile().memory_analysis()
    return float(m.temp_size_in_bytes), float(m.argument_size_in_bytes)


def main(argv):
    del argv
    from mst_jax import cost, presets

    seconds = [float(s) for s in _SECONDS.value]
    if len(seconds) < 2:
        raise app.UsageError("--seconds needs two lengths or more (the slope is taken between them)")
    print("| objective | " + " | ".join(f"XLA / estimate GB at {s:g} s" for s in seconds)
          + " | ratio | activations MB per s: XLA / estimate |")
    print("|---|" + "---|" * len(seconds) + "---|---|")
    for row in _ROWS.value:
        full = presets.table1(int(row))
        configs = [(f"row {row}", full)]
        if _PER_NET.value:
            configs = [(f"row {row} {t.name}", dataclasses.replace(full, terms=(t,)))
                       for t in full.terms if t.net is not None]
        for name, cfg in configs:
            cells, ratios, temps, acts = [], [], [], []
            for s in seconds:
                n = int(s * SR)
                temp, args = _xla_bytes(cfg, n)
                est = cost.loss_grad_cost(cfg, num_samples=n)
                cells.append(f"{(temp + args) / 1e9:.3f} / {est.total_bytes / 1e9:.3f}")
                ratios.append(est.total_bytes / (temp + args))
                temps.append(temp)
                acts.append(est.activation_bytes)
            span = seconds[-1] - seconds[0]
            slope = f"{(temps[-1] - temps[0]) / span / 1e6:.1f} / {(acts[-1] - acts[0]) / span / 1e6:.1f}"
            print(f"| {name} | " + " | ".join(cells) + " | "
                  + " / ".join(f"{r:.2f}" for r in ratios) + f" | {slope} |", flush=True)


if __name__ == "__main__":
    app.run(main)
