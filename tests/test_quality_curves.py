"""benchmarks.quality_curves: per-pair trade-off curves read from benchmark folders (hand-made CSVs)."""

import csv
import os

import pytest
from absl import flags
from absl.testing import flagsaver

flags.FLAGS.mark_as_parsed()

COLUMNS = ("config", "pair", "content", "style", "seconds", "iterations", "chroma_content",
           "mfcc_ratio", "flatness")


def write_folder(path, rows):
    os.makedirs(path)
    with open(os.path.join(path, "quality.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows(rows)
    return str(path)


def test_curves_sort_by_iterations_keep_the_first_folder_and_find_dominance(tmp_path, capsys):
    from benchmarks import quality_curves

    a = write_folder(tmp_path / "a", [
        ("default", 0, "piano", "rock_band", 90, 120, 0.9, 0.30, 0.01),
        ("default", 1, "choir", "brass", 95, 120, 0.8, 0.50, 0.01),
        ("ideal", 0, "piano", "rock_band", 0, 0, 0.7, 0.6, 0.0),
    ])
    b = write_folder(tmp_path / "b", [
        ("default", 0, "piano", "rock_band", 200, 320, 0.4, 0.08, 0.01),
        ("default", 0, "piano", "rock_band", 99, 120, 0.1, 0.9, 0.5),  # same pair and count: a's wins
        ("baseline", 0, "piano", "rock_band", 150, 300, 0.3, 0.10, 0.05),
        ("baseline", 1, "choir", "brass", 150, 300, 0.85, 0.40, 0.05),
    ])
    points = quality_curves.series_points("default", [a, b])
    assert [(p["pair"], p["iterations"], p["chroma_content"]) for p in points] == [
        (0, 120, 0.9), (0, 320, 0.4), (1, 120, 0.8)]
    out = tmp_path / "out"
    with flagsaver.flagsaver(series=[f"default={a},{b}", f"baseline={b}"], ideal_from=a, curves_dir=str(out)):
        quality_curves.main(["quality_curves"])
    printed = capsys.readouterr().out
    # pair 0: 320 iterations keep 0.4 > 0.3 with ratio 0.08 <= 0.10; pair 1: 0.8 < 0.85, nothing dominates
    assert "pair 0 baseline at 300 (chroma 0.30, MFCC ratio 0.10): dominated by default at 320 iterations" in printed
    assert "pair 1 baseline at 300 (chroma 0.85, MFCC ratio 0.40): not dominated by default at any of 120" in printed
    assert (out / "quality_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(out / "quality_curves.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["series"] for r in rows] == ["default"] * 3 + ["baseline"] * 2 + ["ideal"]


def test_curves_refuse_a_bad_series_or_folder(tmp_path):
    from absl import app

    from benchmarks import quality_curves

    for bad in ("default", "default=", "=out/a", "default=,"):
        with pytest.raises(app.UsageError, match="CONFIG=DIR"):
            quality_curves.parse_series(bad)
    with flagsaver.flagsaver(series=[f"default={tmp_path}"], curves_dir=str(tmp_path / "o")):
        with pytest.raises(app.UsageError, match="quality.csv: no such file"):
            quality_curves.main(["quality_curves"])


def test_dominance_needs_more_content_and_at_least_as_much_style():
    from benchmarks import quality_curves

    def point(chroma, ratio):
        return {"chroma_content": chroma, "mfcc_ratio": ratio}

    assert quality_curves.dominates(point(0.8, 0.2), point(0.7, 0.2))  # same style, more content
    assert not quality_curves.dominates(point(0.7, 0.1), point(0.7, 0.2))  # no more content
    assert not quality_curves.dominates(point(0.8, 0.3), point(0.7, 0.2))  # less style
