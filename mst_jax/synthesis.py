"""Synthesis: minimise an objective over its variable (the waveform, or the baseline's spectrogram) within box bounds.

Three optimisers (``SolverConfig.optimizer``) share one solver loop: ``jaxopt.LBFGSB``
(the default), ``optax.lbfgs`` and ``optax.adam``, each a ``Step`` (a pair of pure
functions, :mod:`mst_jax.optimizers`), so the chunked loop below exists once. The solver
runs in jitted chunks of iterations (``lax.while_loop`` inside one ``jax.jit``), so progress,
checkpoints and signals are handled between chunks without retracing; the last, shorter chunk
reuses the same program (its length is a traced argument). The state between chunks
(:class:`SynthesisState`) is a pytree of arrays, so it can be saved and a run resumed
bit-identically.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mst_jax.config import SolverConfig
from mst_jax.losses import Objective
from mst_jax.optimizers import make_step

__all__ = [
    "Result",
    "SynthesisState",
    "bounds",
    "chunk_program",
    "init_noise",
    "initial_state",
    "polled_stop_reason",
    "synthesize",
]


class SynthesisState(NamedTuple):
    """Everything needed to continue a run.

    Attributes:
      x: current iterate, ``objective.shape``.
      solver_state: the optimiser's state: ``jaxopt`` L-BFGS-B state (history pairs,
        value, gradient, ...) or an :class:`mst_jax.optimizers.OptaxState`.
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
