"""A loss configuration's feature maps: one STFT, one projection per distinct front end, one
forward pass per distinct network, each network with its own key; grams of long clips by chunks.

:mod:`mst_jax.losses` builds targets and the objective from these; :mod:`mst_jax.cost` counts
their operations. The optimised variable is whatever ``spectra`` reads the STFT from (the
waveform, or the log-magnitude STFT itself for :mod:`mst_jax.baseline`).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mst_jax import filters, networks, spectral
from mst_jax.config import CqtNetConfig, LossConfig, MelNetConfig, NetConfig
from mst_jax.terms import gram

__all__ = ["Features", "chunked_grams", "filterbank", "frontend_id", "make", "net_ids", "net_keys"]


def frontend_id(net: NetConfig) -> str:
    """The name of ``net``'s front end: nets with equal ids read one projection of the STFT."""
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


def net_keys(key, config: LossConfig) -> dict[str, jax.Array]:
    """Independent subkeys per network id: split by representation, then content/style.

    A shared net takes the style subkey, so a style net's weights depend only on the
    key and its own config, not on which content term sits beside it.
    """
    rep_keys = dict(zip(("stft", "mel", "cqt"), jax.random.split(key, 3)))
    keys = {}
    for name, nid in net_ids(config).items():
        content_key, style_key = jax.random.split(rep_keys[nid.split("_")[-1]])
        keys[nid] = content_key if nid.startswith("content_") else style_key
    return keys


Spectra = Callable[[jax.Array], tuple[jax.Array, Any]]


class Features(NamedTuple):
    """The feature maps of one configuration (:func:`make`).

    Attributes:
      maps: ``maps(x, params) -> ({net id: [maps]}, log_magnitude, magnitude)``: every
        distinct network's layer outputs ``(frames, ..., channels)``.
      fronts: ``fronts(x, params) -> ({front id: (frames, bins)}, log_magnitude, magnitude)``:
        the log-magnitude STFT (``"stft"``) and each distinct projection of it.
      nets: net id -> ``(net config, networks.Network)``.
      ids: term name -> net id (:func:`net_ids`).
    """

    maps: Callable
    fronts: Callable
    nets: dict
    ids: dict[str, str]


def make(config: LossConfig, *, spectra: Spectra) -> Features:
    """One STFT, one projection per distinct front end, one forward pass per distinct network.

    Args:
      config: the terms and the STFT.
      spectra: ``x -> (log_magnitude (frames, bins), magnitude (frames, bins) or None)``: how
        the optimised variable gives the STFT. Projections need the magnitude.

    Returns:
      The :class:`Features`; ``params`` holds ``"nets"`` (net id -> weights) and
      ``"filterbanks"`` (front id -> ``(bins, n_filters)``).
    """
    n_fft = config.stft.n_fft
    ids = net_ids(config)
    nets = {}
    for t in config.terms:
        if t.net is not None:
            nets[ids[t.name]] = (t.net, networks.make(t.net, n_fft=n_fft))

    def fronts(x, params):
        log_mag, mag = spectra(x)
        out = {"stft": log_mag}
        for cfg, _ in nets.values():
            fid = frontend_id(cfg)
            if fid not in out:
                out[fid] = spectral.log_spectrogram(mag, params["filterbanks"][fid])
        return out, log_mag, mag

    def maps(x, params):
        front, log_mag, mag = fronts(x, params)
        out = {nid: net.apply(params["nets"][nid], front[frontend_id(cfg)]) for nid, (cfg, net) in nets.items()}
        return out, log_mag, mag

    return Features(maps, fronts, nets, ids)


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
