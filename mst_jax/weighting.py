"""Eq. 7–8: each term's weight β from its gradient norm at a calibration point.

``β_t = Γ_t / ‖∂L_t/∂x‖`` (Eq. 7), so every weighted term's gradient has norm Γ_t where it
was measured (the initial noise; Eq. 8 then sums the weighted terms). :func:`gradient_norms`
is traceable (jitted here for one objective by :func:`term_gradient_norms`, vmapped by
:func:`mst_jax.batch.term_gradient_norms`); :func:`beta_from_norms` is the one place the
weighting itself is computed; :func:`calibrate` does both for an objective of
:func:`mst_jax.losses.build`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from mst_jax.config import LossConfig

if TYPE_CHECKING:  # losses.build calls calibrate: a runtime import would be circular
    from mst_jax.losses import Objective

__all__ = [
    "CalibrationError",
    "beta_from_norms",
    "calibrate",
    "gradient_norms",
    "term_gradient_norms",
]


class CalibrationError(ValueError):
    """Eq. 7 cannot weight a term: its gradient norm at the calibration point is zero or not finite.

    Attributes:
      term: the term's name (e.g. ``style_stft``).
      norm: the measured norm.
    """

    def __init__(self, term: str, norm: float, message: str):
        super().__init__(message)
        self.term = term
        self.norm = norm


def gradient_norms(terms: Callable, x, params, names: Sequence[str]) -> dict[str, jax.Array]:
    """``‖∂L_t/∂x‖_2`` of each unweighted term ``t`` in ``names`` at ``x`` (Eq. 7's denominator).

    Pure and traceable: :func:`term_gradient_norms` jits it for one objective,
    :func:`mst_jax.batch.term_gradient_norms` vmaps it over a batch.

    Args:
      terms: ``terms(x, params) -> {name: L_t(x)}`` (``Objective.terms``).
      x: the point, the objective's shape.
      params: the objective's params.
      names: the terms to measure.

    Returns:
      ``{name: scalar}``.
    """
    out = {}
    for name in names:
        g = jax.grad(lambda y, name=name: terms(y, params)[name])(x)
        out[name] = jnp.sqrt(jnp.sum(jnp.square(g)))
    return out


def term_gradient_norms(objective: Objective, x) -> dict[str, float]:
    """:func:`gradient_norms` of every term of ``objective`` at ``x`` (one compiled program)."""

    def norms(x, p):
        return gradient_norms(objective.terms, x, p, tuple(p["beta"]))

    measured = jax.jit(norms)(jnp.asarray(x, jnp.float32), objective.params)
    return {k: float(v) for k, v in measured.items()}


def beta_from_norms(
    config: LossConfig, norms: dict[str, float], *, gammas: dict[str, float] | None = None
) -> dict[str, float]:
    """The weights β of Eq. 8 from measured norms: ``β_t = Γ_t / ‖∂L_t/∂x‖`` (Eq. 7), so each
    weighted term's gradient norm at the point of measurement equals its Γ.

    A term with Γ = 0 gets β = 0 (it is off). With ``config.normalize_gradients`` False the
    weights are raw: β = Γ, whatever the norms.

    Args:
      config: the terms (their names and Γ).
      norms: ``{term name: ‖∂L_t/∂x‖}`` (:func:`term_gradient_norms`).
      gammas: ``{term name: Γ}`` replacing the config's Γ (a batch run switching terms off).

    Returns:
      ``{term name: β}`` as Python floats.

    Raises:
      CalibrationError: a term with Γ > 0 has a zero or non-finite norm (normalised weights only).
    """
    beta = {}
    for t in config.terms:
        gamma = float(t.gamma if gammas is None else gammas[t.name])
        n = float(norms[t.name])
        if not config.normalize_gradients:
            beta[t.name] = gamma
        elif gamma == 0:
            beta[t.name] = 0.0
        elif np.isfinite(n) and n > 0:
            beta[t.name] = gamma / n
        else:
            raise CalibrationError(
                t.name,
                n,
                f"the gradient of {t.name} at the initial point has norm {n}; "
                "Eq. 7 needs a non-zero finite gradient",
            )
    return beta


def calibrate(objective: Objective, x) -> Objective:
    """Eq. 7–8 at ``x`` (:func:`beta_from_norms` of :func:`term_gradient_norms`).

    Args:
      objective: from :func:`mst_jax.losses.build`; its Γ are read from ``objective.config``.
      x: the point of calibration (the initial waveform), shape ``objective.shape``.

    Returns:
      The objective with new ``params["beta"]``.

    Raises:
      CalibrationError: if a term with Γ > 0 has a zero or non-finite gradient at ``x``
        (e.g. a content term calibrated at the content itself).
    """
    norms = term_gradient_norms(objective, x)
    values = jax.jit(objective.terms)(jnp.asarray(x, jnp.float32), objective.params)
    for t in objective.config.terms:
        if t.gamma != 0 and t.kind in ("content", "spectrum"):
            # relative error below 1e-8: x is the target itself, the gradient is rounding noise
            energy = 0.5 * float(jnp.sum(jnp.square(objective.params["targets"][t.name])))
            if float(values[t.name]) <= 1e-8 * energy:
                raise CalibrationError(
                    t.name,
                    norms[t.name],
                    f"calibrate: the gradient of {t.name} at the initial point has norm "
                    f"{norms[t.name]}; Eq. 7 needs a non-zero finite gradient (calibrate at "
                    "noise, not at the content)",
                )
    try:
        normalized = dataclasses.replace(objective.config, normalize_gradients=True)
        beta = beta_from_norms(normalized, norms)
    except CalibrationError as e:
        raise CalibrationError(e.term, e.norm, f"calibrate: {e}") from None
    params = dict(objective.params, beta={k: jnp.float32(v) for k, v in beta.items()})
    return objective._replace(params=params)
