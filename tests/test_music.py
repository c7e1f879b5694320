"""Tests for mst_jax.music, the re-export namespace the command lines use."""

from mst_jax import additive, midi, music, notes, render, scores, signals


def test_every_name_is_its_home_modules_object():
    homes = (additive, midi, notes, render, scores, signals)
    for name in music.__all__:
        owners = [m for m in homes
                  if name in m.__all__ and getattr(m, name) is getattr(music, name)]
        assert len(owners) == 1, name  # re-exported from exactly one home, no copy
    # The names the command lines and README call.
    for name in ("example_path", "render", "STAR_SPANGLED_BANNER", "render_piece", "PIECES"):
        assert name in music.__all__
