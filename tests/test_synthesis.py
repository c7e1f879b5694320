"""Synthesis: L-BFGS-B, optax L-BFGS and Adam against scipy and each other, phase retrieval
against Griffin-Lim, chunking, resuming, failure modes."""

import dataclasses

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest
import scipy.optimize

with __import__("warnings").catch_warnings():
    __import__("warnings").simplefilter("ignore", DeprecationWarning)
    import jaxopt

from conftest import SR
from mst_jax import losses, metrics, optimizers, presets, synthesis
from mst_jax.config import LossConfig, SolverConfig, Term


def _toy_objective(fun, n):
    """An Objective around a plain function of x (one term named "spectrum")."""
    cfg = LossConfig(terms=(Term("spectrum", None, 1.0),))

    def value_and_terms(x, p):
        v = fun(x, p)
        return v, {"spectrum": v}

    return losses.Objective(lambda x, p: fun(x, p), lambda x, p: {"spectrum": fun(x, p)},
                            value_and_terms, {"a": jnp.float32(1.0)}, cfg, SR, (n,))


def test_lbfgsb_matches_scipy_on_a_bounded_problem():
    """A bounded least-squares problem whose optimum sits on the bounds for some coordinates."""
    rng = np.random.default_rng(0)
    n = 30
    A = rng.standard_normal((40, n)).astype(np.float32)
    b = (rng.standard_normal(40) * 3).astype(np.float32)
    fun = lambda x, p: 0.5 * jnp.sum(jnp.square(jnp.asarray(A) @ x - b)) * p["a"]
    res = synthesis.synthesize(_toy_objective(fun, n), np.zeros(n, np.float32), max_iter=200,
                               solver=SolverConfig(chunk=50, tol=1e-6))
    ref = scipy.optimize.minimize(lambda x: 0.5 * np.sum((A @ x - b) ** 2), np.zeros(n),
                                  jac=lambda x: A.T @ (A @ x - b), method="L-BFGS-B",
                                  bounds=[(-1, 1)] * n, options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-9})
    assert np.sum(np.abs(ref.x) > 0.999) >= 3  # the bounds are active
    np.testing.assert_allclose(res.wave, ref.x, atol=2e-3)  # float32 solver vs float64 scipy
    assert np.all(np.abs(res.wave) <= 1.0)


def test_chunking_does_not_change_the_result():
    rng = np.random.default_rng(1)
    A = jnp.asarray(rng.standard_normal((20, 10)).astype(np.float32))
    fun = lambda x, p: jnp.sum(jnp.square(jnp.sin(A @ x) - 0.3)) * p["a"]
    obj = _toy_objective(fun, 10)
    x0 = np.full(10, 0.1, np.float32)
    one = synthesis.synthesize(obj, x0, max_iter=12, solver=SolverConfig(chunk=12, tol=0))
    many = synthesis.synthesize(obj, x0, max_iter=12, solver=SolverConfig(chunk=5, tol=0))
    np.testing.assert_array_equal(one.wave, many.wave)
    np.testing.assert_array_equal(one.loss_history, many.loss_history)
    assert len(many.loss_history) == 12 and len(many.term_history["spectrum"]) == 12
    # resuming from a mid-run state continues the same trajectory
    part = synthesis.synthesize(obj, x0, max_iter=7, solver=SolverConfig(chunk=5, tol=0))
    rest = synthesis.synthesize(obj, state=part.state, max_iter=12, solver=SolverConfig(chunk=5, tol=0))
    np.testing.assert_array_equal(rest.wave, one.wave)


def test_line_search_tries_the_full_step_first_as_scipy_does():
    """``linesearch_init="max"``: every line search starts at step 1, the quasi-Newton step, as
    L-BFGS-B's own (``lnsrlb``: ``stp = one`` after the first iteration) does. So a shorter
    step is accepted only after the full one was tried: never with one evaluation. jaxopt's
    ``"increase"`` starts at 1.5 x the last accepted step and takes short steps at once."""
    rng = np.random.default_rng(1)
    A = jnp.asarray(rng.standard_normal((20, 10)).astype(np.float32))
    obj = _toy_objective(lambda x, p: jnp.sum(jnp.square(jnp.sin(3 * A @ x) - 0.3)) * p["a"], 10)

    def evaluations_and_steps(init):
        seen = [(1, 1.0)]  # init_state's one evaluation
        synthesis.synthesize(
            obj, np.full(10, 0.1, np.float32), max_iter=30,
            solver=SolverConfig(chunk=1, tol=0, linesearch_init=init),
            on_chunk=lambda info: seen.append((int(info["state"].solver_state.num_fun_eval),
                                               float(info["state"].solver_state.stepsize))),
        )
        evals, steps = np.array(seen).T
        return np.diff(evals), steps[1:]

    evals, steps = evaluations_and_steps("max")
    assert np.sum(steps < 1) >= 2  # the search did cut some steps
    assert np.all(evals[steps < 1] >= 2)
    evals, steps = evaluations_and_steps("increase")
    assert np.any(evals[steps < 1] == 1)


def test_zoom_search_skips_only_the_redundant_aux_evaluation():
    """Our zoom search must follow plain jaxopt's iterates exactly, with one objective
    evaluation fewer per iteration (counted by a host callback inside the objective, not by
    jaxopt's own counters)."""
    rng = np.random.default_rng(2)
    A = jnp.asarray(rng.standard_normal((20, 10)).astype(np.float32))
    calls = []

    def fun(x, p):
        jax.debug.callback(lambda: calls.append(1))
        return jnp.sum(jnp.square(jnp.sin(A @ x) - 0.3)) * p["a"]

    obj = _toy_objective(fun, 10)
    x0 = np.full(10, 0.1, np.float32)
    k = 8
    ours = synthesis.synthesize(obj, x0, max_iter=k, solver=SolverConfig(chunk=k, tol=0))
    jax.effects_barrier()
    ours_calls, calls[:] = len(calls), []

    plain = jaxopt.LBFGSB(fun=obj.value_and_terms, has_aux=True, maxiter=k, tol=0, history_size=10,
                          linesearch="zoom", linesearch_init=SolverConfig().linesearch_init,
                          jit=True)
    bounds = (jnp.full(10, -1.0), jnp.full(10, 1.0))
    x, st = jnp.asarray(x0), plain.init_state(jnp.asarray(x0), bounds, obj.params)
    jax.effects_barrier()
    calls[:] = []
    update = jax.jit(plain.update)
    for _ in range(k):
        x, st = update(x, st, bounds, obj.params)
    jax.effects_barrier()
    np.testing.assert_allclose(ours.wave, np.asarray(x), rtol=1e-6, atol=1e-7)
    # init_state's one evaluation belongs to ours_calls only (plain's init was not counted)
    assert len(calls) - (ours_calls - 1) == k


def test_lbfgsb_with_our_cauchy_point_follows_plain_jaxopt(monkeypatch):
    """synthesize swaps jaxopt's Cauchy-point search for ``cauchy_point.cauchy_point`` while
    tracing; on a bounded problem whose first step passes hundreds of breakpoints (the full
    sort) and later ones a few (top_k), the iterates are bit for bit those of the same
    program with jaxopt's own search, and jaxopt's function is back in place afterwards."""
    import contextlib

    from jaxopt._src import lbfgsb as jaxopt_lbfgsb

    from mst_jax import cauchy_point

    n, k = 600, 15
    rng = np.random.default_rng(3)
    target = jnp.asarray(rng.uniform(-2.0, 2.0, n).astype(np.float32))  # a quarter outside the box
    scale = jnp.asarray(rng.uniform(0.5, 4.0, n).astype(np.float32))
    fun = lambda x, p: 0.5 * jnp.sum(scale * jnp.square(x - target)) + 0.1 * jnp.sum(jnp.sin(5 * x)) * p["a"]
    obj = _toy_objective(fun, n)
    x0 = np.zeros(n, np.float32)
    solver = SolverConfig(chunk=k, tol=0)
    searches, original = [], jaxopt_lbfgsb._find_cauchy_point
    ours_search = cauchy_point.cauchy_point

    def recorded(*args, **kwargs):
        cp = ours_search(*args, **kwargs)
        jax.debug.callback(lambda b, s: searches.append((int(b), bool(s))), cp.breakpoints, cp.sorted_all)
        return cp

    monkeypatch.setattr(cauchy_point, "cauchy_point", recorded)
    synthesis.chunk_program.cache_clear()
    ours = synthesis.synthesize(obj, x0, max_iter=k, solver=solver)
    jax.effects_barrier()
    assert jaxopt_lbfgsb._find_cauchy_point is original
    assert len(searches) == k and searches[0][1] and not searches[-1][1]  # both branches ran
    assert searches[0][0] > 100  # the first step crossed many breakpoints

    monkeypatch.setattr(optimizers, "jaxopt_cauchy_point", contextlib.nullcontext)
    synthesis.chunk_program.cache_clear()
    plain = synthesis.synthesize(obj, x0, max_iter=k, solver=solver)
    synthesis.chunk_program.cache_clear()  # no program traced without the swap stays cached
    assert np.sum(np.abs(plain.wave) == 1.0) > 100  # the bounds bind
    np.testing.assert_array_equal(ours.wave, plain.wave)
    np.testing.assert_array_equal(ours.loss_history, plain.loss_history)


def test_jaxopt_internals_the_zoom_override_relies_on():
    """``optimizers._ZoomWithoutAuxRecompute`` overrides ``ZoomLineSearch.init_state`` and leans on
    jaxopt internals (pyproject pins the version). Each check names what changed."""
    import dataclasses
    import importlib.metadata
    import inspect
    import pathlib
    import re

    from jaxopt._src import base, zoom_linesearch

    why = "jaxopt changed under optimizers._ZoomWithoutAuxRecompute: re-check it, then move the pin"
    pyproject = (pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    pin = re.search(r'"jaxopt==([^"]+)"', pyproject)
    assert pin, "pyproject.toml must pin jaxopt exactly (its internals are used)"
    assert importlib.metadata.version("jaxopt") == pin.group(1), why
    # The overridden method's signature, which ours repeats and LBFGSB's line-search call fills.
    names = ["self", "init_stepsize", "params", "value", "grad", "descent_direction",
             "fun_args", "fun_kwargs"]
    assert list(inspect.signature(jaxopt.ZoomLineSearch.init_state).parameters) == names, why
    ours = optimizers._ZoomWithoutAuxRecompute
    assert list(inspect.signature(ours.init_state).parameters) == names
    # Constructor fields we set or replace, and the state field we fill.
    fields = {f.name for f in dataclasses.fields(jaxopt.ZoomLineSearch)}
    assert {"fun", "has_aux", "maxiter", "max_stepsize", "jit"} <= fields, why
    assert "aux" in zoom_linesearch.ZoomLineSearchState._fields, why
    # LBFGSB's own zoom settings, which _lbfgsb copies, and its use of a line-search instance.
    defaults = {f.name: f.default for f in dataclasses.fields(jaxopt.LBFGSB)}
    assert (defaults["maxls"], defaults["max_stepsize"]) == (30, 1.0), why
    assert issubclass(jaxopt.ZoomLineSearch, base.IterativeLineSearch), why
    fun = lambda x: (jnp.sum(x**2), {"t": jnp.sum(x)})
    ls = ours(fun=fun, has_aux=True, maxiter=30, max_stepsize=1.0, jit=False)
    assert jaxopt.LBFGSB(fun=fun, has_aux=True, linesearch=ls).run_ls.__self__ is ls, why
    # The Cauchy-point search optimizers.jaxopt_cauchy_point swaps: a module-level function
    # that LBFGSB.update looks up by name, with the arguments cauchy_point.cauchy_point takes.
    from jaxopt._src import lbfgsb as jaxopt_lbfgsb

    assert "_find_cauchy_point" in jaxopt.LBFGSB.update.__code__.co_names, why
    assert list(inspect.signature(jaxopt_lbfgsb._find_cauchy_point).parameters) == [
        "x", "grad", "lower", "upper", "theta", "w", "m"], why
    # The behaviour the override removes: with value and grad given, plain init_state evaluates
    # the objective once more only when has_aux (and not at all without aux).
    calls = []

    def counted(x):
        calls.append(1)
        return fun(x)

    x = jnp.ones(3)
    v, g = fun(x)[0], 2 * x
    jaxopt.ZoomLineSearch(fun=counted, has_aux=True).init_state(1.0, x, v, g)
    assert len(calls) == 1, why
    calls.clear()
    jaxopt.ZoomLineSearch(fun=counted, has_aux=False).init_state(1.0, x, v, g)
    assert not calls, why


def test_non_finite_loss_stops_cleanly():
    # a NaN in the data (e.g. a corrupt target) makes every value NaN
    fun = lambda x, p: jnp.sum(jnp.square(x - jnp.nan)) * p["a"]
    x0 = np.full(4, 0.25, np.float32)
    res = synthesis.synthesize(_toy_objective(fun, 4), x0, max_iter=50, solver=SolverConfig(chunk=10))
    assert res.stop_reason == "non-finite loss"
    assert len(res.loss_history) == 1
    assert np.all(np.isfinite(res.wave))


def test_result_is_the_best_iterate():
    rng = np.random.default_rng(3)
    A = jnp.asarray(rng.standard_normal((20, 10)).astype(np.float32))
    fun = lambda x, p: jnp.sum(jnp.square(jnp.sin(3 * A @ x) - 0.3)) * p["a"]
    res = synthesis.synthesize(_toy_objective(fun, 10), np.full(10, 0.1, np.float32), max_iter=30,
                               solver=SolverConfig(chunk=10, tol=0))
    assert float(fun(jnp.asarray(res.wave), {"a": 1.0})) == pytest.approx(float(res.loss_history.min()), rel=1e-6)


def test_phase_retrieval_lowers_loss_and_beats_griffin_lim(chord_wave):
    """Reconstruction of a 1 s chord from its magnitude: loss down >= 10x in 50 iterations,
    and a lower spectral convergence than librosa's Griffin-Lim after 50 iterations."""
    x0 = synthesis.init_noise(jax.random.key(1), len(chord_wave))
    obj = losses.build(presets.reconstruction(), jax.random.key(0), content=chord_wave, sr=SR, init_wave=x0)
    res = synthesis.synthesize(obj, x0, max_iter=50, solver=SolverConfig(chunk=25))
    initial = float(obj.fn(x0, obj.params))
    assert res.loss_history[-1] <= initial / 10
    assert res.wave.shape == chord_wave.shape
    assert np.all(np.isfinite(res.wave)) and np.all(np.abs(res.wave) <= 1)
    ours = metrics.spectral_convergence(res.wave, chord_wave)
    Y = np.abs(librosa.stft(chord_wave, n_fft=2048, hop_length=512, center=True, pad_mode="constant"))
    gl = [
        metrics.spectral_convergence(
            librosa.griffinlim(Y, n_iter=50, n_fft=2048, hop_length=512, center=True, pad_mode="constant",
                               length=len(chord_wave), random_state=seed), chord_wave)
        for seed in range(3)
    ]
    assert ours < min(gl), (ours, gl)


# --------------------------------------------------------------------------- --optimizer

# Adam's step is set for these toy problems (unit-scale x); L-BFGS chooses its own.
OPTIMIZERS = [SolverConfig(optimizer="lbfgsb"), SolverConfig(optimizer="optax_lbfgs"),
              SolverConfig(optimizer="adam", learning_rate=0.05)]


def _pushing_out_of_the_box():
    """Least squares whose unconstrained optimum lies outside [-1, 1] (the bounds end active)."""
    rng = np.random.default_rng(4)
    A = jnp.asarray(rng.standard_normal((40, 30)).astype(np.float32))
    b = jnp.asarray((rng.standard_normal(40) * 3).astype(np.float32))
    return _toy_objective(lambda x, p: 0.5 * jnp.sum(jnp.square(A @ x - b)) * p["a"], 30)


@pytest.mark.parametrize("solver", OPTIMIZERS, ids=lambda s: s.optimizer)
def test_each_optimizer_lowers_the_loss_within_the_bounds(solver):
    obj = _pushing_out_of_the_box()
    x0 = np.zeros(30, np.float32)
    res = synthesis.synthesize(obj, x0, max_iter=60, solver=dataclasses.replace(solver, chunk=30, tol=0))
    initial = float(obj.fn(jnp.asarray(x0), obj.params))
    assert res.loss_history[-1] < initial / 2
    assert len(res.loss_history) == 60 and len(res.term_history["spectrum"]) == 60
    # the recorded loss is the objective at the iterate (the best one is returned)
    assert float(obj.fn(jnp.asarray(res.wave), obj.params)) == pytest.approx(res.loss_history.min(), rel=1e-5)
    assert np.all(np.abs(res.wave) <= 1.0) and np.all(np.abs(np.asarray(res.state.x)) <= 1.0)
    assert np.any(np.abs(res.wave) == 1.0)  # the projection was needed, and held


@pytest.mark.parametrize("solver", OPTIMIZERS, ids=lambda s: s.optimizer)
def test_each_optimizer_resumes_bit_identically(solver):
    rng = np.random.default_rng(5)
    A = jnp.asarray(rng.standard_normal((20, 10)).astype(np.float32))
    obj = _toy_objective(lambda x, p: jnp.sum(jnp.square(jnp.sin(A @ x) - 0.3)) * p["a"], 10)
    x0 = np.full(10, 0.1, np.float32)
    cfg = lambda chunk: dataclasses.replace(solver, chunk=chunk, tol=0)  # noqa: E731
    one = synthesis.synthesize(obj, x0, max_iter=12, solver=cfg(12))
    part = synthesis.synthesize(obj, x0, max_iter=7, solver=cfg(5))
    rest = synthesis.synthesize(obj, state=part.state, max_iter=12, solver=cfg(5))
    np.testing.assert_array_equal(rest.wave, one.wave)
    np.testing.assert_array_equal(np.concatenate([part.loss_history, rest.loss_history]), one.loss_history)
    assert one.loss_history[-1] < one.loss_history[0]


def test_optax_lbfgs_matches_scipy_inside_the_box():
    """A strictly convex quadratic whose minimiser lies inside [-1, 1]: optax's L-BFGS (with the
    projection idle) must reach scipy's L-BFGS-B solution and the exact one, Q⁻¹c."""
    rng = np.random.default_rng(6)
    n = 30
    M = rng.standard_normal((n, n))
    Q = (M.T @ M / n + np.eye(n)).astype(np.float32)  # eigenvalues in [1, ~5]: well conditioned
    x_star = rng.uniform(-0.8, 0.8, n).astype(np.float32)
    c = (Q @ x_star).astype(np.float32)
    fun = lambda x, p: (0.5 * x @ jnp.asarray(Q) @ x - jnp.asarray(c) @ x) * p["a"]
    res = synthesis.synthesize(_toy_objective(fun, n), np.zeros(n, np.float32), max_iter=100,
                               solver=SolverConfig(optimizer="optax_lbfgs", chunk=50, tol=1e-6))
    ref = scipy.optimize.minimize(lambda x: 0.5 * x @ Q @ x - c @ x, np.zeros(n), jac=lambda x: Q @ x - c,
                                  method="L-BFGS-B", bounds=[(-1, 1)] * n,
                                  options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-10})
    assert res.stop_reason == "converged"
    # The iterate that met the tolerance: float32 gradients are exact to ~1e-6 here, and
    # ||x - x*|| <= ||g|| / lambda_min (= 1): 5e-5 leaves room for rounding; scipy (float64) is
    # within 1e-7 of x*.
    x = np.asarray(res.state.x)
    np.testing.assert_allclose(x, ref.x, atol=5e-5)
    np.testing.assert_allclose(x, np.linalg.solve(Q.astype(np.float64), c), atol=5e-5)
    # The written iterate is the lowest loss seen; this near the minimum float32 cannot tell
    # the last few iterates apart (on an AMD EPYC it picked one 1.4e-4 from x*), so it is held
    # only to the loss: within float32 rounding of the converged iterate's.
    f64 = lambda y: 0.5 * y @ Q.astype(np.float64) @ y - c.astype(np.float64) @ y
    assert f64(res.wave.astype(np.float64)) - f64(x.astype(np.float64)) < 1e-6 * abs(f64(x))


def test_solver_config_rejects_unknown_optimizer_and_bad_learning_rate():
    with pytest.raises(ValueError, match="optimizer='sgd' must be one of"):
        SolverConfig(optimizer="sgd")
    for lr in (0.0, -1e-3, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="learning_rate"):
            SolverConfig(optimizer="adam", learning_rate=lr)


def test_init_noise_is_spec_gaussian_of_std_1e_3():
    """SPEC §1's initial waveform: N(0, 1e-3^2), float32, drawn from the key (a different key,
    different noise); sample moments against the SPEC's numbers, not the code's default."""
    x = np.asarray(synthesis.init_noise(jax.random.key(3), 200_000), np.float64)
    assert synthesis.init_noise(jax.random.key(3), 4).dtype == jnp.float32
    assert abs(x.mean()) < 1e-5 and x.std() == pytest.approx(1e-3, rel=0.01)
    other = np.asarray(synthesis.init_noise(jax.random.key(4), 200_000))
    assert abs(np.corrcoef(x, other)[0, 1]) < 0.01


def test_history_size_is_the_memory_each_lbfgs_keeps():
    """``history_size`` pairs of L-BFGS vectors, in jaxopt's state and in optax's."""
    f = lambda x, p: (jnp.sum((x - p) ** 2), {"q": jnp.sum((x - p) ** 2)})  # noqa: E731
    box, x, p = (-jnp.ones(5), jnp.ones(5)), jnp.zeros(5), jnp.full(5, 0.5)
    st = optimizers.make_step(f, SolverConfig(history_size=3)).init(x, box, p)
    assert st.s_history.shape == st.y_history.shape == (3, 5)
    optax_step = optimizers.make_step(f, SolverConfig(optimizer="optax_lbfgs", history_size=3))
    st = optax_step.init(x, box, p)
    assert st.inner[0].diff_params_memory.shape == (3, 5)


@pytest.mark.parametrize("optimizer", ["optax_lbfgs", "adam"])
def test_optax_steps_measure_the_objective_at_the_projected_point(optimizer):
    """After a step that leaves the box, the value, the gradient and the error are those of the
    projected point, by hand: f = sum (x - 2)^2 on [-1, 1] has its constrained minimum at the
    bound x = 1, where the gradient is -2 but the projected gradient (the error) is 0."""
    f = lambda x, p: (jnp.sum((x - p) ** 2), {"q": jnp.sum((x - p) ** 2)})  # noqa: E731
    box, p = (-jnp.ones(2), jnp.ones(2)), jnp.full(2, 2.0)
    step = optimizers.make_step(f, SolverConfig(optimizer=optimizer, learning_rate=0.5))
    x = jnp.full(2, 0.5)
    st = step.init(x, box, p)
    for _ in range(6):
        x, st, value, terms, error = step.update(x, st, box, p)
        xs = np.asarray(x, np.float64)
        assert np.all(np.abs(xs) <= 1.0)
        np.testing.assert_allclose(np.asarray(st.grad), 2.0 * (xs - 2.0), rtol=1e-6)
        assert float(value) == pytest.approx(np.sum((xs - 2.0) ** 2), rel=1e-6)
        g = 2.0 * (xs - 2.0)
        assert float(error) == pytest.approx(np.max(np.abs(np.clip(xs - g, -1, 1) - xs)), abs=1e-6)
    np.testing.assert_allclose(np.asarray(x), [1.0, 1.0])  # at the bound: gradient -2, error 0
    assert float(error) == 0.0
