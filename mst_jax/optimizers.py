"""The optimisers as ``Step`` pairs of pure functions: L-BFGS-B (jaxopt), L-BFGS and Adam (optax).

:mod:`mst_jax.synthesis` runs any of them in its one chunked solver loop; ``SolverConfig.optimizer``
chooses. ``jaxopt.LBFGSB`` (the default) handles the bounds itself, with two changes made
through its API or while its update is traced: the zoom line search without its wasted
objective evaluation (:class:`_ZoomWithoutAuxRecompute`) and our Cauchy point
(:mod:`mst_jax.cauchy_point`, no full sort; :func:`jaxopt_cauchy_point`). The optax
optimisers project the iterate into the bounds after every step. This is the only module
that imports jaxopt (unmaintained; kept in one place; pyproject pins it, and
``tests/test_synthesis.py`` checks the internals used).
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

with __import__("warnings").catch_warnings():
    __import__("warnings").simplefilter("ignore", DeprecationWarning)
    import jaxopt
import optax

from mst_jax import cauchy_point
from mst_jax.config import SolverConfig

__all__ = ["OptaxState", "Step", "jaxopt_cauchy_point", "lbfgsb", "make_step"]


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
        linesearch_init=solver.linesearch_init,
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
