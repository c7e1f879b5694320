"""Synthesis: minimise an objective over its variable (the waveform, or the baseline's spectrogram) within box bounds.

Three optimisers (``SolverConfig.optimizer``) share one solver loop: ``jaxopt.LBFGSB``
(the default), ``optax.lbfgs`` and ``optax.adam``, the optax ones with the iterate
projected into the bounds after every step. Each is a :class:`Step`, a pair of pure
functions, so the chunked loop below exists once. jaxopt's L-BFGS-B runs with our Cauchy
point (:mod:`mst_jax.cauchy_point`, no full sort), swapped in while its update is traced.
This is the only module that imports jaxopt (unmaintained; kept in one place). The solver
runs in jitted chunks of iterations (``lax.while_loop`` inside one ``jax.jit``), so progress,
checkpoints and signals are handled between chunks without retracing; the last, shorter chunk
reuses the same program (its length is a traced argument). The state between chunks
(:class:`SynthesisState`) is a pytree of arrays, so it can be saved and a run resumed
bit-identically.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

with __import__("warnings").catch_warnings():
    __import__("warnings").simplefilter("ignore", DeprecationWarning)
    import jaxopt
import optax

from mst_jax import cauchy_point
from mst_jax.config import SolverConfig
from mst_jax.losses import Objective

__all__ = [
    "OptaxState",
    "Result",
    "Step",
    "SynthesisState",
    "bounds",
    "chunk_program",
    "init_noise",
    "initial_state",
    "jaxopt_cauchy_point",
    "lbfgsb",
    "make_step",
    "polled_stop_reason",
    "synthesize",
]


class SynthesisState(NamedTuple):
    """Everything needed to continue a run.

    Attributes:
      x: current iterate, ``objective.shape``.
      solver_state: the optimiser's state: ``jaxopt`` L-BFGS-B state (history pairs,
        value, gradient, ...) or an :class:`OptaxState`.
      best_x: iterate with the lowest finite loss so far.
      best_value: that loss (``inf`` before any finite value).
      iteration: iterations done.
      stopped: 0 running, 1 converged (projected-gradient inf-norm <= tol), 2 non-finite loss.
    """

    x: jax.Array
    solver_state: Any
    best_x: jax.Array
    best_value: jax.Array
    iteration: jax.Array
    stopped: jax.Array


class Result(NamedTuple):
    """What :func:`synthesize` returns.

    Attributes:
      wave: the best iterate, numpy ``objective.shape``, within the bounds.
      loss_history: total loss after each iteration, ``(iterations,)``.
      term_history: weighted loss of each term after each iteration, name -> ``(iterations,)``.
      seconds_per_iteration: wall seconds of each iteration (chunk time / chunk length,
        the first chunk including compilation).
      state: the final :class:`SynthesisState` (for resuming).
      stop_reason: ``"max_iter"``, ``"converged"``, ``"non-finite loss"`` or ``"interrupted"``.
    """

    wave: np.ndarray
    loss_history: np.ndarray
    term_history: dict[str, np.ndarray]
    seconds_per_iteration: np.ndarray
    state: SynthesisState
    stop_reason: str


def init_noise(key, num_samples: int, *, std: float = 1e-3):
    """The initial waveform of SPEC §1: ``N(0, std**2)``, ``(num_samples,)`` float32."""
    return std * jax.random.normal(key, (num_samples,), jnp.float32)


class _ZoomWithoutAuxRecompute(jaxopt.ZoomLineSearch):
    """jaxopt's zoom line search, minus one wasted objective evaluation per iteration.

    ``LBFGSB.update`` hands the line search the current value and gradient but not the
    aux (our per-term losses), and ``ZoomLineSearch.init_state`` then evaluates the
    objective once more only to recover that aux. The line search never reads it: the
    aux it returns is always that of an evaluated step (the accepted one, or the safe
    step it re-evaluates on failure). So the starting aux here is a zeros placeholder of
    the right structure, and the solver's iterates are unchanged (tested against the
    plain search in ``tests/test_synthesis.py``). On a loss dominated by the nets this
    removes one forward pass (~1/3 of a loss+gradient) from every iteration.
    """

    def init_state(self, init_stepsize, params, value=None, grad=None, descent_direction=None,
                   fun_args=[], fun_kwargs={}):  # noqa: B006 (jaxopt's signature)
        if value is None or grad is None:
            return super().init_state(init_stepsize, params, value, grad, descent_direction, fun_args, fun_kwargs)
        plain = dataclasses.replace(self, has_aux=False)  # init_state's has_aux branch is the re-evaluation
        state = jaxopt.ZoomLineSearch.init_state(plain, init_stepsize, params, value, grad, descent_direction,
                                                 fun_args, fun_kwargs)
        _, aux_shape = jax.eval_shape(self.fun, params, *fun_args, **fun_kwargs)
        return state._replace(aux=jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), aux_shape))


@contextlib.contextmanager
def jaxopt_cauchy_point():
    """While tracing ``jaxopt.LBFGSB.update``, its Cauchy point is :func:`cauchy_point.cauchy_point`.

    jaxopt's own (``jaxopt._src.lbfgsb._find_cauchy_point``, a module-level function its
    ``update`` looks up when traced) sorts every breakpoint twice; ours takes the first
    few with ``top_k`` and gives the same point (BUILD_NOTES, "Synthesis"). The swap lasts
    only while the ``with`` body traces, and is skipped on a jaxopt without that function.
    A trace in another thread at the same moment may get jaxopt's search: slower, not
    different.
    """
    module = getattr(getattr(jaxopt, "_src", None), "lbfgsb", None)
    original = getattr(module, "_find_cauchy_point", None)
    if original is None:
        yield
        return
    module._find_cauchy_point = lambda *args: cauchy_point.cauchy_point(*args)[:3]
    try:
        yield
    finally:
        module._find_cauchy_point = original


def lbfgsb(value_and_terms, solver: SolverConfig):
    """The ``jaxopt.LBFGSB`` of ``value_and_terms(x, params) -> (value, {term: value})``.

    With ``solver.linesearch == "zoom"``, the zoom search without its wasted evaluation
    (:class:`_ZoomWithoutAuxRecompute`)."""
    linesearch = solver.linesearch
    if linesearch == "zoom":
        # The arguments LBFGSB itself would give its zoom search (maxls=30, max_stepsize=1).
        linesearch = _ZoomWithoutAuxRecompute(fun=value_and_terms, has_aux=True, maxiter=30, max_stepsize=1.0, jit=True)
    return jaxopt.LBFGSB(
        fun=value_and_terms,
        has_aux=True,
        maxiter=solver.max_iter,
        tol=solver.tol,
        history_size=solver.history_size,
        linesearch=linesearch,
        jit=True,
    )


class Step(NamedTuple):
    """One optimiser as two pure functions (the shape of optax's ``GradientTransformation``).

    ``bounds`` is ``(lower, upper)``, each ``objective.shape``; ``params`` the objective's.

    Attributes:
      init: ``init(x, bounds, params) -> opt_state``; evaluates the objective at ``x``.
      update: ``update(x, opt_state, bounds, params) -> (x, opt_state, value, terms,
        error)``: one iteration. The new ``x`` lies within the bounds; ``value`` (scalar)
        and ``terms`` (name -> weighted loss, scalars) are the objective there and
        ``error`` is its projected-gradient inf-norm ``max|clip(x - g) - x|`` (jaxopt's
        convergence measure).
    """

    init: Callable
    update: Callable


class OptaxState(NamedTuple):
    """State of an optax optimiser here: optax's own state plus the objective at ``x``.

    Attributes:
      inner: the optax state (L-BFGS memory and line-search state, or Adam's moments).
      value: objective at the current iterate, scalar.
      grad: its gradient, ``objective.shape``.
      terms: its weighted terms, name -> scalar.
    """

    inner: Any
    value: jax.Array
    grad: jax.Array
    terms: Any


def make_step(value_and_terms, solver: SolverConfig = SolverConfig()) -> Step:
    """The :class:`Step` of ``solver.optimizer`` for ``value_and_terms``.

    ``value_and_terms(x, params) -> (value, terms)`` is the objective's (scalar value,
    name -> scalar weighted terms).

    ``"lbfgsb"`` is ``jaxopt.LBFGSB`` (bounds handled inside the solver). ``"optax_lbfgs"``
    is ``optax.lbfgs`` (memory ``solver.history_size``, its zoom line search) and
    ``"adam"`` is ``optax.adam(solver.learning_rate)``; after each of their steps the
    iterate is projected into the bounds (``optax.projections.projection_box``), then the
    objective is evaluated there (value, gradient and terms in one pass; for L-BFGS, when
    the projection moved nothing, the line search's gradient at that point is reused and
    a forward pass gives value and terms, which optax's search does not keep).

    Example:
      >>> import jax.numpy as jnp
      >>> from mst_jax.config import SolverConfig
      >>> f = lambda x, p: (jnp.sum((x - p) ** 2), {"q": jnp.sum((x - p) ** 2)})
      >>> step = make_step(f, SolverConfig(optimizer="adam", learning_rate=0.1))
      >>> bounds = (-jnp.ones(3), jnp.ones(3))
      >>> x, p = jnp.zeros(3), jnp.full(3, 2.0)
      >>> st = step.init(x, bounds, p)
      >>> x, st, value, terms, error = step.update(x, st, bounds, p)
      >>> [round(float(v), 3) for v in x]
      [0.1, 0.1, 0.1]
    """
    if solver.optimizer == "lbfgsb":
        jaxopt_solver = lbfgsb(value_and_terms, solver)

        def update(x, st, box, params):
            with jaxopt_cauchy_point():
                x, st = jaxopt_solver.update(x, st, box, params)
            return x, st, st.value, st.aux, st.error

        return Step(jaxopt_solver.init_state, update)
    if solver.optimizer == "optax_lbfgs":
        tx = optax.lbfgs(memory_size=solver.history_size)
    elif solver.optimizer == "adam":
        tx = optax.adam(solver.learning_rate)
    else:
        raise ValueError(f"optimizer={solver.optimizer!r} is not one of lbfgsb, optax_lbfgs, adam")
    evaluate = jax.value_and_grad(value_and_terms, has_aux=True)

    def measure(x, params):
        (value, terms), grad = evaluate(x, params)
        return value, grad, terms

    def optax_init(x, bounds, params):
        value, grad, terms = measure(x, params)
        return OptaxState(tx.init(x), value, grad, terms)

    def measure_reusing_search(x, inner, params):
        # The zoom search ends with the value and gradient of its accepted point (what
        # optax.value_and_grad_from_state reads). Where the projection left that point
        # alone, its gradient is reused and only a forward pass gives value and terms.
        value, terms = value_and_terms(x, params)
        return value, optax.tree_utils.tree_get(inner, "grad"), terms

    def optax_update(x, st, bounds, params):
        def value_fn(y):  # the line search's objective
            return value_and_terms(y, params)[0]

        updates, inner = tx.update(
            st.grad, st.inner, x, value=st.value, grad=st.grad, value_fn=value_fn
        )
        stepped = optax.apply_updates(x, updates)
        x = optax.projections.projection_box(stepped, *bounds)
        if solver.optimizer == "optax_lbfgs":
            value, grad, terms = jax.lax.cond(
                jnp.all(x == stepped),
                lambda: measure_reusing_search(x, inner, params),
                lambda: measure(x, params),
            )
        else:
            value, grad, terms = measure(x, params)
        error = jnp.max(jnp.abs(jnp.clip(x - grad, *bounds) - x))
        return x, OptaxState(inner, value, grad, terms), value, terms, error

    return Step(optax_init, optax_update)


def bounds(shape, solver: SolverConfig):
    """``(lower, upper)`` box of the iterate, arrays of ``shape`` (float32)."""
    lower = jnp.full(shape, solver.lower, jnp.float32)
    upper = jnp.full(shape, solver.upper, jnp.float32)
    return lower, upper


def initial_state(objective: Objective, init_wave, solver: SolverConfig = SolverConfig()) -> SynthesisState:
    """Clip ``init_wave`` into the bounds and evaluate the optimiser's first state."""
    box = bounds(objective.shape, solver)
    x0 = jnp.clip(jnp.asarray(init_wave, jnp.float32), solver.lower, solver.upper)
    if x0.shape != tuple(objective.shape):
        raise ValueError(f"initial waveform has shape {x0.shape}, the objective expects {objective.shape}")
    st = _init_fn(objective.value_and_terms, solver)(x0, box, objective.params)
    # best_x must be its own buffer: the chunk donates the whole state.
    return SynthesisState(x0, st, jnp.copy(x0), jnp.float32(jnp.inf), jnp.int32(0), jnp.int32(0))


@functools.lru_cache(maxsize=32)
def _init_fn(value_and_terms, solver: SolverConfig):
    """The jitted ``Step.init`` for one objective function and solver (cached)."""
    return jax.jit(make_step(value_and_terms, solver).init)


@functools.lru_cache(maxsize=32)
def chunk_program(value_and_terms, names: tuple[str, ...], solver: SolverConfig):
    """The jitted chunk of optimiser iterations for one objective function and solver (cached:
    no recompiling when a run is resumed or continued; :mod:`mst_jax.batch_synthesis` vmaps it).

    ``chunk(state, params, bounds, n) -> (state, values (chunk,), terms (len(names), chunk),
    done)`` runs up to ``n <= solver.chunk`` iterations (fewer once the state has stopped);
    ``state`` is donated.
    """
    step = make_step(value_and_terms, solver)

    def chunk(state: SynthesisState, params, bounds, n):
        size = solver.chunk
        values = jnp.full((size,), jnp.nan, jnp.float32)
        terms = jnp.full((len(names), size), jnp.nan, jnp.float32)

        def cond(carry):
            i, s, _, _ = carry
            return (i < n) & (s.stopped == 0)

        def body(carry):
            i, s, values, terms = carry
            x, st, value, aux, error = step.update(s.x, s.solver_state, bounds, params)
            finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(x))
            better = finite & (value < s.best_value)
            best_x = jnp.where(better, x, s.best_x)
            best_value = jnp.where(better, value, s.best_value)
            stopped = jnp.where(~finite, 2, jnp.where(error <= solver.tol, 1, 0)).astype(jnp.int32)
            values = values.at[i].set(value)
            terms = terms.at[:, i].set(jnp.stack([aux[k] for k in names]))
            s = SynthesisState(x, st, best_x, best_value, s.iteration + 1, stopped)
            return i + 1, s, values, terms

        i, state, values, terms = jax.lax.while_loop(cond, body, (jnp.int32(0), state, values, terms))
        return state, values, terms, i

    return jax.jit(chunk, donate_argnums=(0,))


def polled_stop_reason(should_stop: Callable[[], bool | str] | None) -> str | None:
    """Polls ``should_stop`` between chunks: None to go on, else the run's stop reason
    (``"interrupted"`` for True, the string itself for a non-empty string).

    >>> polled_stop_reason(None), polled_stop_reason(lambda: False)
    (None, None)
    >>> polled_stop_reason(lambda: True)
    'interrupted'
    >>> polled_stop_reason(lambda: "content floor")
    'content floor'
    """
    stop = should_stop() if should_stop is not None else False
    if not stop:
        return None
    return stop if isinstance(stop, str) else "interrupted"


def synthesize(
    objective: Objective,
    init_wave=None,
    *,
    max_iter: int | None = None,
    solver: SolverConfig = SolverConfig(),
    state: SynthesisState | None = None,
    on_chunk: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool | str] | None = None,
) -> Result:
    """Minimise ``objective`` over the waveform with ``solver.optimizer`` within the bounds.

    Args:
      objective: from :func:`mst_jax.losses.build` (calibrated or raw weights).
      init_wave: initial iterate, ``objective.shape``; ignored when ``state`` is given.
      max_iter: total iterations (defaults to ``solver.max_iter``); a resumed run counts
        the iterations already done.
      solver: optimiser settings; ``solver.chunk`` iterations run per compiled call.
      state: a :class:`SynthesisState` to resume from.
      on_chunk: called after every chunk with a dict: ``iteration``, ``loss``,
        ``best_loss``, ``seconds_per_iteration``, ``state``, ``loss_history``,
        ``term_history`` (the histories so far).
      should_stop: polled between chunks; True stops the run (stop reason "interrupted"),
        a non-empty string stops it with that string as the stop reason.

    Returns:
      A :class:`Result`; ``wave`` is the best iterate seen.
    """
    max_iter = solver.max_iter if max_iter is None else int(max_iter)
    if max_iter < 1:
        raise ValueError(f"max_iter={max_iter} must be >= 1")
    if state is None:
        if init_wave is None:
            raise ValueError("synthesize: give init_wave or state")
        state = initial_state(objective, init_wave, solver)
    names = tuple(t.name for t in objective.config.terms)
    chunk_fn = chunk_program(objective.value_and_terms, names, solver)
    box = bounds(objective.shape, solver)
    loss_hist, term_hist, secs = [], [], []
    stop_reason = "max_iter"
    while int(state.iteration) < max_iter:
        reason = polled_stop_reason(should_stop)
        if reason is not None:
            stop_reason = reason
            break
        n = min(solver.chunk, max_iter - int(state.iteration))
        t0 = time.perf_counter()
        state, values, terms, done = chunk_fn(state, objective.params, box, jnp.int32(n))
        done = int(done)
        elapsed = time.perf_counter() - t0
        loss_hist.append(np.asarray(values)[:done])
        term_hist.append(np.asarray(terms)[:, :done])
        secs.append(np.full(done, elapsed / max(done, 1)))
        if on_chunk is not None:
            on_chunk(
                {
                    "iteration": int(state.iteration),
                    "loss": float(values[done - 1]) if done else float("nan"),
                    "best_loss": float(state.best_value),
                    "seconds_per_iteration": elapsed / max(done, 1),
                    "state": state,
                    "loss_history": np.concatenate(loss_hist),
                    "term_history": _terms_dict(names, term_hist),
                }
            )
        stopped = int(state.stopped)
        if stopped:
            stop_reason = "converged" if stopped == 1 else "non-finite loss"
            break
    best = state.best_x if np.isfinite(float(state.best_value)) else state.x
    return Result(
        wave=np.asarray(best),
        loss_history=np.concatenate(loss_hist) if loss_hist else np.zeros(0, np.float32),
        term_history=_terms_dict(names, term_hist),
        seconds_per_iteration=np.concatenate(secs) if secs else np.zeros(0),
        state=state,
        stop_reason=stop_reason,
    )


def _terms_dict(names, chunks):
    if not chunks:
        return {k: np.zeros(0, np.float32) for k in names}
    stacked = np.concatenate(chunks, axis=1)
    return {k: stacked[j] for j, k in enumerate(names)}
