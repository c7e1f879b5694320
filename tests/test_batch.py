"""Many transfers at once (issue 6): :mod:`mst_jax.batch` and ``experiments.transfer --batch``.

Tiny networks (``tiny_net``) on Table 1 row 2 (STFT content; STFT and Mel style, so per-example
content features and multi-net style grams), 0.5 s synthesised clips, 3 iterations. Row 2 rather
than row 6: the CQT nets triple the compile time, and batching treats every term alike.

Tolerance of "batch = single runs": the vmapped loss and gradient equal the single ones (bit
for bit on the CPU today; checked to 1e-6 below), and so does the first L-BFGS-B iteration. From
the second on, jaxopt's own vector algebra (the dot products of the two-loop recursion, the line
search's interpolations) runs as batched kernels that sum in another order, so the iterates differ
by float32 roundings, which L-BFGS-B amplifies. The yardstick is a single run's own sensitivity:
changing one sample of its initial noise by one ulp moves these runs by up to 4e-6 (waveform) and
5.6e-5 (relative loss) after 3 iterations, and by 2e-3 in loss after 6 (measured, zoom line
search). The batch must agree with the single run at least that well: 1e-5 and 1e-4 over 3
iterations (measured: 4e-8 and 2.3e-6). Both are over a thousand times smaller than what the 3
iterations change (checked), so a wrong target, β or example order cannot pass.
"""

import csv
import dataclasses
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import soundfile as sf
from absl import flags
from absl.testing import flagsaver
from conftest import RECORD_KEYS, SR, tiny_net

from mst_jax import batch, batch_synthesis, losses, notes, presets, signals, synthesis, weighting
from mst_jax.config import SolverConfig

flags.FLAGS.mark_as_parsed()

ITERS = 3
SOLVER = SolverConfig(chunk=2)  # 3 iterations = chunks of 2 and 1 (the shorter last chunk too)
WAVE_ATOL = 1e-5  # a single run's own one-ulp sensitivity: 4e-6 (module docstring)
LOSS_RTOL = 1e-4  # ... and 5.6e-5 in loss


def config():
    return presets.map_nets(presets.table1(2), tiny_net)


def examples():
    """Three same-length contents (0.5 s), styles of other lengths (one a list of two clips),
    and three different initial noises."""
    n = SR // 2
    contents = [
        signals.chord([60, 64, 67], duration_s=0.5, sr=SR)[:n],
        signals.chord([57, 60, 64], duration_s=0.5, sr=SR)[:n],
        np.concatenate(
            [signals.tone(notes.midi_to_hz(p), duration_s=0.125, sr=SR) for p in (60, 62, 64, 65)]
        ),
    ]
    contents = [np.pad(c, (0, max(0, n - c.size)))[:n] for c in contents]
    drums = signals.drum_pattern(bpm=120.0, duration_s=0.7, sr=SR, seed=1)
    styles = [
        drums,
        [drums, signals.chord([50, 62], duration_s=0.6, sr=SR)],
        signals.chord([45, 52], duration_s=0.4, sr=SR),
    ]
    init = np.stack([np.asarray(synthesis.init_noise(jax.random.key(k), n)) for k in (1, 2, 3)])
    return contents, styles, init


@pytest.fixture(scope="module")
def singles():
    """Three ordinary runs: ``losses.build`` (calibrated at its noise) + ``synthesis.synthesize``."""
    contents, styles, init = examples()
    out = []
    for c, s, x0 in zip(contents, styles, init):
        obj = losses.build(config(), jax.random.key(0), content=c, style=s, sr=SR, init_wave=x0)
        out.append((obj, synthesis.synthesize(obj, x0, max_iter=ITERS, solver=SOLVER)))
    return out


def assert_same_run(res, single, x0):
    # the tolerance is tight: the run moved the waveform thousands of times farther
    assert np.abs(single.wave - x0).max() > 1000 * WAVE_ATOL
    assert single.loss_history[0] / single.loss_history[-1] - 1 > 1000 * LOSS_RTOL
    np.testing.assert_allclose(res.wave, single.wave, rtol=0, atol=WAVE_ATOL)
    np.testing.assert_allclose(res.loss_history, single.loss_history, rtol=LOSS_RTOL)
    assert res.stop_reason == single.stop_reason and len(res.loss_history) == ITERS


def test_batch_of_two_equals_two_single_runs(singles):
    contents, styles, init = examples()
    b = batch.build_batch(
        config(),
        jax.random.key(0),
        contents=contents[:2],
        styles=styles[:2],
        sr=SR,
        init_waves=init[:2],
    )
    assert b.size == 2 and b.shape == (SR // 2,)
    for i in range(2):
        obj = singles[i][0]
        # same key: the shared networks are the single runs' (bit-identical weights, SPEC rule 4)
        for a, c in zip(jax.tree.leaves(b.params["nets"]), jax.tree.leaves(obj.params["nets"])):
            np.testing.assert_array_equal(a, c)
        # per-example Eq. 7-8 at its own noise: beta as weighting.calibrate gives it
        for name, beta in obj.params["beta"].items():
            assert float(b.params["beta"][name][i]) == pytest.approx(
                float(beta), rel=1e-6
            )  # float32
    # the vmapped objective is the single one: loss and gradient are bit-identical on the CPU
    # today; 1e-6 (a few ulps) leaves XLA room to block the larger batched GEMMs differently.
    vg = jax.value_and_grad(b.fn)
    values, grads = jax.jit(jax.vmap(vg, in_axes=(0, batch.PARAMS_AXES)))(
        jnp.asarray(init[:2]), b.params
    )
    for i in range(2):
        v, g = jax.jit(vg)(jnp.asarray(init[i]), singles[i][0].params)
        np.testing.assert_allclose(values[i], v, rtol=1e-6)
        np.testing.assert_allclose(grads[i], g, rtol=0, atol=1e-6 * float(jnp.max(jnp.abs(g))))

    results = batch_synthesis.synthesize_batch(b, init[:2], max_iter=ITERS, solver=SOLVER)
    assert len(results) == 2
    for res, (_, single), x0 in zip(results, singles, init):
        assert_same_run(res, single, x0)
        assert set(res.term_history) == set(single.term_history)
        assert int(res.state.iteration) == ITERS and np.all(np.abs(res.wave) <= 1)


@pytest.mark.parametrize("optimizer", ["optax_lbfgs", "adam"])
def test_batch_runs_the_chosen_optimizer_as_single_runs_do(optimizer):
    """--optimizer reaches the batch: each row follows its single run (same tolerance as above)."""
    contents, styles, init = examples()
    solver = SolverConfig(chunk=2, optimizer=optimizer, learning_rate=0.01)
    b = batch.build_batch(
        config(), jax.random.key(0), contents=contents[:2], styles=styles[:2], sr=SR,
        init_waves=init[:2],
    )
    results = batch_synthesis.synthesize_batch(b, init[:2], max_iter=ITERS, solver=solver)
    for i, res in enumerate(results):
        obj = losses.build(
            config(), jax.random.key(0), content=contents[i], style=styles[i], sr=SR,
            init_wave=init[i],
        )
        single = synthesis.synthesize(obj, init[i], max_iter=ITERS, solver=solver)
        assert_same_run(res, single, init[i])


def test_single_row_batch_equals_synthesize(singles):
    """``synthesize_batch`` is the only vmapped solver: a batch of one row (stacked from the
    single run's own objective, calibrated by ``batch.calibrate``) follows ``synthesize``."""
    obj, single = singles[0]
    _, _, init = examples()
    b = batch.calibrate(batch.stack([obj]), init[:1])
    for name, beta in obj.params["beta"].items():  # Eq. 7-8 once: the same β both ways
        assert float(b.params["beta"][name][0]) == float(beta)
    (res,) = batch_synthesis.synthesize_batch(b, init[:1], max_iter=ITERS, solver=SOLVER)
    assert_same_run(res, single, init[0])
    for name, hist in single.term_history.items():
        np.testing.assert_allclose(res.term_history[name], hist, rtol=LOSS_RTOL)


def test_calibrate_names_example_and_term():
    contents, styles, init = examples()
    b = batch.build_batch(config(), jax.random.key(0), contents=contents[:2], styles=styles[:2], sr=SR)
    silent = np.stack([init[0], np.zeros_like(init[1])])  # STFT magnitude gradient is 0 at silence
    with pytest.raises(weighting.CalibrationError, match="example 1: the gradient of content_stft"):
        batch.calibrate(b, silent)
    # a term switched off in one example (Γ = 0) takes β = 0 there, and no norm is needed
    gammas = [{t.name: t.gamma for t in b.config.terms} for _ in range(2)]
    gammas[1] = {k: 0.0 if k.startswith("style") else v for k, v in gammas[1].items()}
    off = batch.calibrate(b, init[:2], gammas=gammas)
    assert float(off.params["beta"]["style_stft"][1]) == 0.0
    assert float(off.params["beta"]["style_stft"][0]) > 0.0


def test_mismatched_batch_is_refused():
    contents, styles, _ = examples()
    with pytest.raises(ValueError, match="content 1 has 11000 samples.*same-length"):
        batch.build_batch(
            config(),
            jax.random.key(0),
            contents=[contents[0], contents[1][:11000]],
            styles=styles[:2],
            sr=SR,
        )
    a = losses.build(config(), jax.random.key(0), content=contents[0], style=styles[0], sr=SR)
    b = losses.build(config(), jax.random.key(1), content=contents[1], style=styles[1], sr=SR)
    with pytest.raises(ValueError, match="example 1 has other network weights"):
        batch.stack([a, b])


def test_stack_refuses_examples_that_cannot_share_one_program():
    contents, styles, init = examples()
    a = losses.build(config(), jax.random.key(0), content=contents[0], style=styles[0], sr=SR)
    other_gamma = presets.with_gammas(config(), style_stft=3.0)
    for b, message in [
        (losses.build(other_gamma, jax.random.key(0), content=contents[1], style=styles[1],
                      sr=SR), "example 1 has another loss configuration"),
        (losses.build(config(), jax.random.key(0), content=contents[1], style=styles[1],
                      sr=SR // 2), "example 1 has another loss configuration or sample rate"),
        (losses.build(config(), jax.random.key(0), content=contents[1][:9000], style=styles[1],
                      sr=SR), "example 1 optimises shape \\(9000,\\).*same-length contents"),
    ]:
        with pytest.raises(ValueError, match=message):
            batch.stack([a, b])
    two = batch.stack([a, a])
    with pytest.raises(ValueError, match="3 sets of .* for a batch of 2"):
        batch.calibrate(two, init[:2], gammas=[{}] * 3)
    with pytest.raises(ValueError, match="1 weight sets for a batch of 2"):
        batch.with_beta(two, [{"style_stft": 1.0}])


SUBPROCESS = """
import json, sys
import jax, numpy as np
import test_batch as t
from mst_jax import batch, batch_synthesis
contents, styles, init = t.examples()
b = batch.build_batch(t.config(), jax.random.key(0), contents=contents, styles=styles, sr=t.SR, init_waves=init)
seen = {}
def on_chunk(info):
    st = info["state"]
    seen["x"] = len(st.x.sharding.device_set)
    seen["history"] = len(st.solver_state.s_history.sharding.device_set)
    seen["spec"] = str(st.x.sharding.spec)
    seen["shape"] = list(st.x.shape)
res = batch_synthesis.synthesize_batch(b, init, max_iter=t.ITERS, solver=t.SOLVER, on_chunk=on_chunk)
np.savez(sys.argv[1], waves=np.stack([r.wave for r in res]), losses=np.stack([r.loss_history for r in res]))
print(json.dumps(dict(seen, devices=jax.device_count())))
"""


def test_sharded_over_two_cpu_devices(singles, tmp_path):
    """B=3 on 2 forced host devices: padded to 4, the batch axis split 2 + 2, results unchanged."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    ).strip()
    here = os.path.dirname(os.path.abspath(__file__))
    env["PYTHONPATH"] = os.pathsep.join([here, os.path.dirname(here), env.get("PYTHONPATH", "")])
    out = str(tmp_path / "res.npz")
    proc = subprocess.run(
        [sys.executable, "-c", SUBPROCESS, out],
        check=False,
        env=env,
        cwd=here,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["devices"] == 2
    assert seen["x"] == 2 and seen["history"] == 2  # iterates and L-BFGS histories on both devices
    assert seen["spec"] == "P('batch',)" and seen["shape"] == [4, SR // 2]  # 3 padded to 4
    got = np.load(out)
    assert got["waves"].shape == (3, SR // 2)  # the padding copy is dropped
    for i, (_, single) in enumerate(singles):
        np.testing.assert_allclose(got["waves"][i], single.wave, rtol=0, atol=WAVE_ATOL)
        np.testing.assert_allclose(got["losses"][i], single.loss_history, rtol=LOSS_RTOL)


# --------------------------------------------------------------------------- command line

# Row 1 (STFT content and style), the cheapest to compile: these tests are about the files.
TINY = {"stft_filters": 24, "stft_kernel": 3, "chunk": 2, "max_iter": ITERS, "preset": "1"}


def run_main(capsys, **values):
    from experiments import transfer

    with flagsaver.flagsaver(**values):
        try:
            transfer.main(["transfer"])
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _several_hosts() -> list[str]:
    """The flags of a two-process run on this machine (a fresh port each call)."""
    return ["--distributed", f"--coordinator_address=127.0.0.1:{_free_port()}", "--num_processes=2"]


def _start(tmp_path, *flags_, devices=1) -> subprocess.Popen:
    """``experiments.transfer`` with the tiny nets and ``flags_`` in its own process, in
    ``tmp_path``, on ``devices`` CPU devices."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(here), env.get("PYTHONPATH", "")])
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}"
    command = [sys.executable, "-m", "experiments.transfer", *(f"--{k}={v}" for k, v in TINY.items()),
               "--nopage", "--noquality", *flags_]
    return subprocess.Popen(command, env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(procs, timeout: float) -> list[tuple[str, str]]:
    """Every process's (stdout, stderr); all are killed if any is still running at ``timeout``."""
    try:
        return [p.communicate(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            p.kill()


def _three_rows(tmp_path, *runs):
    """Three contents and a style in ``tmp_path``; per run, ``<run>.csv`` writing to ``<run>/``."""
    contents, styles, _ = examples()
    for k, c in enumerate(contents):
        sf.write(str(tmp_path / f"c{k}.wav"), c, SR, subtype="FLOAT")
    sf.write(str(tmp_path / "s.wav"), styles[0], SR, subtype="FLOAT")
    for run in runs:
        os.mkdir(tmp_path / run)
        (tmp_path / f"{run}.csv").write_text(
            "content,style,output\n" + "".join(f"c{k}.wav,s.wav,{run}/{k}.wav\n" for k in range(3))
        )


def test_cli_batch_over_two_processes(tmp_path):
    """``--distributed`` as the README gives it off Slurm: the same command started as two
    processes (one CPU device each, gloo between them) runs one batch over both; process 0
    writes every row and process 1 nothing (it reads a copy of the rows in another folder, where
    its outputs would land). Reference: the same batch in one process on two
    forced host devices, the same 2 + 2 split (3 rows padded to 4), which
    ``test_sharded_over_two_cpu_devices`` ties to single runs. Measured: equal to the bit; the
    tolerance is a hundredth of the smallest change the 3 iterations make (1.2e-2)."""
    _three_rows(tmp_path, "one", "two")
    # Process 1 reads its own copy of the rows, so that anything it wrote would land apart.
    elsewhere = tmp_path / "elsewhere"
    os.mkdir(elsewhere)
    os.mkdir(elsewhere / "two")
    for name in ["two.csv", "s.wav"] + [f"c{k}.wav" for k in range(3)]:
        (elsewhere / name).write_bytes((tmp_path / name).read_bytes())
    hosts = _several_hosts()
    procs = [_start(tmp_path, "--batch=one.csv", "--subtype=FLOAT", devices=2)] + [
        _start(tmp_path, f"--batch={csv}", "--subtype=FLOAT", *hosts, f"--process_id={i}")
        for i, csv in enumerate(("two.csv", "elsewhere/two.csv"))
    ]
    outs = _finish(procs, 240)
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    assert "wrote 3 of 3 outputs" in outs[0][0] and "wrote 3 of 3 outputs" in outs[1][0]
    for out, _ in outs[:2]:  # 3 rows on 2 devices: the memory estimate counts 2 on each
        assert "on each device (2 transfers each)" in out
    assert not list((elsewhere / "two").iterdir())  # process 1 computes its rows, writes nothing
    for k in range(3):
        one, _ = sf.read(str(tmp_path / "one" / f"{k}.wav"), dtype="float32")
        two, _ = sf.read(str(tmp_path / "two" / f"{k}.wav"), dtype="float32")
        np.testing.assert_allclose(two, one, rtol=0, atol=1e-4)
        records = [_record(tmp_path / run / f"{k}.json") for run in ("one", "two")]
        assert [r["batch"]["devices"] for r in records] == [2, 2]
        assert [r["batch"]["processes"] for r in records] == [1, 2]
        assert len(records[1]["loss_history"]) == ITERS
        np.testing.assert_allclose(records[1]["loss_history"], records[0]["loss_history"], rtol=1e-6)


def test_cli_batch_over_two_processes_stops_on_either_signal(tmp_path):
    """Ctrl-C on process 1 alone, as the README promises: both processes stop after the chunk,
    process 0 writes the best results so far, and both exit 130 (process 0 had no signal of its
    own; it used to end in a TypeError, and process 1 with 0)."""
    import signal

    _three_rows(tmp_path, "out")
    hosts = _several_hosts()
    procs = [_start(tmp_path, "--batch=out.csv", "--max_iter=100000", "--init=noise", *hosts,
                    f"--process_id={i}") for i in (0, 1)]
    try:
        for line in procs[0].stdout:  # process 0 prints the progress lines
            if "iteration 2/" in line:
                procs[1].send_signal(signal.SIGINT)
                break
    finally:
        outs = _finish(procs, 120)
    assert [p.returncode for p in procs] == [130, 130], [e[-2000:] for _, e in outs]
    assert "interrupted at iteration" in outs[0][1] and "3 of 3" in outs[0][1]
    assert "SIGINT received" in outs[1][1] and "SIGINT" not in outs[0][1]
    for k in range(3):
        record = _record(tmp_path / "out" / f"{k}.json")
        assert record["interrupted"] and record["batch"]["processes"] == 2
        assert 2 <= len(record["loss_history"]) < 100_000


def test_cli_batch_over_two_processes_one_failing_its_checks_stops_both(tmp_path):
    """One process's CSV names an output folder that is missing on its host: it stops with its
    own error line, and the other stops at once with one line pointing to it (it used to wait
    in ``jax.distributed.initialize`` until JAX's coordination service aborted it, 5 minutes
    later, with a stack trace: exit 134)."""
    _three_rows(tmp_path, "out")
    os.mkdir(tmp_path / "elsewhere")  # process 1 reads a copy whose out/ does not exist
    (tmp_path / "elsewhere" / "out.csv").write_text((tmp_path / "out.csv").read_text())
    hosts = _several_hosts()
    procs = [_start(tmp_path, f"--batch={csv}", *hosts, f"--process_id={i}")
             for i, csv in enumerate(("out.csv", "elsewhere/out.csv"))]
    outs = _finish(procs, 120)
    assert [p.returncode for p in procs] == [2, 2], [e[-2000:] for _, e in outs]
    assert "line 2:" in outs[1][1] and "does not exist" in outs[1][1]
    assert "error: another process stopped on its flags or inputs" in outs[0][1]
    assert not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    "given, message",
    [
        (dict(num_processes=2), "--num_processes: only used with --distributed"),
        (dict(distributed=True, num_processes=0), "--num_processes=0: must be >= 1"),
        (dict(distributed=True, num_processes=2, process_id=2), "--process_id=2: must be in [0, --num_processes)"),
    ],
    ids=["without --distributed", "no processes", "id out of range"],
)
def test_cli_batch_refuses_several_host_flags_before_connecting(tmp_path, capsys, given, message):
    """The several-host flags are checked before ``jax.distributed.initialize`` is called (which
    would wait minutes for processes that will never come): one line, exit 2."""
    code, _, stderr = run_main(capsys, batch=str(_two_row_batch(tmp_path)), **TINY, **given)
    assert code == 2 and stderr == f"error: {message}\n"


def test_cli_batch_refuses_a_time_limit(tmp_path, capsys):
    """All rows stop together and a batch keeps no state, so --time_limit is one line, exit 2."""
    code, _, stderr = run_main(capsys, batch=str(_two_row_batch(tmp_path)), time_limit=60.0, **TINY)
    assert code == 2 and stderr.startswith("error: --time_limit: not available with --batch"), stderr
    assert stderr.count("\n") == 1


def test_cli_batch_writes_every_output(tmp_path, capsys):
    contents, styles, _ = examples()
    for name, w in [
        ("c1.wav", np.stack([contents[0]] * 2, axis=1)),  # stereo: a notice; its mean is the mono clip
        ("c2.wav", contents[1]),
        ("s1.wav", styles[0]),
        ("s2.wav", styles[1][1]),
    ]:
        sf.write(str(tmp_path / name), w, SR, subtype="FLOAT")
    jobs = tmp_path / "jobs.csv"
    with open(
        jobs, "w", newline=""
    ) as f:  # paths relative to the CSV's folder; a two-file style cell
        csv.writer(f).writerows(
            [
                ["content", "style", "output"],
                ["c1.wav", "s1.wav", "out/a.wav"],
                ["c2.wav", "s1.wav,s2.wav", "out/b.wav"],
            ]
        )
    os.mkdir(tmp_path / "out")
    code, stdout, stderr = run_main(capsys, batch=str(jobs), **TINY)
    assert code == 0, stderr
    assert "2 transfers" in stdout and "wrote 2 of 2 outputs" in stdout
    # each input notice once (it was printed by the loader's log line and again by the runner)
    assert stderr.count("c1.wav: 2 channels mixed down to mono") == 1, stderr
    for stem, line, n_styles in (("a", 2, 1), ("b", 3, 2)):
        wave, sr = sf.read(str(tmp_path / "out" / f"{stem}.wav"), dtype="float32")
        assert (
            sr == SR
            and wave.shape == (SR // 2,)
            and np.all(np.isfinite(wave))
            and np.max(np.abs(wave)) <= 1
        )
        with open(tmp_path / "out" / f"{stem}.json") as f:
            record = json.load(f)
        assert RECORD_KEYS <= set(record)  # SPEC §2, as a single run
        assert record["batch"]["line"] == line and record["batch"]["size"] == 2
        assert record["flags"]["content"].endswith(f"c{line - 1}.wav")
        assert len(record["inputs"]["styles"]) == n_styles
        assert len(record["loss_history"]) == ITERS and record["stop_reason"] == "max_iter"
        # each row watched by the default content floor, as a single run (chunks of 2 and 1)
        assert record["config"]["content_floor"] == 0.7
        assert [it for it, _ in record["content_floor"]["checks"]] == [0, 2, 3]
        for t in record["terms"].values():  # Eq. 7-8 at each row's initial noise
            assert t["beta"] * t["grad_norm_at_init"] == pytest.approx(
                t["gamma"], rel=1e-4
            )  # float32 beta
        assert (tmp_path / "out" / f"{stem}.png").exists()


def test_cli_batch_checks_its_memory_for_every_row_before_compiling(tmp_path, capsys, monkeypatch):
    """A batch's memory estimate counts its rows (each device's share), and a batch that does not
    fit stops before anything is built, with one line and nothing written."""
    from experiments import _runner, preflight

    jobs = _two_row_batch(tmp_path)
    seen = []
    check = preflight.check_memory
    monkeypatch.setattr(preflight, "check_memory", lambda cfg, n, **kw: seen.append(kw) or check(cfg, n, **kw))
    code, stdout, stderr = run_main(capsys, batch=str(jobs), **TINY)
    assert code == 0, stderr
    assert seen == [{"rows": 2}] and "on each device (2 transfers each)" in stdout

    monkeypatch.setattr(preflight, "memory_limit_bytes", lambda: 1e3)
    monkeypatch.setattr(_runner, "make_objective", lambda *a, **k: pytest.fail("built"))
    for p in tmp_path.glob("*.json"):
        p.unlink()
    code, _, stderr = run_main(capsys, batch=str(jobs), **TINY)
    assert code == 1 and stderr.startswith("error: 2 transfers of 0.5 s on one device need about")
    assert "about 0 fit at once" in stderr and not list(tmp_path.glob("*.json"))


def test_cli_batch_transposes_a_shared_style_once(tmp_path, capsys, monkeypatch):
    """--style_shifts in a batch: rows that share a style file share its transposed copies
    (one pitch shift per nonzero shift, not one per row), and every row still runs."""
    import librosa

    contents, styles, _ = examples()
    for name, w in [("c1.wav", contents[0]), ("c2.wav", contents[1]), ("s.wav", styles[0])]:
        sf.write(str(tmp_path / name), w, SR, subtype="FLOAT")
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("content,style,output\nc1.wav,s.wav,a.wav\nc2.wav,s.wav,b.wav\n")
    calls = []
    shift = librosa.effects.pitch_shift
    monkeypatch.setattr(librosa.effects, "pitch_shift", lambda y, **kw: calls.append(kw["n_steps"]) or shift(y, **kw))
    code, stdout, stderr = run_main(capsys, batch=str(jobs), style_shifts=["0", "2"], **TINY)
    assert code == 0, stderr
    assert "wrote 2 of 2 outputs" in stdout
    assert calls == [2]


def test_cli_batch_reads_a_shared_file_once_and_says_its_notices_once(tmp_path, capsys, monkeypatch):
    """One stereo content under two styles: the file is read (mixed down) once, its notice is
    printed once, and both rows' records still carry it."""
    from mst_jax import audio

    contents, styles, _ = examples()
    for name, w in [("c.wav", np.stack([contents[0]] * 2, axis=1)), ("s1.wav", styles[0]),
                    ("s2.wav", styles[1][1])]:
        sf.write(str(tmp_path / name), w, SR, subtype="FLOAT")
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("content,style,output\nc.wav,s1.wav,a.wav\nc.wav,s2.wav,b.wav\n")
    reads = []
    load = audio.load
    monkeypatch.setattr(audio, "load", lambda path, **kw: reads.append(os.path.basename(path)) or load(path, **kw))
    code, stdout, stderr = run_main(capsys, batch=str(jobs), **TINY)
    assert code == 0, stderr
    assert "wrote 2 of 2 outputs" in stdout
    assert sorted(reads) == ["c.wav", "s1.wav", "s2.wav"]
    assert stderr.count("c.wav: 2 channels mixed down to mono") == 1, stderr
    for stem in ("a", "b"):
        with open(tmp_path / f"{stem}.json") as f:
            assert any("c.wav: 2 channels mixed down to mono" in n for n in json.load(f)["notices"])


def _two_row_batch(tmp_path):
    contents, styles, _ = examples()
    for name, w in (("c1.wav", contents[0]), ("c2.wav", contents[1]), ("s.wav", styles[0])):
        sf.write(str(tmp_path / name), w, SR, subtype="FLOAT")
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("content,style,output\nc1.wav,s.wav,a.wav\nc2.wav,s.wav,b.wav\n")
    return jobs


def _record(path):
    with open(path) as f:
        return json.load(f)


def test_cli_batch_from_noise_has_no_floor_and_runs_every_iteration(tmp_path, capsys):
    jobs = _two_row_batch(tmp_path)
    code, stdout, stderr = run_main(capsys, batch=str(jobs), init="noise", **TINY)
    assert code == 0, stderr
    for stem in ("a", "b"):
        record = _record(tmp_path / f"{stem}.json")
        assert record["stop_reason"] == "max_iter" and len(record["loss_history"]) == ITERS
        assert record.get("content_floor") is None


def test_cli_batch_interrupted_after_one_row_fell_below_its_floor(tmp_path, capsys, monkeypatch):
    """Ctrl-C in a batch whose first row had already fallen below its content floor (a silent
    iterate, made so here) is still an interrupted batch: exit 130, best results written, and
    each row says why it stopped."""
    import signal

    from experiments import _batch
    from mst_jax import content_floor

    jobs = _two_row_batch(tmp_path)
    check, progress, calls = content_floor.check, _batch._progress, []

    def silent_first_row(state, iteration, x, wave):
        calls.append(iteration)
        return check(state, iteration, x, np.zeros_like(wave) if len(calls) == 1 else wave)

    def interrupt(info, *args):
        progress(info, *args)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(content_floor, "check", silent_first_row)
    monkeypatch.setattr(_batch, "_progress", interrupt)
    code, _, stderr = run_main(capsys, batch=str(jobs), **TINY)
    assert code == 130, stderr
    assert "interrupted at iteration 2/3: best results so far written (2 of 2)" in stderr
    assert [_record(tmp_path / f"{s}.json")["stop_reason"] for s in "ab"] == [
        "content floor", "interrupted"]


def test_cli_batch_refuses_contents_of_two_lengths(tmp_path, capsys, monkeypatch):
    from experiments import _runner

    contents, styles, _ = examples()
    sf.write(str(tmp_path / "c1.wav"), contents[0], SR)
    sf.write(str(tmp_path / "c2.wav"), contents[1][: SR // 3], SR)
    sf.write(str(tmp_path / "s.wav"), styles[0], SR)
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("content,style,output\nc1.wav,s.wav,a.wav\nc2.wav,s.wav,b.wav\n")
    code, _, stderr = run_main(capsys, batch=str(jobs), **TINY)
    assert code == 2
    assert stderr.count("\n") == 1 and "line 3" in stderr and "one length" in stderr, stderr
    assert "--content_duration" in stderr  # the way out
    assert not (tmp_path / "a.wav").exists()
    # --content_duration applies to every row: both contents are read at 0.25 s, so the batch
    # passes the length check and goes on to build its objectives
    built = []

    def stop(cfg, inputs, **kw):
        built.append((cfg.content_excerpt.duration_s, inputs.content.size))
        raise RuntimeError("built")

    monkeypatch.setattr(_runner, "make_objective", stop)
    with pytest.raises(RuntimeError, match="built"):
        run_main(capsys, batch=str(jobs), content_duration=0.25, **TINY)
    assert built == [(0.25, round(0.25 * SR))]
    jobs.write_text("content,style\nc1.wav,s.wav\n")
    code, _, stderr = run_main(capsys, batch=str(jobs), **TINY)
    assert code == 2 and "content,style,output" in stderr


def test_select_takes_rows_in_order_with_repeats():
    contents, styles, init = examples()
    b = batch.build_batch(config(), jax.random.key(0), contents=contents, styles=styles, sr=SR, init_waves=init)
    sub = batch.select(b, [2, 0, 0])  # not a palindrome: the order is checked
    assert sub.size == 3 and sub.value_and_terms is b.value_and_terms  # one compiled program for both
    for j, i in enumerate([2, 0, 0]):
        for name in b.params["beta"]:
            assert float(sub.params["beta"][name][j]) == float(b.params["beta"][name][i])
        for a, c in zip(jax.tree.leaves(sub.params["targets"]), jax.tree.leaves(b.params["targets"])):
            np.testing.assert_array_equal(a[j], c[i])
    with pytest.raises(ValueError, match="within 0..2"):
        batch.select(b, [3])


def test_pad_to_a_multiple_repeats_the_last_example_only_when_needed():
    contents, styles, init = examples()
    b = batch.build_batch(config(), jax.random.key(0), contents=contents, styles=styles, sr=SR, init_waves=init)
    same, xs = batch.pad(b, init, multiple=3)
    assert same is b and xs.shape[0] == 3
    padded, xs = batch.pad(b, init, multiple=2)
    assert padded.size == 4 and xs.shape[0] == 4
    np.testing.assert_array_equal(xs[3], np.asarray(init[2], np.float32))
    for name in b.params["beta"]:
        assert float(padded.params["beta"][name][3]) == float(b.params["beta"][name][2])


def test_cli_batch_rows_may_give_their_own_offsets(tmp_path, capsys, monkeypatch):
    """Optional columns content_offset and style_offset: each row reads its files from its own
    second (an empty cell keeps the flag's); with --content_duration the rows' contents are one
    length; a bad cell or column is one error line naming the CSV line."""
    from experiments import _runner

    t = np.arange(2 * SR) / SR
    sf.write(str(tmp_path / "c1.wav"), 0.5 * np.sin(2 * np.pi * 220 * t) * (t >= 1.0), SR)
    sf.write(str(tmp_path / "c2.wav"), 0.5 * np.sin(2 * np.pi * 330 * t), SR)
    sf.write(str(tmp_path / "s.wav"), 0.3 * np.sin(2 * np.pi * 550 * t), SR)
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(
        "content,style,output,content_offset,style_offset\n"
        "c1.wav,s.wav,a.wav,1.0,\n"
        "c2.wav,s.wav,b.wav,,0.5\n"
    )
    built = []

    def fake(cfg, inputs, *, styles):  # what each row reads is tested, not its objective
        built.append((cfg.content_excerpt, cfg.style_excerpt, inputs.content, styles))
        if len(built) == 2:
            raise RuntimeError("built")

    monkeypatch.setattr(_runner, "make_objective", fake)
    with pytest.raises(RuntimeError, match="built"):
        run_main(capsys, batch=str(jobs), content_duration=0.5, style_offset=0.25, **TINY)
    (c1, s1, content, styles1), (c2, s2, _, styles2) = built
    assert (c1.offset_s, c1.duration_s, s1.offset_s) == (1.0, 0.5, 0.25)  # cell; flag; empty cell
    assert (c2.offset_s, c2.duration_s, s2.offset_s) == (0.0, 0.5, 0.5)
    data, _ = sf.read(str(tmp_path / "c1.wav"), dtype="float32")
    want = data[SR : SR + SR // 2]
    np.testing.assert_allclose(content, want / np.abs(want).max(), atol=1e-6)  # after the silence
    # the two rows share s.wav but not its excerpt: each row's grams come from its own
    style, _ = sf.read(str(tmp_path / "s.wav"), dtype="float32")
    for (clip,), start in ((styles1, SR // 4), (styles2, SR // 2)):
        want = style[start:]
        np.testing.assert_allclose(clip, want / np.abs(want).max(), atol=1e-6)

    for column, cell, expected in (
        ("content_offset", "-1", "line 2: content_offset '-1' must be a finite number"),
        ("style_offset", "soon", "line 2: style_offset 'soon' must be a finite number"),
        ("style_offset", "inf", "line 2: style_offset 'inf'"),
        ("offset", "1", "optionally content_offset"),
        ("content_offset,content_offset", "1,2", "once each"),
    ):
        jobs.write_text(f"content,style,output,{column}\nc1.wav,s.wav,a.wav,{cell}\n")
        code, _, stderr = run_main(capsys, batch=str(jobs), **TINY)
        assert code == 2 and stderr.count("\n") == 1 and expected in stderr, stderr
    # c1.wav's first second is silent: a row whose excerpt is only that has no sound
    jobs.write_text("content,style,output,content_offset\nc2.wav,s.wav,b.wav,\nc1.wav,s.wav,a.wav,0\n")
    code, _, stderr = run_main(capsys, batch=str(jobs), content_duration=0.5, **TINY)
    expected = f"--batch={jobs} line 3: {tmp_path / 'c1.wav'}: has no sound (every sample is 0)"
    assert code == 2 and expected in stderr and stderr.count("error:") == 1, stderr


def test_batch_clips_its_start_stops_once_every_row_converged_and_keeps_a_stop_reason(singles):
    """As ``synthesize`` does: a start outside the box is clipped into it (the same first loss
    as the single run from that start); the loop ends once every row has stopped, before
    ``max_iter``; a should_stop string is every row's stop reason; on_chunk sees each row's
    last loss of the chunk."""
    obj, _ = singles[0]
    _, _, init = examples()
    b = batch.calibrate(batch.stack([obj, obj]), init[:2])
    loud = init[:2].copy()
    loud[0, :200], loud[1, 100:300] = 1.5, -2.0
    single = synthesis.synthesize(obj, loud[0], max_iter=1, solver=SOLVER)
    res = batch_synthesis.synthesize_batch(b, loud, max_iter=1, solver=SOLVER)
    np.testing.assert_allclose(res[0].loss_history, single.loss_history, rtol=LOSS_RTOL)
    assert all(np.abs(r.wave).max() <= 1.0 for r in res)
    done = batch_synthesis.synthesize_batch(b, init[:2], max_iter=50,
                                            solver=dataclasses.replace(SOLVER, tol=1e9))
    assert [(r.stop_reason, len(r.loss_history)) for r in done] == [("converged", 1)] * 2
    stopped = batch_synthesis.synthesize_batch(b, init[:2], max_iter=5, solver=SOLVER,
                                               should_stop=lambda: "content floor")
    assert [r.stop_reason for r in stopped] == ["content floor"] * 2
    # on_chunk's losses are each row's loss at the chunk's last iteration (the progress line's)
    seen = []
    runs = batch_synthesis.synthesize_batch(b, init[:2], max_iter=ITERS, solver=SOLVER,
                                            on_chunk=lambda info: seen.append(info["losses"]))
    ends = [SOLVER.chunk - 1, ITERS - 1]  # chunks of 2 and 1
    assert seen == [[float(r.loss_history[e]) for r in runs] for e in ends]


def test_batch_csv_saved_by_a_spreadsheet_reads_as_the_plain_one(tmp_path):
    """A spreadsheet's "CSV UTF-8": a byte-order mark, CRLF line ends, a quoted style cell
    listing two files. It reads as the plain file does (the mark made the header unknown)."""
    from experiments import batch_csv

    rows = 'content,style,output\n"c.wav","s1.wav,s2.wav",out/a.wav\n'
    plain, sheet = tmp_path / "plain.csv", tmp_path / "sheet.csv"
    plain.write_bytes(rows.encode("utf-8"))
    sheet.write_bytes(b"\xef\xbb\xbf" + rows.replace("\n", "\r\n").encode("utf-8"))
    expected = [(2, str(tmp_path / "c.wav"), (str(tmp_path / "s1.wav"), str(tmp_path / "s2.wav")),
                 str(tmp_path / "out" / "a.wav"), {})]
    assert batch_csv.read(str(plain)) == expected
    assert batch_csv.read(str(sheet)) == expected


def test_batch_csv_style_cell_keeps_a_comma_inside_an_existing_file_name(tmp_path):
    """A quoted style cell lists files by commas; a file named with a comma (looked up beside
    the CSV, wherever the command runs) stays one file."""
    from experiments import batch_csv

    (tmp_path / "Symphony No. 5, I. Allegro.flac").write_bytes(b"")
    jobs = tmp_path / "jobs.csv"
    jobs.write_text('content,style,output\nc.wav,"s.wav,Symphony No. 5, I. Allegro.flac",a.wav\n')
    [(_, _, styles, _, _)] = batch_csv.read(str(jobs))
    assert styles == (str(tmp_path / "s.wav"), str(tmp_path / "Symphony No. 5, I. Allegro.flac"))


def test_cli_batch_rows_keep_their_content_silences_and_dynamics(tmp_path, capsys):
    """A batch row whose content starts with silence is written silent there (the single run's
    --keep_silence default); the other row, without silence, is not touched by it. The other
    row's content drops 24 dB halfway: its result has the drop (--keep_dynamics), as a single
    run's does."""
    contents, styles, _ = examples()
    late = np.concatenate([np.zeros(SR // 4, np.float32), contents[0][: contents[0].size - SR // 4]])
    sf.write(str(tmp_path / "late.wav"), late, SR)
    half = contents[1].size // 2
    subito = np.concatenate([contents[1][:half], contents[1][half:] * 10 ** (-24 / 20)])
    sf.write(str(tmp_path / "c2.wav"), subito, SR)
    sf.write(str(tmp_path / "s.wav"), styles[0], SR)
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("content,style,output\nlate.wav,s.wav,a.wav\nc2.wav,s.wav,b.wav\n")
    code, _, stderr = run_main(capsys, batch=str(jobs), init="content", page=False, **TINY)
    assert code == 0, stderr
    a, _ = sf.read(str(tmp_path / "a.wav"), dtype="float32")
    b, _ = sf.read(str(tmp_path / "b.wav"), dtype="float32")
    assert np.all(a[: SR // 4 - 2048] == 0.0) and np.max(np.abs(a)) > 0.5
    assert np.count_nonzero(b[: SR // 4 - 2048]) > 100
    assert stderr.count("s of it is silent") == 1 and "late.wav" in stderr

    def drop_db(wave):  # the first half's level over the second's, 2048 samples from the step
        return 10 * np.log10(np.mean(wave[: half - 2048] ** 2) / np.mean(wave[half + 2048 :] ** 2))

    assert drop_db(b) == pytest.approx(drop_db(subito), abs=3.0)
