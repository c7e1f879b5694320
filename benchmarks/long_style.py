"""Peak memory and time of the style targets for a style clip of minutes (BUILD_NOTES).

  python -m benchmarks.long_style --minutes=3

Builds a texture objective (row 6's style terms by default, paper sizes) from a long
style clip, once with grams accumulated over chunks of frames (``--chunk_frames``, the
library's default) and once from the whole clip's feature maps, each in a fresh process
so that the peak resident memory belongs to that build alone. Prints one row per mode:
style frames, seconds to build (compile included), peak RSS, and the largest relative
difference between the two modes' grams.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from absl import app, flags

_MINUTES = flags.DEFINE_float("minutes", 3.0, "Style clip length in minutes.")
_NETS = flags.DEFINE_list("nets", ["stft", "mel", "cqt"], "Row 6 style nets to include.")
_CHUNK = flags.DEFINE_integer("chunk_frames", 1024, "Frames per chunk for the chunked mode.")
_OUTPUT_SECONDS = flags.DEFINE_float("output_seconds", 10.0, "Length of the optimised waveform.")
_CHILD = flags.DEFINE_string("child", None, "Internal: run one mode and write JSON + grams here.")

SR = 22050


def _child(path: str, chunk: int) -> None:
    import jax
    import numpy as np

    from mst_jax import audio, losses, presets, render
    from mst_jax.config import LossConfig

    row6 = presets.table1(6)
    terms = tuple(t for t in row6.terms if t.kind == "style" and t.name.split("_")[-1] in _NETS.value)
    cfg = LossConfig(terms=terms, stft=row6.stft, normalize_gradients=False)
    clip = audio.load(render.example_path("style"), sr=SR)
    n = int(_MINUTES.value * 60 * SR)
    style = np.tile(clip, n // len(clip) + 1)[:n]
    t = time.perf_counter()
    obj = losses.build(cfg, jax.random.key(0), style=style, sr=SR, num_samples=int(_OUTPUT_SECONDS.value * SR),
                       style_chunk_frames=chunk)
    jax.block_until_ready(obj.params["targets"])
    seconds = time.perf_counter() - t
    grams = {f"{k}/{i}": np.asarray(g) for k, v in obj.params["targets"].items() for i, g in enumerate(v)}
    np.savez(path + ".npz", **grams)
    with open(path, "w") as f:
        json.dump({"seconds": seconds, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                   "frames": 1 + n // cfg.stft.hop_length}, f)


def main(argv):
    del argv
    if _CHILD.value:
        _child(_CHILD.value, _CHUNK.value)
        return
    import numpy as np

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, chunk in (("chunked", _CHUNK.value), ("whole clip", 10**9)):
            path = os.path.join(tmp, mode.replace(" ", "_"))
            cmd = [sys.executable, "-m", "benchmarks.long_style", f"--child={path}", f"--chunk_frames={chunk}",
                   f"--minutes={_MINUTES.value}", f"--nets={','.join(_NETS.value)}",
                   f"--output_seconds={_OUTPUT_SECONDS.value}"]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                tail = done.stderr.strip().splitlines()[-1:] or ["?"]
                print(f"{mode:<11} failed (exit {done.returncode}): {tail[0]}")
                continue
            with open(path) as f:
                rows[mode] = json.load(f)
            rows[mode]["grams"] = dict(np.load(path + ".npz"))
    print(f"style {_MINUTES.value:g} min, nets {','.join(_NETS.value)}, chunk {_CHUNK.value} frames")
    print(f"{'mode':<11} {'frames':>7} {'build_s':>8} {'peak_RSS_GB':>11}")
    for mode, r in rows.items():
        print(f"{mode:<11} {r['frames']:>7} {r['seconds']:>8.1f} {r['peak_rss_gb']:>11.2f}")
    if len(rows) == 2:
        a, b = rows["chunked"]["grams"], rows["whole clip"]["grams"]
        diff = max(float(np.abs(a[k] - b[k]).max() / np.abs(b[k]).max()) for k in b)
        print(f"largest gram difference, relative to the gram's largest entry: {diff:.2e}")


if __name__ == "__main__":
    app.run(main)
