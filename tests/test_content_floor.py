"""The content floor (mst_jax.content_floor, --content_floor): measured against librosa and numpy
directly, and end to end against a plain run stopped at the kept iteration."""

import json
import math

import jax.numpy as jnp
import librosa
import numpy as np
import pytest
import soundfile as sf
from absl import flags
from absl.testing import flagsaver
from test_experiments import TINY, clips, read_outputs, run_cli  # noqa: F401  (clips: fixture)

from experiments import transfer
from mst_jax import content_floor, evaluate, losses, synthesis
from mst_jax.config import LossConfig, SolverConfig, Term

flags.FLAGS.mark_as_parsed()
SR = 22050


def _sines(pitches, seconds=1.0):
    t = np.arange(int(seconds * SR)) / SR
    w = sum(np.sin(2 * np.pi * 440.0 * 2 ** ((p - 69) / 12) * t) for p in pitches)
    return (0.5 * w / np.abs(w).max()).astype(np.float32)


def _reference_chroma_kept(wave, content):
    """Mean per-frame Pearson correlation of librosa's chroma_cqt of the peak-normalised clips,
    with numpy's corrcoef (no mst_jax code)."""
    a, b = (librosa.feature.chroma_cqt(y=w / np.abs(w).max(), sr=SR, hop_length=512).T for w in (wave, content))
    n = min(len(a), len(b))
    return float(np.mean([np.corrcoef(a[i], b[i])[0, 1] for i in range(n)]))


def test_chroma_is_librosas_chroma_cqt_of_the_peak_normalised_clip():
    wave = 0.3 * _sines((60, 64, 67))
    expected = librosa.feature.chroma_cqt(y=wave / np.abs(wave).max(), sr=SR, hop_length=512).T
    np.testing.assert_allclose(evaluate.chroma(wave, sr=SR), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(evaluate.chroma(wave, sr=SR), evaluate.features(wave, sr=SR).chroma)


def test_check_keeps_the_last_iterate_at_or_above_the_floor():
    content = _sines((60, 64, 67))  # C major
    other = _sines((66, 70, 73))  # F# major: no pitch class in common
    mixes = [content + a * other for a in (0.0, 0.3, 0.6, 1.5, 3.0)]
    kept = [_reference_chroma_kept(w, content) for w in mixes]
    assert kept[0] == pytest.approx(1.0, abs=1e-6) and all(x > y for x, y in zip(kept, kept[1:]))
    floor = (kept[2] + kept[3]) / 2  # iterations 20 pass, 30 does not
    state = content_floor.start(content, sr=SR, floor=floor, iteration=0, x=mixes[0], wave=mixes[0])
    for it, w in zip((10, 20, 30, 40), mixes[1:]):
        state = content_floor.check(state, it, w, w)
    assert state.crossed and state.kept_iteration == 20
    np.testing.assert_array_equal(state.kept_x, mixes[2])
    assert state.kept_chroma == pytest.approx(kept[2], abs=1e-6)
    # measured up to the first iterate below the floor, and not after it
    assert [it for it, _ in state.checks] == [0, 10, 20, 30]
    np.testing.assert_allclose([c for _, c in state.checks], kept[:4], atol=1e-6)
    block = json.loads(json.dumps(content_floor.record(state)))
    assert block["kept_iteration"] == 20 and block["crossed"] is True and len(block["checks"]) == 4
    assert "iteration 30" in content_floor.summary(state) and "iteration 20's" in content_floor.summary(state)


def test_result_of_replaces_a_result_only_once_the_floor_is_crossed():
    content = _sines((60, 64, 67))
    state = content_floor.start(content, sr=SR, floor=0.5, iteration=0, x=content, wave=content)
    result = synthesis.Result(np.ones(3), None, None, None, None, "max_iter")
    assert content_floor.result_of(result, state) is result
    state = content_floor.check(state, 5, np.zeros_like(content), np.zeros_like(content))
    kept = content_floor.result_of(result, state)
    assert kept.stop_reason == content_floor.STOP_REASON and kept.wave is state.kept_x
    nan_stop = content_floor.result_of(result._replace(stop_reason="non-finite loss"), state)
    assert nan_stop.stop_reason == "non-finite loss" and nan_stop.wave is state.kept_x


def test_a_silent_iterate_crosses_the_floor():
    content = _sines((60, 64, 67))
    state = content_floor.start(content, sr=SR, floor=0.5, iteration=0, x=content, wave=content)
    state = content_floor.check(state, 5, np.zeros_like(content), np.zeros_like(content))
    assert state.crossed and state.kept_iteration == 0 and math.isnan(state.checks[-1][1])
    assert content_floor.record(state)["checks"][-1] == [5, None]  # JSON has no NaN


def test_start_refuses_a_bad_floor_and_a_start_below_it():
    content = _sines((60, 64, 67))
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="must be in"):
            content_floor.start(content, sr=SR, floor=bad, iteration=0, x=content, wave=content)
    noise = np.random.default_rng(0).normal(size=content.size).astype(np.float32)
    with pytest.raises(ValueError, match="iteration 0 keeps chroma .* already below it"):
        content_floor.start(content, sr=SR, floor=0.5, iteration=0, x=noise, wave=noise)


def test_synthesize_stops_with_the_reason_should_stop_gives():
    cfg = LossConfig(terms=(Term("spectrum", None, 1.0),))
    fun = lambda x, p: jnp.sum(jnp.square(jnp.sin(3.0 * x) - 0.3)) * p["a"]  # noqa: E731
    obj = losses.Objective(fun, lambda x, p: {"spectrum": fun(x, p)},
                           lambda x, p: (fun(x, p), {"spectrum": fun(x, p)}),
                           {"a": jnp.float32(1.0)}, cfg, SR, (8,))
    x0 = np.full(8, 0.1, np.float32)
    calls = []

    def stop(reason):
        def should_stop():
            calls.append(1)
            return reason if len(calls) > 2 else False
        return should_stop

    solver = SolverConfig(chunk=2, tol=0)
    res = synthesis.synthesize(obj, x0, max_iter=20, solver=solver, should_stop=stop("content floor"))
    assert res.stop_reason == "content floor" and int(res.state.iteration) == 4
    calls.clear()
    res = synthesis.synthesize(obj, x0, max_iter=20, solver=solver, should_stop=stop(True))
    assert res.stop_reason == "interrupted" and int(res.state.iteration) == 4


def _run(clips, tmp_path, capsys, name, **extra):  # noqa: F811
    """A tiny transfer from the content. Without --match_level: the floor's tests want a run whose
    chroma falls at every check, which this tiny one does only with the style as loud as given
    (matched, its chroma levels off after the first check)."""
    out = str(tmp_path / f"{name}.wav")
    values = dict(TINY, content=clips["content"], style=clips["style"], output=out, preset="1",
                  init="content", max_iter=10, chunk=2, match_level=False)
    values.update(extra)
    code, stdout, stderr = run_cli(transfer, capsys, **values)
    assert code == 0, stderr
    return read_outputs(out), stdout


def test_the_floor_is_checked_every_10_iterations(clips, tmp_path, capsys):  # noqa: F811
    """README: "measures its content kept every 10 iterations" (``FLOOR_CHUNK``)."""
    (_, _, rec), _ = _run(clips, tmp_path, capsys, "every10", chunk=None, max_iter=20,
                          content_floor=0.01)
    assert [it for it, _ in rec["content_floor"]["checks"]] == [0, 10, 20]
    assert rec["config"]["solver"]["chunk"] == 10


def test_transfer_floor_returns_the_plain_run_at_the_kept_iteration(clips, tmp_path, capsys):  # noqa: F811
    # A floor no iterate falls below changes nothing but the record.
    (plain, _, plain_rec), _ = _run(clips, tmp_path, capsys, "plain", content_floor=0.0)
    (low, _, low_rec), stdout = _run(clips, tmp_path, capsys, "low", content_floor=0.01)
    np.testing.assert_array_equal(low, plain)
    assert low_rec["stop_reason"] == plain_rec["stop_reason"] == "max_iter"
    checks = low_rec["content_floor"]["checks"]
    assert [it for it, _ in checks] == [0, 2, 4, 6, 8, 10] and not low_rec["content_floor"]["crossed"]
    assert stdout.count("content kept") >= 5  # on every progress line, and in the quality line
    assert "content_floor" not in plain_rec and plain_rec["config"]["content_floor"] is None
    content, _ = sf.read(clips["content"], dtype="float32")
    # the last check is the chroma kept by the plain run's result (written as PCM_16)
    assert checks[-1][1] == pytest.approx(_reference_chroma_kept(plain, content), abs=2e-3)
    values = [c for _, c in checks]
    assert values[-1] < values[0]
    # A floor between two later checks stops there and returns the iterate before it: the plain
    # run stopped at that iteration. (With these tiny nets the chroma falls only in its fifth
    # decimal, but the program and so every check are deterministic.)
    i = max(range(2, len(values)), key=lambda j: values[j - 1] - values[j])
    floor = (values[i - 1] + values[i]) / 2
    assert all(v >= floor for v in values[:i]), values  # the checks before i are all above it
    (cut, _, cut_rec), stdout = _run(clips, tmp_path, capsys, "cut", content_floor=floor)
    kept_it = checks[i - 1][0]
    assert cut_rec["stop_reason"] == "content floor" and cut_rec["iterations"] == checks[i][0]
    assert cut_rec["content_floor"]["kept_iteration"] == kept_it
    assert f"wrote iteration {kept_it}'s result" in stdout
    assert kept_it > 0
    (short, _, _), _ = _run(clips, tmp_path, capsys, "short", max_iter=kept_it, content_floor=0.0)
    np.testing.assert_array_equal(cut, short)
    assert cut_rec["quality"]["values"]["chroma_content"] == pytest.approx(
        cut_rec["content_floor"]["kept_chroma"], abs=2e-3
    )
    with open(str(tmp_path / "cut.html")) as f:
        html = f.read()
    assert "The content fell below the floor" in html
    assert "raw L (middle); then the content kept (chroma correlation with the content)" in html


def test_the_floor_is_on_by_default_only_where_there_is_a_content_to_keep():
    from experiments import _flags

    def floor(**values):
        with flagsaver.flagsaver(content="a.wav", style="b.wav", **values):
            return transfer.build([]).content_floor

    assert floor() == _flags.DEFAULT_CONTENT_FLOOR == 0.7
    assert floor(content_floor=0.5) == 0.5
    assert floor(content_floor=0.0) is None
    assert floor(init="noise") is None and floor(preset="baseline") is None
    with flagsaver.flagsaver():  # the no-flag demo starts from the content too
        assert transfer.build([]).content_floor == 0.7


def test_batch_rows_keep_what_single_runs_keep(clips, tmp_path, capsys):  # noqa: F811
    """--batch with a floor: each row stops being watched where it falls below and writes the
    iterate a single run with that floor writes (up to the batch's float rounding)."""
    import csv

    from test_batch import run_main

    styles = {"a": clips["style"], "b": clips["style2"]}
    singles = {}
    for name, style in styles.items():
        (_, _, rec), _ = _run(clips, tmp_path, capsys, f"probe_{name}", style=style, content_floor=0.01)
        singles[name] = [c for _, c in rec["content_floor"]["checks"]]
    values = singles["a"]
    i = max(range(2, len(values)), key=lambda j: values[j - 1] - values[j])
    floor = (values[i - 1] + values[i]) / 2  # row a crosses at check i; row b as it may
    for name, style in styles.items():
        _run(clips, tmp_path, capsys, f"single_{name}", style=style, content_floor=floor)
    jobs = tmp_path / "jobs.csv"
    with open(jobs, "w", newline="") as f:
        csv.writer(f).writerows([["content", "style", "output"]] + [
            [clips["content"], style, str(tmp_path / f"batch_{name}.wav")] for name, style in styles.items()
        ])
    flags_ = {k: v for k, v in TINY.items() if k not in ("max_iter", "chunk")}
    code, stdout, stderr = run_main(capsys, batch=str(jobs), preset="1", init="content", max_iter=10,
                                    chunk=2, content_floor=floor, match_level=False, **flags_)
    assert code == 0, stderr
    assert "content kept [" in stdout
    for name in styles:
        single, _, s_rec = read_outputs(str(tmp_path / f"single_{name}.wav"))
        batched, _, b_rec = read_outputs(str(tmp_path / f"batch_{name}.wav"))
        assert b_rec["stop_reason"] == s_rec["stop_reason"]
        assert b_rec["content_floor"]["kept_iteration"] == s_rec["content_floor"]["kept_iteration"]
        np.testing.assert_allclose(batched, single, atol=1e-4)
    assert b_rec["content_floor"]["floor"] == floor
    _, _, a_rec = read_outputs(str(tmp_path / "batch_a.wav"))
    assert a_rec["stop_reason"] == "content floor" and a_rec["content_floor"]["kept_iteration"] == 2 * (i - 1)


def _png_width(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big")


def test_loss_figure_adds_the_content_kept_panel(tmp_path):
    from mst_jax import loss_figure

    record = {"loss_history": [3.0, 2.0, 1.0], "term_history": {"style_stft": [3.0, 2.0, 1.0]},
              "terms": {"style_stft": {"beta": 1.0}}}
    loss_figure.write_loss_figure(str(tmp_path / "plain.png"), record)
    record["content_floor"] = {"floor": 0.7, "crossed": True, "kept_iteration": 2,
                               "kept_chroma": 0.8, "checks": [[0, 1.0], [2, 0.8], [3, 0.6]]}
    loss_figure.write_loss_figure(str(tmp_path / "floor.png"), record)
    assert _png_width(tmp_path / "floor.png") > 1.3 * _png_width(tmp_path / "plain.png")


def test_an_interrupted_floor_run_resumes_to_the_same_result(clips, tmp_path, capsys, monkeypatch):  # noqa: F811
    import signal

    from test_reliability import _interrupt_at

    (whole, _, _), _ = _run(clips, tmp_path, capsys, "whole", content_floor=0.01)
    _interrupt_at(monkeypatch, 4, signal.SIGTERM)
    out = str(tmp_path / "cut.wav")
    values = dict(TINY, content=clips["content"], style=clips["style"], output=out, preset="1",
                  init="content", max_iter=10, chunk=2, content_floor=0.01, match_level=False)
    code, _, _ = run_cli(transfer, capsys, **values)
    assert code == 143
    monkeypatch.undo()
    code, stdout, stderr = run_cli(transfer, capsys, **dict(values, resume=True))
    assert code == 0, stderr
    resumed, _, record = read_outputs(out)
    np.testing.assert_array_equal(resumed, whole)
    assert [it for it, _ in record["content_floor"]["checks"]] == [4, 6, 8, 10]  # from the resumed iterate
    # a resumed run already below a higher floor is refused in one line, naming the iteration
    _interrupt_at(monkeypatch, 4, signal.SIGTERM)
    run_cli(transfer, capsys, **values)
    monkeypatch.undo()
    code, _, stderr = run_cli(transfer, capsys, **dict(values, resume=True, content_floor=1.0))
    assert code == 2 and "iteration 4 keeps chroma" in stderr and "already below" in stderr


def test_an_iterate_exactly_at_the_floor_is_kept():
    """"At or above the floor": a start and a later iterate whose chroma correlation with the
    content (evaluate.frame_correlation of evaluate.chroma, the measure the module names) is
    exactly the floor are kept, not refused or stopped on."""
    content = _sines((60, 64, 67))
    mix = content + 0.6 * _sines((66, 70, 73))
    exact = evaluate.frame_correlation(evaluate.chroma(mix, sr=SR), evaluate.chroma(content, sr=SR))
    assert 0.2 < exact < 0.99
    state = content_floor.start(content, sr=SR, floor=exact, iteration=0, x=mix, wave=mix)
    state = content_floor.check(state, 10, mix, mix)
    assert not state.crossed and state.kept_iteration == 10 and state.kept_chroma == exact
