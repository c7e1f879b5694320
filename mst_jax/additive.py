"""A deterministic numpy additive synthesiser: the renderer used when FluidSynth is missing.

Pitched notes are sums of harmonics with per-harmonic exponential decay under a linear
attack/release envelope, in one of a few timbres picked by General MIDI program family; drum
notes are sine sweeps and shaped noise. Nothing here uses JAX.

Example:
    >>> render_additive([(69, 0.0, 1.0)], bpm=60.0, sr=8000).shape
    (10000,)
"""

from __future__ import annotations

import math

import numpy as np

from mst_jax.notes import DRUM_CHANNEL, Part, as_parts, end_beats, midi_to_hz, note_fields

__all__ = ["TIMBRES", "drum_hit", "peak_normalise", "render_additive", "timbre_for_program"]

DEFAULT_SR = 22050  # Hz, the paper's sample rate (SPEC §1)
ADDITIVE_TAIL_S = 0.25  # s, kept after the last note-off: >= every release and the kick decay

# Relative harmonic amplitudes, decay time constant (s; inf = sustained), attack and release
# (s). Chosen by ear to be distinguishable, not to imitate instruments.
TIMBRES = {
    "piano": ((1.0, 0.45, 0.25, 0.15, 0.08, 0.05), 0.8, 0.005, 0.08),
    "organ": ((1.0, 0.6, 0.0, 0.4, 0.0, 0.25, 0.0, 0.2), math.inf, 0.01, 0.03),
    "guitar": ((1.0, 0.7, 0.5, 0.3, 0.2, 0.12, 0.08), 0.4, 0.002, 0.05),
    "bass": ((1.0, 0.5, 0.2, 0.1), 0.6, 0.005, 0.04),
    "sine": ((1.0,), math.inf, 0.01, 0.02),
}


def peak_normalise(wave: np.ndarray) -> np.ndarray:
    """``wave / max|wave|`` as float32 (all zeros stay zeros).

    Example:
        >>> peak_normalise(np.array([0.0, -2.0, 1.0])).tolist()
        [0.0, -1.0, 0.5]
    """
    wave = np.asarray(wave, dtype=np.float64)
    peak = np.max(np.abs(wave), initial=0.0)
    return (wave / peak if peak > 0 else wave).astype(np.float32)


def timbre_for_program(program: int) -> str:
    """General MIDI program family -> timbre: organs, guitars, basses, else piano.

    Example:
        >>> timbre_for_program(33)
        'bass'
    """
    return {2: "organ", 3: "guitar", 4: "bass"}.get(int(program) // 8, "piano")


def _note(pitch, dur_s, vel, *, sr, timbre) -> np.ndarray:
    harmonics, decay_s, attack_s, rel_s = TIMBRES[timbre]
    n = int(round((dur_s + rel_s) * sr))
    t = np.arange(n) / sr
    f0 = float(midi_to_hz(pitch))
    wave = np.zeros(n)
    for k, amp in enumerate(harmonics, start=1):
        if amp and k * f0 < sr / 2:
            # Higher harmonics decay faster, as in struck and plucked strings.
            hdecay = np.exp(-t * k / decay_s) if math.isfinite(decay_s) else 1.0
            wave += amp * hdecay * np.sin(2 * np.pi * k * f0 * t)
    env = np.ones(n)
    n_att = max(1, int(attack_s * sr))
    env[:n_att] = np.linspace(0.0, 1.0, n_att, endpoint=False)
    n_on = int(round(dur_s * sr))
    n_rel = n - n_on
    if n_rel > 0:
        env[n_on:] *= np.linspace(1.0, 0.0, n_rel)
    return wave * env * (vel / 127.0)


def drum_hit(pitch: int, velocity: int, *, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One drum sound: kick (35-36), snare (37-40) or hi-hat (any other key).

    Args:
        pitch: General MIDI percussion key.
        velocity: MIDI velocity 1-127 (scales the amplitude).
        sr: Sample rate in Hz.
        rng: Source of the noise (drawn from, so consecutive hits differ).

    Returns:
        ``(samples,)`` float64: 0.25 s kick (150 -> 50 Hz sweep), 0.2 s snare, 0.06 s hat.
    """
    if pitch in (35, 36):
        n = int(0.25 * sr)
        t = np.arange(n) / sr
        freq = 50.0 + 100.0 * np.exp(-t / 0.03)  # pitch sweep 150 -> 50 Hz
        wave = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.08)
    elif 37 <= pitch <= 40:
        n = int(0.2 * sr)
        t = np.arange(n) / sr
        noise = _highpass(rng.standard_normal(n), 1)
        wave = 0.6 * noise * np.exp(-t / 0.05) + 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(
            -t / 0.04
        )
    else:
        n = int(0.06 * sr)
        t = np.arange(n) / sr
        wave = 0.4 * _highpass(rng.standard_normal(n), 3) * np.exp(-t / 0.015)
    return wave * (velocity / 127.0)


def _highpass(x: np.ndarray, order: int) -> np.ndarray:
    """Repeated first differences: a cheap high-pass that brightens noise, scaled to unit RMS."""
    y = np.asarray(x, dtype=np.float64)
    for _ in range(order):
        y = np.diff(y, prepend=0.0)
    rms = np.sqrt(np.mean(y**2))
    return y / rms if rms > 0 else y


def render_additive(
    notes,
    *,
    sr: int = DEFAULT_SR,
    bpm: float = 100.0,
    transpose: int = 0,
    timbre: str = "piano",
    seed: int = 0,
) -> np.ndarray:
    """Renders notes with the additive synthesiser.

    Drum-channel notes draw their noise from ``np.random.default_rng(seed)`` in note order. The
    length is the last note-off plus 0.25 s (the longest release or drum decay).

    Args:
        notes: ``(midi_pitch, start_beats, duration_beats[, velocity])`` tuples or a sequence
            of :class:`~mst_jax.notes.Part`.
        sr: Sample rate in Hz.
        bpm: Tempo in beats per minute.
        transpose: Semitones added to every non-drum pitch.
        timbre: A key of :data:`TIMBRES`, for plain note tuples; a Part takes the timbre of
            its General MIDI program family (:func:`timbre_for_program`).
        seed: Seed of the noise in drum sounds.

    Returns:
        ``(samples,)`` float32 with peak 1 (or all zeros for no notes).

    Raises:
        ValueError: Unknown timbre.
    """
    if timbre not in TIMBRES:
        raise ValueError(f"timbre must be one of {sorted(TIMBRES)}, got {timbre!r}")
    notes = tuple(notes)
    plain = not any(isinstance(n, Part) for n in notes)
    parts = as_parts(notes, 0)
    sec_per_beat = 60.0 / bpm
    rng = np.random.default_rng(seed)
    total = int(round(end_beats(parts) * sec_per_beat * sr)) + int(round(ADDITIVE_TAIL_S * sr))
    out = np.zeros(total)
    for part in parts:
        part_timbre = timbre if plain else timbre_for_program(part.program)
        for note in part.notes:
            pitch, start, dur, vel = note_fields(note)
            if part.channel == DRUM_CHANNEL:
                wave = drum_hit(pitch, vel, sr=sr, rng=rng)
            else:
                wave = _note(pitch + int(transpose), dur * sec_per_beat, vel, sr=sr,
                             timbre=part_timbre)
            i = int(round(start * sec_per_beat * sr))
            wave = wave[: max(0, total - i)]
            out[i : i + len(wave)] += wave
    return peak_normalise(out)
