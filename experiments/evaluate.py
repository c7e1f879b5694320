"""Measure any result files against a content and a style clip (mst_jax.evaluate).

    python -m experiments.evaluate --content=A.wav --style=B.wav RESULT.wav [MORE.wav ...]
    python -m experiments.evaluate --content=song.flac --content_offset=62 --content_duration=10 \\
        --style=B.wav RESULT.wav     # a result of a run on an excerpt, against that excerpt

Prints one table: a row per measure (content kept, style taken, noise-likeness), a column
per result, and the floors computed from the inputs, each with how to read it. Files are
read like every other command reads them (mixed to mono, resampled to --sr); any bad file,
and a content or style with no sound, is one ``error:`` line and exit status 2. A result with
no sound is measured, but its last line says so instead of a verdict.
"""

from __future__ import annotations

import sys

from absl import app, flags

from experiments import _flags, console, resolve, transfer

# The same --content, --style, their excerpts and --sr as the transfer command (one definition
# each): a result of a run on excerpts is measured against the same excerpts.
CONTENT, STYLE, SR = transfer.CONTENT, _flags.STYLE, _flags.SR
CONTENT_OFFSET, CONTENT_DURATION = transfer.EXCERPT_FLAGS
STYLE_OFFSET, STYLE_DURATION = _flags.STYLE_OFFSET, _flags.STYLE_DURATION
for _holder in (CONTENT, CONTENT_OFFSET, CONTENT_DURATION, STYLE, STYLE_OFFSET, STYLE_DURATION, SR):
    flags.declare_key_flag(_holder.name)

EXIT_BAD_INPUT = 2


def table(names: list[str], qualities, measures_of) -> str:
    """The printed table: measure label, one value column per result, the floor, how to read."""
    rows = [{m["name"]: m for m in measures_of(q)} for q in qualities]
    header = ["measure", *names, "floor", "how to read"]
    lines = []
    for name in dict.fromkeys(k for r in rows for k in r):
        m = next(r[name] for r in rows if name in r)
        floor = "" if m["floor"] is None else f"{m['floor']:.3f} ({m['floor_label']})"
        values = [f"{r[name]['value']:.3f}" if name in r else "-" for r in rows]
        lines.append([m["label"], *values, floor, m["read"]])
    cells = [header, *lines]
    widths = [max(len(c[k]) for c in cells) for k in range(len(header) - 1)]
    out = []
    for c in cells:
        out.append("  ".join(c[k].ljust(widths[k]) for k in range(len(header) - 1)) + "  " + c[-1])
    return "\n".join(out)


def main(argv):
    console.install_notice_handler()  # each notice once, as the other commands print them
    results = argv[1:]
    try:
        if not results:
            raise ValueError("give one or more result files after the flags")
        if CONTENT.value is None and STYLE.value is None:
            raise ValueError("give --content, --style or both to measure against")
        from mst_jax import audio, evaluate, quality_report

        sr = SR.value
        content = (
            audio.load(
                CONTENT.value, sr=sr, offset_s=CONTENT_OFFSET.value,
                duration_s=CONTENT_DURATION.value,
            )
            if CONTENT.value
            else None
        )
        style_paths = resolve.split_paths(STYLE.value) if STYLE.value else []
        styles = [
            audio.load(p, sr=sr, offset_s=STYLE_OFFSET.value, duration_s=STYLE_DURATION.value)
            for p in style_paths
        ]
        references = [(CONTENT.value, content)] if content is not None else []
        for path, wave in references + list(zip(style_paths, styles)):
            reason = audio.no_sound(wave)
            if reason is not None:
                raise ValueError(f"{path}: has no sound ({reason}); nothing to measure against")
        waves = [audio.load(p, sr=sr) for p in results]
    except (ValueError, OSError) as error:
        sys.stderr.write(f"error: {' '.join(str(error).split())}\n")
        sys.exit(EXIT_BAD_INPUT)
    c = evaluate.features(content, sr=sr) if content is not None else None
    s = None
    if styles:
        s = evaluate.pooled([evaluate.features(w, sr=sr) for w in styles])
    qualities = [evaluate.compare(evaluate.features(w, sr=sr), c, s) for w in waves]
    print(table(results, qualities, quality_report.measures))
    for name, wave, q in zip(results, waves, qualities):
        # A silent result's measures are those of silence (its ratio can read "nearer the
        # style"): its line says what it is instead.
        reason = audio.no_sound(wave)
        if reason is None:
            print(f"{name}: {quality_report.verdict(q)}")
        else:
            print(f"{name}: has no sound ({reason}): nothing kept, nothing taken")


if __name__ == "__main__":
    app.run(main, flags_parser=_flags.parse)
