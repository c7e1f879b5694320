"""Reliability of the command lines (issue 7): bad input answered in one line before any compilation,
interrupted runs keep their work, ``--resume`` continues bit-identically, same seed -> same bytes.

Most tests run ``main`` in-process under ``flagsaver``; the ones about exit statuses, stderr of the
real process and signals run ``python -m experiments.transfer`` as a subprocess.
"""

import itertools
import os
import select
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
from conftest import SR
from test_experiments import TINY, assert_valid_wave, read_outputs, run_cli, write

from experiments import _runner, console, reconstruct, resume, texture, transfer
from mst_jax import synthesis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    return {
        "content": write(
            d / "content.wav",
            0.5 * np.sin(2 * np.pi * 330 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t)),
        ),
        "style": write(
            d / "style.wav",
            0.3 * rng.standard_normal(int(0.8 * SR)) * (np.arange(int(0.8 * SR)) % 5512 < 800),
        ),
    }


def _bad_files(d):
    """name -> path of files soundfile cannot read, or audio that reads but cannot be used."""
    os.makedirs(d / "a_directory.wav", exist_ok=True)
    (d / "empty.wav").write_bytes(b"")
    (d / "random.wav").write_bytes(np.random.default_rng(0).bytes(4096))
    write(d / "full.flac", 0.5 * np.sin(np.arange(SR) / 7.0))
    data = (d / "full.flac").read_bytes()
    (d / "truncated.flac").write_bytes(data[: len(data) // 2])
    write(d / "full.wav", 0.5 * np.sin(np.arange(SR) / 7.0))
    (d / "truncated_header.wav").write_bytes((d / "full.wav").read_bytes()[:30])
    nan = 0.5 * np.sin(np.arange(SR) / 7.0)
    nan[100] = np.nan
    write(d / "nan.wav", nan, subtype="FLOAT")
    write(d / "short.wav", 0.5 * np.sin(np.arange(SR // 20) / 7.0))  # 0.05 s: under one STFT frame
    write(d / "silent.wav", np.zeros(SR))
    write(d / "dc.wav", np.full(SR, 0.25))  # a constant offset: no sound either
    return d


# (case, flag overrides ("@name": a file in the bad-files dir), text the message must hold)
BAD_INPUTS = [
    ("missing", dict(content="@missing.wav"), "missing.wav: file not found"),
    ("directory", dict(content="@a_directory.wav"), "a_directory.wav: is a directory"),
    ("empty", dict(content="@empty.wav"), "empty.wav: empty file"),
    ("random bytes", dict(content="@random.wav"), "random.wav: not a readable audio file"),
    ("truncated", dict(content="@truncated.flac"), "truncated.flac: not a readable audio file"),
    (
        "truncated header",
        dict(content="@truncated_header.wav"),
        "truncated_header.wav: not a readable",
    ),
    ("nan", dict(content="@nan.wav"), "nan.wav: contains 1 non-finite samples"),
    ("second style missing", dict(style="STYLE,@gone.flac"), "gone.flac: file not found"),
    ("silent content", dict(content="@silent.wav"), "silent.wav: has no sound (every sample is 0)"),
    ("constant content", dict(content="@dc.wav"), "dc.wav: has no sound (every sample has the same value"),
    ("silent style", dict(style="@silent.wav"), "silent.wav: has no sound (every sample is 0)"),
    ("silent second style", dict(style="STYLE,@silent.wav"), "silent.wav: has no sound"),
    ("silent excerpt", dict(content="@silent.wav", content_duration=0.5), "silent.wav: has no sound"),
    (
        "too short",
        dict(content="@short.wav", preset="5", mel_kernel=None),
        "short.wav: 0.05 s is too short",
    ),
    ("unknown preset", dict(preset="7"), "--preset='7': must be a Table 1 row 1-6 or 'baseline'"),
    ("unknown preset name", dict(preset="cqt"), "--preset='cqt'"),
    (
        "negative gamma",
        dict(gamma_style_stft=-1.0),
        "--gamma_style_stft=-1.0: Gamma must be a finite number >= 0",
    ),
    ("inf gamma", dict(gamma_content_stft=float("inf")), "--gamma_content_stft=inf"),
    ("nan gamma", dict(gamma_style_mel=float("nan")), "--gamma_style_mel=nan"),
    (
        "gamma of an absent term",
        dict(preset="1", gamma_style_cqt=3.0),
        "preset 1 has no style_cqt term",
    ),
    ("zero size", dict(stft_filters=0), "--stft_filters=0: must be an integer >= 1"),
    ("negative blocks", dict(mel_blocks=-1), "--mel_blocks=-1"),
    ("max_iter 0", dict(max_iter=0), "--max_iter=0: must be an integer >= 1"),
    ("zero learning rate", dict(learning_rate=0.0), "--learning_rate=0.0: must be a finite number > 0"),
    ("nan learning rate", dict(optimizer="adam", learning_rate=float("nan")), "--learning_rate=nan"),
    ("zero history", dict(history_size=0), "--history_size=0: must be an integer >= 1"),
    ("negative tol", dict(tol=-1.0), "--tol=-1.0: must be a finite number >= 0"),
    ("negative time limit", dict(time_limit=-1.0), "--time_limit=-1.0: must be a finite number of seconds >= 0"),
    ("nan time limit", dict(time_limit=float("nan")), "--time_limit=nan: must be a finite number of seconds"),
    ("infinite time limit", dict(time_limit=float("inf")), "--time_limit=inf: must be a finite number of seconds"),
    ("sr too low", dict(sr=100), "--sr=100: must be an integer in [1000, 384000]"),
    ("sr too high", dict(sr=10**6), "--sr=1000000"),
    (
        "hop longer than frame",
        dict(hop_length=4096),
        "--hop_length=4096: must not exceed --n_fft=2048",
    ),
    ("output in missing dir", dict(output="@no/such/dir/out.wav"), "does not exist"),
    ("output is a directory", dict(output="@a_directory.wav"), "a_directory.wav: is a directory"),
    ("output over the input", dict(output="CONTENT"), "would overwrite the input"),
    ("output named like its record", dict(output="@out.json"), "the run writes its run record to that path"),
    ("output named like its figure", dict(output="@out.png"), "the run writes its spectrogram figure to"),
    ("output named like its page", dict(output="@out.html"), "the run writes its listening page to"),
    ("content without style", dict(style=None), "--style is required"),
    ("resume without state", dict(resume=True), "no saved state"),
    ("content floor above 1", dict(content_floor=1.5), "--content_floor=1.5: must be in (0, 1]"),
    ("content floor from noise", dict(content_floor=0.5, init="noise"), "--content_floor=0.5: needs --init=content"),
    ("content floor on the baseline", dict(content_floor=0.5, preset="baseline"), "not with --preset=baseline"),
    ("style level nan", dict(style_level_db=float("nan")), "--style_level_db=nan: must be a finite number of dB from -40 to 40"),
    ("style level beyond 40 dB", dict(style_level_db=-41.0), "--style_level_db=-41.0: must be a finite number of dB"),
    (
        "negative content offset",
        dict(content_offset=-1.0),
        "--content_offset=-1.0: must be a finite number of seconds >= 0",
    ),
    ("nan style offset", dict(style_offset=float("nan")), "--style_offset=nan"),
    (
        "zero content duration",
        dict(content_duration=0.0),
        "--content_duration=0.0: must be a finite number of seconds > 0",
    ),
    ("inf style duration", dict(style_duration=float("inf")), "--style_duration=inf"),
    (
        "offset past the end",
        dict(content_offset=5.0),
        "content.wav: offset 5 s is beyond the end of the file (1 s)",
    ),
    ("excerpt under one frame", dict(content_duration=0.05), "content.wav: 0.05 s is too short"),
    (
        "excerpt of the demo",
        dict(content=None, style=None, style_duration=2.0),
        "--style_duration: the demo reads the shipped clips whole",
    ),
    (
        "every term removed",
        dict(preset="1", gamma_content_stft=0.0, gamma_style_stft=0.0),
        "nothing to optimise",
    ),
]


def _resolve(values, d, good, out):
    resolved = {}
    for k, v in values.items():
        if isinstance(v, str):
            v = ",".join(
                good["style"]
                if p == "STYLE"
                else good["content"]
                if p == "CONTENT"
                else str(d / p[1:])
                if p.startswith("@")
                else p
                for p in v.split(",")
            )
        resolved[k] = v
    return resolved


def _assert_one_error_line(stderr, expected):
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert expected in errors[0], errors[0]
    assert "Traceback" not in stderr
    return errors[0]


@pytest.mark.parametrize("case,values,expected", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_one_line_no_output(case, values, expected, good, tmp_path, capsys, monkeypatch):
    d = _bad_files(tmp_path)
    out = tmp_path / "out" / "result.wav"
    out.parent.mkdir()
    flags_ = dict(TINY, content=good["content"], style=good["style"], output=str(out), preset="2")
    flags_.update(_resolve(values, d, good, out))
    compiled = []
    monkeypatch.setattr(
        _runner, "make_objective", lambda *a, **k: compiled.append(1)
    )  # must not be reached (test_the_no_build_guard_is_live checks that good input reaches it)
    code, _, stderr = run_cli(transfer, capsys, **flags_)
    assert code == 2
    _assert_one_error_line(stderr, expected)
    assert not compiled
    assert os.listdir(out.parent) == []  # no WAV, JSON, PNG, state or checkpoint


def test_the_no_build_guard_is_live(good, tmp_path, capsys, monkeypatch):
    """The guard above patches the runner's one way to an objective: good input does reach it."""
    out = tmp_path / "result.wav"
    reached = []

    def stop(*a, **k):
        reached.append(1)
        raise RuntimeError("reached")

    monkeypatch.setattr(_runner, "make_objective", stop)
    with pytest.raises(RuntimeError, match="reached"):
        run_cli(transfer, capsys, **dict(TINY, content=good["content"], style=good["style"],
                                         output=str(out), preset="2"))
    assert reached == [1]


@pytest.mark.parametrize(
    "module,values,expected",
    [
        (texture, dict(duration=0.0), "--duration=0.0: must be a finite number of seconds > 0"),
        (texture, dict(duration=float("nan")), "--duration=nan"),
        (texture, dict(duration=0.05), "--duration=0.05: 0.05 s is too short"),
        (texture, dict(gamma_content_stft=1.0), "has no content_stft term"),
        (texture, dict(style_level_db=3.0), "--style_level_db=3.0: texture has no content to set the style's level against"),
        (reconstruct, dict(preset="3"), "--preset: not used by reconstruct"),
        (reconstruct, dict(style_offset=1.0), "--style_offset: not used by reconstruct"),
        (reconstruct, dict(style_level_db=3.0), "--style_level_db: not used by reconstruct"),
        (texture, dict(style_offset=9.0), "style.wav: offset 9 s is beyond the end of the file"),
        (reconstruct, dict(input="@missing.wav"), "missing.wav: file not found"),
        (texture, dict(style="@silent.wav"), "silent.wav: has no sound (every sample is 0)"),
        (reconstruct, dict(input="@dc.wav"), "dc.wav: has no sound (every sample has the same value"),
    ],
    ids=[
        "zero duration",
        "nan duration",
        "short duration",
        "texture content gamma",
        "texture style level",
        "reconstruct preset",
        "reconstruct style offset",
        "reconstruct style level",
        "texture style offset past the end",
        "reconstruct missing",
        "texture silent style",
        "reconstruct constant input",
    ],
)
def test_bad_input_other_scripts(module, values, expected, good, tmp_path, capsys):
    _bad_files(tmp_path)  # "@name" is a file in tmp_path
    out = tmp_path / "out" / "result.wav"
    out.parent.mkdir()
    flags_ = dict(TINY, output=str(out))
    if module is texture:
        flags_.update(style=good["style"], preset="2")
    else:
        flags_.update(input=good["content"])
        for k in (
            "stft_filters",
            "stft_kernel",
            "mel_filters",
            "mel_kernel",
            "mel_block_kernel",
            "n_mels_style",
            "cqt_filters",
            "cqt_kernel",
            "cqt_block_kernel",
        ):
            flags_.pop(k)
    flags_.update(
        {
            k: (str(tmp_path / v[1:]) if isinstance(v, str) and v.startswith("@") else v)
            for k, v in values.items()
        }
    )
    code, _, stderr = run_cli(module, capsys, **flags_)
    assert code == 2
    _assert_one_error_line(stderr, expected)
    assert os.listdir(out.parent) == []


def test_failed_run_does_not_clobber_existing_outputs(good, tmp_path, capsys, monkeypatch):
    out = tmp_path / "keep.wav"
    for name in ("keep.wav", "keep.json", "keep.png"):
        (tmp_path / name).write_bytes(b"precious " + name.encode())
    # bad input
    code, _, stderr = run_cli(
        transfer,
        capsys,
        **dict(
            TINY,
            content=str(tmp_path / "nope.wav"),
            style=good["style"],
            output=str(out),
            preset="2",
        ),
    )
    assert code == 2

    # a failure during the optimisation itself (out of memory)
    def oom(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(_runner.synthesis, "synthesize", oom)
    code, _, stderr = run_cli(
        transfer,
        capsys,
        **dict(TINY, content=good["content"], style=good["style"], output=str(out), preset="2"),
    )
    assert code == 1
    _assert_one_error_line(stderr, "out of memory")
    for name in ("keep.wav", "keep.json", "keep.png"):
        assert (tmp_path / name).read_bytes() == b"precious " + name.encode()
    assert sorted(os.listdir(tmp_path)) == ["keep.json", "keep.png", "keep.wav"]


def test_legal_oddities_give_notices_and_succeed(tmp_path, capsys):
    """Stereo 44.1 kHz 24-bit clipped content, a style 80 dB down: one notice line each for the
    first (a quiet style is peak-normalised without one), a result. (A silent style was a legal
    oddity here until 2026-12-01; it is now refused, in ``BAD_INPUTS``.)"""
    t = np.arange(int(0.8 * 44100)) / 44100
    left = np.clip(1.5 * np.sin(2 * np.pi * 220 * t), -1, 1)
    stereo = np.stack([left, 0.3 * np.sin(2 * np.pi * 330 * t)], axis=1)
    content = write(tmp_path / "stereo.wav", stereo, sr=44100, subtype="PCM_24")
    style = write(tmp_path / "quiet.wav", 1e-4 * np.sin(2 * np.pi * 440 * np.arange(int(0.6 * SR)) / SR),
                  subtype="FLOAT")
    out = str(tmp_path / "odd.wav")
    code, _, stderr = run_cli(
        transfer, capsys, **dict(TINY, content=content, style=style, output=out, preset="1")
    )
    assert code == 0, stderr
    notices = [line for line in stderr.splitlines() if line.startswith("notice:")]
    assert any("2 channels mixed down to mono" in n for n in notices)
    assert any("resampled 44100 Hz -> 22050 Hz" in n for n in notices)
    assert any("clipped" in n for n in notices)
    assert "Traceback" not in stderr and "error:" not in stderr
    wave, _, record = read_outputs(out)
    assert_valid_wave(wave, int(0.8 * SR))
    assert len(record["notices"]) >= 3


def _interrupt_at(monkeypatch, iteration, signum=signal.SIGINT):
    """Deliver ``signum`` to this process right after the progress line of ``iteration``."""
    original = console.report_progress

    def report(script, info, max_iter, first, *rest):
        original(script, info, max_iter, first, *rest)
        if info["iteration"] == iteration:
            signal.raise_signal(signum)

    monkeypatch.setattr(console, "report_progress", report)


def test_interrupt_resume_equals_uninterrupted_and_same_seed_same_bytes(
    good, tmp_path, capsys, monkeypatch
):
    base = dict(TINY, content=good["content"], style=good["style"], preset="2", max_iter=6, seed=3)
    # 1. SIGTERM after iteration 2 (chunks of 2): best so far written, state kept, exit 143
    out = str(tmp_path / "resumed.wav")
    _interrupt_at(monkeypatch, 2, signal.SIGTERM)
    code, _, stderr = run_cli(transfer, capsys, **dict(base, output=out))
    assert code == 143
    assert "best result so far written to" in stderr and out in stderr
    wave, _, record = read_outputs(out)
    assert_valid_wave(wave, SR)
    assert (
        record["interrupted"] is True
        and record["iterations"] == 2
        and len(record["loss_history"]) == 2
    )
    assert os.path.exists(tmp_path / "resumed.state.npz")
    monkeypatch.undo()
    # 2. resumed to 6 iterations in all
    code, stdout, stderr = run_cli(transfer, capsys, **dict(base, output=out, resume=True))
    assert code == 0, stderr
    assert "resuming from" in stdout
    _, _, resumed = read_outputs(out)
    assert resumed["iterations"] == 6 and resumed["resumed"] and not resumed["interrupted"]
    assert not os.path.exists(tmp_path / "resumed.state.npz")
    # 3. the same run uninterrupted, twice
    plain = [str(tmp_path / f"plain{i}.wav") for i in (1, 2)]
    for p in plain:
        code, _, stderr = run_cli(transfer, capsys, **dict(base, output=p))
        assert code == 0, stderr
    data = [Path(p).read_bytes() for p in (out, *plain)]
    assert data[1] == data[2], "two runs with the same seed differ"
    assert data[0] == data[1], "interrupt + resume differs from an uninterrupted run"
    _, _, uninterrupted = read_outputs(plain[0])
    assert resumed["loss_history"] == uninterrupted["loss_history"]
    assert resumed["terms"] == uninterrupted["terms"]
    # 4. a run killed hard after its checkpoint at iteration 2 resumes from that checkpoint
    crash = str(tmp_path / "crash.wav")
    original = console.report_progress

    def crash_at_4(script, info, max_iter, first, *rest):
        original(script, info, max_iter, first, *rest)
        if info["iteration"] == 4:
            raise RuntimeError("simulated crash")

    monkeypatch.setattr(console, "report_progress", crash_at_4)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_cli(transfer, capsys, **dict(base, output=crash, checkpoint_every=2))
    monkeypatch.undo()
    assert os.path.exists(tmp_path / "crash.checkpoint.wav") and not os.path.exists(crash)
    code, stdout, stderr = run_cli(transfer, capsys, **dict(base, output=crash, resume=True))
    assert code == 0, stderr
    assert "at iteration 2" in stdout
    assert Path(crash).read_bytes() == data[1]
    # and another seed gives another result
    code, _, _ = run_cli(transfer, capsys, **dict(base, output=str(tmp_path / "other.wav"), seed=4))
    assert Path(tmp_path / "other.wav").read_bytes() != data[1]


def test_out_of_time_against_hand_sums():
    # elapsed + iterations x seconds per iteration, against the limit; 0 is no limit
    assert not console.out_of_time(100.0, 1.0, 20, 120.0)  # ends at 120: within
    assert console.out_of_time(100.0, 1.0, 21, 120.0)  # ends at 121
    assert console.out_of_time(130.0, 0.0, 0, 120.0)  # already past it
    assert not console.out_of_time(1e9, 5.0, 25, 0.0)


def test_time_limit_stops_between_chunks_and_resume_finishes_the_same_run(
    good, tmp_path, capsys, monkeypatch
):
    """--time_limit on stand-in clocks: the run's reads 10 s per iteration done; the solver
    times its first chunk of 2 at 10 s (compiling) and each later one at 2.5 s. With 45 s the
    rule reads the last chunk: after iteration 4 (40 s) the next would end at 42.5 s, so it goes
    on; after 6 (60 s) it stops, at 6 of 8 (by the first chunk's 5 s an iteration it would have
    stopped at 4); with 41 s it stops at 4. The run writes that iterate, keeps its state and
    exits 0; --resume finishes it equal to the bit to a run never stopped."""
    base = dict(TINY, content=good["content"], style=good["style"], preset="2", max_iter=8, seed=3)
    done = {"it": 0}
    original = console.report_progress

    def report(script, info, max_iter, first, *rest):
        done["it"] = info["iteration"]
        original(script, info, max_iter, first, *rest)

    monkeypatch.setattr(console, "report_progress", report)
    monkeypatch.setattr(_runner, "time", types.SimpleNamespace(perf_counter=lambda: 10.0 * done["it"]))
    ticks = itertools.accumulate(itertools.chain([0.0, 10.0], itertools.repeat(2.5)))
    monkeypatch.setattr(synthesis, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    out = str(tmp_path / "limited.wav")
    code, stdout, stderr = run_cli(transfer, capsys, **dict(base, output=out, time_limit=45.0))
    assert code == 0, stderr
    assert "--time_limit=45: stopped at iteration 6/8" in stdout
    wave, _, record = read_outputs(out)
    assert_valid_wave(wave, SR)
    assert record["iterations"] == 6 and record["stop_reason"] == "time limit"
    assert not record["interrupted"] and record["state_file"].endswith("limited.state.npz")
    assert os.path.exists(tmp_path / "limited.state.npz")
    # with 41 s the chunk to iteration 6 (ending at 42.5 s) is already too long: a stop at 4
    done["it"] = 0
    code, stdout, stderr = run_cli(
        transfer, capsys, **dict(base, output=str(tmp_path / "sooner.wav"), time_limit=41.0)
    )
    assert code == 0 and "--time_limit=41: stopped at iteration 4/8" in stdout, stdout + stderr
    # resumed under a limit it does not reach: all 8, and the state file is gone
    done["it"] = 0
    code, _, stderr = run_cli(transfer, capsys, **dict(base, output=out, time_limit=1000.0, resume=True))
    assert code == 0, stderr
    assert read_outputs(out)[2]["iterations"] == 8
    assert not os.path.exists(tmp_path / "limited.state.npz")
    # 0 is no limit, whatever the clock says
    done["it"] = 0
    unlimited = str(tmp_path / "unlimited.wav")
    code, _, stderr = run_cli(transfer, capsys, **dict(base, output=unlimited, time_limit=0.0))
    assert code == 0, stderr
    assert read_outputs(unlimited)[2]["iterations"] == 8
    monkeypatch.undo()
    plain = str(tmp_path / "plain.wav")
    code, _, stderr = run_cli(transfer, capsys, **dict(base, output=plain))
    assert code == 0, stderr
    assert Path(out).read_bytes() == Path(plain).read_bytes() == Path(unlimited).read_bytes()


@pytest.mark.parametrize(
    "change",
    ["seed", "solver", "content samples", "style excerpt", "content levelled", "style level",
     "style level offset"],
)
def test_resume_refuses_a_state_from_other_flags(change, good, tmp_path, capsys, monkeypatch):
    """The saved state's fingerprint covers the seed, the solver's settings, the inputs'
    samples (a content of the same length but other samples; another excerpt of the style) and
    whether the objective saw the content levelled (--keep_dynamics), the style matched to
    its level (--match_level) and raised (--style_level_db)."""
    base = dict(
        TINY,
        content=good["content"],
        style=good["style"],
        preset="2",
        max_iter=4,
        output=str(tmp_path / "r.wav"),
    )
    _interrupt_at(monkeypatch, 2)
    code, _, _ = run_cli(transfer, capsys, **base)
    assert code == 130
    monkeypatch.undo()
    before = Path(tmp_path / "r.wav").read_bytes()
    other = {
        "seed": dict(seed=9),
        "solver": dict(linesearch_init="max"),
        "content samples": dict(content=write(tmp_path / "other.wav", 0.5 * np.sin(
            2 * np.pi * 440 * np.arange(SR) / SR))),
        "style excerpt": dict(style_offset=0.1),
        "content levelled": dict(keep_dynamics=False),
        "style level": dict(match_level=False),
        "style level offset": dict(style_level_db=3.0),
    }[change]
    code, _, stderr = run_cli(transfer, capsys, **dict(base, resume=True, **other))
    assert code == 2
    _assert_one_error_line(stderr, "was saved by a run with other flags or inputs")
    assert Path(tmp_path / "r.wav").read_bytes() == before


def test_resume_refuses_a_state_file_of_another_version_or_shape(
    good, tmp_path, capsys, monkeypatch
):
    """Same flags, but the state file was written by another format version, or holds solver
    arrays of other shapes (another version of the solver): one line each, nothing written."""
    import json

    base = dict(TINY, content=good["content"], style=good["style"], preset="2", max_iter=4,
                output=str(tmp_path / "r.wav"))
    _interrupt_at(monkeypatch, 2)
    assert run_cli(transfer, capsys, **base)[0] == 130
    monkeypatch.undo()
    state = tmp_path / "r.state.npz"
    with np.load(state) as z:
        saved = {k: z[k] for k in z.files}
    before = Path(tmp_path / "r.wav").read_bytes()
    meta = json.loads(str(saved["meta"]))
    for change, expected in (
        (
            "version",
            f"saved by another version of mst_jax (state version 0, this one reads {resume.STATE_VERSION})",
        ),
        ("shape", "the saved state does not fit this run"),
    ):
        arrays = dict(saved)
        if change == "version":
            arrays["meta"] = np.array(json.dumps(dict(meta, version=0)))
        else:
            big = max((k for k in arrays if k.startswith("leaf_")), key=lambda k: arrays[k].size)
            arrays[big] = np.concatenate([arrays[big].ravel(), arrays[big].ravel()[:1]])
        np.savez(state, **arrays)
        code, _, stderr = run_cli(transfer, capsys, **dict(base, resume=True))
        assert code == 2
        _assert_one_error_line(stderr, expected)
        assert Path(tmp_path / "r.wav").read_bytes() == before


# --------------------------------------------------------------------------- real processes


def _cli(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "experiments.transfer", *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def test_cli_bad_input_and_bad_flag_exit_2_one_line(good, tmp_path):
    (tmp_path / "random.wav").write_bytes(np.random.default_rng(1).bytes(2048))
    out = tmp_path / "out.wav"
    for args, expected in (
        (
            [f"--content={tmp_path / 'random.wav'}", f"--style={good['style']}"],
            "random.wav: not a readable audio file",
        ),
        (["--max_iter=abc"], "--max_iter"),
        (["--no_such_flag=1"], "no_such_flag"),
        (["--init=sideways"], "--init"),
        (["--optimizer=sgd"], "--optimizer"),
    ):
        proc = _cli(*args, f"--output={out}")
        assert proc.returncode == 2, proc.stderr
        _assert_one_error_line(proc.stderr, expected)
        assert not os.path.exists(out) and not os.path.exists(tmp_path / "out.json")
    # A notice before the error is printed once, as a notice: the mst_jax loggers do not also
    # pass it on to absl's handler on the root logger, which would print it a second time.
    stereo = write(tmp_path / "stereo_short.wav", np.full((1000, 2), 0.1))
    proc = _cli(f"--content={stereo}", f"--style={good['style']}", f"--output={out}")
    assert proc.returncode == 2, proc.stderr
    _assert_one_error_line(proc.stderr, "stereo_short.wav: 0.0454 s is too short")
    said = [line for line in proc.stderr.splitlines() if "mixed down" in line]
    assert said == [f"notice: {stereo}: 2 channels mixed down to mono"], proc.stderr


def test_cli_sigint_writes_best_result_and_resume_finishes(good, tmp_path, capsys):
    out = str(tmp_path / "sig.wav")
    args = [
        f"--content={good['content']}",
        f"--style={good['style']}",
        f"--output={out}",
        "--preset=2",
        "--max_iter=100000",
        "--chunk=2",
        "--checkpoint_every=0",
    ]
    args += [
        f"--{k}={v}" for k, v in TINY.items() if k not in ("chunk", "max_iter", "checkpoint_every")
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "experiments.transfer", *args],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        line = ""
        while "s/iteration" not in line:
            assert time.monotonic() < deadline, "no progress line"
            ready, _, _ = select.select([proc.stdout], [], [], 5)
            if ready:
                line = proc.stdout.readline()
                assert line or proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert f"best result so far written to {out}" in stderr and "Traceback" not in stderr
    wave, _, record = read_outputs(out)
    assert_valid_wave(wave, SR)
    assert record["interrupted"] is True and record["stop_reason"] == "interrupted"
    done = record["iterations"]
    assert done >= 2 and len(record["loss_history"]) == done
    # the saved state continues in-process up to two more iterations
    values = dict(
        TINY,
        content=good["content"],
        style=good["style"],
        output=out,
        preset="2",
        max_iter=done + 2,
        resume=True,
    )
    code, _, stderr = run_cli(transfer, capsys, **values)
    assert code == 0, stderr
    _, _, final = read_outputs(out)
    assert final["iterations"] == done + 2 and len(final["loss_history"]) == done + 2
