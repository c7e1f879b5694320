"""L-BFGS-B line searches on a row-6 transfer with narrow nets (BUILD_NOTES "Synthesis").

  python -m benchmarks.linesearch --seconds=3 --iterations=40

Final loss and loss+gradient evaluations per iteration for jaxopt's zoom, backtracking
and Hager-Zhang line searches, same objective and start.
"""

import dataclasses
import time
import warnings

from absl import app, flags

import jax

from mst_jax import audio, losses, music, presets, synthesis
from mst_jax.config import MelNetConfig, SolverConfig, StftNetConfig

_SECONDS = flags.DEFINE_float("seconds", 3.0, "Seconds of the shipped clips.")
_ITERATIONS = flags.DEFINE_integer("iterations", 40, "L-BFGS-B iterations.")
_SEARCHES = flags.DEFINE_list("searches", ["zoom", "backtracking"], "Line searches to compare.")
SR = 22050


def _narrow(term):
    n = term.net
    if isinstance(n, StftNetConfig):
        return dataclasses.replace(n, filters=512)
    if isinstance(n, MelNetConfig):
        return dataclasses.replace(n, filters=128)
    return dataclasses.replace(n, filters=16)


def main(argv):
    del argv
    warnings.simplefilter("ignore")
    n = int(_SECONDS.value * SR)
    content = audio.load(music.example_path("content"), sr=SR)[:n]
    style = audio.load(music.example_path("style"), sr=SR)[:n]
    cfg = presets.map_nets(presets.table1(6), _narrow)
    x0 = synthesis.init_noise(jax.random.key(1), n)
    obj = losses.build(cfg, jax.random.key(0), content=content, style=style, sr=SR, init_wave=x0)
    k = _ITERATIONS.value
    for search in _SEARCHES.value:
        t = time.perf_counter()
        r = synthesis.synthesize(obj, x0, max_iter=k, solver=SolverConfig(chunk=k, linesearch=search))
        evals = int(r.state.solver_state.num_fun_eval) / k
        print(f"{search:<14} final loss {r.loss_history[-1]:10.3f}  evaluations/iteration {evals:5.2f}  "
              f"{time.perf_counter() - t:6.1f} s")


if __name__ == "__main__":
    app.run(main)
