"""The network-size flags (``--stft_filters`` ... ``--cqt_pool``): validated, and applied to a
configuration's nets.

A size flag left unset keeps the preset's (the paper's) value; one set for a net the
configuration does not have is a notice, as is a chosen ``--n_mels_*`` whose Mel filterbank has
filters that cover no STFT bin; a sample rate whose Nyquist is below the CQT nets' top bin is
an error naming ``--sr``. Used by :func:`experiments.resolve.run_config`.
"""

from __future__ import annotations

import dataclasses
import warnings

from experiments import _flags
from mst_jax import filters, presets
from mst_jax.config import CqtNetConfig, LossConfig, MelNetConfig, StftNetConfig


def apply(loss: LossConfig, sizes: dict, notices: list[str]) -> LossConfig:
    """Apply the size flags that are set; a set flag that touches no net of the preset is noted."""
    used = set()

    def fn(term):
        net = term.net
        changes = {}

        def take(flag, field, value=None):
            v = sizes.get(flag)
            if v is not None:
                changes[field] = v if value is None else value(v)
                used.add(flag)

        if isinstance(net, StftNetConfig):
            take("stft_filters", "filters")
            take("stft_kernel", "kernel")
        elif isinstance(net, MelNetConfig):
            take("mel_filters", "filters")
            take("mel_kernel", "kernel")
            if term.kind == "content":
                take("n_mels_content", "n_mels")
            else:
                take("n_mels_style", "n_mels")
                take("mel_blocks", "blocks")
                take("mel_block_kernel", "block_kernel")
        elif isinstance(net, CqtNetConfig):
            take("cqt_filters", "filters")
            take("cqt_kernel", "kernel", lambda k: (k, k))
            if term.kind == "content":
                take("cqt_pool", "pool")
            else:
                take("cqt_blocks", "blocks")
                take("cqt_block_kernel", "block_kernel", lambda k: (k, k))
        return dataclasses.replace(net, **changes) if changes else net

    loss = presets.map_nets(loss, fn)
    for name, v in sizes.items():
        if v is not None and name not in used:
            notices.append(f"--{name}={v} has no effect: no term of this configuration uses it")
    return loss


def empty_mel_notices(loss: LossConfig, sr: int) -> list[str]:
    """One line per Mel net whose ``--n_mels_*`` the user chose and whose filterbank has filters
    covering no STFT bin. The preset's own sizes are not noted (its 512 bands leave 10 of them
    empty at n_fft 2048, as in the paper); the library's warning is silenced in the runner."""
    lines = []
    for t in loss.terms:
        holder = _flags.N_MELS_CONTENT if t.kind == "content" else _flags.N_MELS_STYLE
        if not isinstance(t.net, MelNetConfig) or holder.value is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", filters.EmptyMelFilterWarning)
            bank = filters.mel_filterbank(
                sr=sr, n_fft=loss.stft.n_fft, n_mels=t.net.n_mels, fmin=t.net.fmin, fmax=t.net.fmax
            )
        empty = filters.empty_filters(bank).size
        if empty:
            lines.append(
                f"--{holder.name}={t.net.n_mels}: {empty} of the {t.net.n_mels} Mel filters "
                f"cover no STFT bin at --n_fft={loss.stft.n_fft}, --sr={sr} (they add nothing)"
            )
    return lines


def check_cqt_nyquist(
    loss: LossConfig, sr: int, *, remedy: str = "a preset without a CQT term (1, 2, baseline)"
) -> None:
    """A one-line ValueError naming ``--sr`` when a CQT net's top bin is not below Nyquist
    (the paper's 86 bins from C1 reach 4435 Hz, so ``--sr=8000`` cannot carry them), raised
    before anything is read or built rather than from inside the filterbank; ``remedy`` is
    the other way out the message offers."""
    import librosa

    for t in loss.terms:
        if not isinstance(t.net, CqtNetConfig):
            continue
        n = t.net
        top = float(librosa.cqt_frequencies(n.n_bins, fmin=n.fmin, bins_per_octave=n.bins_per_octave)[-1])
        if top >= sr / 2:
            raise _flags.flag_error(
                _flags.SR,
                sr,
                f"too low for the {t.name} term: its top CQT bin is at {top:.0f} Hz, not below "
                f"Nyquist ({sr / 2:g} Hz); use --sr={int(2 * top) + 1} or more, or {remedy}",
            )


def validated() -> dict:
    """``{flag name: value}`` of every size flag, each None (unset) or an integer >= 1 (>= 0 for
    the block counts), else a one-line ValueError naming the flag."""
    sizes = {}
    for h in _flags.SIZE_FLAGS:
        minimum = 0 if h.name in ("mel_blocks", "cqt_blocks") else 1
        sizes[h.name] = _flags.int_value(h, h.value, minimum=minimum)
    return sizes
