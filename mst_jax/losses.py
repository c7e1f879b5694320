"""The objective (Eq. 9): a :class:`~mst_jax.config.LossConfig` assembled into one pure function
of the waveform, its targets, and its weights β.

The weights β by gradient norms (Eq. 7–8) are measured by :mod:`mst_jax.weighting`.

The terms themselves (Eq. 1–4 and the L1 penalty) live in :mod:`mst_jax.terms`; ``gram``,
``content_loss``, ``style_loss`` and ``l1_penalty`` are re-exported here because SPEC.md §2
names them ``mst_jax.losses.*``. The feature maps come from :mod:`mst_jax.features`.

The objective's arrays (network weights, filterbanks, content features, style grams and
the weights β) live in a ``params`` pytree that is passed to the jitted function as an
argument, never closed over: closing over a 4096 x 1025 x 11 kernel makes XLA fold it
into the program as a constant, which compiles far slower.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mst_jax import features as features_lib
from mst_jax import networks, spectral, weighting
from mst_jax.config import LossConfig, StftConfig
from mst_jax.terms import content_loss, gram, l1_penalty, style_loss

__all__ = [
    "WAVEFORM",
    "Objective",
    "Variable",
    "assemble",
    "build",
    "content_loss",
    "gram",
    "l1_penalty",
    "style_loss",
]


class Objective(NamedTuple):
    """A compiled-once objective of the optimised variable.

    Attributes:
      fn: ``fn(x, params) -> scalar``, Eq. 9: ``sum_t beta_t * L_t(x)``. Pure and
        jit-compatible; ``x`` is the waveform ``(samples,)`` (:func:`build`), or whatever
        the objective's :class:`Variable` is (the log-magnitude STFT ``(frames, bins)`` of
        :func:`mst_jax.baseline.build`).
      terms: ``terms(x, params) -> {name: L_t(x)}``, the unweighted terms.
      value_and_terms: ``(x, params) -> (total, {name: beta_t * L_t(x)})`` in one pass.
      params: the pytree of arrays: ``nets``, ``filterbanks``, ``targets``, ``beta``.
      config: the loss configuration.
      sr: sample rate in Hz.
      shape: shape of the optimised variable.
    """

    fn: Callable[[jax.Array, Any], jax.Array]
    terms: Callable[[jax.Array, Any], dict[str, jax.Array]]
    value_and_terms: Callable[[jax.Array, Any], tuple[jax.Array, dict[str, jax.Array]]]
    params: dict[str, Any]
    config: LossConfig
    sr: int
    shape: tuple[int, ...]


class Variable(NamedTuple):
    """What an objective optimises, as seen by its STFT (:data:`WAVEFORM`, or
    :data:`mst_jax.baseline.LOG_MAGNITUDE`).

    Attributes:
      of_wave: ``(wave (samples,), stft) -> x``: a waveform as the variable (content
        targets are taken through it).
      spectra: ``(x, stft) -> (log_magnitude (frames, bins), magnitude (frames, bins) or None)``.
      shape: ``(num_samples, stft) -> x.shape``.
    """

    of_wave: Callable[[jax.Array, StftConfig], jax.Array]
    spectra: Callable[[jax.Array, StftConfig], tuple[jax.Array, Any]]
    shape: Callable[[int, StftConfig], tuple[int, ...]]


def _waveform_spectra(x, stft: StftConfig):
    mag = spectral.stft_magnitude(x, n_fft=stft.n_fft, hop_length=stft.hop_length)
    return spectral.log_spectrogram(mag), mag


WAVEFORM = Variable(
    of_wave=lambda wave, stft: jnp.asarray(wave, jnp.float32),
    spectra=_waveform_spectra,
    shape=lambda num_samples, stft: (num_samples,),
)
"""The paper's variable: the waveform ``(samples,)`` itself."""


def _term_values(config: LossConfig, ids, feats, log_mag, mag, targets):
    values = {}
    for t in config.terms:
        if t.kind == "l1":
            values[t.name] = l1_penalty(log_mag)
        elif t.kind == "spectrum":
            values[t.name] = content_loss(targets[t.name], mag)
        elif t.kind == "content":
            values[t.name] = content_loss(targets[t.name], feats[ids[t.name]][-1])
        else:
            values[t.name] = style_loss(targets[t.name], feats[ids[t.name]])
    return values


def build(
    config: LossConfig,
    key: jax.Array,
    *,
    content=None,
    style=None,
    sr: int,
    init_wave=None,
    num_samples: int | None = None,
    style_chunk_frames: int = 1024,
) -> Objective:
    """Turn a loss configuration into an :class:`Objective` of the waveform (SPEC.md §2).

    :func:`assemble` with the :data:`WAVEFORM` variable; β starts as Γ (raw weights); when
    ``config.normalize_gradients`` is set and ``init_wave`` is given, β is calibrated by
    Eq. 7–8 at ``init_wave`` (see :func:`mst_jax.weighting.calibrate`).

    Args:
      config: the terms, nets and STFT.
      key: PRNG key for the random kernels.
      content: ``(samples,)`` content waveform; required if there is a content term.
        The optimised waveform has its length.
      style: ``(samples,)`` style waveform or a list of them (any lengths); required if
        there is a style term.
      sr: sample rate in Hz.
      init_wave: the initial waveform, for Eq. 7–8 calibration.
      num_samples: length of the optimised waveform when there is no content (texture).
      style_chunk_frames: see :func:`assemble`.

    Returns:
      The objective; ``objective.fn(x, objective.params)`` is the scalar loss.

    Raises:
      ValueError: on missing inputs or clips too short for the STFT.
    """
    objective = assemble(
        config,
        key,
        WAVEFORM,
        content=content,
        style=style,
        sr=sr,
        num_samples=num_samples,
        style_chunk_frames=style_chunk_frames,
    )
    if config.normalize_gradients and init_wave is not None:
        objective = weighting.calibrate(objective, init_wave)
    return objective


def assemble(
    config: LossConfig,
    key: jax.Array,
    variable: Variable,
    *,
    content=None,
    style=None,
    sr: int,
    num_samples: int | None = None,
    style_chunk_frames: int = 1024,
) -> Objective:
    """The uncalibrated objective (β = Γ) of ``variable``: Eq. 9 over the configuration's terms.

    Network weights come from ``key`` (split per representation, then per content/style
    net, :func:`mst_jax.features.net_keys`). Content features are computed once from
    ``content``; style grams once from ``style`` (one waveform, or a list whose grams are
    averaged), both taken through ``variable.of_wave``.

    Args:
      config: the terms, nets and STFT.
      key: PRNG key for the random kernels.
      variable: what is optimised (:data:`WAVEFORM`, :data:`mst_jax.baseline.LOG_MAGNITUDE`).
      content: ``(samples,)`` content waveform; required if there is a content term.
      style: ``(samples,)`` style waveform or a list of them (any lengths); required if
        there is a style term.
      sr: sample rate in Hz.
      num_samples: length of the waveform when there is no content (texture).
      style_chunk_frames: style clips longer than this (plus the nets' receptive field)
        get their grams accumulated over chunks of this many frames
        (:func:`mst_jax.features.chunked_grams`), so a style clip of minutes costs only its grams in memory.

    Returns:
      The objective, ``shape`` ``variable.shape(num_samples, config.stft)``.

    Raises:
      ValueError: on missing inputs or clips too short for the STFT.
    """
    n_fft = config.stft.n_fft
    if config.has_content and content is None:
        raise ValueError("build: the configuration has a content term but no content was given")
    if config.has_style and style is None:
        raise ValueError("build: the configuration has a style term but no style was given")
    if content is not None:
        num_samples = int(np.shape(content)[-1])
    if num_samples is None:
        raise ValueError("build: give content or num_samples")
    if style is None:
        styles = []
    elif isinstance(style, (list, tuple)):
        styles = list(style)
    else:
        styles = [style]

    if style_chunk_frames < 1:
        raise ValueError(f"build: style_chunk_frames={style_chunk_frames} must be >= 1")
    feats = features_lib.make(config, spectra=lambda x: variable.spectra(x, config.stft))
    features, fronts, net_fns, ids = feats
    net_cfgs, fbanks = {}, {}
    for t in config.terms:
        if t.net is None:
            continue
        net_cfgs[ids[t.name]] = t.net
        fb = features_lib.filterbank(t.net, sr=sr, n_fft=n_fft)
        if fb is not None:
            fbanks[features_lib.frontend_id(t.net)] = jnp.asarray(fb)

    def to_x(wave):
        return variable.of_wave(jnp.asarray(wave, jnp.float32), config.stft)

    def prepare(key, fbanks, content, styles):
        """Kernels and targets in one compiled program (compiling op by op is slower)."""
        keys = features_lib.net_keys(key, config)
        nets = {nid: networks.make(c, n_fft=n_fft).init(keys[nid]) for nid, c in net_cfgs.items()}
        p = {"nets": nets, "filterbanks": fbanks}
        targets = {}
        if content is not None:
            content_feats, _, content_mag = features(to_x(content), p)
        style_nets = sorted({ids[t.name] for t in config.terms if t.kind == "style"})
        per_clip = []  # per style clip: net id -> one gram per layer
        for s in styles:
            front = fronts(to_x(s), p)[0]
            per_clip.append({
                nid: features_lib.chunked_grams(
                    lambda f, nid=nid: net_fns[nid][1].apply(nets[nid], f),
                    front[features_lib.frontend_id(net_fns[nid][0])],
                    chunk_frames=style_chunk_frames,
                    halo_frames=net_fns[nid][0].receptive_field_frames - 1,
                )
                for nid in style_nets
            })
        for t in config.terms:
            if t.kind == "content":
                targets[t.name] = content_feats[ids[t.name]][-1]
            elif t.kind == "spectrum":
                targets[t.name] = content_mag
            elif t.kind == "style":
                nid = ids[t.name]
                targets[t.name] = [
                    sum(clip[nid][layer] for clip in per_clip) / len(per_clip)
                    for layer in range(len(per_clip[0][nid]))
                ]
        return nets, targets

    as_f32 = lambda w: None if w is None else jnp.asarray(w, jnp.float32)
    nets_params, targets = jax.jit(prepare)(key, fbanks, as_f32(content), [as_f32(s) for s in styles])
    params = {
        "nets": nets_params,
        "filterbanks": fbanks,
        "targets": targets,
        "beta": {t.name: jnp.float32(t.gamma) for t in config.terms},
    }

    def terms(x, p):
        feats, log_mag, mag = features(x, p)
        return _term_values(config, ids, feats, log_mag, mag, p["targets"])

    def value_and_terms(x, p):
        weighted = {name: p["beta"][name] * v for name, v in terms(x, p).items()}
        return sum(weighted.values()), weighted

    def fn(x, p):
        return value_and_terms(x, p)[0]

    shape = tuple(variable.shape(num_samples, config.stft))
    return Objective(fn, terms, value_and_terms, params, config, sr, shape)
