"""The generalized Cauchy point: the definition in float64 numpy, and jaxopt's own search."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxopt._src import lbfgsb as jaxopt_lbfgsb

from mst_jax.cauchy_point import cauchy_point


def _compact_lbfgs(n, pairs, theta, rng):
    """W = [Y, θS] and M of Byrd et al. eq. 3.3-3.4 from curvature pairs of a diagonal
    SPD matrix (so sᵀy > 0), and the dense B = θI - W M Wᵀ they stand for."""
    a = rng.uniform(0.5, 5.0, n)
    s = rng.standard_normal((pairs, n))
    y = s * a
    sy = s @ y.T
    m_inv = np.block([[-np.diag(np.diag(sy)), np.tril(sy, -1).T], [np.tril(sy, -1), theta * s @ s.T]])
    w = np.concatenate([y, theta * s]).T
    m = np.linalg.inv(m_inv)
    return w, m, theta * np.eye(n) - w @ m @ w.T


def _problem(n, *, at_bounds, grad_scale, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.9, 0.9, n)
    hit = rng.random(n) < at_bounds
    x[hit] = np.sign(x[hit])
    g = rng.standard_normal(n) * grad_scale
    w, m, b = _compact_lbfgs(n, 3, 1.0, rng)
    return x, g, -np.ones(n), np.ones(n), w, m, b


def _first_minimiser_along_projected_path(x, g, lo, hi, b):
    """The definition, in float64: walk the pieces of x(t) = clip(x - t g, lo, hi) in order of
    their ends and stop in the first piece where q(t) = gᵀ(x(t) - x) + ½ (x(t) - x)ᵀ B (x(t) - x)
    stops decreasing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t_hit = np.where(g < 0, (x - hi) / g, np.where(g > 0, (x - lo) / g, np.inf))
    ends = np.unique(np.concatenate([t_hit[np.isfinite(t_hit) & (t_hit > 0)], [np.inf]]))
    start = 0.0
    for end in ends:
        z = np.clip(x - start * g, lo, hi) - x  # x(start) - x
        d = np.where(t_hit > start, -g, 0.0)  # coordinates still moving on this piece
        f1, f2 = g @ d + z @ b @ d, d @ b @ d
        if f1 >= 0:
            return x + z
        if f2 > 0 and -f1 / f2 < end - start:
            return x + z - f1 / f2 * d
        start = end
    raise AssertionError("unbounded along the path")


@pytest.mark.parametrize(
    "at_bounds, grad_scale, candidates, sorts_all",
    [
        (0.0, 0.05, 16, False),  # small steps: a few breakpoints, found by top_k
        (0.5, 0.05, 16, False),  # ~50 held at their bounds: skipped, so 16 candidates do
        (0.0, 5.0, 16, True),  # large steps pass every candidate: the full sort
        (0.3, 5.0, 400, False),  # as many candidates as coordinates: never a full sort
    ],
)
def test_cauchy_point_is_the_first_minimiser_along_the_projected_path(at_bounds, grad_scale, candidates, sorts_all):
    x, g, lo, hi, w, m, b = _problem(200 if candidates < 400 else 150, at_bounds=at_bounds, grad_scale=grad_scale, seed=4)
    # In float64, so that the recurrences over up to ~170 breakpoints (float32: 1e-4 apart
    # from the definition, as jaxopt's) are checked to rounding.
    with jax.enable_x64():
        cp = jax.jit(cauchy_point, static_argnames="candidates")(
            *[jnp.asarray(v) for v in (x, g, lo, hi, 1.0, w, m)], candidates=candidates
        )
        assert cp.x.dtype == jnp.float64
    assert bool(cp.sorted_all) == sorts_all  # both branches of the search are checked
    held = np.sum(((x == hi) & (g < 0)) | ((x == lo) & (g > 0)))
    assert held > candidates or at_bounds < 0.5  # more held coordinates than candidates
    ref = _first_minimiser_along_projected_path(x, g, lo, hi, b)
    np.testing.assert_allclose(cp.x, ref, rtol=1e-9, atol=1e-11)  # measured 3e-13 apart
    free = (ref > lo + 1e-9) & (ref < hi - 1e-9)  # x + (clip(.) - x) may miss a bound by an ulp
    assert np.all(np.asarray(cp.active)[free])  # every coordinate strictly inside the box is free


@pytest.mark.parametrize("at_bounds, grad_scale", [(0.0, 0.05), (0.5, 0.05), (0.0, 5.0), (0.3, 5.0)])
@pytest.mark.parametrize("candidates", [8, 64])
def test_cauchy_point_equals_jaxopts(at_bounds, grad_scale, candidates):
    """Same point, start vector and free set as jaxopt's full-sort search (the one we replace)."""
    x, g, lo, hi, w, m, _ = _problem(300, at_bounds=at_bounds, grad_scale=grad_scale, seed=5)
    x[:20] = 0.5
    g[:20] = 1.0  # twenty equal breakpoints: ties are taken in the same order
    x[20:23], g[20:23] = 1.25, -1.0  # outside the box (never in a run): negative breakpoints,
    # where jaxopt starts the first piece (its last breakpoint at or below eps, not 0)
    args = [jnp.asarray(v, jnp.float32) for v in (x, g, lo, hi)] + [jnp.float32(1.0)]
    args += [jnp.asarray(w, jnp.float32), jnp.asarray(m, jnp.float32)]
    ref = jax.jit(jaxopt_lbfgsb._find_cauchy_point)(*args)
    ours = jax.jit(cauchy_point, static_argnames="candidates")(*args, candidates=candidates)
    np.testing.assert_allclose(ours.x, ref[0], rtol=1e-6, atol=1e-7)  # the same float32 operations
    np.testing.assert_allclose(ours.c, ref[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ours.active, ref[2])


def test_cauchy_point_under_vmap_is_each_elements():
    """--batch vmaps the solver: one element that outruns its candidates (the full sort) and
    one that does not must each get their own point, as unbatched."""
    problems = [_problem(300, at_bounds=0.2, grad_scale=s, seed=6 + i) for i, s in enumerate((5.0, 0.05))]
    stack = lambda j: jnp.asarray(np.stack([p[j] for p in problems]), jnp.float32)
    one = jax.jit(lambda *a: cauchy_point(*a, candidates=16))
    batched = jax.jit(jax.vmap(lambda x, g, lo, hi, w, m: cauchy_point(x, g, lo, hi, 1.0, w, m, candidates=16)))
    got = batched(stack(0), stack(1), stack(2), stack(3), stack(4), stack(5))
    assert list(np.asarray(got.sorted_all)) == [True, False]
    for b, p in enumerate(problems):
        ref = one(*[jnp.asarray(v, jnp.float32) for v in p[:4]], 1.0, *[jnp.asarray(v, jnp.float32) for v in p[4:6]])
        np.testing.assert_allclose(got.x[b], ref.x, rtol=1e-6, atol=1e-7)  # batched float32 dots
        np.testing.assert_array_equal(got.active[b], ref.active)


def test_the_full_sort_stays_inside_its_loop_under_vmap():
    """Under vmap the fall-back sort must stay in the loop that runs only when some element
    outran its candidates: hoisted into the program's entry it would run every iteration
    (XLA hoists it unless the keys pass through an optimization barrier)."""
    n, batch = 500, 2
    f = jax.vmap(lambda x, g, lo, hi, w, m: cauchy_point(x, g, lo, hi, 1.0, w, m, candidates=16))
    args = [jnp.zeros((batch, n))] * 4 + [jnp.zeros((batch, n, 4)), jnp.zeros((batch, 4, 4))]
    hlo = jax.jit(f).lower(*args).compile().as_text()
    blocks = hlo.split("\n\n")
    with_sort = [b for b in blocks if " sort(" in b]
    assert with_sort  # the full sort is in the program
    assert not any(b.lstrip().startswith("ENTRY") for b in with_sort)
