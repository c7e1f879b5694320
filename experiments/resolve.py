"""Turning the shared flags (:mod:`experiments._flags`) into a validated
:class:`experiments.settings.RunConfig`.

:func:`run_config` is the one function that does it for ``experiments.transfer``, ``texture``,
``reconstruct`` and each row of ``--batch``: the preset (:mod:`experiments.objectives`), the
demo's clips, the size and Γ flags, the solver. Every flag is validated here, on the host,
before anything is compiled: a bad value raises ``ValueError`` whose one-line message names
the flag; a legal but odd setting adds a notice line.
"""

from __future__ import annotations

import dataclasses
import math

from experiments import objectives, sizes
from experiments._flags import (
    CHECKPOINT_EVERY,
    CHUNK,
    DEFAULT_CONTENT_FLOOR,
    DEFAULT_MAX_ITER,
    DEFAULT_MAX_ITER_FROM_CONTENT,
    DEFAULT_PRESET,
    FLOOR_CHUNK,
    GAMMAS,
    GRIFFINLIM_ITER,
    HISTORY_SIZE,
    HOP_LENGTH,
    KEEP_DYNAMICS,
    KEEP_SILENCE,
    LEARNING_RATE,
    LINESEARCH_INIT,
    LOSS_FLAGS,
    MATCH_LEVEL,
    MAX_ITER,
    MAX_SR,
    MIN_SR,
    N_FFT,
    NORMALIZE,
    OPTIMIZER,
    OUTPUT,
    PAGE,
    PRESET,
    QUALITY,
    RAW_WEIGHTS,
    RESUME,
    SEED,
    SR,
    STYLE,
    STYLE_DURATION,
    STYLE_LEVEL_DB,
    STYLE_OFFSET,
    STYLE_SHIFTS,
    STYLE_STRENGTH,
    SUBTYPE,
    SUBTYPES,
    TIME_LIMIT,
    TOL,
    flag_error,
    int_value,
)
from experiments.settings import Excerpt, RunConfig
from mst_jax import presets, transpose
from mst_jax.config import SolverConfig, StftConfig


def _gamma(holder) -> float | None:
    g = holder.value
    if g is None:
        return None
    if not (math.isfinite(g) and g >= 0):
        raise flag_error(holder, g, "Gamma must be a finite number >= 0")
    return float(g)


def _common(init: str = "noise"):
    """Validated shared scalars: (max_iter, sr, seed, chunk (None: unset), checkpoint_every, n_fft,
    hop, tol)."""
    max_iter = MAX_ITER.value
    if max_iter is None:
        max_iter = DEFAULT_MAX_ITER_FROM_CONTENT if init == "content" else DEFAULT_MAX_ITER
    int_value(MAX_ITER, max_iter, minimum=1)
    sr = int_value(SR, SR.value, minimum=MIN_SR, maximum=MAX_SR)
    seed = int_value(SEED, SEED.value, minimum=0, maximum=2**32 - 1)
    chunk = None if CHUNK.value is None else int_value(CHUNK, CHUNK.value, minimum=1)
    every = int_value(CHECKPOINT_EVERY, CHECKPOINT_EVERY.value, minimum=0)
    n_fft = int_value(N_FFT, N_FFT.value, minimum=16)
    hop = int_value(HOP_LENGTH, HOP_LENGTH.value, minimum=1)
    if hop > n_fft:
        raise flag_error(HOP_LENGTH, hop, f"must not exceed --n_fft={n_fft}")
    int_value(GRIFFINLIM_ITER, GRIFFINLIM_ITER.value, minimum=1)
    if SUBTYPE.value not in SUBTYPES:
        raise flag_error(SUBTYPE, SUBTYPE.value, f"must be one of {', '.join(SUBTYPES)}")
    tol = TOL.value
    if not (math.isfinite(tol) and tol >= 0):
        raise flag_error(TOL, tol, "must be a finite number >= 0")
    return max_iter, sr, seed, chunk, every, n_fft, hop, tol


def _optimizer(notices: list[str]) -> dict:
    """``SolverConfig`` fields from ``--optimizer``, ``--learning_rate``, ``--history_size`` and
    ``--linesearch_init`` (validated)."""
    fields = {"optimizer": OPTIMIZER.value}
    memory = int_value(HISTORY_SIZE, HISTORY_SIZE.value, minimum=1)
    if memory is not None:
        if OPTIMIZER.value == "adam":
            notices.append(
                f"--history_size={memory} has no effect: --optimizer=adam keeps no L-BFGS memory"
            )
        fields["history_size"] = memory
    start = LINESEARCH_INIT.value
    if start is not None:
        if OPTIMIZER.value != "lbfgsb":
            notices.append(
                f"--linesearch_init={start} has no effect: only --optimizer=lbfgsb uses it"
            )
        fields["linesearch_init"] = start
    lr = LEARNING_RATE.value
    if lr is not None:
        if not (math.isfinite(lr) and lr > 0):
            raise flag_error(LEARNING_RATE, lr, "must be a finite number > 0")
        if OPTIMIZER.value != "adam":
            notices.append(f"--learning_rate={lr} has no effect: only --optimizer=adam uses it")
        fields["learning_rate"] = float(lr)
    return fields


def split_paths(value: str, *, root: str = "") -> tuple[str, ...]:
    """A comma-separated list of files, where a comma inside an existing file's name stays in
    it (``Symphony No. 5, I. Allegro.flac``): from each piece on, the longest run of pieces
    that names an existing path (relative ones looked up under ``root``, default the current
    folder) is one file; otherwise the piece alone is, and a missing file is then reported by
    its reader. Surrounding spaces are dropped; the paths are returned as written.

    >>> split_paths("a.wav, b.flac")
    ('a.wav', 'b.flac')
    """
    import os

    pieces = value.split(",")
    paths, i = [], 0
    while i < len(pieces):
        j = next(
            (
                j
                for j in range(len(pieces), i + 1, -1)
                if os.path.exists(os.path.join(root, ",".join(pieces[i:j]).strip()))
            ),
            i + 1,
        )
        paths.append(",".join(pieces[i:j]).strip())
        i = j
    return tuple(paths)


def _paths(value: str | None, holder) -> tuple[str, ...]:
    if value is None:
        return ()
    paths = split_paths(value)
    if not paths or any(not p for p in paths):
        raise flag_error(holder, value, "empty file name")
    return paths


def _style_shifts() -> tuple[int, ...]:
    """``--style_shifts`` as distinct whole semitones (:func:`mst_jax.transpose.check_shifts`),
    in the order given."""
    given = ",".join(STYLE_SHIFTS.value)
    try:
        shifts = [int(t) for t in STYLE_SHIFTS.value]
    except ValueError:
        raise flag_error(STYLE_SHIFTS, given, "every shift must be a whole number of semitones") from None
    try:
        return transpose.check_shifts(list(dict.fromkeys(shifts)))
    except ValueError as e:
        raise flag_error(STYLE_SHIFTS, given, str(e)) from None


def _excerpt(offset_flag, duration_flag, demo: bool) -> Excerpt:
    """An input's excerpt flags validated: offset finite and >= 0, duration finite and > 0 or
    unset. The demo reads the shipped clips whole, so it takes neither."""
    offset, duration = offset_flag.value, duration_flag.value
    if not (math.isfinite(offset) and offset >= 0):
        raise flag_error(offset_flag, offset, "must be a finite number of seconds >= 0")
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise flag_error(duration_flag, duration, "must be a finite number of seconds > 0")
    excerpt = Excerpt(float(offset), None if duration is None else float(duration))
    if demo and not excerpt.whole:
        given = offset_flag if offset != offset_flag.default else duration_flag
        raise ValueError(f"--{given.name}: the demo reads the shipped clips whole; give the files")
    return excerpt


def _content_floor(value, holder, script: str, init: str, preset: str) -> float | None:
    """``--content_floor`` validated: None for no floor, else a value in (0, 1].

    Unset (None), a transfer from the content gets :data:`DEFAULT_CONTENT_FLOOR` and every other
    run none; 0 turns it off; a value given for a run that cannot have one is an error.
    """
    if value is None:
        waveform_from_content = script == "transfer" and init == "content" and preset != "baseline"
        return DEFAULT_CONTENT_FLOOR if waveform_from_content else None
    if value == 0:
        return None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise flag_error(holder, value, "must be in (0, 1], or 0 for no floor")
    if script != "transfer" or init != "content":
        raise flag_error(
            holder,
            value,
            "needs --init=content (from noise there is no content to keep; 0 turns it off)",
        )
    if preset == "baseline":
        raise flag_error(
            holder, value, "not with --preset=baseline (it optimises a spectrogram; 0 turns it off)"
        )
    return float(value)


def _keep(holder, what: str, script: str, init: str, preset: str) -> bool:
    """``--keep_silence`` / ``--keep_dynamics`` / ``--match_level`` (``holder``): unset, on for
    a transfer from the content (not from noise, the paper's protocol, nor for the published
    baseline); given on for another script, an error: it "has no content {what}" (e.g. "whose
    silences to keep")."""
    value = holder.value
    if value is None:
        return script == "transfer" and init == "content" and preset != "baseline"
    if value and script != "transfer":
        raise flag_error(holder, value, f"{script} has no content {what}")
    return bool(value)


STYLE_LEVEL_LIMIT_DB = 40.0  # |--style_level_db| at most: the style 100 times louder or quieter


def _style_level_db(script: str) -> float:
    """``--style_level_db``: a finite number of dB within ±STYLE_LEVEL_LIMIT_DB; non-zero only
    for a transfer (a texture has no content to set the style's level against)."""
    value = STYLE_LEVEL_DB.value
    if not (math.isfinite(value) and abs(value) <= STYLE_LEVEL_LIMIT_DB):
        raise flag_error(
            STYLE_LEVEL_DB, value,
            f"must be a finite number of dB from -{STYLE_LEVEL_LIMIT_DB:g} to {STYLE_LEVEL_LIMIT_DB:g}",
        )
    if value != 0.0 and script != "transfer":
        raise flag_error(STYLE_LEVEL_DB, value, f"{script} has no content to set the style's level against")
    return float(value)


def _time_limit() -> float:
    """``--time_limit``: a finite number of seconds >= 0 (0: no limit)."""
    value = TIME_LIMIT.value
    if not (math.isfinite(value) and value >= 0):
        raise flag_error(TIME_LIMIT, value, "must be a finite number of seconds >= 0 (0: no limit)")
    return float(value)


def run_config(
    script: str,
    *,
    content: str | None = None,
    content_flag=None,
    content_floor: float | None = None,
    content_floor_flag=None,
    content_excerpt_flags=(),
    init: str = "noise",
    duration_s: float | None = None,
    duration_flag=None,
    notices: list[str] | None = None,
    styles: tuple[str, ...] | None = None,
) -> RunConfig:
    """Turns the flags (plus the script's own: content/input, init, duration) into a RunConfig.

    Args:
      script: ``"transfer"``, ``"texture"`` or ``"reconstruct"``.
      content: ``--content`` (transfer) or ``--input`` (reconstruct); None means unset.
      content_flag: that flag's holder (for messages).
      content_floor: ``--content_floor`` (transfer only; None: the run's default; 0: none).
      content_floor_flag: its holder.
      content_excerpt_flags: the holders of ``--content_offset`` and ``--content_duration``
        (transfer only); empty: the whole content file.
      init: ``--init`` (transfer only).
      duration_s: ``--duration`` (texture only).
      duration_flag: its holder.
      notices: receives one line per legal oddity (a size flag with no effect, the demo).
      styles: style files in place of ``--style`` (one row of ``--batch``); None reads the flag.

    Returns:
      The validated configuration. Nothing has been read or compiled yet.

    Raises:
      ValueError: a one-line message naming the flag.
    """
    from mst_jax import music  # the shipped example clips

    notices = [] if notices is None else notices
    styles = _paths(STYLE.value, STYLE) if styles is None else tuple(styles)
    if script == "transfer":
        demo = content is None and not styles
        if content is None and styles:
            raise ValueError("--content is required with --style (or give neither for the demo)")
        if content is not None and not styles:
            raise ValueError(
                f"--style is required with --{content_flag.name} (or give neither for the demo)"
            )
    elif script == "texture":
        demo = not styles
    else:
        demo = content is None
    if script == "reconstruct":
        stray = [f"--{h.name}" for h in LOSS_FLAGS if h.value != h.default]
        if stray:
            raise ValueError(
                f"{', '.join(stray)}: not used by reconstruct (it has one fixed spectrum term)"
            )
    if content is not None and not content.strip():
        raise flag_error(content_flag, content, "empty file name")
    if init not in ("noise", "content"):
        raise ValueError(f"--init={init!r}: must be 'noise' or 'content'")

    if demo:
        if script in ("transfer", "reconstruct"):
            content = str(music.example_path("content"))
        if script in ("transfer", "texture"):
            styles = (str(music.example_path("style")),)

    max_iter, sr, seed, chunk, every, n_fft, hop, tol = _common(init)
    stft = StftConfig(n_fft=n_fft, hop_length=hop)

    if script == "reconstruct":
        preset = "reconstruction"
        loss = dataclasses.replace(presets.reconstruction(), stft=stft)
    else:
        preset = PRESET.value if PRESET.value is not None else DEFAULT_PRESET
        preset = str(preset).strip().lower()
        chosen = sizes.validated()
        if preset not in objectives.PRESETS:
            raise flag_error(PRESET, preset, "must be a Table 1 row 1-6 or 'baseline'")
        loss = objectives.loss_config(preset, stft_filters=chosen["stft_filters"])
        if script == "texture":
            loss = presets.texture(loss)
        gammas = {name: _gamma(h) for name, h in GAMMAS.items()}
        known = {t.name for t in loss.terms}
        for name, g in gammas.items():
            if g not in (None, 0.0) and name not in known:
                raise flag_error(
                    GAMMAS[name],
                    g,
                    f"preset {preset}{' (texture: style terms only)' if script == 'texture' else ''} "
                    f"has no {name} term (it has {', '.join(sorted(known))})",
                )
        loss = presets.with_gammas(loss, **gammas)
        strength = STYLE_STRENGTH.value
        if not (math.isfinite(strength) and strength > 0):
            raise flag_error(STYLE_STRENGTH, strength, "must be a finite number > 0")
        loss = presets.scale_style(loss, strength)
        if not loss.terms:
            raise ValueError("every term has Gamma 0: nothing to optimise")
        loss = sizes.apply(loss, chosen, notices)
        loss = dataclasses.replace(
            loss, stft=stft, normalize_gradients=loss.normalize_gradients and not RAW_WEIGHTS.value
        )
        notices.extend(sizes.empty_mel_notices(loss, sr))
        sizes.check_cqt_nyquist(loss, sr)

    if (
        script == "texture"
        and duration_s is not None
        and not (
            isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and duration_s > 0
        )
    ):
        raise flag_error(duration_flag, duration_s, "must be a finite number of seconds > 0")

    kind = objectives.of(preset)
    if kind.max_iter_from_noise is not None:
        if init == "noise" and MAX_ITER.value is None:
            max_iter = kind.max_iter_from_noise  # as published
        elif init == "content":
            notices.append(
                f"--preset={preset} starts from the content here, the transfer's default; as "
                f"published it starts from noise: --init=noise, then {kind.max_iter_from_noise} "
                f"iterations unless --max_iter says"
            )
    floor = _content_floor(content_floor, content_floor_flag, script, init, preset)
    if chunk is None:  # a content floor is measured every chunk: finer chunks than the library's
        chunk = FLOOR_CHUNK if floor is not None else SolverConfig().chunk
    lower, upper = kind.bounds
    solver = SolverConfig(
        max_iter=max_iter,
        tol=tol,
        chunk=chunk,
        lower=lower,
        upper=upper,
        **_optimizer(notices),
    )
    output = (
        OUTPUT.value
        if OUTPUT.value is not None
        else f"{'reconstruction' if script == 'reconstruct' else script}.wav"
    )
    if not output.strip():
        raise flag_error(OUTPUT, output, "empty file name")
    if demo:
        what = "the reconstruction" if script == "reconstruct" else f"preset {preset}"
        clips = "clips" if script == "transfer" else "clip"
        notices.append(
            f"demo: no input given, running {what} on the shipped example {clips}, {max_iter} iterations"
        )
    shifts = _style_shifts()
    style_excerpt = _excerpt(STYLE_OFFSET, STYLE_DURATION, demo)
    content_excerpt = _excerpt(*content_excerpt_flags, demo) if content_excerpt_flags else Excerpt()
    return RunConfig(
        script=script,
        content=content,
        styles=styles,
        output=output,
        preset=preset,
        loss=loss,
        solver=solver,
        seed=seed,
        sr=sr,
        init=init,
        duration_s=None if duration_s is None else float(duration_s),
        checkpoint_every=every,
        time_limit=_time_limit(),
        resume=RESUME.value,
        normalize=NORMALIZE.value,
        subtype=SUBTYPE.value,
        griffinlim_iter=GRIFFINLIM_ITER.value,
        demo=demo,
        quality=QUALITY.value,
        page=PAGE.value,
        style_shifts=shifts,
        content_floor=floor,
        keep_silence=_keep(KEEP_SILENCE, "whose silences to keep", script, init, preset),
        keep_dynamics=_keep(KEEP_DYNAMICS, "whose dynamics to keep", script, init, preset),
        match_level=_keep(MATCH_LEVEL, "to match the style's level to", script, init, preset),
        style_level_db=_style_level_db(script),
        content_excerpt=content_excerpt,
        style_excerpt=style_excerpt,
    )
