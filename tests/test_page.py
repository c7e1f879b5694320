"""Listening pages (issue 15): structure, numbers against the run record, the CLI hooks.

The HTML is read back with the standard library's parser (``pagecheck``): every referenced file
exists, every ``<audio>`` has a source and a name, every ``<img>`` has alt text, and every number
printed with a ``data-field`` equals the JSON record's value, formatted here independently.
"""

import csv
import html
import json
import math
import os
import shutil
import signal
import urllib.parse

import numpy as np
import pytest
import soundfile as sf
from absl import flags
from absl.testing import flagsaver
from conftest import SR, TINY_NET_FLAGS
from pagecheck import check_page, local_target, record_value

from experiments import _batch, console, reconstruct, transfer
from mst_jax import loss_figure, music, page, run_page

flags.FLAGS.mark_as_parsed()

TINY = dict(TINY_NET_FLAGS, chunk=3, max_iter=3, checkpoint_every=0, preset="2")

QUALITY = {
    "measures": [
        {
            "name": "content_kept",
            "label": "content kept",
            "value": 0.8125,
            "floor": 0.31,
            "floor_label": "noise",
            "read": "Chroma correlation with the content; 1 is the content itself.",
        },
        {
            "name": "style_taken",
            "label": "style taken",
            "value": 1.234567e-3,
            "floor": None,
            "floor_label": None,
            "read": "Gram distance to the style, relative to the content's; lower is closer.",
        },
    ],
    "verdict": "keeps the content and takes some of the style",
}


def _wave(seconds, f0=440.0):
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)


def _record(tmp_path, *, content="in/con tent.wav", quality=True, interrupted=False):
    """A hand-made run record whose audio files exist (content in a sibling folder, a space in
    its name; a FLAC style), as the runner writes it to JSON."""
    (tmp_path / "in").mkdir(parents=True, exist_ok=True)
    (tmp_path / "out").mkdir(exist_ok=True)
    c = str(tmp_path / content)
    if c.endswith(".aiff"):
        sf.write(c, _wave(1.0), SR, format="AIFF")
    else:
        sf.write(c, _wave(1.0), SR)
    s = str(tmp_path / "in" / "style.flac")
    sf.write(s, _wave(0.7, 220.0), SR)
    o = str(tmp_path / "out" / "result.wav")
    sf.write(o, _wave(1.0, 330.0), SR)
    record = {
        "script": "transfer",
        "flags": {"preset": "2", "seed": 3, "content": c, "style": s, "output": o},
        "versions": {"mst_jax": "0.1.0"},
        "device": {"platform": "cpu", "device_kind": "cpu"},
        "terms": {
            "content_stft": {"gamma": 1.0, "beta": 0.25, "grad_norm_at_init": 4.0},
            "style_stft": {"gamma": 50.0, "beta": 125.0, "grad_norm_at_init": 0.4},
        },
        "loss_history": [30.0, 12.5, 6.0625],
        "term_history": {"content_stft": [10.0, 4.5, 2.0625], "style_stft": [20.0, 8.0, 4.0]},
        "seconds_per_iteration": [2.0, 0.5, 0.25],
        "wall_seconds": 12.345678,
        "iterations": 2 if interrupted else 3,
        "stop_reason": "interrupted" if interrupted else "max_iter",
        "interrupted": interrupted,
        "config": {
            "preset": "2",
            "seed": 3,
            "sr": SR,
            "init": "noise",
            "solver": {"max_iter": 3},
            "terms": [
                {"name": "content_stft", "net": {"representation": "stft", "filters": 16}},
                {"name": "style_stft", "net": {"representation": "stft", "filters": 16}},
            ],
        },
        "inputs": {"content": {"path": c, "seconds": 1.0}, "styles": [{"path": s, "seconds": 0.7}]},
        "output": {"path": o, "seconds": 1.0},
        "notices": ["a notice with <markup> & ampersand"],
    }
    if quality:
        record["quality"] = QUALITY
    # Through JSON, as the page's readers see it.
    return json.loads(json.dumps(record)), o


def _write(tmp_path, record, o):
    stem = os.path.splitext(o)[0]
    loss_figure.write_loss_figure(stem + ".loss.png", record)
    shutil.copy(stem + ".loss.png", stem + ".png")  # any PNG stands in for the spectrograms
    with open(stem + ".json", "w") as f:
        json.dump(record, f)
    html_path = stem + ".html"
    run_page.write_run_page(
        html_path, record, spectrogram_png=stem + ".png", loss_png=stem + ".loss.png",
        record_path=stem + ".json",
    )
    return html_path


@pytest.mark.parametrize("key, row, kept, not_kept", [
    ("keep_silence", "the content's silences", "kept silent in the result (--keep_silence)",
     "not kept"),
    ("keep_dynamics", "the content's dynamics",
     "evened for the optimisation, given back to the result (--keep_dynamics)",
     "left to the optimisation"),
    ("match_level", "the style's level",
     "matched to the content&#x27;s (+6.5 dB, -2.0 dB; --match_level)",
     "as given (peak-normalised)"),
])
def test_run_page_says_whether_the_content_silences_dynamics_and_level_were_kept(
    tmp_path, key, row, kept, not_kept
):
    """The configuration table has a row for --keep_silence, one for --keep_dynamics and one for
    --match_level (with each style's gain) when a transfer's record has the key (older records
    have no such key, a texture has no content: no row)."""
    record, o = _record(tmp_path)
    pages = {}
    for name, value, script in (("kept", True, "transfer"), ("not", False, "transfer"),
                                ("absent", None, "transfer"), ("texture", False, "texture")):
        r = json.loads(json.dumps(record))
        r["config"]["script"] = script
        for k in ("keep_silence", "keep_dynamics", "match_level"):
            r["config"].pop(k, None)
        if value is not None:
            r["config"][key] = value
        style = r["inputs"]["styles"][0]
        r["inputs"]["styles"] = [dict(style, level_gain_db=6.5), dict(style, level_gain_db=-2.0)]
        with open(_write(tmp_path, r, o), encoding="utf-8") as f:
            pages[name] = f.read()
    row = row.replace("'", "&#x27;")
    assert row in pages["kept"] and kept in pages["kept"]
    assert row in pages["not"] and not_kept in pages["not"]
    assert row not in pages["absent"] and row not in pages["texture"]


@pytest.mark.parametrize("match, offset, expected", [
    (True, 3.0, "matched to the content&#x27;s, then +3 dB (+9.5 dB, +1.0 dB in all; "
                "--match_level, --style_level_db)"),
    (False, -6.0, "as given (peak-normalised), then -6 dB (--style_level_db)"),
    (True, 0.0, "matched to the content&#x27;s (+9.5 dB, +1.0 dB; --match_level)"),
])
def test_run_page_says_the_style_level_offset(tmp_path, match, offset, expected):
    """--style_level_db on top of the match (or of the style as given) is in the row, with each
    style's gain in all; at 0 dB the row reads as before the flag existed."""
    record, o = _record(tmp_path)
    record["config"].update(script="transfer", match_level=match, style_level_db=offset)
    style = record["inputs"]["styles"][0]
    record["inputs"]["styles"] = [dict(style, level_gain_db=9.5), dict(style, level_gain_db=1.0)]
    with open(_write(tmp_path, record, o), encoding="utf-8") as f:
        html = f.read()
    assert f"<td>{expected}</td>" in html  # the whole cell


def _assert_numbers_match(parsed, record):
    """Every data-field number equals the record's and is printed with 4 significant digits."""
    assert parsed.fields
    for field, (text, value) in parsed.fields.items():
        if field.startswith("raw."):  # the last weighted loss over beta
            name = field[len("raw."):]
            want = record["term_history"][name][-1] / record["terms"][name]["beta"]
        else:
            want = record_value(record, field)
        if isinstance(want, str):
            assert text == want, field
            continue
        if want is None:
            assert text == "–" and value is None, field
            continue
        assert float(value) == want, field
        assert text == (str(want) if isinstance(want, int) else format(want, ".4g")), field


def test_run_page_structure_numbers_and_quality(tmp_path):
    record, o = _record(tmp_path)
    parsed = check_page(_write(tmp_path, record, o))
    # content, style, result: three players, each on its own file, each with the right type
    srcs = [(local_target(a["sources"][0]["src"], o), a["sources"][0]["type"]) for a in parsed.audios]
    assert srcs == [
        (record["inputs"]["content"]["path"], "audio/wav"),
        (record["inputs"]["styles"][0]["path"], "audio/flac"),
        (o, "audio/wav"),
    ]
    assert parsed.audios[0]["sources"][0]["src"] == "../in/con%20tent.wav"  # relative, quoted
    _assert_numbers_match(parsed, record)
    fields = set(parsed.fields)
    assert {
        "quality.verdict",
        "quality.measures.content_kept.value",
        "quality.measures.content_kept.floor",
        "quality.measures.style_taken.value",
        "wall_seconds",
        "iterations",
        "terms.style_stft.beta",
        "term_history.style_stft.-1",
        "raw.content_stft",
    } <= fields
    text = open(os.path.splitext(o)[0] + ".html", encoding="utf-8").read()
    for m in QUALITY["measures"]:
        assert html.escape(m["read"]) in text
    assert "a notice with &lt;markup&gt; &amp; ampersand" in text  # escaped
    imgs = [a for t, a in parsed.elements if t == "img"]
    assert len(imgs) == 2 and all(len(a["alt"]) > 40 for a in imgs)


def test_no_quality_block_without_quality_and_interrupted_run_says_so(tmp_path):
    record, o = _record(tmp_path, quality=False, interrupted=True)
    html_path = _write(tmp_path, record, o)
    parsed = check_page(html_path)
    text = open(html_path, encoding="utf-8").read()
    assert "Quality" not in text and not any(f.startswith("quality") for f in parsed.fields)
    assert "Interrupted at iteration 2 of 3" in text and "--resume" in text
    assert parsed.audios[-1]["attrs"]["aria-label"].startswith("result so far (checkpoint)")
    _assert_numbers_match(parsed, record)


def test_run_page_gives_the_accelerators_peak_memory(tmp_path):
    """A GPU run's record carries its peak device memory; the page says it beside the device."""
    record, o = _record(tmp_path)
    record["device"] = {"platform": "gpu", "device_kind": "NVIDIA H200", "peak_memory_bytes": 3_504_000_000}
    html = open(_write(tmp_path, record, o)).read()
    assert "gpu / NVIDIA H200, peak memory 3.50 GB" in html
    record["device"] = {"platform": "cpu", "device_kind": "cpu", "peak_memory_bytes": None}
    assert "peak memory" not in open(_write(tmp_path, record, o)).read()


def test_unplayable_input_gets_a_note_and_the_folder_copies(tmp_path):
    record, o = _record(tmp_path, content="in/content.aiff")
    html_path = _write(tmp_path, record, o)
    parsed = check_page(html_path)
    assert len(parsed.audios) == 2  # style and result; AIFF gets no player
    assert "content.aiff is not a format browsers play" in open(html_path, encoding="utf-8").read()
    copy = tmp_path.parent / (tmp_path.name + "_copy")
    shutil.copytree(tmp_path, copy)
    check_page(str(copy / "out" / "result.html"))  # relative paths: the copy is whole


def test_two_styles_get_numbered_players(tmp_path):
    record, o = _record(tmp_path)
    s2 = str(tmp_path / "in" / "style2.wav")
    sf.write(s2, _wave(0.5, 440.0), SR)
    record["inputs"]["styles"].append({"path": s2, "seconds": 0.5})
    parsed = check_page(_write(tmp_path, record, o))
    labels = [a["attrs"]["aria-label"].split(":")[0] for a in parsed.audios]
    assert labels == ["content", "style 1", "style 2", "result"]


def test_loss_panels_are_the_total_the_weighted_terms_and_the_raw_terms():
    record = {
        "loss_history": [30.0, 12.0],
        "term_history": {"a": [10.0, None], "b": [20.0, 8.0], "c": [1.0, 1.0]},
        "terms": {"a": {"beta": 0.5}, "b": {"beta": 4.0}, "c": {"beta": 0.0}},
    }
    (t1, weighted), (t2, raw) = loss_figure.panels(record)
    assert t1.startswith("weighted") and t2.startswith("raw")
    assert list(weighted) == ["total", "a", "b", "c"]  # the total first, drawn in black
    assert weighted["total"] == [30.0, 12.0] and weighted["b"] == [20.0, 8.0]
    assert raw["b"] == [5.0, 2.0]  # weighted / β, by hand
    assert raw["a"][0] == 20.0 and math.isnan(raw["a"][1])  # a missing value stays missing
    assert all(math.isnan(v) for v in raw["c"])  # β = 0: no raw loss to show
    del record["loss_history"]
    assert "total" not in loss_figure.panels(record)[0][1]


def test_index_is_sortable_and_links_every_row(tmp_path):
    rows = []
    for i, (score, verdict) in enumerate([(0.5, "b"), (None, "a"), (2.0, "c")]):
        record, o = _record(tmp_path / f"r{i}")
        record["quality"] = {
            "measures": [dict(QUALITY["measures"][0], value=score)],
            "verdict": verdict,
        }
        if i == 0:  # row 1 read 0.5 s of its content from 0.25 s in (--content_offset/_duration)
            record["inputs"]["content"].update(offset_s=0.25, duration_s=0.5, seconds=0.5)
        if i == 1:  # row 2 the first 0.5 s (--content_duration alone)
            record["inputs"]["content"].update(offset_s=0.0, duration_s=0.5, seconds=0.5)
        rows.append(run_page.index_row(record, page=_write(tmp_path / f"r{i}", record, o)))
    rows[2]["config"]["extra"] = "x"  # a column only one row has
    index = str(tmp_path / "index.html")
    page.write_index(index, rows, title="Three runs")
    parsed = check_page(index)
    links = [local_target(a["href"], index) for t, a in parsed.elements if t == "a" and a["href"].endswith(".html")]
    assert links == [r["page"] for r in rows]
    buttons = [a["aria-label"] for t, a in parsed.elements if t == "button"]
    assert buttons[:5] == ["Sort by #", "Sort by page", "Sort by content", "Sort by style", "Sort by result"]
    assert "Sort by content kept" in buttons and "Sort by verdict" in buttons and "Sort by extra" in buttons
    assert len(parsed.audios) == 9  # content, style, result per row
    # the excerpt's player plays only its span; whole files (records without offset_s) play whole
    fragments = [urllib.parse.urlsplit(a["sources"][0]["src"]).fragment for a in parsed.audios]
    assert fragments == ["t=0.25,0.75", "", "", "t=0,0.5"] + [""] * 5
    text = open(index, encoding="utf-8").read()
    assert '<td class="num" data-sort="2.0" data-value="2.0">2</td>' in text
    # the missing score and the two missing "extra" cells: empty sort keys, sorted last
    assert text.count('data-sort="">–</td>') == 3
    assert "<script>" in text and "table.sortable" in text


def test_study_page_shows_figures_and_csv_cells_as_written(tmp_path):
    png = str(tmp_path / "fig.png")
    record, o = _record(tmp_path)
    loss_figure.write_loss_figure(png, record)
    table = tmp_path / "study.csv"
    table.write_text("offset,representation,mse\n0,stft,0.0531\n1,mel,0.18\n")
    html_path = str(tmp_path / "study.html")
    page.write_study_page(
        html_path, "Key invariance", figures=[(png, "MSE against offset, one line per representation")],
        tables=[(str(table), "MSE per offset")], note="Lower is more key-invariant.",
    )
    parsed = check_page(html_path)
    text = open(html_path, encoding="utf-8").read()
    assert '<td class="num" data-sort="0.0531">0.0531</td>' in text and "<td>mel</td>" in text
    assert [a["alt"] for t, a in parsed.elements if t == "img"] == ["MSE against offset, one line per representation"]
    assert [a["aria-label"] for t, a in parsed.elements if t == "button"] == [
        "Sort by offset", "Sort by representation", "Sort by mse"]


# --------------------------------------------------------------------------- command lines


def run_cli(capsys, module=transfer, **values):
    with flagsaver.flagsaver(**values):
        try:
            module.main([module.__name__])
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("page_clips")
    melody = np.concatenate([music.tone(music.midi_to_hz(p), duration_s=0.125, sr=SR) for p in (60, 64, 67, 72)])
    paths = {}
    for name, wave in [
        ("c1.wav", melody),
        ("c2.wav", melody[::-1].copy()),
        ("c3.wav", 0.5 * melody),
        ("s.flac", music.drum_pattern(bpm=120.0, duration_s=0.6, sr=SR, seed=1)),
    ]:
        sf.write(str(d / name), wave, SR)
        paths[name] = str(d / name)
    return paths


def test_transfer_writes_its_page_and_nopage_does_not(clips, tmp_path, capsys):
    out = str(tmp_path / "run.wav")
    code, stdout, stderr = run_cli(capsys, content=clips["c1.wav"], style=clips["s.flac"], output=out, **TINY)
    assert code == 0, stderr
    assert str(tmp_path / "run.html") in stdout
    parsed = check_page(str(tmp_path / "run.html"))
    with open(tmp_path / "run.json") as f:
        record = json.load(f)
    assert record["flags"]["page"] is True
    assert [local_target(a["sources"][0]["src"], out) for a in parsed.audios] == [
        clips["c1.wav"], clips["s.flac"], out]
    _assert_numbers_match(parsed, record)
    assert {"wall_seconds", "terms.content_stft.gamma", "term_history.style_stft.-1"} <= set(parsed.fields)

    off = str(tmp_path / "off.wav")
    code, _, stderr = run_cli(
        capsys, content=clips["c1.wav"], style=clips["s.flac"], output=off, page=False, **TINY
    )
    assert code == 0, stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("off")) == [
        "off.json", "off.png", "off.wav"]


def test_interrupted_run_page_offers_the_best_result_so_far(clips, tmp_path, capsys, monkeypatch):
    original = console.report_progress

    def report(script, info, max_iter, first, *rest):  # SIGINT right after the first chunk
        original(script, info, max_iter, first, *rest)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(console, "report_progress", report)
    out = str(tmp_path / "cut.wav")
    code, _, stderr = run_cli(
        capsys, content=clips["c1.wav"], style=clips["s.flac"], output=out, **dict(TINY, max_iter=6)
    )
    assert code == 130, stderr
    parsed = check_page(str(tmp_path / "cut.html"))
    text = open(tmp_path / "cut.html", encoding="utf-8").read()
    assert "Interrupted at iteration 3 of 6" in text and "--resume" in text
    assert parsed.audios[-1]["attrs"]["aria-label"] == "result so far (checkpoint): cut.wav"
    assert local_target(parsed.audios[-1]["sources"][0]["src"], out) == out
    with open(tmp_path / "cut.json") as f:
        _assert_numbers_match(parsed, json.load(f))


def test_reconstruct_page_shows_spectral_convergence(clips, tmp_path, capsys):
    out = str(tmp_path / "rec.wav")
    code, _, stderr = run_cli(
        capsys, module=reconstruct, input=clips["c1.wav"], output=out, max_iter=3, chunk=3,
        checkpoint_every=0,
    )
    assert code == 0, stderr
    parsed = check_page(str(tmp_path / "rec.html"))
    with open(tmp_path / "rec.json") as f:
        record = json.load(f)
    _assert_numbers_match(parsed, record)
    assert {f"spectral_convergence.{k}" for k in record["spectral_convergence"]} <= set(parsed.fields)
    assert [a["attrs"]["aria-label"].split(":")[0] for a in parsed.audios] == ["input", "result"]


def test_batch_of_three_writes_an_index_linking_each_row_page(clips, tmp_path, capsys):
    jobs = tmp_path / "jobs.csv"
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").mkdir()
    outputs = ["out/a.wav", "out/b.wav", "out/sub/c.wav"]
    with open(jobs, "w", newline="") as f:
        csv.writer(f).writerows(
            [["content", "style", "output"]]
            + [[clips[c], clips["s.flac"], o] for c, o in zip(("c1.wav", "c2.wav", "c3.wav"), outputs)]
        )
    code, stdout, stderr = run_cli(capsys, batch=str(jobs), **TINY)
    assert code == 0, stderr
    index = str(tmp_path / "out" / "index.html")  # the outputs' common folder
    assert index in stdout
    parsed = check_page(index)
    pages = [local_target(a["href"], index) for t, a in parsed.elements if t == "a" and a["href"].endswith(".html")]
    assert pages == [str(tmp_path / o).replace(".wav", ".html") for o in outputs]
    for p in pages:
        row = check_page(p)
        with open(p.replace(".html", ".json")) as f:
            _assert_numbers_match(row, json.load(f))
    assert len(parsed.audios) == 9


def test_batch_refuses_a_row_whose_audio_would_be_its_own_record(clips, tmp_path, capsys):
    """A row's output named like its record is refused naming the line, before any row runs
    (the single transfer's own check is in test_reliability)."""
    jobs = tmp_path / "jobs.csv"
    with open(jobs, "w", newline="") as f:
        csv.writer(f).writerows([
            ["content", "style", "output"],
            [clips["c1.wav"], clips["s.flac"], str(tmp_path / "a.wav")],
            [clips["c1.wav"], clips["s.flac"], str(tmp_path / "b.json")],
        ])
    code, _, stderr = run_cli(capsys, batch=str(jobs), **TINY)
    assert code == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith(f"error: --batch={jobs} line 3: output {tmp_path / 'b.json'}: "
                             "the run writes its run record to that path"), stderr
    assert not (tmp_path / "a.wav").exists()


def test_batch_refuses_a_row_whose_page_would_be_the_index(clips, tmp_path, capsys):
    jobs = tmp_path / "jobs.csv"
    with open(jobs, "w", newline="") as f:
        csv.writer(f).writerows(
            [["content", "style", "output"], [clips["c1.wav"], clips["s.flac"], "index.wav"]]
        )
    code, _, stderr = run_cli(capsys, batch=str(jobs), **TINY)
    assert code == 2
    assert stderr.startswith("error: --batch=") and "index.html" in stderr and "--nopage" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert _batch.index_path([str(tmp_path / "a" / "x.wav"), str(tmp_path / "a" / "b" / "y.wav")]) == str(
        tmp_path / "a" / "index.html"
    )


def test_readme_shows_a_small_screenshot_and_how_to_open_the_page():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    shots = [m for m in readme.split("(") if m.startswith("docs/") and ".png)" in m]
    assert len(shots) == 1
    shot = os.path.join(root, shots[0].split(")")[0])
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(shot) < 200_000
    assert "xdg-open transfer.html" in readme and "python3 -m http.server" in readme
