"""Render every piece of ``mst_jax.scores.PIECES`` and measure what came out (BUILD_NOTES).

  python -m benchmarks.pieces --seconds=10 --wav_dir=/tmp/pieces

For each piece: genre, tempo, key, instruments (General MIDI names), the best of two render
times for ``--seconds`` of audio, detected onsets per second (``librosa.onset.onset_detect``)
against the score's note onsets per second, librosa's tempo estimate, the three strongest
pitch classes of ``chroma_cqt`` and their correlation with the score's pitch classes. The two
texture sources are rendered ``--texture_seconds`` long for the WAVs and the measurements.
"""

from __future__ import annotations

import os
import time

from absl import app, flags

_SECONDS = flags.DEFINE_float("seconds", 10.0, "Seconds rendered per piece (and timed).")
_TEXTURE_SECONDS = flags.DEFINE_float("texture_seconds", 30.0, "Seconds of the texture sources.")
_WAV_DIR = flags.DEFINE_string("wav_dir", None, "If set, write <name>.wav here.")

SR = 22050
TEXTURE_SOURCES = ("drum_groove_fills", "band_loop")
PITCH_CLASSES = "C C# D Eb E F F# G Ab A Bb B".split()
GM = {0: "piano", 4: "e-piano", 24: "nylon gtr", 27: "clean gtr", 29: "overdrive gtr",
      30: "distortion gtr", 33: "finger bass", 34: "pick bass", 38: "synth bass", 40: "violin",
      41: "viola", 42: "cello", 45: "pizz. strings", 52: "choir aahs", 53: "voice oohs",
      56: "trumpet", 57: "trombone", 58: "tuba", 60: "horn", 65: "alto sax", 81: "saw lead",
      89: "warm pad"}
KITS = {0: "standard kit", 24: "electronic kit", 25: "TR-808 kit"}


def main(argv):
    del argv
    import librosa
    import numpy as np
    import soundfile

    from mst_jax import notes, render, scores

    print("| name | genre | bpm | key | instruments | s to render | onsets/s (detected / score)"
          " | tempo est. | chroma top 3 | chroma corr |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, piece in scores.PIECES.items():
        times = []
        for _ in range(2):
            t = time.perf_counter()
            wave = render.render_piece(name, sr=SR, duration_s=_SECONDS.value)
            times.append(time.perf_counter() - t)
        dur = _TEXTURE_SECONDS.value if name in TEXTURE_SOURCES else _SECONDS.value
        if dur != _SECONDS.value:
            wave = render.render_piece(name, sr=SR, duration_s=dur)
        if _WAV_DIR.value:
            os.makedirs(_WAV_DIR.value, exist_ok=True)
            soundfile.write(os.path.join(_WAV_DIR.value, f"{name}.wav"), wave, SR)
        sec = 60.0 / piece.bpm  # seconds per beat
        score_onsets = {n[1] for p in piece.parts for n in p.notes if n[1] * sec < dur}
        onsets = librosa.onset.onset_detect(y=wave, sr=SR, units="time")
        tempo = float(np.atleast_1d(librosa.feature.tempo(y=wave, sr=SR))[0])
        profile = np.zeros(12)
        for part in piece.parts:
            if part.channel != notes.DRUM_CHANNEL:
                for p, s, d, v in map(notes.note_fields, part.notes):
                    if s * sec < dur:
                        profile[p % 12] += min(d * sec, dur - s * sec) * v
        chroma = librosa.feature.chroma_cqt(y=wave, sr=SR).mean(axis=1)
        pitched = bool(profile.any())
        top = " ".join(PITCH_CLASSES[i] for i in np.argsort(chroma)[::-1][:3]) if pitched else "-"
        corr = f"{np.corrcoef(chroma, profile)[0, 1]:.2f}" if pitched else "-"
        inst = ", ".join(KITS.get(p.program, "kit") if p.channel == notes.DRUM_CHANNEL
                         else GM.get(p.program, str(p.program)) for p in piece.parts)
        print(f"| {name} | {piece.genre} | {piece.bpm:g} | {piece.key or '-'} | {inst} | "
              f"{min(times):.2f} | {len(onsets) / dur:.1f} / {len(score_onsets) / dur:.1f} | "
              f"{tempo:.0f} | {top} | {corr} |", flush=True)


if __name__ == "__main__":
    app.run(main)
