"""Texture synthesis: style terms only (the paper's §4.1).

    python -m experiments.texture                                   # demo on the shipped style clip
    python -m experiments.texture --style=B.wav --duration=10 --output=C.wav --preset=2

Optimises a --duration seconds waveform from noise so that its grams match the style's (several
comma-separated styles: their mean). The preset's content terms are dropped. Writes C.wav, C.json
and C.png. See experiments/_flags.py for the shared flags.
"""

from absl import app, flags

from experiments import _flags, _runner, resolve

DURATION = flags.DEFINE_float(
    "duration", None, "Length of the texture in seconds (default: the first style's length)."
)
flags.adopt_module_key_flags(_flags)


def build(notices):
    """The flags of this script as a RunConfig (validated, nothing compiled)."""
    return resolve.run_config(
        "texture", duration_s=DURATION.value, duration_flag=DURATION, notices=notices
    )


def main(argv):
    _runner.execute(argv, build, _flags.flag_values((DURATION, *_flags.SHARED)))


if __name__ == "__main__":
    app.run(main, flags_parser=_flags.parse)
