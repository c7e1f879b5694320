"""Style transfer of musical audio (the paper's method, Table 1 presets).

    python -m experiments.transfer                       # demo on the shipped clips -> transfer.wav
    python -m experiments.transfer --content=A.wav --style=B.wav,C.flac --output=out.wav --preset=5
    python -m experiments.transfer --batch=jobs.csv --preset=5   # rows content,style,output, run together
    python -m experiments.transfer --content=song.flac --content_offset=62 --content_duration=10 \\
        --style=other.mp3 --style_offset=30 --style_duration=20     # excerpts of longer recordings

Optimises the waveform with L-BFGS-B (bounds [-1, 1]) so that its content features match A and its
style grams match the mean of the styles' grams. Writes out.wav, the run record out.json and the
spectrograms out.png. Ctrl-C stops after the current chunk and writes the best result so far;
--resume continues. See experiments/_flags.py for the shared flags.
"""

from absl import app, flags

from experiments import _batch, _flags, _runner, resolve

CONTENT = flags.DEFINE_string("content", None, "Content audio file (any format soundfile reads).")
CONTENT_OFFSET = flags.DEFINE_float(
    "content_offset",
    0.0,
    "Read the content file from this many seconds in (an excerpt of a longer recording); the "
    "result is as long as the excerpt.",
)
CONTENT_DURATION = flags.DEFINE_float(
    "content_duration",
    None,
    "Read this many seconds of the content file from --content_offset (default: to its end). "
    "With --batch it makes every row's content one length.",
)
EXCERPT_FLAGS = (CONTENT_OFFSET, CONTENT_DURATION)
INIT = flags.DEFINE_enum(
    "init",
    "content",
    ["noise", "content"],
    "Initial waveform: the content itself (default: keeps the content, BUILD_NOTES.md 'Quality'), "
    "or the paper's N(0, 1e-3^2) noise from --seed.",
)
CONTENT_FLOOR = flags.DEFINE_float(
    "content_floor",
    None,
    f"Stop when the result's chroma correlation with the content (melody and harmony, the "
    f"quality line's 'content kept') falls below this, and write the last result above it; "
    f"measured every --chunk iterations ({_flags.FLOOR_CHUNK} unless given). "
    f"Default {_flags.DEFAULT_CONTENT_FLOOR} "
    f"from the content (none from noise or for the baseline); 0 turns it off. With --batch "
    f"each row keeps its own last result above it. "
    f"With a larger --max_iter each pair takes as much style as its content survives.",
)
flags.adopt_module_key_flags(_flags)
flags.adopt_module_key_flags(_batch)


def build(notices):
    """The flags of this script as a RunConfig (validated, nothing compiled)."""
    _batch.check_unused()
    return resolve.run_config(
        "transfer",
        content=CONTENT.value,
        content_flag=CONTENT,
        content_floor=CONTENT_FLOOR.value,
        content_floor_flag=CONTENT_FLOOR,
        content_excerpt_flags=EXCERPT_FLAGS,
        init=INIT.value,
        notices=notices,
    )


def main(argv):
    recorded = _flags.flag_values((CONTENT, *EXCERPT_FLAGS, INIT, CONTENT_FLOOR, *_flags.SHARED))
    if _batch.BATCH.value is not None:
        recorded.update(_flags.flag_values(_batch.FLAGS))
        build_rows = _batch.builder(CONTENT, INIT, CONTENT_FLOOR, excerpt_flags=EXCERPT_FLAGS)
        _runner.execute(argv, build_rows, recorded, run=_batch.run)
        return
    _runner.execute(argv, build, recorded)


if __name__ == "__main__":
    app.run(main, flags_parser=_flags.parse)
