"""How to read a ``Quality``: the table's rows and floors, the verdict line, the record block.

The measures themselves are :mod:`mst_jax.evaluate`'s; this module only words them, for the
run record (``quality``), the listening page, ``experiments.evaluate`` and the quality
benchmark.
"""

from __future__ import annotations

import math

from mst_jax.evaluate import Quality

__all__ = ["DYNAMICS_SHOWN", "KEYS_DIFFER", "measures", "record", "verdict"]

# Inputs whose pitch-class profiles correlate below this are in keys the verdict tells apart
# (the benchmark's pairs in one key correlate 0.75-0.79; the others, drums included, -0.43-0.19).
KEYS_DIFFER = 0.5

# A content whose level range (dB) is at least this has dynamics the verdict names (the
# benchmark's contents span 1.2-9.8 dB, the demo's 7.7; a subito piano 30, a crescendo 26).
DYNAMICS_SHOWN = 12.0

# (name, label, floors, how to read it); floors: (field, label) pairs, the first finite one is
# the row's floor (a texture has no content, so its rows fall back to the style's references).
_ROWS = (
    ("chroma_content", "content kept: chroma correlation with the content",
     (("chroma_floor", "content vs itself shifted by half"),),
     "1 = same notes at the same times, 0 = unrelated; above the floor the melody and harmony are kept"),
    ("pcp_content", "content kept: pitch-class profile vs content", (("pcp_floor", "style vs content"),),
     "1 = the content's key and notes; at or below the floor the result took the style's notes"),
    ("pcp_style", "key taken from the style: pitch-class profile vs style", (("pcp_floor", "style vs content"),),
     "high means the result is in the style's key (a transfer should keep the content's)"),
    ("onset_content", "rhythm kept: onset-envelope correlation with the content",
     (("onset_floor", "content vs itself shifted by half"),),
     "1 = the same attacks at the same times; above the floor the rhythm is kept"),
    ("mfcc_ratio", "style taken: MFCC distance to style / to content", (),
     "below 1 the timbre is nearer the style than the content; 0.5 = twice as near"),
    ("mfcc_to_style", "timbre distance to the style (MFCC Fréchet)", (("mfcc_floor", "style vs content"),),
     "0 = the style's timbre statistics; the floor is how far apart the inputs are"),
    ("mfcc_to_content", "timbre distance to the content (MFCC Fréchet)", (("mfcc_floor", "style vs content"),),
     "large = the content's timbre was replaced"),
    ("gram_to_style", "style statistics: held-out random-net gram distance to style",
     (("gram_floor", "content vs style"), ("gram_self", "the style's own halves vs the whole")),
     "0 = the style's statistics on a net the loss never saw; below content vs style the style was "
     "taken; near the style's own halves it is as close as the style is to itself"),
    ("flatness", "noise-likeness: spectral flatness of the result",
     (("flatness_content", "the content's flatness"), ("flatness_style", "the style's flatness")),
     "white noise is about 0.5, music 0.001–0.05; near the inputs' values = not noise"),
    ("level_range", "dynamics: level range of the result (dB over half-second windows)",
     (("level_range_content", "the content's range"), ("level_range_style", "the style's range")),
     "5th to 95th percentile of the level; near the content's range its dynamics are kept, "
     "well below it the style evened them out"),
)


def _clean(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def measures(q: Quality) -> list[dict]:
    """The run record's rows: ``name, label, value, floor, floor_label, read`` (None for NaN)."""
    out = []
    for name, label, floors, read in _ROWS:
        value = _clean(getattr(q, name))
        if value is None:
            continue
        found = [(_clean(getattr(q, f)), f_label) for f, f_label in floors]
        floor, floor_label = next(((v, f_label) for v, f_label in found if v is not None), (None, None))
        out.append({
            "name": name,
            "label": label,
            "value": value,
            "floor": floor,
            "floor_label": floor_label,
            "read": read,
        })
    return out


def verdict(q: Quality) -> str:
    """One line: ``content kept x.xx of 1 (floor f.ff), [key the content's|the style's (...),]
    style distance ratio y.yy, flatness z.zzz[, level range r dB (the content's c dB)]``.

    The key clause appears when the inputs' keys differ (profiles below :data:`KEYS_DIFFER`):
    it names whose key the result's pitch-class profile is nearer, the content's (kept) or the
    style's (its notes came with its timbre). The level clause appears when the content has
    dynamics (a level range of :data:`DYNAMICS_SHOWN` dB or more): a result whose range is far
    below the content's has had them evened out.
    """
    parts = []
    if math.isfinite(q.chroma_content):
        parts.append(f"content kept {q.chroma_content:.2f} of 1 (shifted-content floor {q.chroma_floor:.2f})")
    if all(math.isfinite(x) for x in (q.pcp_content, q.pcp_style, q.pcp_floor)) and q.pcp_floor < KEYS_DIFFER:
        whose = "the style's" if q.pcp_style > q.pcp_content else "the content's"
        parts.append(
            f"key {whose} (pitch-class profile {q.pcp_content:.2f} with the content, "
            f"{q.pcp_style:.2f} with the style)"
        )
    if math.isfinite(q.mfcc_ratio):
        parts.append(f"style distance ratio {q.mfcc_ratio:.2f} (below 1 = nearer the style)")
    elif q.mfcc_ratio == math.inf:  # no distance to the content at all: e.g. the content written back
        parts.append("style distance ratio inf (the result's timbre statistics are the content's)")
    elif math.isfinite(q.gram_to_style):  # a texture: no content, so no ratio
        own = math.isfinite(q.gram_self)
        reference = f"the style's own halves {q.gram_self:.2f}" if own else "0 = the style's"
        parts.append(f"gram distance to the style {q.gram_to_style:.2f} ({reference})")
    inputs = [x for x in (q.flatness_content, q.flatness_style) if math.isfinite(x)]
    tail = f" (inputs {' / '.join(f'{x:.3f}' for x in inputs)})" if inputs else ""
    parts.append(f"flatness {q.flatness:.3f}{tail}")
    if math.isfinite(q.level_range) and q.level_range_content >= DYNAMICS_SHOWN:
        parts.append(f"level range {q.level_range:.0f} dB (the content's {q.level_range_content:.0f} dB)")
    return "quality: " + ", ".join(parts)


def record(q: Quality) -> dict:
    """The run record's ``quality`` block: every field, the rows and the verdict."""
    return {
        "values": {k: _clean(v) for k, v in q._asdict().items()},
        "measures": measures(q),
        "verdict": verdict(q),
    }
