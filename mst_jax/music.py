"""The package's music under one name, for scripts: re-exports, no code of its own.

The music lives in one-idea modules: :mod:`mst_jax.notes` (note tuples, parts, notation),
:mod:`mst_jax.scores` (the pieces), :mod:`mst_jax.midi` (MIDI files via ``mido``),
:mod:`mst_jax.additive` (the numpy fallback synthesiser), :mod:`mst_jax.render` (FluidSynth,
``render_piece``, the example clips) and :mod:`mst_jax.signals` (test signals). New code imports
those; this module keeps ``music.example_path`` and the other names the command lines use.

Example:
    >>> example_path("style").name
    'style.flac'
"""

from mst_jax.additive import render_additive
from mst_jax.midi import write_midi
from mst_jax.notes import DRUM_CHANNEL, Part, Piece, midi_to_hz
from mst_jax.render import (
    CONTENT_BPM,
    EXAMPLE_DURATION_S,
    EXAMPLE_SR,
    FLUIDSYNTH_NOTICE,
    STYLE_BPM,
    example_path,
    find_soundfont,
    make_example_clips,
    render,
    render_fluidsynth,
    render_piece,
)
from mst_jax.scores import (
    PIECES,
    QUALITY_PAIRS,
    STAR_SPANGLED_BANNER,
    STAR_SPANGLED_BANNER_ACCOMPANIMENT,
    STYLE_GROOVE,
)
from mst_jax.signals import chord, click_track, drum_pattern, tone

__all__ = [
    "CONTENT_BPM",
    "DRUM_CHANNEL",
    "EXAMPLE_DURATION_S",
    "EXAMPLE_SR",
    "FLUIDSYNTH_NOTICE",
    "PIECES",
    "QUALITY_PAIRS",
    "STAR_SPANGLED_BANNER",
    "STAR_SPANGLED_BANNER_ACCOMPANIMENT",
    "STYLE_BPM",
    "STYLE_GROOVE",
    "Part",
    "Piece",
    "chord",
    "click_track",
    "drum_pattern",
    "example_path",
    "find_soundfont",
    "make_example_clips",
    "midi_to_hz",
    "render",
    "render_additive",
    "render_fluidsynth",
    "render_piece",
    "tone",
    "write_midi",
]
