"""The transfer, texture and reconstruct command lines end to end, on tiny settings (issue 4).

Each test runs a script's ``main`` in-process under ``flagsaver`` (no JAX start-up per test):
synthesised clips of 0.5-1 s written to ``tmp_path``, networks of a few filters, 4-6 iterations.
"""

import dataclasses
import json
import logging
import math
import os
import re
import signal
import time

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import soundfile as sf
from absl import flags
from absl.testing import flagsaver
from conftest import RECORD_KEYS, SR, TINY_NET_FLAGS
from test_dynamics import numpy_sounding_power

from experiments import (
    _flags,
    _runner,
    compile_cache,
    console,
    preflight,
    reconstruct,
    settings,
    texture,
    transfer,
)
from mst_jax import cost, dynamics, metrics, notes, presets, signals, transpose
from mst_jax.config import SolverConfig

flags.FLAGS.mark_as_parsed()

TINY = dict(TINY_NET_FLAGS, chunk=2, max_iter=4, checkpoint_every=0)


def write(path, wave, sr=SR, subtype="PCM_16"):
    sf.write(str(path), np.asarray(wave), sr, subtype=subtype)
    return str(path)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """content 1 s (melody), style 0.7 s (drums) and a second style 0.9 s (chord), 22.05 kHz WAV."""
    d = tmp_path_factory.mktemp("clips")
    melody = np.concatenate(
        [signals.tone(notes.midi_to_hz(p), duration_s=0.25, sr=SR) for p in (60, 64, 67, 72)]
    )
    melody = np.pad(melody, (0, SR - melody.size))[:SR]  # exactly 1 s
    return {
        "content": write(d / "content.wav", 0.8 * melody / np.abs(melody).max()),
        "style": write(
            d / "style.wav", signals.drum_pattern(bpm=120.0, duration_s=0.7, sr=SR, seed=1)
        ),
        "style2": write(d / "style2.wav", 0.5 * signals.chord([57, 60, 64], duration_s=0.9, sr=SR)),
    }


def run_cli(module, capsys, **values):
    """Runs ``module.main`` with these flag values; returns (exit status, stdout, stderr)."""
    with flagsaver.flagsaver(**values):
        try:
            module.main([module.__name__])
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_outputs(output):
    stem = os.path.splitext(output)[0]
    wave, sr = sf.read(output, dtype="float32")
    with open(stem + ".json") as f:
        record = json.load(f)
    return wave, sr, record


def assert_valid_wave(wave, samples):
    assert wave.ndim == 1 and wave.size == samples
    assert np.all(np.isfinite(wave))
    assert np.max(np.abs(wave)) <= 1.0


def test_transfer_end_to_end_with_gammas_from_the_command_line(clips, tmp_path, capsys):
    out = str(tmp_path / "out.wav")
    gammas = dict(gamma_content_stft=2.0, gamma_style_stft=7.5, gamma_style_mel=0.3)
    code, stdout, stderr = run_cli(
        transfer,
        capsys,
        content=clips["content"],
        style=clips["style"],
        output=out,
        preset="2",
        **gammas,
        **TINY,
    )
    assert code == 0, stderr
    wave, sr, record = read_outputs(out)
    # output length = content length (1 s) although the style is 0.7 s
    assert sr == SR
    assert_valid_wave(wave, SR)
    assert RECORD_KEYS <= set(record)
    assert record["interrupted"] is False and record["stop_reason"] == "max_iter"
    assert len(record["loss_history"]) == 4 and len(record["seconds_per_iteration"]) == 4
    assert set(record["term_history"]) == {"content_stft", "style_stft", "style_mel"}
    assert all(len(v) == 4 for v in record["term_history"].values())
    assert record["flags"]["gamma_style_stft"] == 7.5
    # one progress line per chunk (4 iterations in chunks of 2)
    assert (
        sum(
            "iteration" in line and "s/iteration" in line and "ETA" in line
            for line in stdout.splitlines()
        )
        == 2
    )
    with open(str(tmp_path / "out.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # Eq. 7-8: beta * ||dL/dx|| at the initial noise equals the Gamma given on the command line
    for name, gamma in (("content_stft", 2.0), ("style_stft", 7.5), ("style_mel", 0.3)):
        term = record["terms"][name]
        assert term["gamma"] == gamma
        assert term["beta"] * term["grad_norm_at_init"] == pytest.approx(
            gamma, rel=1e-4
        )  # float32 beta

    # ... and independently: rebuild the objective from the same flags, weight it with the recorded
    # beta, and measure each weighted term's gradient norm at the initial noise.
    with flagsaver.flagsaver(
        content=clips["content"], style=clips["style"], output=out, preset="2", **gammas, **TINY
    ):
        cfg = transfer.build([])
    objective, x_cal, _ = _runner.make_objective(cfg, preflight.load_inputs(cfg))
    for name, gamma in (("content_stft", 2.0), ("style_stft", 7.5), ("style_mel", 0.3)):
        beta = record["terms"][name]["beta"]
        g = jax.grad(lambda x, b=beta, n=name: b * objective.terms(x, objective.params)[n])(x_cal)
        assert float(jnp.linalg.norm(g)) == pytest.approx(
            gamma, rel=1e-3
        )  # float32 gradient, same program


def test_multi_file_style_preset6_and_checkpoints(clips, tmp_path, capsys):
    """Two style clips of different lengths (grams averaged) on the full Table 1 row 6 structure."""
    out = str(tmp_path / "multi.wav")
    values = dict(TINY, max_iter=6, checkpoint_every=2)
    code, stdout, stderr = run_cli(
        transfer,
        capsys,
        content=clips["content"],
        style=f"{clips['style']},{clips['style2']}",
        output=out,
        preset="6",
        **values,
    )
    assert code == 0, stderr
    wave, _, record = read_outputs(out)
    assert_valid_wave(wave, SR)
    assert [s["path"] for s in record["inputs"]["styles"]] == [clips["style"], clips["style2"]]
    assert set(record["terms"]) == {
        "content_mel",
        "content_cqt",
        "l1",
        "style_stft",
        "style_mel",
        "style_cqt",
    }
    assert stdout.count("checkpoint at iteration") == 2  # at 2 and 4; 6 is the final result
    # checkpoints are removed once the run completes
    assert not os.path.exists(tmp_path / "multi.checkpoint.wav")
    assert not os.path.exists(tmp_path / "multi.state.npz")


def test_texture_honours_duration(clips, tmp_path, capsys):
    out = str(tmp_path / "tex.wav")
    code, _, stderr = run_cli(
        texture, capsys, style=clips["style"], duration=0.6, output=out, preset="2", **TINY
    )
    assert code == 0, stderr
    wave, _, record = read_outputs(out)
    assert_valid_wave(wave, round(0.6 * SR))
    assert set(record["terms"]) == {"style_stft", "style_mel"}  # style terms only
    assert record["inputs"]["content"] is None


def test_reconstruct_reports_spectral_convergence(clips, tmp_path, capsys):
    out = str(tmp_path / "rec.wav")
    code, stdout, stderr = run_cli(
        reconstruct,
        capsys,
        input=clips["content"],
        output=out,
        max_iter=6,
        chunk=2,  # three chunks: the median iteration is the middle chunk's, not the mean
        checkpoint_every=0,
        subtype="FLOAT",
    )
    assert code == 0, stderr
    wave, _, record = read_outputs(out)
    assert_valid_wave(wave, SR)
    sc = record["spectral_convergence"]
    assert set(sc) == {"ours", "griffinlim_same_iterations", "griffinlim_same_time"}
    assert all(math.isfinite(v) and v >= 0 for v in sc.values())
    assert sc["ours"] < 1.0  # 6 iterations already move well away from noise (which scores about 1)
    assert "spectral convergence: ours" in stdout
    assert set(record["terms"]) == {"spectrum"}
    # "ours" is the optimised waveform before peak normalisation: the file divided by its gain
    content, _ = sf.read(clips["content"], dtype="float32")
    content /= np.abs(content).max()  # inputs are peak-normalised (SPEC §1)
    raw = wave / record["output"]["gain"]
    assert sc["ours"] == pytest.approx(metrics.spectral_convergence(raw, content), rel=1e-4)
    # "same time": as many Griffin-Lim iterations as fit in our steady-state seconds (the
    # median iteration, the first chunk's compilation left out)
    detail = record["spectral_convergence_detail"]
    ours_s = float(np.median(record["seconds_per_iteration"][-6:])) * 6
    assert detail["ours_seconds_steady_state"] == pytest.approx(ours_s)
    per_gl = detail["griffinlim_same_iterations"]["seconds"] / 6
    assert detail["griffinlim_same_time"]["iterations"] == max(1, math.ceil(ours_s / per_gl))


def test_baseline_preset_optimises_the_spectrogram_then_griffin_lim(clips, tmp_path, capsys):
    out = str(tmp_path / "base.wav")
    code, _, stderr = run_cli(
        transfer,
        capsys,
        content=clips["content"],
        style=clips["style"],
        output=out,
        preset="baseline",
        griffinlim_iter=4,
        **TINY,
    )
    assert code == 0, stderr
    wave, _, record = read_outputs(out)
    assert_valid_wave(wave, SR)
    assert record["config"]["domain"] == "spectrogram"
    assert record["config"]["terms"][0]["net"]["activation"] == "relu"


def test_init_content_and_raw_weights(clips, tmp_path, capsys):
    out = str(tmp_path / "raw.wav")
    code, _, stderr = run_cli(
        transfer,
        capsys,
        content=clips["content"],
        style=clips["style"],
        output=out,
        preset="1",
        init="content",
        raw_weights=True,
        **TINY,
    )
    assert code == 0, stderr
    wave, _, record = read_outputs(out)
    assert_valid_wave(wave, SR)
    assert record["terms"]["style_stft"]["beta"] == 50.0  # raw: beta = Gamma
    assert record["config"]["init"] == "content"


@pytest.mark.parametrize("optimizer", ["optax_lbfgs", "adam"])
def test_optimizer_flag_runs_and_is_recorded(optimizer, clips, tmp_path, capsys):
    out = str(tmp_path / f"{optimizer}.wav")
    code, _, stderr = run_cli(
        transfer,
        capsys,
        content=clips["content"],
        style=clips["style"],
        output=out,
        preset="1",
        init="content",
        optimizer=optimizer,
        learning_rate=2e-3,
        history_size=4,
        linesearch_init="max",
        **TINY,
    )
    assert code == 0, stderr
    wave, _, record = read_outputs(out)
    assert_valid_wave(wave, SR)
    assert record["flags"]["optimizer"] == optimizer and record["flags"]["learning_rate"] == 2e-3
    assert record["config"]["solver"]["optimizer"] == optimizer
    assert record["config"]["solver"]["learning_rate"] == 2e-3
    assert record["config"]["solver"]["history_size"] == 4
    assert record["config"]["solver"]["linesearch_init"] == "max"
    assert record["flags"]["history_size"] == 4 and record["flags"]["linesearch_init"] == "max"
    assert ("--history_size=4 has no effect" in stderr) == (optimizer == "adam")
    assert "--linesearch_init=max has no effect: only --optimizer=lbfgsb" in stderr
    assert len(record["loss_history"]) == TINY["max_iter"]
    assert record["loss_history"][-1] < record["loss_history"][0]
    assert ("--learning_rate=0.002 has no effect" in stderr) == (optimizer != "adam")


def test_clip_shorter_than_the_receptive_field_runs_with_one_notice(tmp_path, capsys):
    """Any clip of at least one STFT frame is accepted: 0.2 s (9 frames) against a Mel kernel of
    20 frames runs (the nets pad), with one notice per short clip; under one frame is an error."""
    n = SR // 5  # 4410 samples: >= n_fft 2048, < (20 - 1) * 512 = 9728
    content = write(tmp_path / "c.wav", 0.5 * np.sin(2 * np.pi * 440 * np.arange(n) / SR))
    style = write(tmp_path / "s.wav", 0.3 * np.random.default_rng(0).standard_normal(n))
    out = str(tmp_path / "out.wav")
    values = dict(TINY, content=content, style=style, output=out, preset="2", mel_kernel=20)
    values["max_iter"] = 2
    code, _, stderr = run_cli(transfer, capsys, **values)
    assert code == 0, stderr
    wave, _, record = read_outputs(out)
    assert_valid_wave(wave, n)
    short = [x for x in stderr.splitlines() if "shorter than the longest receptive field" in x]
    assert len(short) == 2 and all("(20 STFT frames, 0.441 s)" in line for line in short), stderr
    assert sum("shorter than the longest receptive field" in x for x in record["notices"]) == 2
    # 2047 samples: less than one frame of n_fft 2048.
    tiny = write(tmp_path / "tiny.wav", 0.5 * np.sin(np.arange(2047) / 7.0))
    code, _, stderr = run_cli(transfer, capsys, **dict(values, content=tiny))
    assert code == 2, stderr
    assert "tiny.wav: 0.0928 s is too short (one STFT frame is 2048 samples)" in stderr, stderr


def test_no_flags_is_the_demo_on_the_shipped_clips():
    """The demo is the command's defaults on the shipped clips: the paper's widths (the reduced
    widths it once had took the style only halfway), from the content, the default count."""
    with flagsaver.flagsaver():
        notices = []
        cfg = transfer.build(notices)
    assert cfg.demo and cfg.output == "transfer.wav"
    assert (
        os.path.basename(cfg.content) == "content.flac"
        and os.path.basename(cfg.styles[0]) == "style.flac"
    )
    assert [n for n in notices if n.startswith("demo:")] == [
        "demo: no input given, running preset 5 on the shipped example clips, 160 iterations"
    ]
    assert cfg.solver.optimizer == "lbfgsb"  # SPEC §1
    with flagsaver.flagsaver(content="a.wav", style="b.wav"):
        given = transfer.build([])
    assert not given.demo and given.init == cfg.init == "content"
    assert given.loss == cfg.loss and given.loss.term("style_stft").net.filters == 4096
    assert given.max_iter == cfg.max_iter == _flags.DEFAULT_MAX_ITER_FROM_CONTENT == 160
    assert given.content_floor == cfg.content_floor == _flags.DEFAULT_CONTENT_FLOOR
    # From noise the paper's 500, in the demos too (150 once left the texture far from the style).
    with flagsaver.flagsaver(content="a.wav", style="b.wav", init="noise"):
        assert transfer.build([]).max_iter == _flags.DEFAULT_MAX_ITER == 500
    for script, noise_demo in ((transfer, {"init": "noise"}), (texture, {}), (reconstruct, {})):
        with flagsaver.flagsaver(**noise_demo):
            notices = []
            cfg = script.build(notices)
        assert cfg.demo and cfg.max_iter == 500, script
        assert [n for n in notices if n.startswith("demo:")][0].endswith(", 500 iterations"), notices
    with flagsaver.flagsaver():
        texture_demo = texture.build([])
    with flagsaver.flagsaver(style="b.wav"):
        given = texture.build([])
    assert not given.demo and given.loss == texture_demo.loss and given.max_iter == 500


def test_default_run_prints_no_empty_mel_filter_notice(capsys):
    """The demo's own 512 style bands leave 10 Mel filters empty at n_fft 2048: the user did
    nothing wrong, so execute() prints no notice about it. Cheap: the run builds the config and
    every front end's filterbank (as make_objective does), no transfer."""
    from mst_jax import features, filters

    def build_front_ends(build, recorded_flags, after, stopper):
        cfg = build([])
        for t in cfg.loss.terms:
            if t.net is not None:
                features.filterbank(t.net, sr=cfg.sr, n_fft=cfg.loss.stft.n_fft)
        return 0

    filters.mel_filterbank.cache_clear()  # the warning comes from a fresh build only
    with flagsaver.flagsaver():
        assert transfer.build([]).loss.term("style_mel").net.n_mels == 512
        _runner.execute(["transfer"], transfer.build, {}, run=build_front_ends)
    err = capsys.readouterr().err
    assert "cover no STFT bin" not in err, err
    # The library itself still warns (as librosa does), with the count.
    filters.mel_filterbank.cache_clear()
    with pytest.warns(filters.EmptyMelFilterWarning, match="10 of 512 Mel filters"):
        filters.mel_filterbank(sr=SR, n_fft=2048, n_mels=512)


def test_chosen_n_mels_with_empty_filters_is_one_notice():
    """When the user chooses the bands, empty filters are noted once, with librosa's count."""
    import librosa

    with flagsaver.flagsaver(content="a.wav", style="b.wav", preset="2", n_mels_style=700):
        notices = []
        transfer.build(notices)
    with pytest.warns(UserWarning, match="Empty filters"):  # librosa agrees that some are empty
        ref = librosa.filters.mel(sr=SR, n_fft=2048, n_mels=700, htk=True, norm=None)
    expected = int(np.sum(ref.max(axis=1) == 0))
    lines = [n for n in notices if "cover no STFT bin" in n]
    assert expected > 0 and len(lines) == 1, notices
    assert lines[0].startswith(f"--n_mels_style=700: {expected} of the 700 Mel filters"), lines
    with flagsaver.flagsaver(content="a.wav", style="b.wav", preset="2", n_mels_style=64):
        notices = []
        transfer.build(notices)
    assert not [n for n in notices if "cover no STFT bin" in n], notices


def test_sr_below_the_cqt_top_bin_is_a_flag_error_at_the_filterbank_edge():
    """--sr is refused, naming the term, exactly where the CQT filterbank itself would refuse
    it later (the paper's 86 bins from C1 reach 4434.9 Hz), so --sr=8000 stops before any file
    is read; presets without a CQT term are not refused at the same rate."""
    from mst_jax import filters

    for preset, term in (("5", "content_cqt"), ("3", "style_cqt")):
        with flagsaver.flagsaver(content="a.wav", style="b.wav", preset=preset, sr=8000):
            with pytest.raises(ValueError, match=f"^--sr=8000: too low for the {term} term: its top "
                               r"CQT bin is at 4435 Hz, not below Nyquist \(4000 Hz\); use --sr=8870"):
                transfer.build([])
    net = presets.table1(5).term("content_cqt").net
    for sr in (8869, 8870):
        try:
            filters.cqt_filterbank(sr=sr, n_fft=2048, n_bins=net.n_bins, fmin=net.fmin)
            library_refuses = False
        except ValueError:
            library_refuses = True
        with flagsaver.flagsaver(content="a.wav", style="b.wav", sr=sr):
            try:
                transfer.build([])
                refused = False
            except ValueError:
                refused = True
        assert refused == library_refuses == (sr == 8869)
    with flagsaver.flagsaver(content="a.wav", style="b.wav", preset="1", sr=8000):
        assert transfer.build([]).sr == 8000


def test_demo_iteration_counts_are_what_the_help_says():
    """The --max_iter help's counts are the ones the demos run (the help once said 100 while
    the demo ran 150): from the content the transfer demo's, from noise the texture demo's."""
    with flagsaver.flagsaver():
        from_content = transfer.build([]).max_iter
        from_noise = texture.build([]).max_iter
    with flagsaver.flagsaver(preset="baseline"):
        baseline_from_noise = texture.build([]).max_iter
    help_text = flags.FLAGS["max_iter"].help
    assert re.findall(r"default (\d+) from the content", help_text) == [str(from_content)], help_text
    assert re.findall(r"(\d+) from noise", help_text) == [str(from_noise)], help_text
    published = re.findall(r"baseline from noise: its published (\d+)", help_text)
    assert published == [str(baseline_from_noise)] != [str(from_noise)], help_text


def test_chunk_default_is_the_librarys():
    """--chunk unset gives SolverConfig's chunk (the command line once said 10, the library 25),
    or FLOOR_CHUNK with --content_floor (measured every chunk); a given --chunk always wins."""
    library = SolverConfig().chunk
    assert str(library) in flags.FLAGS["chunk"].help
    with flagsaver.flagsaver(content="a.wav", style="b.wav", content_floor=0.0):
        assert transfer.build([]).solver.chunk == library
    with flagsaver.flagsaver(content="a.wav", style="b.wav", init="noise"):
        assert transfer.build([]).solver.chunk == library
    with flagsaver.flagsaver(content="a.wav", style="b.wav"):  # the default floor
        assert transfer.build([]).solver.chunk == _flags.FLOOR_CHUNK != library
    with flagsaver.flagsaver(chunk=3, content_floor=0.7):
        assert transfer.build([]).solver.chunk == 3
    with flagsaver.flagsaver(chunk=3):
        assert transfer.build([]).solver.chunk == 3


def test_too_long_for_memory_stops_before_allocating(tmp_path, monkeypatch):
    """A content clip whose estimate exceeds the device memory stops with a message that says
    how much fits, before compiling anything, and writes nothing."""
    monkeypatch.setattr(preflight, "memory_limit_bytes", lambda: 4e9)
    cfg = settings.RunConfig(
        script="transfer", content="c.wav", styles=("s.wav",), output=str(tmp_path / "o.wav"),
        preset="6", loss=presets.table1(6), solver=SolverConfig(), seed=0, sr=22050,
    )
    line = preflight.check_memory(cfg, 22050 * 10)  # 10 s fits in 4 GB (row 6 at 10 s: 2.3 GB)
    assert re.search(r"\d+ GFLOP and about [\d.]+ GB .*; [\d.e+]+–[\d.e+]+ s per iteration", line), line
    with pytest.raises(console.RunError, match=r"needs about .* GB .* about \d+ s fits") as error:
        preflight.check_memory(cfg, 22050 * 600)
    assert not any(tmp_path.iterdir())
    # What the message says fits does fit, and a quarter more does not.
    fits = int(re.search(r"about (\d+) s fits", str(error.value)).group(1))
    assert 10 <= fits < 600
    assert f"(--content_duration={fits}, or use fewer filters)" in str(error.value)
    preflight.check_memory(cfg, 22050 * fits)
    with pytest.raises(console.RunError):
        preflight.check_memory(cfg, int(22050 * fits * 1.25))


def test_the_estimate_counts_the_state_of_the_optimiser_it_names(monkeypatch):
    """Each transfer's share of the estimate holds its optimiser's state: 2 x 10 L-BFGS pairs or
    Adam's 2 moments per sample, plus 8 values; the line names that state, and only jaxopt's
    bounded solver gets the per-sample overhead clause."""
    monkeypatch.setattr(preflight, "memory_limit_bytes", lambda: 1e12)
    n = 22050 * 600  # ten minutes: one value a sample is 0.053 GB, over the 0.01 GB rounding
    loss = presets.table1(6)
    c = cost.loss_grad_cost(loss, num_samples=n)

    def share(optimizer):
        cfg = settings.RunConfig(
            script="transfer", content="c.wav", styles=("s.wav",), output="o.wav", preset="6",
            loss=loss, solver=SolverConfig(optimizer=optimizer), seed=0, sr=22050,
        )
        one, two = (preflight.check_memory(cfg, n, rows=k) for k in (1, 2))
        gb = [float(re.search(r"about ([\d.]+) GB", line).group(1)) for line in (one, two)]
        return gb[1] - gb[0], one

    for optimizer, values, named in (
        ("lbfgsb", 28, "(L-BFGS-B history included)"),
        ("optax_lbfgs", 28, "(L-BFGS history included)"),
        ("adam", 10, "(Adam's moments included)"),
    ):
        extra, line = share(optimizer)
        assert extra == pytest.approx((c.target_bytes + c.activation_bytes + values * 4.0 * n) / 1e9, abs=0.01)
        assert named in line
        assert ("bounded solver adds" in line) == (optimizer == "lbfgsb"), line


def test_a_batch_too_large_for_memory_says_how_many_transfers_fit(monkeypatch):
    """A batch's rows share the networks' weights and each needs its own targets, activations
    and history: the estimate grows by one row's share per row, and a batch over the memory
    stops with the number of rows that fit (that many fit, one more does not)."""
    monkeypatch.setattr(preflight, "memory_limit_bytes", lambda: 8e9)
    cfg = settings.RunConfig(
        script="transfer", content="c.wav", styles=("s.wav",), output="o.wav",
        preset="6", loss=presets.table1(6), solver=SolverConfig(), seed=0, sr=22050,
    )
    n = 22050 * 10

    def gb(line):
        return float(re.search(r"about ([\d.]+) GB", line).group(1))

    one, two = gb(preflight.check_memory(cfg, n)), gb(preflight.check_memory(cfg, n, rows=2))
    gflop = [int(re.search(r"(\d+) GFLOP", preflight.check_memory(cfg, n, rows=k)).group(1)) for k in (1, 2)]
    assert gflop[1] == pytest.approx(2 * gflop[0], abs=1)
    assert "on each device (2 transfers each)" in preflight.check_memory(cfg, n, rows=2)
    c = cost.loss_grad_cost(cfg.loss, num_samples=n)
    assert two - one == pytest.approx((c.target_bytes + c.activation_bytes + 28 * 4.0 * n) / 1e9, abs=0.01)
    with pytest.raises(console.RunError, match=r"16 transfers of 10.0 s on one device need about") as error:
        preflight.check_memory(cfg, n, rows=16)
    fits = int(re.search(r"about (\d+) fit at once", str(error.value)).group(1))
    assert 1 <= fits < 16 and "split the --batch CSV" in str(error.value)
    preflight.check_memory(cfg, n, rows=fits)
    with pytest.raises(console.RunError):
        preflight.check_memory(cfg, n, rows=fits + 1)


def test_record_device_carries_the_accelerators_peak_memory(monkeypatch):
    """The record's ``device`` block gives the backend's peak allocation where it reports one
    (a GPU's ``memory_stats``) and None where it does not (the CPU)."""
    from experiments import outputs

    class Fake:
        platform, device_kind = "gpu", "NVIDIA H200"

        def __init__(self, stats):
            self.stats = stats

        def memory_stats(self):
            return self.stats

    monkeypatch.setattr(outputs.jax, "local_devices", lambda: [Fake({"peak_bytes_in_use": 3_500_000_000})])
    assert outputs.device()["peak_memory_bytes"] == 3_500_000_000
    assert outputs.device()["device_kind"] == "NVIDIA H200"
    monkeypatch.setattr(outputs.jax, "local_devices", lambda: [Fake(None)])
    assert outputs.device()["peak_memory_bytes"] is None


def test_host_memory_is_the_available_memory_not_the_free_pages(tmp_path, monkeypatch):
    """A machine whose RAM is mostly page cache has little free but much available memory:
    the memory check must count what the kernel would hand over (MemAvailable)."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:       24684092 kB\n"
        "MemFree:          300000 kB\n"  # 0.3 GB free ...
        "MemAvailable:   20000000 kB\n"  # ... 20 GB available (the rest is page cache)
        "Cached:         19000000 kB\n"
    )
    assert preflight.host_available_bytes(str(meminfo)) == 20000000 * 1024
    # No /proc/meminfo (not Linux): the free pages, as before.
    pages = {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}
    monkeypatch.setattr(preflight.os, "sysconf", lambda name: pages[name])
    assert preflight.host_available_bytes(str(tmp_path / "absent")) == 1000 * 4096


def test_compilation_cache_folder_from_flag_environment_or_xdg(tmp_path):
    home = os.path.expanduser("~")
    assert compile_cache.compilation_cache_dir("", {"JAX_COMPILATION_CACHE_DIR": "/e"}) is None
    assert compile_cache.compilation_cache_dir("/f", {"JAX_COMPILATION_CACHE_DIR": "/e"}) == "/f"
    assert compile_cache.compilation_cache_dir("~/c", {}) == os.path.join(home, "c")
    assert compile_cache.compilation_cache_dir(None, {"JAX_COMPILATION_CACHE_DIR": "/e"}) == "/e"
    assert compile_cache.compilation_cache_dir(None, {"XDG_CACHE_HOME": "/x"}) == "/x/mst_jax/jax"
    assert compile_cache.compilation_cache_dir(None, {}) == os.path.join(home, ".cache", "mst_jax", "jax")


def test_unwritable_compilation_cache_is_one_notice_and_the_cache_is_off(tmp_path, monkeypatch, capsys):
    updates = []
    monkeypatch.setattr(jax.config, "update", lambda name, value: updates.append((name, value)))
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    console.install_notice_handler()  # as execute() does: notices go to stderr
    compile_cache.use_compilation_cache(str(blocker / "cache"))
    assert updates == [("jax_enable_compilation_cache", False)]
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("notice: compilation cache")]
    assert len(lines) == 1 and str(blocker / "cache") in lines[0], lines
    # A folder that exists but cannot be written: what os.access says of a read-only folder to
    # a normal user (root may write anywhere, so the answer is faked here).
    updates.clear()
    access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: access(p, mode) and not mode & os.W_OK)
    compile_cache.use_compilation_cache(str(tmp_path))
    assert updates == [("jax_enable_compilation_cache", False)]
    assert f"cannot write {tmp_path}" in capsys.readouterr().err


def test_the_compilation_cache_keeps_every_program_unless_the_environment_says(
        tmp_path, monkeypatch):
    """JAX caches only programs compiled in over 1 s by default; the runs cache all of them
    (the small ones were compiled again by every run), unless the user's environment sets
    the minimum."""
    updates = []
    monkeypatch.setattr(jax.config, "update", lambda name, value: updates.append((name, value)))
    compile_cache.use_compilation_cache(str(tmp_path), environ={})
    assert updates == [("jax_compilation_cache_dir", str(tmp_path)),
                       ("jax_persistent_cache_min_compile_time_secs", 0.0)]
    updates.clear()
    compile_cache.use_compilation_cache(
        str(tmp_path), environ={"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "2"})
    assert updates == [("jax_compilation_cache_dir", str(tmp_path))]


def test_a_run_fills_the_compilation_cache_folder(clips, tmp_path):
    # A fresh process, as a user runs it: JAX reads the cache folder once, at its first compile.
    import subprocess
    import sys

    cache = tmp_path / "cache"
    env = dict(os.environ, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    tiny = [f"--{k}={v}" for k, v in TINY.items()]
    cmd = [sys.executable, "-m", "experiments.texture", f"--style={clips['style']}", "--duration=0.6",
           f"--output={tmp_path / 'tex.wav'}", "--preset=2", f"--compilation_cache_dir={cache}", *tiny]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert cache.is_dir() and any(cache.iterdir())


def test_a_term_eq7_cannot_weight_is_one_line_naming_its_flag():
    """``_runner.calibrated`` (Eq. 7-8 by ``weighting.beta_from_norms``): a zero norm is a RunError
    that names the term's own ``--gamma_<term>=0`` flag (the message once printed
    ``--gamma_{t.name}=0`` literally); raw weights need no norm at all."""
    from mst_jax import losses

    config = presets.table1(1)  # content_stft, style_stft
    obj = losses.Objective(None, None, None, {"beta": {}}, config, SR, (SR,))
    norms = {t.name: 2.0 for t in config.terms}
    norms["style_stft"] = 0.0
    with pytest.raises(console.RunError) as err:
        _runner.calibrated(obj, norms)
    message = str(err.value)
    assert "--gamma_style_stft=0" in message and "{" not in message and "\n" not in message
    assert err.value.status == console.EXIT_BAD_INPUT
    ok = _runner.calibrated(obj, dict(norms, style_stft=4.0)).params["beta"]
    gamma = {t.name: t.gamma for t in config.terms}
    assert float(ok["style_stft"]) == pytest.approx(gamma["style_stft"] / 4.0)  # Eq. 8: Γ / norm
    assert float(ok["content_stft"]) == pytest.approx(gamma["content_stft"] / 2.0)
    raw = dataclasses.replace(config, normalize_gradients=False)
    beta = _runner.calibrated(obj._replace(config=raw), norms).params["beta"]
    assert {k: float(v) for k, v in beta.items()} == gamma  # --raw_weights: β = Γ


def test_progress_estimate_skips_the_compiling_first_chunk(capsys):
    """ETA: none from the first chunk (mostly compilation) unless it ended the run; later, the
    iterations to go at the last chunk's rate. One rule for the single and the batch line."""
    info = {"iteration": 25, "seconds_per_iteration": 0.5, "loss": 1.0, "losses": [1.0, 2.0]}
    assert math.isnan(console.seconds_left(info, 100, first=True))
    assert console.seconds_left(info, 100, first=False) == 37.5
    assert console.seconds_left({**info, "iteration": 100}, 100, first=True) == 0.0
    console.report_progress("transfer", info, 100, first=False)
    from experiments import _batch

    _batch._progress(info, 100, 2, first=True)
    single, batch = capsys.readouterr().out.splitlines()
    assert single.endswith("ETA 0:00:38") and "(first chunk" not in single
    assert "ETA ?" in batch and batch.endswith(console.FIRST_CHUNK_NOTE)


def test_console_lines_hms_one_line_and_multiline_notices(capsys):
    """The ETA's h:mm:ss, an error's one line (never empty), and a notice with a line break
    printed as one ``notice:`` line."""
    assert console.hms(3725) == "1:02:05" and console.hms(59.6) == "0:01:00"
    assert console.hms(float("inf")) == "?"
    assert console.one_line(ValueError("bad\n   file")) == "bad file"
    assert console.one_line(ValueError()) == "unknown error"
    console.install_notice_handler()
    logging.getLogger("mst_jax.audio").warning("first line\nsecond line")
    assert capsys.readouterr().err == "notice: first line second line\n"


def test_stopper_takes_the_first_signal_and_leaves_the_second_to_kill(capsys):
    """The first SIGTERM sets the flag polled between chunks (with a notice); the handler is
    then the default one, so a second signal kills; uninstall restores what was there."""
    before = signal.getsignal(signal.SIGTERM)
    stop = console.Stopper()
    stop.install()
    try:
        assert not stop()
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100):  # Python runs the handler between bytecodes, soon after
            if stop():
                break
            time.sleep(0.01)
        assert stop() and stop.signum == signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        stop.uninstall()
    assert signal.getsignal(signal.SIGTERM) == before
    assert "notice: SIGTERM received: stopping after the current chunk" in capsys.readouterr().err


def test_for_file_peak_normalises_and_records_the_gain_or_clips():
    """The written samples and ``output.gain``: the optimiser's wave times the gain is the file."""
    import types

    from experiments import outputs

    wave = np.array([0.1, -0.25, 0.2], np.float64)
    out, gain = outputs.for_file(types.SimpleNamespace(normalize=True), wave)
    assert gain == 4.0 and out.dtype == np.float32
    np.testing.assert_array_equal(out, np.float32([0.4, -1.0, 0.8]))
    loud = np.array([1.5, -0.5, -2.0])
    out, gain = outputs.for_file(types.SimpleNamespace(normalize=False), loud)
    assert gain == 1.0
    np.testing.assert_array_equal(out, np.float32([1.0, -0.5, -1.0]))  # clipped, not rescaled
    out, gain = outputs.for_file(types.SimpleNamespace(normalize=True), np.zeros(3))
    assert gain == 1.0 and not out.any()  # silence: nothing to normalise


def test_one_stft_frame_is_the_shortest_clip_and_min_samples_never_asks_for_less(tmp_path):
    """Exactly n_fft samples are accepted without a notice when the receptive field is one frame
    (``(1 - 1) * hop`` would ask for none; one STFT frame still needs n_fft)."""
    from experiments import resolve

    path = write(tmp_path / "c.wav", 0.5 * np.sin(np.arange(4096) / 7.0))
    with flagsaver.flagsaver(style=path, preset="1", stft_filters=8, stft_kernel=1):
        cfg = resolve.run_config("transfer", content=path, init="content")
    rf, need = preflight.min_samples(cfg)
    assert (rf, need) == (1, cfg.loss.stft.n_fft) == (1, 2048)

    def load(p, *, sr, notices, **excerpt):  # the length under test, whatever the file holds
        return (0.1 * np.sin(np.arange(2048) / 7.0)).astype(np.float32)  # sounds: a constant is refused

    inputs = preflight.load_inputs(cfg, load=load)
    assert inputs.num_samples == 2048 and inputs.notices == []


def _three_part_file(path):
    """2 s at 22.05 kHz: 0.5 s of A3, 1 s of an arpeggio C5-E5-G5-C6, 0.5 s of A3 again."""
    a3 = 0.3 * signals.tone(notes.midi_to_hz(57), duration_s=0.5, sr=SR)
    arpeggio = np.concatenate(
        [signals.tone(notes.midi_to_hz(p), duration_s=0.25, sr=SR) for p in (72, 76, 79, 84)]
    )
    return write(path, np.concatenate([a3, 0.8 * arpeggio / np.abs(arpeggio).max(), a3]))


def test_excerpt_flags_read_that_part_of_each_file(tmp_path):
    """--content_offset/--content_duration and --style_offset/--style_duration: each input is
    the slice soundfile reads at those seconds (peak-normalised), a file that ends early is one
    notice, and a batch's reader keeps two excerpts of one file apart."""
    from experiments import resolve

    path = _three_part_file(tmp_path / "long.wav")
    data, _ = sf.read(path, dtype="float32")
    excerpts = dict(style_offset=1.5, content_offset=0.5, content_duration=1.0)
    with flagsaver.flagsaver(style=path, preset="1", stft_kernel=3, **excerpts):
        cfg = resolve.run_config(
            "transfer", content=path, content_excerpt_flags=transfer.EXCERPT_FLAGS, init="content"
        )
    assert cfg.content_excerpt == settings.Excerpt(0.5, 1.0) and cfg.style_excerpt.offset_s == 1.5
    inputs = preflight.load_inputs(cfg)
    want = data[SR // 2 : SR // 2 + SR]
    np.testing.assert_allclose(inputs.content, want / np.abs(want).max(), atol=1e-6)
    want = data[3 * SR // 2 :]  # no duration: to the end of the file
    np.testing.assert_allclose(inputs.styles[0], want / np.abs(want).max(), atol=1e-6)
    assert inputs.num_samples == SR and inputs.notices == []

    late = dataclasses.replace(cfg, content_excerpt=settings.Excerpt(1.75, 1.0))
    inputs = preflight.load_inputs(late)
    assert inputs.content.size == data.size - round(1.75 * SR)  # what is there: about 0.25 s
    assert any("ends 0.25 s after the offset 1.75 s, before the 1 s asked for" in n
               for n in inputs.notices), inputs.notices

    load = preflight.reading_once()
    first = preflight.load_inputs(cfg, load=load).content
    second = preflight.load_inputs(late, load=load).content
    assert first.size == SR and second.size == data.size - round(1.75 * SR)


def test_transfer_of_excerpts_end_to_end(tmp_path, capsys, monkeypatch):
    """A run on excerpts: the result is as long as the content's excerpt and, from the content
    after a few iterations, is that excerpt (not the file's start); the record and the page say
    which seconds of each file were read, and the page's players play only those."""
    import pagecheck

    from experiments import outputs

    path = _three_part_file(tmp_path / "long.wav")
    out = str(tmp_path / "out.wav")
    titles, write_figure = [], outputs.write_figure
    monkeypatch.setattr(
        outputs, "write_figure", lambda p, panels, cfg: titles.extend(t for t, _ in panels)
        or write_figure(p, panels, cfg)
    )
    code, stdout, stderr = run_cli(
        transfer, capsys, content=path, content_offset=0.5, content_duration=1.0, style=path,
        style_offset=1.5, output=out, preset="2", **TINY,
    )
    assert code == 0, stderr
    assert "; content 0.50–1.50 s of its file; style from 1.5 s to its end;" in stdout
    end = sf.info(path).frames / SR
    assert titles == [
        "content, 0.50–1.50 s of its file", f"style, 1.50–{end:.2f} s of its file", "result"
    ]
    wave, _, record = read_outputs(out)
    data, _ = sf.read(path, dtype="float32")
    assert wave.size == SR
    assert np.corrcoef(wave, data[SR // 2 : 3 * SR // 2])[0, 1] > 0.9
    assert abs(np.corrcoef(wave, data[:SR])[0, 1]) < 0.3  # the file's first second is another note
    content, (style,) = record["inputs"]["content"], record["inputs"]["styles"]
    assert (content["offset_s"], content["duration_s"], content["seconds"]) == (0.5, 1.0, 1.0)
    assert (style["offset_s"], style["duration_s"]) == (1.5, None)
    assert style["seconds"] == (data.size - round(1.5 * SR)) / SR
    parsed = pagecheck.check_page(str(tmp_path / "out.html"))
    srcs = [s["src"] for a in parsed.audios for s in a["sources"]]
    assert srcs == ["long.wav#t=0.5,1.5", f"long.wav#t=1.5,{data.size / SR:g}", "out.wav"]
    with open(tmp_path / "out.html", encoding="utf-8") as f:
        assert "1.00 s: 0.50–1.50 s of the file" in f.read()


def test_size_flags_reach_the_nets_they_name():
    """Each size flag changes the nets it names and no other: ``--n_mels_content`` the content
    Mel net, ``--n_mels_style``, ``--mel_blocks`` and the block kernels the style nets, and
    ``--cqt_pool`` the content CQT net only (the style's CQT net is not pooled, SPEC §1); a set
    flag that no net of the preset uses is a notice naming it."""
    from experiments import sizes

    flags_ = dict(stft_filters=32, stft_kernel=5, mel_filters=12, mel_kernel=7, n_mels_content=8,
                  n_mels_style=64, mel_blocks=1, mel_block_kernel=3, cqt_filters=6, cqt_kernel=5,
                  cqt_pool=4, cqt_blocks=1, cqt_block_kernel=3)
    notices = []
    nets = {t.name: t.net for t in sizes.apply(presets.table1(6), flags_, notices).terms}
    assert notices == []
    assert (nets["style_stft"].filters, nets["style_stft"].kernel) == (32, 5)
    assert (nets["content_mel"].n_mels, nets["content_mel"].blocks) == (8, 0)
    style_mel, style_cqt = nets["style_mel"], nets["style_cqt"]
    assert (style_mel.n_mels, style_mel.blocks, style_mel.block_kernel) == (64, 1, 3)
    assert {nets[n].filters for n in ("content_mel", "style_mel")} == {12}
    assert {nets[n].kernel for n in ("content_mel", "style_mel")} == {7}
    assert (nets["content_cqt"].pool, nets["content_cqt"].blocks) == (4, 0)
    assert (style_cqt.pool, style_cqt.blocks, style_cqt.block_kernel) == (1, 1, (3, 3))
    assert {nets[n].kernel for n in ("content_cqt", "style_cqt")} == {(5, 5)}
    notices = []
    only_stft = sizes.apply(presets.table1(1), dict(stft_filters=32, mel_filters=12, cqt_pool=None),
                            notices)
    assert {t.net.filters for t in only_stft.terms} == {32}
    assert notices == ["--mel_filters=12 has no effect: no term of this configuration uses it"]


def test_split_paths_keeps_a_comma_inside_an_existing_file_name(tmp_path, monkeypatch):
    """--style lists files separated by commas; music libraries name files "Symphony No. 5, I.
    Allegro.flac". An existing file's name is kept whole (the longest run of pieces that
    exists); a piece that names nothing stays a piece, for its reader to report."""
    from experiments import resolve

    (tmp_path / "Symphony No. 5, I. Allegro.flac").write_bytes(b"")
    (tmp_path / "b.wav").write_bytes(b"")
    (tmp_path / "b.wav, live.wav").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    split = resolve.split_paths
    assert split("Symphony No. 5, I. Allegro.flac") == ("Symphony No. 5, I. Allegro.flac",)
    assert split("b.wav,Symphony No. 5, I. Allegro.flac") == ("b.wav", "Symphony No. 5, I. Allegro.flac")
    assert split("b.wav, live.wav,b.wav") == ("b.wav, live.wav", "b.wav")
    (tmp_path / "k, 1").write_bytes(b"")
    (tmp_path / "k, 1, 2.wav").write_bytes(b"")
    assert split("k, 1, 2.wav") == ("k, 1, 2.wav",)  # the longest run that exists, not "k, 1"
    assert split("missing.wav, Symphony No. 5") == ("missing.wav", "Symphony No. 5")
    monkeypatch.chdir(tmp_path.parent)
    assert split("b.wav, live.wav") == ("b.wav", "live.wav")  # nothing exists from here
    assert split("b.wav, live.wav", root=str(tmp_path)) == ("b.wav, live.wav",)
    with flagsaver.flagsaver(content="a.wav", style=str(tmp_path / "Symphony No. 5, I. Allegro.flac")):
        assert transfer.build([]).styles == (str(tmp_path / "Symphony No. 5, I. Allegro.flac"),)


def test_a_tilde_after_the_equals_sign_is_the_home_folder(tmp_path, monkeypatch):
    """Bash leaves "--content=~/a.wav" as typed; the flags parser expands it (and each file of
    --style's list, a space after the comma kept), as the shell would have without "=".
    A tilde inside a name is left alone."""
    monkeypatch.setenv("HOME", str(tmp_path))
    with flagsaver.flagsaver():
        rest = _flags.parse(["transfer", "--content=~/a.wav", "--style=~/s1.wav, ~/s2.wav",
                             "--output=out~1.wav", "extra"])
        assert rest == ["transfer", "extra"]
        assert transfer.CONTENT.value == str(tmp_path / "a.wav")
        assert _flags.STYLE.value == f"{tmp_path / 's1.wav'}, {tmp_path / 's2.wav'}"
        assert _flags.OUTPUT.value == "out~1.wav"
    # A list flag (texture_study's --source is one; not defined in this process): any list.
    with flagsaver.flagsaver(style_shifts=["~/a.wav", "b~.wav"]):
        _flags.expand_home(names=("style_shifts",))
        assert _flags.STYLE_SHIFTS.value == [str(tmp_path / "a.wav"), "b~.wav"]


def _six_iterations(capsys, output, content, style, **extra):
    """A tiny transfer of 6 iterations without page, quality or floor: (wave, record, stderr)."""
    code, _, stderr = run_cli(transfer, capsys, **dict(
        TINY, content=content, style=style, output=str(output), page=False, quality=False,
        content_floor=0.0, max_iter=6, **extra))
    assert code == 0, stderr
    wave, _, record = read_outputs(str(output))
    return wave, record, stderr


def test_transfer_keeps_the_content_silences_by_default_and_not_from_noise(clips, tmp_path, capsys):
    """A content with 0.5 s of digital silence before its melody: from the content (default)
    the written result is silent there, the notice says how much, the record says so; with
    --nokeep_silence, or from noise (the paper's protocol), the style fills it; --keep_silence
    from noise silences it too. A batch row keeps it as a single run does."""
    melody, _ = sf.read(clips["content"], dtype="float32")
    content = write(tmp_path / "late.wav", np.concatenate([np.zeros(SR // 2, np.float32), melody]))
    lead = slice(0, SR // 2 - 2048)  # whole frame windows of silence

    def run(name, **extra):
        return _six_iterations(capsys, tmp_path / f"{name}.wav", content, clips["style"], **extra)

    kept, record, stderr = run("kept")
    assert np.all(kept[lead] == 0.0) and np.max(np.abs(kept[SR // 2 :])) > 0.5
    assert record["config"]["keep_silence"] is True
    assert f"{content}: 0.4" in stderr and "s of it is silent" in stderr  # 0.5 s less the ramp
    filled, record, stderr = run("filled", keep_silence=False)
    filled_in = lambda w: np.count_nonzero(w[lead]) > 100  # noqa: E731  (16-bit: tiny values are 0)
    assert filled_in(filled) and record["config"]["keep_silence"] is False
    assert "s of it is silent" not in stderr
    np.testing.assert_array_equal(kept[SR // 2 :], filled[SR // 2 :])  # the rest is the same run
    noise, record, _ = run("noise", init="noise")
    assert filled_in(noise) and record["config"]["keep_silence"] is False
    noise_kept, record, _ = run("noise_kept", init="noise", keep_silence=True)
    assert np.all(noise_kept[lead] == 0.0) and record["config"]["keep_silence"] is True


def test_match_level_scales_each_style_file_by_its_own_gain(clips):
    """Two style files of different loudness, each also transposed by a semitone (four clips):
    the objective's style targets are those of each file scaled by its own matching gain to the
    levelled content (numpy frame power, not the code's), then transposed."""
    styles = f"{clips['style']},{clips['style2']}"
    with flagsaver.flagsaver(content=clips["content"], style=styles, style_shifts=["0", "1"], **TINY):
        cfg = transfer.build([])
    inputs = preflight.load_inputs(cfg)
    assert cfg.match_level
    power = numpy_sounding_power(inputs.levelled_content)
    gains = [np.sqrt(power / numpy_sounding_power(s)) for s in inputs.styles]
    np.testing.assert_allclose(inputs.style_gains, gains, rtol=1e-4)
    assert abs(20 * np.log10(gains[0] / gains[1])) > 1.0  # a shared gain would differ
    expected = [w for s, g in zip(inputs.styles, gains)
                for w in transpose.transposed(s * np.float32(g), sr=SR, semitones=(0, 1))]
    matched, _, _ = _runner.make_objective(cfg, inputs)
    scaled, _, _ = _runner.make_objective(
        cfg, dataclasses.replace(inputs, style_gains=None), styles=expected
    )
    chex.assert_trees_all_close(
        matched.params["targets"], scaled.params["targets"], rtol=1e-4, atol=1e-4
    )  # transposing before or after scaling: float rounding


@pytest.mark.parametrize("match, offset_db", [(True, 6.0), (False, -6.0), (False, 0.0)])
def test_style_level_db_scales_every_style_file_by_the_same_factor(clips, match, offset_db):
    """--style_level_db multiplies each style file's gain (the match to the content's level
    with --match_level, 1 without: numpy frame power, not the code's) by 10^(dB/20); with
    neither the styles are as given (no gains)."""
    styles = f"{clips['style']},{clips['style2']}"
    with flagsaver.flagsaver(content=clips["content"], style=styles, match_level=match,
                             style_level_db=offset_db, **TINY):
        cfg = transfer.build([])
    inputs = preflight.load_inputs(cfg)
    assert cfg.style_level_db == offset_db
    if not match and offset_db == 0.0:
        assert inputs.style_gains is None
        return
    power = numpy_sounding_power(inputs.levelled_content)
    matched = [np.sqrt(power / numpy_sounding_power(s)) if match else 1.0 for s in inputs.styles]
    np.testing.assert_allclose(
        inputs.style_gains, [g * 10 ** (offset_db / 20) for g in matched], rtol=1e-4
    )


def test_transfer_keeps_the_content_dynamics_by_default(clips, tmp_path, capsys):
    """A content whose second second is 24 dB quieter than its first: from the content
    (default) the objective sees it evened and the written result has the step back (within
    3 dB: a result left evened would have none, the step applied twice would have 48 dB), the
    notice names its range, the record says so; --nokeep_dynamics optimises the content as it
    is (another result), from noise it is off, and a texture has no content to keep."""
    melody, _ = sf.read(clips["content"], dtype="float32")
    content = write(tmp_path / "subito.wav", np.concatenate([melody, melody * 10 ** (-24 / 20)]))

    def run(name, **extra):
        return _six_iterations(capsys, tmp_path / f"{name}.wav", content, clips["style"], **extra)

    def step_db(wave):  # the first second's level over the second's, 0.3 s from the step
        loud, quiet = wave[: SR - SR * 3 // 10], wave[SR + SR * 3 // 10 :]
        return 10 * np.log10(np.mean(loud**2) / np.mean(quiet**2))

    kept, record, stderr = run("kept")
    assert step_db(kept) == pytest.approx(24.0, abs=3.0)
    # What the optimiser starts from: the content levelled, peaking at 1 as a content does
    # (inside the bounds), the content again once divided by the same gain.
    with flagsaver.flagsaver(content=content, style=clips["style"], **TINY):
        cfg = transfer.build([])
    inputs = preflight.load_inputs(cfg)
    _, _, x0 = _runner.make_objective(cfg, inputs)
    np.testing.assert_array_equal(np.asarray(x0), inputs.levelled_content)
    assert np.max(np.abs(inputs.levelled_content)) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(inputs.levelled_content / inputs.level, inputs.content, atol=1e-6)
    # --match_level (on by default here too): the style's grams are taken of the style scaled
    # to the levelled content's loudness, once; the record has the gain in dB.
    (gain,) = inputs.style_gains
    assert gain == pytest.approx(dynamics.matching_gain(inputs.styles[0], inputs.levelled_content))
    assert abs(20 * np.log10(gain)) > 1.0  # a gain that matters, so the comparison below can fail
    scaled, _, _ = _runner.make_objective(
        cfg, dataclasses.replace(inputs, style_gains=None), styles=[inputs.styles[0] * gain]
    )
    matched, _, _ = _runner.make_objective(cfg, inputs)
    chex.assert_trees_all_close(matched.params["targets"], scaled.params["targets"], rtol=1e-5)
    assert record["config"]["match_level"] is True
    assert record["inputs"]["styles"][0]["level_gain_db"] == pytest.approx(20 * np.log10(gain))
    capsys.readouterr()  # the notice load_inputs printed again
    assert record["config"]["keep_dynamics"] is True
    assert f"{content}: its level varies by 2" in stderr and "--nokeep_dynamics" in stderr
    raw, record, stderr = run("raw", keep_dynamics=False)
    assert record["config"]["keep_dynamics"] is False and "level varies" not in stderr
    assert np.max(np.abs(raw - kept)) > 0.01  # another objective, another result
    _, record, _ = run("noise", init="noise")
    assert record["config"]["keep_dynamics"] is False and record["config"]["match_level"] is False
    assert "level_gain_db" not in record["inputs"]["styles"][0]
    assert record["config"]["style_level_db"] == 0.0
    _, record, _ = run("louder", style_level_db=4.5)  # the record's gain: the match plus 4.5 dB
    assert record["config"]["style_level_db"] == 4.5
    assert record["inputs"]["styles"][0]["level_gain_db"] == pytest.approx(20 * np.log10(gain) + 4.5)
    code, _, stderr = run_cli(texture, capsys, **dict(
        TINY, style=clips["style"], output=str(tmp_path / "t.wav"), keep_dynamics=True))
    assert code == 2 and "has no content whose dynamics to keep" in stderr
    code, _, stderr = run_cli(texture, capsys, **dict(
        TINY, style=clips["style"], output=str(tmp_path / "t.wav"), match_level=True))
    assert code == 2 and "has no content to match the style's level to" in stderr
