"""Quality benchmark: content kept against style taken, per configuration, on music we render.

    python3 -m benchmarks.quality --configs=default,baseline --output_dir=out/quality
    python3 -m benchmarks.quality --pairs=0,1,2 --configs=p1,p2,p3,p4,p5,p6,noise,baseline,weak,strong \\
        --extra="--stft_filters=512 --mel_filters=128 --cqt_filters=32"

Every content/style pair of :data:`mst_jax.scores.QUALITY_PAIRS` (different pieces and
genres, rendered with FluidSynth by :func:`mst_jax.render.render_piece`, ``--duration_s``
each) is transferred by the real command line, ``python3 -m experiments.transfer``, once per
configuration, each run in its own process (so the seconds are what a user waits, compile
and calibration included; the compilation cache is shared). Each run's record carries its
``quality`` block (:mod:`mst_jax.evaluate`); this script collects them into

* ``quality.csv``: one row per (configuration, pair): seconds, iterations (run, and the one
  whose iterate was written: earlier with ``--content_floor``), every measure;
* ``quality_summary.csv``: per configuration, the mean over pairs and the pass counts of the
  quality goals (chroma correlation with the content >= 0.6, MFCC distance ratio <= 0.5,
  flatness at most 0.02 above the noisier input);
* ``index.html``: every transfer with its players, configuration and quality numbers,
  sortable by any column, each row linking to that run's listening page;
* ``quality.png``: the trade-off a user chooses on: content kept (chroma correlation) against
  style taken (MFCC distance to the style / to the content), one point per configuration
  (mean over pairs, with each pair as a small dot), labelled with its seconds per transfer.

With ``--ideal`` (the default) each pair whose style has a pitched instrument also gets the
row ``ideal``: not a transfer but the reference one is judged against, the content's notes
played by the style's instruments (:func:`mst_jax.notes.played_by`, rendered by FluidSynth
from the score, ``<output_dir>/ideal/``), measured like every transfer and drawn as a star.
A perfect transfer scores there, not at chroma 1 and MFCC ratio 0.

``--baseline_max_iter`` gives the ``baseline`` configuration another iteration count than the
published 300, e.g. the count whose seconds match another configuration's (equal time).
``--recording_like`` gives every input a room, a noise floor and two channels at 44.1 kHz
(:mod:`benchmarks.recording_like`), so the transfers load them as they would a recording.

The transfers' own WAV/JSON/PNG files stay in ``<output_dir>/<config>/``, so every number
can be listened to.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np
from absl import app, flags

from benchmarks.quality_table import (
    IDEAL_CONFIG,
    format_table,
    plot,
    row_of,
    summarise,
    write_csv,
)
from mst_jax import presets

BASELINE_PUBLISHED_ITER = presets.BASELINE_MAX_ITER  # L-BFGS-B iterations in their released code
CONFIGS = {
    # name: (extra flags for experiments.transfer, description)
    "default": ((), "the command line's defaults"),
    "p1": (("--preset=1",), "Table 1 row 1, from the content"),
    "p2": (("--preset=2",), "Table 1 row 2, from the content"),
    "p3": (("--preset=3",), "Table 1 row 3, from the content"),
    "p4": (("--preset=4",), "Table 1 row 4, from the content"),
    "p5": (("--preset=5",), "Table 1 row 5, from the content"),
    "p6": (("--preset=6",), "Table 1 row 6, from the content"),
    "noise": (("--preset=5", "--init=noise"), "row 5 from N(0, 1e-3^2) noise (the paper's protocol)"),
    "weak": (("--style_strength=0.3",), "defaults, style Gamma x 0.3"),
    "strong": (("--style_strength=3",), "defaults, style Gamma x 3"),
    "quieter6": (("--style_level_db=-6",), "defaults, the style 6 dB quieter than matched"),
    "louder3": (("--style_level_db=3",), "defaults, the style 3 dB louder than matched"),
    "louder6": (("--style_level_db=6",), "defaults, the style 6 dB louder than matched"),
    "baseline": (
        ("--preset=baseline", "--init=noise", f"--max_iter={BASELINE_PUBLISHED_ITER}"),
        f"Ulyanov & Lebedev as published (from noise, {BASELINE_PUBLISHED_ITER} iterations, then Griffin-Lim)",
    ),
}

PAIRS = flags.DEFINE_string("pairs", "all", "Indices into scores.QUALITY_PAIRS (comma list) or 'all'.")
CONFIG_NAMES = flags.DEFINE_string(
    "configs", "default,baseline",
    f"Comma list of configurations: {', '.join(CONFIGS)}; empty: only the ideal rows (no transfer).",
)
EXTRA = flags.DEFINE_string("extra", "", "Flags appended to every transfer (e.g. sizes, --max_iter).")
DURATION_S = flags.DEFINE_float("duration_s", 10.0, "Seconds of each rendered piece.")
OUTPUT_DIR = flags.DEFINE_string("output_dir", "out/quality", "Where inputs, transfers and tables go.")
SEED = flags.DEFINE_integer("transfer_seed", 0, "--seed of every transfer.")
IDEAL = flags.DEFINE_bool(
    "ideal", True,
    "Also measure each pair's ideal (the content's notes played by the style's instruments, "
    "rendered from the score) and draw it as the reference point.",
)
BASELINE_MAX_ITER = flags.DEFINE_integer(
    "baseline_max_iter", BASELINE_PUBLISHED_ITER,
    f"Iterations of the baseline configuration: {BASELINE_PUBLISHED_ITER} as published; fewer to give it another "
    "configuration's time (BUILD_NOTES, 'The baseline at the default's time').",
    lower_bound=1,
)
SOUNDFONT = flags.DEFINE_string(
    "soundfont", None,
    "A General MIDI .sf2 file to render the pieces (and the ideal) with: other instrument samples "
    "than the default FluidR3 GM, e.g. /usr/share/sounds/sf2/TimGM6mb.sf2 (Debian timgm6mb-soundfont).",
)
RECORDING_LIKE = flags.DEFINE_bool(
    "recording_like", False,
    "Give every input a room, a pink-noise floor and two channels at 44.1 kHz, written as 16-bit "
    "FLAC (benchmarks.recording_like), so the transfers load them as they would a recording.",
)
REUSE = flags.DEFINE_bool(
    "reuse", False,
    "Reuse a transfer whose record (with its quality block) is already in --output_dir instead of "
    "running it again (its seconds are then the record's wall_seconds).",
)

SR = 22050  # Hz
RECORDING_SR = 44100  # Hz, the inputs' rate with --recording_like
IDEAL_DESCRIPTION = "reference, not a transfer: the content's notes played by the style's instruments"


def check_soundfont() -> None:
    """``--soundfont``, when given, must be a file (a one-line usage error otherwise)."""
    if SOUNDFONT.value is not None and not os.path.isfile(SOUNDFONT.value):
        raise app.UsageError(f"--soundfont={SOUNDFONT.value}: no such file")


def render_score(
    piece, duration_s: float, *, label: str, transpose: int = 0, sr: int = SR
) -> np.ndarray:
    """:func:`mst_jax.render.render_piece` at ``sr`` (``piece`` a name or a Piece), its
    notices (FluidSynth missing) printed to stderr after ``label``."""
    from mst_jax import render

    notices: list[str] = []
    wave = render.render_piece(piece, sr=sr, duration_s=duration_s, transpose=transpose, notices=notices,
                               soundfont=SOUNDFONT.value)
    for line in notices:
        print(f"notice: {label}: {line}", file=sys.stderr)
    return wave


def render_inputs(names, out_dir: str, duration_s: float) -> dict[str, str]:
    """Renders each piece once to ``<out_dir>/inputs/<name>.wav`` (with ``--recording_like``:
    ``<name>.recording.flac``, stereo at :data:`RECORDING_SR`); returns name -> path."""
    from mst_jax import writing

    os.makedirs(os.path.join(out_dir, "inputs"), exist_ok=True)
    paths = {}
    for name in sorted(set(names)):
        if RECORDING_LIKE.value:
            path = os.path.join(out_dir, "inputs", f"{name}.recording.flac")
            if not os.path.exists(path):
                wave = render_score(name, duration_s, label=name, sr=RECORDING_SR)
                write_recording(path, wave, room_of=name)
        else:
            path = os.path.join(out_dir, "inputs", f"{name}.wav")
            if not os.path.exists(path):
                writing.save(path, render_score(name, duration_s, label=name), sr=SR, subtype="FLOAT")
        paths[name] = path
    return paths


def write_recording(path: str, wave: np.ndarray, *, room_of: str) -> None:
    """``wave`` (at :data:`RECORDING_SR`) recorded in piece ``room_of``'s room and noise (one
    draw per piece, whatever ``--pairs``), as :func:`benchmarks.recording_like.write_flac`."""
    from benchmarks import recording_like
    from mst_jax import scores

    seed = list(scores.PIECES).index(room_of)
    recording_like.write_flac(path, wave, RECORDING_SR, seed=seed)


def ideal_wave(content: str, style: str, duration_s: float, *, sr: int = SR) -> np.ndarray | None:
    """Piece ``content``'s notes played by piece ``style``'s instruments, ``duration_s`` long at
    ``sr``, peak 1 (:func:`mst_jax.notes.played_by`); None when the style has no pitched part."""
    from mst_jax import notes, scores

    style_piece = scores.PIECES[style]
    if not notes.has_pitched_part(style_piece):
        return None
    return render_score(notes.played_by(scores.PIECES[content], style_piece), duration_s,
                        label=f"ideal {content} <- {style}", sr=sr)


def transfer_path(out_dir: str, config: str, index: int, content: str, style: str) -> str:
    """Where a benchmark folder keeps one configuration's WAV for pair ``index``
    (``<out_dir>/<config>/<index>_<content>__<style>.wav``; its record and page beside it)."""
    return os.path.join(out_dir, config, f"{index}_{content}__{style}.wav")


def ideal_row(index: int, content: str, style: str, inputs: dict[str, str], out_dir: str) -> dict | None:
    """The :data:`IDEAL_CONFIG` row of one pair (its audio written under ``<out_dir>/ideal/``), or
    None when the style has no pitched part. With ``--recording_like`` the ideal is heard as the
    inputs are: recorded in the content's room and noise (where a transfer from the content
    stays), as ``<...>.recording.flac``, and read back as every input is read."""
    from mst_jax import audio, evaluate, quality_report, writing

    t0 = time.perf_counter()
    recording = RECORDING_LIKE.value
    wave = ideal_wave(content, style, DURATION_S.value, sr=RECORDING_SR if recording else SR)
    if wave is None:
        return None
    os.makedirs(os.path.join(out_dir, IDEAL_CONFIG), exist_ok=True)
    path = transfer_path(out_dir, IDEAL_CONFIG, index, content, style)
    if recording:
        path = os.path.splitext(path)[0] + ".recording.flac"
        write_recording(path, wave, room_of=content)
        wave = audio.load(path, sr=SR)
    else:
        writing.save(path, wave, sr=SR, subtype="FLOAT")
    q = evaluate.evaluate(wave, content=audio.load(inputs[content], sr=SR),
                          style=audio.load(inputs[style], sr=SR), sr=SR)
    record = {"quality": quality_report.record(q), "benchmark_seconds": time.perf_counter() - t0, "iterations": 0}
    return row_of(IDEAL_CONFIG, index, content, style, record)


def index_entry(config: str, record: dict) -> dict:
    """One row of the benchmark's ``index.html`` (:func:`mst_jax.page.write_index`)."""
    from mst_jax import run_page

    html = os.path.splitext(record["output"]["path"])[0] + ".html"
    row = run_page.index_row(record, page=html if os.path.exists(html) else None)
    return dict(row, config={"configuration": config, **row["config"], "seconds": record["benchmark_seconds"]})


def config_of(config: str) -> tuple[tuple[str, ...], str]:
    """``(flags, description)`` of a configuration: ``CONFIGS[config]``, with the baseline's
    ``--max_iter`` set by ``--baseline_max_iter``."""
    flags_, description = CONFIGS[config]
    n = BASELINE_MAX_ITER.value
    if config == "baseline" and n != BASELINE_PUBLISHED_ITER:
        flags_ = tuple(f for f in flags_ if not f.startswith("--max_iter=")) + (f"--max_iter={n}",)
        description = description.replace(f"{BASELINE_PUBLISHED_ITER} iterations", f"{n} iterations")
    return flags_, description


def describe(config: str) -> str:
    """A configuration's description for the summary (the ideal's too)."""
    return IDEAL_DESCRIPTION if config == IDEAL_CONFIG else config_of(config)[1]


def run_one(config: str, content: str, style: str, output: str, extra: list[str], seed: int) -> dict:
    """One transfer through the command line; returns its record plus the measured seconds."""
    done = os.path.splitext(output)[0] + ".json"
    if REUSE.value and os.path.exists(done):
        with open(done) as f:
            record = json.load(f)
        if "quality" in record:
            record["benchmark_seconds"] = record["wall_seconds"]
            return record
    flags_ = extra + list(config_of(config)[0])  # the configuration's own flags win
    cmd = [sys.executable, "-m", "experiments.transfer", f"--content={content}", f"--style={style}",
           f"--output={output}", f"--seed={seed}", "--checkpoint_every=0", *flags_]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(shlex.quote, cmd))} failed: {proc.stderr.strip()[-500:]}")
    with open(os.path.splitext(output)[0] + ".json") as f:
        record = json.load(f)
    record["benchmark_seconds"] = seconds
    record["benchmark_command"] = " ".join(map(shlex.quote, cmd))
    return record


def write_tables(out: str, rows: list[dict], entries: list[dict]) -> list[dict]:
    """quality.csv, quality_summary.csv, quality.png and index.html; returns the summary."""
    from mst_jax import page

    summary = summarise(rows, describe)
    write_csv(os.path.join(out, "quality.csv"), rows)
    write_csv(os.path.join(out, "quality_summary.csv"), summary)
    plot(os.path.join(out, "quality.png"), rows, summary)
    page.write_index(os.path.join(out, "index.html"), entries, title="Quality benchmark",
                     note=f"python3 -m benchmarks.quality {' '.join(map(shlex.quote, argv_flags()))}")
    return summary


def argv_flags() -> list[str]:
    """This run's flags as a command line that makes the table again (for the notes that say
    how it was made): unset flags left out, booleans as ``--name`` / ``--noname``."""
    out = []
    for h in (PAIRS, CONFIG_NAMES, EXTRA, BASELINE_MAX_ITER, SOUNDFONT, DURATION_S, OUTPUT_DIR, SEED, IDEAL,
              RECORDING_LIKE, REUSE):
        if isinstance(h.value, bool):
            out.append(f"--{'' if h.value else 'no'}{h.name}")
        elif h.value is not None:
            out.append(f"--{h.name}={h.value}")
    return out


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    from mst_jax import scores

    names = [c.strip() for c in CONFIG_NAMES.value.split(",") if c.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise app.UsageError(f"--configs: unknown {unknown}; known: {', '.join(CONFIGS)}")
    check_soundfont()
    all_pairs = list(scores.QUALITY_PAIRS)
    idx = range(len(all_pairs)) if PAIRS.value == "all" else [int(i) for i in PAIRS.value.split(",")]
    pairs = [(i, *all_pairs[i]) for i in idx]
    out = OUTPUT_DIR.value
    inputs = render_inputs([p for _, c, s in pairs for p in (c, s)], out, DURATION_S.value)
    extra = shlex.split(EXTRA.value)
    rows, entries, failures = [], [], []
    if IDEAL.value:
        for i, content, style in pairs:
            row = ideal_row(i, content, style, inputs, out)
            if row is not None:
                rows.append(row)
        summary = write_tables(out, rows, entries) if rows else []
    for config in names:
        os.makedirs(os.path.join(out, config), exist_ok=True)
        for i, content, style in pairs:
            output = transfer_path(out, config, i, content, style)
            try:
                record = run_one(config, inputs[content], inputs[style], output, extra, SEED.value)
            except RuntimeError as error:  # one failed transfer is reported, the rest still run
                failures.append(str(error))
                print(f"{config:>9} pair {i}: FAILED: {error}", file=sys.stderr, flush=True)
                continue
            rows.append(row_of(config, i, content, style, record))
            entries.append(index_entry(config, record))
            r = rows[-1]
            print(f"{config:>9} pair {i} {content} <- {style}: {r['seconds']:.0f} s, chroma "
                  f"{r['chroma_content']:.2f} (floor {r['chroma_floor']:.2f}), MFCC ratio "
                  f"{r['mfcc_ratio']:.2f}, flatness {r['flatness']:.3f}", flush=True)
            summary = write_tables(out, rows, entries)  # after every run: a stopped run keeps them
    if names and not any(r["config"] != IDEAL_CONFIG for r in rows):
        sys.exit(f"every transfer failed ({len(failures)})")
    if not rows:
        sys.exit("nothing measured: no configuration, and no pair with a pitched style for --ideal")
    print(format_table(summary, list(summary[0])))
    print(f"wrote {out}/quality.csv, quality_summary.csv, quality.png, index.html "
          f"(python3 -m benchmarks.quality {' '.join(map(shlex.quote, argv_flags()))})")
    if failures:
        sys.exit(f"{len(failures)} transfer(s) failed (above)")


if __name__ == "__main__":
    app.run(main)
