"""Loss terms (Eq. 1–4), the L1 sparsity penalty, gradient-norm weighting (Eq. 7–9),
and :func:`build`, which turns a :class:`~mst_jax.config.LossConfig` into one pure
objective of the waveform.

The objective's arrays (network weights, filterbanks, content features, style grams and
the weights β) live in a ``params`` pytree that is passed to the jitted function as an
argument, never closed over: closing over a 4096 x 1025 x 11 kernel makes XLA fold it
into the program as a constant, which compiles far slower.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from mst_jax import filters, networks, spectral
from mst_jax.config import CqtNetConfig, LossConfig, MelNetConfig, NetConfig

__all__ = [
    "CalibrationError",
    "Objective",
    "beta_from_norms",
    "build",
    "calibrate",
    "chunked_grams",
    "content_loss",
    "gradient_norms",
    "gram",
    "l1_penalty",
    "style_loss",
    "term_gradient_norms",
]


def _check_same_shape(name, a, b):
    if a.shape != b.shape:
        raise ValueError(f"{name}: shapes differ, {a.shape} vs {b.shape}")


def gram(features):
    """Gram matrix normalised by the number of positions (paper §3.5, SPEC §1).

    .. math:: G = F^\\top F / P

    where ``F`` is the feature map flattened to ``(P, channels)``, ``P`` the number of
    positions (frames, or frames x bins for the CQT net). Dividing by ``P`` makes grams
    of clips of different lengths comparable.

    Args:
      features: ``(positions..., channels)``, e.g. ``(frames, channels)`` or
        ``(frames, bins, channels)``. Use ``jax.vmap`` for a batch.

    Returns:
      ``(channels, channels)``.

    >>> import jax.numpy as jnp
    >>> gram(jnp.ones((4, 3))).tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    f = features.reshape(-1, features.shape[-1])
    return (f.T @ f) / f.shape[0]


def content_loss(target, features):
    """Eq. 1: half the squared L2 distance between feature maps.

    .. math:: L_{content}(C, X) = \\tfrac12 \\sum_{i,j} (C_{ij} - X_{ij})^2

    Args:
      target: content features ``C``, any shape.
      features: generated features ``X``, same shape (checked, never broadcast).

    Returns:
      Scalar.
    """
    _check_same_shape("content_loss", target, features)
    return 0.5 * jnp.sum(jnp.square(target - features))


def style_loss(target_grams: Sequence[jax.Array], features: Sequence[jax.Array]):
    """Eq. 4 summed over layers: squared gram distance divided by ``N_f ** 2``.

    .. math:: L_{style} = \\sum_{l} \\frac{1}{N_l^2} \\sum_{i,j} (G^l_{ij} - W^l_{ij})^2

    with ``W^l = gram(features[l])`` and ``N_l`` the channels of layer ``l``.

    Args:
      target_grams: one ``(N_l, N_l)`` gram per layer (from the style audio).
      features: one feature map ``(positions..., N_l)`` per layer.

    Returns:
      Scalar.
    """
    if len(target_grams) != len(features):
        raise ValueError(f"style_loss: {len(target_grams)} target grams for {len(features)} layers")
    total = 0.0
    for g, f in zip(target_grams, features):
        w = gram(f)
        _check_same_shape("style_loss", g, w)
        total = total + jnp.sum(jnp.square(g - w)) / (w.shape[-1] ** 2)
    return total


def l1_penalty(log_magnitude):
    """L1 sparsity of the log-magnitude STFT (paper §4.3): ``sum |log1p|X||``.

    Args:
      log_magnitude: ``(..., frames, bins)``.

    Returns:
      Scalar (sum over every axis).
    """
    return jnp.sum(jnp.abs(log_magnitude))


# --------------------------------------------------------------------------- objective


class Objective(NamedTuple):
    """A compiled-once objective of the optimised variable.

    Attributes:
      fn: ``fn(x, params) -> scalar``, Eq. 9: ``sum_t beta_t * L_t(x)``. Pure and
        jit-compatible; ``x`` is the waveform ``(samples,)`` (or the log-magnitude STFT
        ``(frames, bins)`` in the spectrogram domain).
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


def _frontend_id(net: NetConfig) -> str:
    if isinstance(net, MelNetConfig):
        return f"mel{net.n_mels}_{net.fmin:g}_{net.fmax}"
    if isinstance(net, CqtNetConfig):
        return f"cqt{net.n_bins}_{net.bins_per_octave}_{net.fmin:g}_{net.filter_scale:g}"
    return "stft"


def filterbank(net: NetConfig, *, sr: int, n_fft: int):
    """The front end's projection of the magnitude STFT for ``net``: the Mel or pseudo-CQT
    filterbank ``(n_fft // 2 + 1, bins)``, or None for the STFT net."""
    if isinstance(net, MelNetConfig):
        return filters.mel_filterbank(sr=sr, n_fft=n_fft, n_mels=net.n_mels, fmin=net.fmin, fmax=net.fmax)
    if isinstance(net, CqtNetConfig):
        return filters.cqt_filterbank(
            sr=sr,
            n_fft=n_fft,
            n_bins=net.n_bins,
            bins_per_octave=net.bins_per_octave,
            fmin=net.fmin,
            filter_scale=net.filter_scale,
        )
    return None


def net_ids(config: LossConfig) -> dict[str, str]:
    """Term name -> network id. A content and a style term whose nets are equal share one id
    (one set of weights, one forward pass); otherwise ids are ``content_<rep>`` / ``style_<rep>``."""
    ids = {}
    for t in config.terms:
        if t.net is None:
            continue
        other = config.term(("style_" if t.kind == "content" else "content_") + t.representation)
        shared = other is not None and other.net == t.net
        ids[t.name] = t.representation if shared else t.name
    return ids


def _net_keys(key, config: LossConfig) -> dict[str, jax.Array]:
    """Independent subkeys per network: split by representation, then content/style.

    A shared net takes the style subkey, so a style net's weights depend only on the
    key and its own config, not on which content term sits beside it.
    """
    rep_keys = dict(zip(("stft", "mel", "cqt"), jax.random.split(key, 3)))
    keys = {}
    for name, nid in net_ids(config).items():
        content_key, style_key = jax.random.split(rep_keys[nid.split("_")[-1]])
        keys[nid] = content_key if nid.startswith("content_") else style_key
    return keys


def _make_features_fn(config: LossConfig, sr: int):
    """``features(x, params) -> ({net_id: [maps]}, log_magnitude, magnitude)``: one STFT,
    one projection per distinct front end, one forward pass per distinct network.

    Also returns ``fronts(x, params) -> ({front_id: (frames, bins)}, log_mag, mag)`` and
    ``nets`` (net id -> (config, Network)) for callers that run the nets themselves."""
    n_fft, hop = config.stft.n_fft, config.stft.hop_length
    ids = net_ids(config)
    nets = {}
    for t in config.terms:
        if t.net is not None:
            nets[ids[t.name]] = (t.net, networks.make(t.net, n_fft=n_fft))

    def fronts(x, params):
        if config.domain == "spectrogram":
            mag, log_mag = None, x
        else:
            mag = spectral.stft_magnitude(x, n_fft=n_fft, hop_length=hop)
            log_mag = spectral.log_spectrogram(mag)
        out = {"stft": log_mag}
        for cfg, _ in nets.values():
            fid = _frontend_id(cfg)
            if fid not in out:
                out[fid] = spectral.log_spectrogram(mag, params["filterbanks"][fid])
        return out, log_mag, mag

    def features(x, params):
        front, log_mag, mag = fronts(x, params)
        out = {nid: net.apply(params["nets"][nid], front[_frontend_id(cfg)]) for nid, (cfg, net) in nets.items()}
        return out, log_mag, mag

    return features, fronts, nets, ids


def chunked_grams(apply, front, *, chunk_frames: int, halo_frames: int):
    """Every layer's :func:`gram` of ``apply(front)``, accumulated over chunks of frames.

    The grams of a long style clip without holding its whole feature maps: windows of
    ``chunk_frames + 2 * halo_frames`` frames slide over the front end; each adds
    ``FᵀF`` of its middle ``chunk_frames`` frames only. With ``halo_frames`` at least the
    network's receptive field minus one, those frames see exactly the input they see in
    the whole clip (windows at the clip's ends are shifted inwards, so the nets' own zero
    padding is where it is for the whole clip), and the result equals ``[gram(m) for m in
    apply(front)]`` up to float32 summation order. One compiled window, run by
    ``lax.scan``.

    Args:
      apply: ``(frames, bins) -> [maps]`` with maps ``(frames, ..., channels)``; the
        network must keep the frame axis (SAME padding, no pooling in time).
      front: the front-end spectrogram, ``(frames, bins)``.
      chunk_frames: frames that each window contributes.
      halo_frames: context frames on each side of a window's contribution.

    Returns:
      One ``(channels, channels)`` gram per layer.
    """
    frames = front.shape[0]
    window = chunk_frames + 2 * halo_frames
    if frames <= window:
        return [gram(m) for m in apply(front)]
    starts = jnp.arange(0, frames, chunk_frames)
    shapes = jax.eval_shape(apply, front[:window])

    def add(acc, s):
        a = jnp.clip(s - halo_frames, 0, frames - window)
        maps = apply(jax.lax.dynamic_slice_in_dim(front, a, window))
        t = a + jnp.arange(window)
        keep = ((t >= s) & (t < s + chunk_frames)).astype(front.dtype)
        out = []
        for g, m in zip(acc, maps):
            f = (m * keep.reshape((window,) + (1,) * (m.ndim - 1))).reshape(-1, m.shape[-1])
            out.append(g + f.T @ f)
        return out, None

    zeros = [jnp.zeros((m.shape[-1], m.shape[-1]), m.dtype) for m in shapes]
    sums, _ = jax.lax.scan(add, zeros, starts)
    positions_per_frame = [int(np.prod(m.shape[1:-1])) for m in shapes]
    return [g / (frames * p) for g, p in zip(sums, positions_per_frame)]


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
    """Turn a loss configuration into an :class:`Objective` of the waveform.

    Network weights come from ``key`` (split per representation, then per content/style
    net). Content features are computed once from ``content``; style grams once from
    ``style`` (one waveform, or a list whose grams are averaged). β starts as Γ (raw
    weights); when ``config.normalize_gradients`` is set and ``init_wave`` is given, β is
    calibrated by Eq. 7–8 at ``init_wave`` (see :func:`calibrate`).

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
      style_chunk_frames: style clips longer than this (plus the nets' receptive field)
        get their grams accumulated over chunks of this many frames
        (:func:`chunked_grams`), so a style clip of minutes costs only its grams in memory.

    Returns:
      The objective; ``objective.fn(x, objective.params)`` is the scalar loss.

    Raises:
      ValueError: on missing inputs or clips too short for the STFT.
    """
    n_fft, hop = config.stft.n_fft, config.stft.hop_length
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
    features, fronts, net_fns, ids = _make_features_fn(config, sr)
    net_cfgs, fbanks = {}, {}
    for t in config.terms:
        if t.net is None:
            continue
        net_cfgs[ids[t.name]] = t.net
        fb = filterbank(t.net, sr=sr, n_fft=n_fft)
        if fb is not None:
            fbanks[_frontend_id(t.net)] = jnp.asarray(fb)

    def to_x(wave):
        wave = jnp.asarray(wave, jnp.float32)
        if config.domain == "spectrogram":
            return spectral.log_spectrogram(spectral.stft_magnitude(wave, n_fft=n_fft, hop_length=hop))
        return wave

    def prepare(key, fbanks, content, styles):
        """Kernels and targets in one compiled program (compiling op by op is slower)."""
        keys = _net_keys(key, config)
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
                nid: chunked_grams(
                    lambda f, nid=nid: net_fns[nid][1].apply(nets[nid], f),
                    front[_frontend_id(net_fns[nid][0])],
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

    if config.domain == "spectrogram":
        shape = (spectral.num_frames(num_samples, hop_length=hop), n_fft // 2 + 1)
    else:
        shape = (num_samples,)
    objective = Objective(fn, terms, value_and_terms, params, config, sr, shape)
    if config.normalize_gradients and init_wave is not None:
        objective = calibrate(objective, init_wave)
    return objective


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

    return {k: float(v) for k, v in jax.jit(norms)(jnp.asarray(x, jnp.float32), objective.params).items()}


def beta_from_norms(config: LossConfig, norms: dict[str, float], *, gammas: dict[str, float] | None = None) -> dict[str, float]:
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
      objective: from :func:`build`; its Γ are read from ``objective.config``.
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
                    f"calibrate: the gradient of {t.name} at the initial point has norm {norms[t.name]}; "
                    "Eq. 7 needs a non-zero finite gradient (calibrate at noise, not at the content)",
                )
    try:
        beta = beta_from_norms(dataclasses.replace(objective.config, normalize_gradients=True), norms)
    except CalibrationError as e:
        raise CalibrationError(e.term, e.norm, f"calibrate: {e}") from None
    params = dict(objective.params, beta={k: jnp.float32(v) for k, v in beta.items()})
    return objective._replace(params=params)
