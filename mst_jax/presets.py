"""Table 1's six loss configurations and the Ulyanov & Lebedev baseline, as one-line compositions.

Rows 1–3 use the STFT content representation, rows 4–6 the key-invariant Mel (1 layer,
few channels) & CQT (1 layer, 2 x 1 max-pool) content representation plus the L1
sparsity term (paper §4.3 adds it against the "breathy" quality of Mel content).
Columns: STFT style; STFT + Mel (1 layer, many channels); STFT + Mel (1 layer + 2
residual) + CQT (1 layer + 3 residual). Γ: style 50, content 1, L1 0.1 (SPEC §1).
Replace sizes or Γ with ``dataclasses.replace`` or :func:`with_gammas`.
"""

from __future__ import annotations

import dataclasses

from mst_jax.config import CqtNetConfig, LossConfig, MelNetConfig, StftNetConfig, Term

GAMMA_STYLE = 50.0
GAMMA_CONTENT = 1.0
BASELINE_ALPHA = 1e-2  # Ulyanov & Lebedev's content weight on sum (X - C)^2
BASELINE_MAX_ITER = 300  # Ulyanov & Lebedev's L-BFGS-B iterations from noise (their code)
GAMMA_L1 = 0.1

STFT = StftNetConfig()
MEL_CONTENT = MelNetConfig(n_mels=16, blocks=0)  # "Mel (1 Layer, Few Channels)"
MEL_STYLE_1 = MelNetConfig(n_mels=512, blocks=0)  # "Mel (1 Layer, Many Channels)"
MEL_STYLE_RES = MelNetConfig(n_mels=512, blocks=2)  # "Mel (1 Layer + 2 Residual Layers, Many Channels)"
CQT_CONTENT = CqtNetConfig(pool=2, blocks=0)  # "CQT (1 Layer, 2x1 Max Pooling)"
CQT_STYLE_RES = CqtNetConfig(pool=1, blocks=3)  # "CQT (1 Layer + 3 Residual Layers, Many Channels)"


def _content_stft():
    return (Term("content", STFT, GAMMA_CONTENT),)


def _content_key_invariant():
    return (
        Term("content", MEL_CONTENT, GAMMA_CONTENT),
        Term("content", CQT_CONTENT, GAMMA_CONTENT),
        Term("l1", None, GAMMA_L1),
    )


def _style_stft():
    return (Term("style", STFT, GAMMA_STYLE),)


def _style_stft_mel():
    return _style_stft() + (Term("style", MEL_STYLE_1, GAMMA_STYLE),)


def _style_ensemble():
    return _style_stft() + (
        Term("style", MEL_STYLE_RES, GAMMA_STYLE),
        Term("style", CQT_STYLE_RES, GAMMA_STYLE),
    )


_ROWS = {
    1: (_content_stft, _style_stft),
    2: (_content_stft, _style_stft_mel),
    3: (_content_stft, _style_ensemble),
    4: (_content_key_invariant, _style_stft),
    5: (_content_key_invariant, _style_stft_mel),
    6: (_content_key_invariant, _style_ensemble),
}

ROW_TEXT = {
    1: "(1) Fastest, works well for examples where content and style are highly similar",
    2: "(2) Works well on most examples where key is aligned",
    3: "(3) Needed when very long-term musical information is considered",
    4: "(4) Works best for singing style transfer (e.g. to a capella)",
    5: "(5) Works well on almost all examples, improves some examples from 2",
    6: "(6) Works best for most difficult examples, where 1-5 fail",
}


def table1(row: int) -> LossConfig:
    """Table 1, row ``row`` (1–6): content representation x style representation.

    1. content STFT; style STFT. "(1) Fastest, works well for examples where content and
       style are highly similar."
    2. content STFT; style STFT + Mel (1 layer, many channels). "(2) Works well on most
       examples where key is aligned."
    3. content STFT; style STFT + Mel (1 layer + 2 residual layers, many channels) + CQT
       (1 layer + 3 residual layers, many channels). "(3) Needed when very long-term
       musical information is considered."
    4. content Mel (1 layer, few channels) & CQT (1 layer, 2x1 max pooling); style STFT.
       "(4) Works best for singing style transfer (e.g. to a capella)."
    5. content Mel & CQT; style STFT + Mel (1 layer, many channels). "(5) Works well on
       almost all examples, improves some examples from 2."
    6. content Mel & CQT; style STFT + Mel (1 + 2 residual) + CQT (1 + 3 residual).
       "(6) Works best for most difficult examples, where 1-5 fail."

    Rows 4–6 also carry the L1 sparsity term (Γ 0.1).

    Args:
      row: 1 to 6.

    Returns:
      The loss configuration.

    Raises:
      ValueError: for any other row.

    >>> [t.name for t in table1(6).terms]
    ['content_mel', 'content_cqt', 'l1', 'style_stft', 'style_mel', 'style_cqt']
    """
    if row not in _ROWS:
        raise ValueError(f"Table 1 has rows 1-6, not {row!r}")
    content, style = _ROWS[row]
    return LossConfig(terms=content() + style())


def baseline(*, filters: int = 4096) -> LossConfig:
    """Ulyanov & Lebedev (2016) as published: one STFT conv layer (``filters`` x kernel 11),
    ReLU, their Glorot-normal kernel with ReLU gain, content + style on the same net.
    It optimises the log-magnitude spectrogram, not the waveform: build it with
    :func:`mst_jax.baseline.build` (Griffin-Lim restores a phase afterwards).

    Their raw weights, no Eq. 7-8 normalisation: ``1e-2 * sum (X - C)^2 + sum (G - G_s)^2``
    with the gram divided by the number of frames, as in their released code. In our terms
    (Eq. 1 has a 1/2, Eq. 4 a 1/N_f^2): Γ_content = 2e-2, Γ_style = filters^2.

    >>> [(t.name, t.gamma) for t in baseline(filters=64).terms]
    [('content_stft', 0.02), ('style_stft', 4096.0)]
    """
    net = StftNetConfig(filters=filters, activation="relu", init="glorot_normal_relu")
    return LossConfig(
        terms=(
            Term("content", net, BASELINE_ALPHA * 2.0),
            Term("style", net, float(filters) ** 2),
        ),
        normalize_gradients=False,
    )


def texture(config: LossConfig) -> LossConfig:
    """The same configuration with its content terms removed (texture synthesis, §4.1)."""
    return dataclasses.replace(config, terms=tuple(t for t in config.terms if t.kind != "content"))


def with_gammas(config: LossConfig, **gammas: float | None) -> LossConfig:
    """Replace Γ by term name (``content_stft=2.0``, ``l1=0``); ``None`` keeps the preset's.

    A Γ of 0 removes the term. A name not in the preset adds nothing (a Γ for a term the
    preset lacks is an error).
    """
    known = {t.name for t in config.terms}
    for name, g in gammas.items():
        if g is not None and name not in known and g != 0:
            raise ValueError(f"the preset has no {name} term (it has {', '.join(sorted(known))})")
    terms = []
    for t in config.terms:
        g = gammas.get(t.name)
        if g is None:
            terms.append(t)
        elif g != 0:
            terms.append(dataclasses.replace(t, gamma=float(g)))
    return dataclasses.replace(config, terms=tuple(terms))


def scale_style(config: LossConfig, strength: float) -> LossConfig:
    """Every style term's Γ multiplied by ``strength`` (the command line's ``--style_strength``).

    >>> [t.gamma for t in scale_style(table1(1), 2.0).terms]
    [1.0, 100.0]
    """
    return dataclasses.replace(
        config,
        terms=tuple(
            dataclasses.replace(t, gamma=t.gamma * strength) if t.kind == "style" else t
            for t in config.terms
        ),
    )


def map_nets(config: LossConfig, fn) -> LossConfig:
    """Apply ``fn(term) -> net config`` to every term that has a net (resize networks)."""
    return dataclasses.replace(
        config,
        terms=tuple(t if t.net is None else dataclasses.replace(t, net=fn(t)) for t in config.terms),
    )


def reconstruction() -> LossConfig:
    """Phase retrieval: Eq. 1 on the magnitude STFT itself (no network), the objective of
    ``experiments.reconstruct`` (paper §3.3, after Decorsière et al. 2015).

    The target is the content's magnitude (equivalently its log-magnitude, log1p being
    invertible). The distance is taken on the magnitude, not the log: on a 1 s synthesised
    clip the log-domain distance reached a spectral convergence of only 0.44 after 50
    L-BFGS-B iterations against 0.027 for the magnitude distance (BUILD_NOTES.md).
    """
    return LossConfig(terms=(Term("spectrum", None, 1.0),))
