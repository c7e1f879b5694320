"""A clean rendering made to sound like a recording: a room, a noise floor, two channels.

The quality benchmark's pieces are rendered by FluidSynth: dry, noiseless, mono. Recordings
people bring have a room, a noise floor and two slightly different channels, at 44.1 kHz.
:func:`as_recording` adds those, so ``python3 -m benchmarks.quality --recording_like`` runs
every transfer on inputs that go through the loader's mix-down and resampling as a
recording's would (BUILD_NOTES, "Inputs that sound like recordings").
"""

from __future__ import annotations

import io

import numpy as np
from scipy import signal

RT60_S = 0.6  # seconds for the room's impulse response to decay by 60 dB (a small hall)
WET = 0.3  # share of the reverberant signal in the mix (RMS-matched to the dry one)
SNR_DB = 35.0  # signal to pink-noise power ratio in dB (a quiet home recording)
DELAY_S = 4e-4  # right channel's delay in seconds (microphones about 14 cm apart)
RIGHT_GAIN = 0.9  # right channel's gain
PEAK = 0.89  # output peak (-1 dBFS)


def room_response(sr: int, rng: np.random.Generator, *, rt60_s: float = RT60_S) -> np.ndarray:
    """A diffuse room's impulse response: Gaussian noise under an exponential envelope whose
    energy falls 60 dB in ``rt60_s``, without the direct path (sample 0 is 0), unit energy.

    Returns:
      ``(round(rt60_s * sr),)`` float64.
    """
    n = int(round(rt60_s * sr))
    t = np.arange(n) / sr
    ir = rng.standard_normal(n) * 10.0 ** (-3.0 * t / rt60_s)  # amplitude -60 dB at rt60
    ir[0] = 0.0
    return ir / np.linalg.norm(ir)


def pink_noise(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` pink noise (power spectral density ∝ 1/f: equal power per octave), no DC, unit
    mean power."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    spectrum[0] = 0.0
    spectrum[1:] /= np.sqrt(f[1:])
    noise = np.fft.irfft(spectrum, n)
    return noise / np.sqrt(np.mean(noise**2))


def as_recording(
    wave,
    sr: int,
    *,
    seed: int = 0,
    rt60_s: float = RT60_S,
    wet: float = WET,
    snr_db: float | None = SNR_DB,
    delay_s: float = DELAY_S,
    right_gain: float = RIGHT_GAIN,
) -> np.ndarray:
    """``wave`` in a room, over a noise floor, in two channels.

    The dry signal and its convolution with :func:`room_response` are mixed ``1 - wet : wet``
    (the reverberant part scaled to the dry part's RMS), :func:`pink_noise` is added ``snr_db``
    below the mix's mean power (None: no noise), the right channel is the left delayed by
    ``delay_s`` and scaled by ``right_gain``, and both are scaled to peak :data:`PEAK`.

    Args:
      wave: ``(samples,)`` mono waveform at ``sr`` Hz.
      seed: the room's and the noise's random draws.

    Returns:
      ``(samples, 2)`` float32, for ``soundfile.write``.
    """
    x = np.asarray(wave, np.float64)
    rng = np.random.default_rng(seed)
    reverb = signal.fftconvolve(x, room_response(sr, rng, rt60_s=rt60_s))[: x.size]
    dry_rms, reverb_rms = np.sqrt(np.mean(x**2)), np.sqrt(np.mean(reverb**2))
    y = (1.0 - wet) * x + (wet * reverb * dry_rms / reverb_rms if reverb_rms > 0 else 0.0)
    if snr_db is not None:
        y = y + pink_noise(y.size, sr, rng) * np.sqrt(np.mean(y**2) * 10.0 ** (-snr_db / 10.0))
    d = int(round(delay_s * sr))
    right = right_gain * np.concatenate([np.zeros(d), y[: y.size - d]])
    stereo = np.stack([y, right], axis=1)
    return (PEAK * stereo / np.max(np.abs(stereo))).astype(np.float32)


def write_flac(path: str, wave, sr: int, *, seed: int = 0) -> None:
    """:func:`as_recording` of ``wave`` written atomically to ``path`` as a two-channel 16-bit
    FLAC, as a recording would come (``mst_jax.writing.save`` writes one channel)."""
    import soundfile as sf

    from mst_jax import writing

    buf = io.BytesIO()
    sf.write(buf, as_recording(wave, sr, seed=seed), sr, format="FLAC", subtype="PCM_16")
    writing.atomic_write_bytes(path, buf.getvalue())
