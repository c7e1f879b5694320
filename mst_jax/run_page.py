"""The listening page of one run, read from its run record.

``<stem>.html`` beside a run's output: players for the content, the style(s) (only the excerpt
a run read, where it read one: :func:`input_span`) and the result (the best result so far, i.e.
the checkpoint, when the run was interrupted), the spectrogram figure, the quality block when
the record has one (``record["quality"]``: measures with their floors and how to read them, and
a verdict), the per-term loss curves ``<stem>.loss.png`` (weighted β·L as
optimised, and raw L = weighted / β, on a log axis), and the configuration (preset, Γ and β per
term, network sizes, iterations, seed, device, seconds, every flag). Every number carries
``data-field``, its dotted place in the record (list items by index, -1 the last, or by
``name``; ``raw.<term>`` is the last weighted loss over β), as :mod:`mst_jax.page` describes.

Public names: :func:`write_run_page`, :func:`index_row`, :func:`input_span`; the loss figure
it shows is :func:`mst_jax.loss_figure.write_loss_figure`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from mst_jax import loss_figure, page


def _seconds(value) -> str:
    return f"{float(value):.2f} s" if value is not None else ""


def _device(record: Mapping) -> str:
    """Platform / device kind, and the accelerator's peak memory where the record has it."""
    dev = record.get("device", {})
    parts = [str(dev[k]) for k in ("platform", "device_kind") if dev.get(k)]
    text = " / ".join(dict.fromkeys(parts)) or "?"
    if dev.get("peak_memory_bytes"):
        text += f", peak memory {dev['peak_memory_bytes'] / 1e9:.2f} GB"
    return text


def _status(record: Mapping) -> str:
    it = record.get("iterations")
    total = record.get("config", {}).get("solver", {}).get("max_iter")
    seconds = record.get("wall_seconds")
    if record.get("interrupted"):
        head = (
            f"Interrupted at iteration {it} of {total}: the result below is the best so far "
            "(the checkpoint); add --resume to continue."
        )
    else:
        head = f"{it} iterations of {total} ({record.get('stop_reason', '?')})."
    floor = record.get("content_floor")
    if floor and floor.get("crossed"):
        head += (
            f" The content fell below the floor {page.fmt(floor.get('floor'))}: the result is "
            f"iteration {floor.get('kept_iteration')}'s, the last that kept it "
            f"({page.fmt(floor.get('kept_chroma'))})."
        )
    return f"{head} {page.fmt(seconds)} s in all on {_device(record)}."


def input_span(entry: Mapping) -> tuple[float, float] | None:
    """``(start, end)`` seconds of the file that a run record's input entry read, or None when
    it read the whole file (no ``--*_offset`` or ``--*_duration``)."""
    seconds, offset = entry.get("seconds"), entry.get("offset_s") or 0.0
    if seconds is None or (not offset and entry.get("duration_s") is None):
        return None
    return float(offset), float(offset) + float(seconds)


def _input_player(label: str, entry: Mapping, html_path: str) -> str:
    """An input's player: the whole file, or only the excerpt the run read (its span in the
    file, and a note that says which seconds those are)."""
    span = input_span(entry)
    note = _seconds(entry.get("seconds"))
    if span is not None:
        note += f": {span[0]:.2f}–{span[1]:.2f} s of the file"
    return page.player(label, entry["path"], html_path, note=note, span=span)


def _players(record: Mapping, html_path: str) -> str:
    items = []
    inputs = record.get("inputs", {})
    content = inputs.get("content")
    if content is not None:
        label = "input" if record.get("script") == "reconstruct" else "content"
        items.append(_input_player(label, content, html_path))
    styles = inputs.get("styles", [])
    for i, s in enumerate(styles):
        label = f"style {i + 1}" if len(styles) > 1 else "style"
        items.append(_input_player(label, s, html_path))
    out = record.get("output", {})
    if out.get("path"):
        label = "result so far (checkpoint)" if record.get("interrupted") else "result"
        items.append(page.player(label, out["path"], html_path, note=_seconds(out.get("seconds"))))
    return f'<div class="players">{"".join(items)}</div>'


def _quality(record: Mapping) -> str:
    q = record.get("quality")
    if not q:
        return ""
    rows = []
    for m in q.get("measures", []):
        name = m["name"]
        floor = page.num_cell(m.get("floor"), f"quality.measures.{name}.floor")
        floor_label = m.get("floor_label")
        rows.append(
            [
                f'<th scope="row">{page.escape(m.get("label", name))}</th>',
                page.num_cell(m.get("value"), f"quality.measures.{name}.value"),
                floor,
                page.text_cell(floor_label or ""),
                page.text_cell(m.get("read", "")),
            ]
        )
    table = page.table(
        "Quality of the result", ["measure", "value", "floor", "floor is", "how to read it"], rows
    )
    return (
        '<section aria-labelledby="h-quality"><h2 id="h-quality">Quality</h2>'
        f'<p class="verdict" data-field="quality.verdict">{page.escape(q.get("verdict", ""))}</p>{table}</section>'
    )


def _terms_table(record: Mapping) -> str:
    weighted = record.get("term_history", {})
    raw = loss_figure.raw_history(record)
    nets = {t["name"]: t.get("net") for t in record.get("config", {}).get("terms", [])}
    rows = []
    for name, t in record.get("terms", {}).items():
        w = weighted.get(name) or [None]
        r = raw.get(name) or [None]
        net = nets.get(name)
        size = ", ".join(f"{k} {v}" for k, v in (net or {}).items() if k != "representation")
        network = f"{net['representation']}: {size}" if net else "–"
        rows.append(
            [
                f'<th scope="row">{page.escape(name)}</th>',
                page.num_cell(t.get("gamma"), f"terms.{name}.gamma"),
                page.num_cell(t.get("beta"), f"terms.{name}.beta"),
                page.num_cell(w[0], f"term_history.{name}.0"),
                page.num_cell(w[-1], f"term_history.{name}.-1"),
                page.num_cell(r[-1], f"raw.{name}"),
                f'<td class="wide">{page.escape(network)}</td>',
            ]
        )
    return page.table(
        "Terms: Γ, β (Eq. 7–8), first and last weighted loss, last raw loss, network",
        ["term", "Γ", "β", "first β·L", "last β·L", "last L", "network"],
        rows,
    )


def _style_level(record: Mapping) -> str:
    """The "the style's level" row of a transfer: as given or matched to the content's
    (``--match_level``, with each style file's gain), then any ``--style_level_db``."""
    c = record["config"]
    offset = c.get("style_level_db") or 0.0
    then = f", then {offset:+g} dB" if offset else ""
    if not c["match_level"]:
        return f"as given (peak-normalised){then}{' (--style_level_db)' if offset else ''}"
    gains = [s.get("level_gain_db") for s in record.get("inputs", {}).get("styles", [])]
    db = ", ".join(f"{g:+.1f} dB" for g in gains if g is not None) or "?"
    if offset:
        return f"matched to the content's{then} ({db} in all; --match_level, --style_level_db)"
    return f"matched to the content's ({db}; --match_level)"


def _config(record: Mapping) -> str:
    c = record.get("config", {})
    spi = [float(s) for s in record.get("seconds_per_iteration", []) if s is not None]
    median = sorted(spi)[len(spi) // 2] if spi else None
    items = [
        ("script", page.text_cell(record.get("script", "?")), None),
        ("preset", page.text_cell(c.get("preset", "?")), None),
        ("iterations", page.num_cell(record.get("iterations"), "iterations"), None),
        ("stop reason", page.text_cell(record.get("stop_reason", "?")), None),
        ("seed", page.num_cell(c.get("seed"), "config.seed"), None),
        ("sample rate (Hz)", page.num_cell(c.get("sr"), "config.sr"), None),
        ("initial waveform", page.text_cell(c.get("init", "?")), None),
        ("device", page.text_cell(_device(record)), None),
        ("seconds in all", page.num_cell(record.get("wall_seconds"), "wall_seconds"), None),
        ("median s/iteration", page.num_cell(median), None),
    ]
    if "keep_silence" in c and c.get("script") == "transfer":  # only a transfer has a content
        kept = "kept silent in the result (--keep_silence)" if c["keep_silence"] else "not kept"
        items.append(("the content's silences", page.text_cell(kept), None))
    if "keep_dynamics" in c and c.get("script") == "transfer":
        kept = ("evened for the optimisation, given back to the result (--keep_dynamics)"
                if c["keep_dynamics"] else "left to the optimisation")
        items.append(("the content's dynamics", page.text_cell(kept), None))
    if "match_level" in c and c.get("script") == "transfer":
        items.append(("the style's level", page.text_cell(_style_level(record)), None))
    floor = record.get("content_floor")
    if floor:
        checks = ", ".join(f"{it}: {page.fmt(c)}" for it, c in floor.get("checks", []))
        items.append(("content floor", page.text_cell(
            f"{page.fmt(floor.get('floor'))}; kept iteration {floor.get('kept_iteration')}; "
            f"chroma with the content at each check: {checks}"), None))
    if record.get("batch"):
        b = record["batch"]
        items.append(("batch", page.text_cell(f"CSV line {b.get('line')} of {b.get('size')} rows; {b.get('note', '')}"), None))
    rows = [[f'<th scope="row">{page.escape(k)}</th>', cell] for k, cell, _ in items]
    flags = record.get("flags", {})
    flag_rows = [
        [f'<th scope="row">--{page.escape(k)}</th>', page.text_cell("" if v is None else v)]
        for k, v in sorted(flags.items())
    ]
    return (
        page.table("Configuration", ["setting", "value"], rows)
        + "<details><summary>Every flag of this run</summary>"
        + page.table("Flags (unset: the preset's value)", ["flag", "value"], flag_rows)
        + "</details>"
    )


def _extra_numbers(record: Mapping) -> str:
    """Reconstruct's spectral convergence (ours vs Griffin-Lim), when the record has it."""
    sc = record.get("spectral_convergence")
    if not sc:
        return ""
    names = {
        "ours": "ours (time-domain L-BFGS-B)",
        "griffinlim_same_iterations": "Griffin-Lim, same iterations",
        "griffinlim_same_time": "Griffin-Lim, same time",
    }
    rows = [
        [f'<th scope="row">{page.escape(names.get(k, k))}</th>', page.num_cell(v, f"spectral_convergence.{k}")]
        for k, v in sc.items()
    ]
    return (
        '<section aria-labelledby="h-sc"><h2 id="h-sc">Spectral convergence</h2>'
        + page.table("‖|X| − |Y|‖ / ‖|Y|‖: lower is better", ["method", "value"], rows)
        + "</section>"
    )



# --------------------------------------------------------------------------- the page


def write_run_page(
    html_path: str,
    record: Mapping,
    *,
    spectrogram_png: str | None = None,
    loss_png: str | None = None,
    record_path: str | None = None,
) -> None:
    """Writes the listening page of one run: players, figures, quality, configuration.

    Args:
      html_path: the page to write (atomically), normally ``<stem>.html`` beside the output.
      record: the run record (SPEC.md §2) as written to ``<stem>.json``: ``inputs`` and
        ``output`` give the audio files, ``terms``/``term_history``/``loss_history`` the losses,
        ``config``/``device``/``flags`` the configuration; ``quality`` (``measures`` and
        ``verdict``) and ``spectral_convergence`` are shown when present.
      spectrogram_png: the spectrogram figure (content, style, result), or None.
      loss_png: the loss figure (:func:`mst_jax.loss_figure.write_loss_figure`), or None.
      record_path: the JSON record, linked from the page, or None.

    Raises:
      AudioError: the page cannot be written.

    Example:
      >>> import json, os, tempfile
      >>> d = tempfile.mkdtemp()
      >>> rec = {"script": "texture", "inputs": {"content": None, "styles": []},
      ...        "output": {"path": os.path.join(d, "t.wav"), "seconds": 1.0},
      ...        "terms": {"style_stft": {"gamma": 50.0, "beta": 2.0}},
      ...        "term_history": {"style_stft": [8.0, 4.0]}, "loss_history": [8.0, 4.0]}
      >>> write_run_page(os.path.join(d, "t.html"), rec)
      >>> 'data-value="4.0" data-field="term_history.style_stft.-1">4<' in open(os.path.join(d, "t.html")).read()
      True
    """
    out = record.get("output", {})
    name = os.path.basename(out.get("path") or html_path)
    title = f"{record.get('script', 'run')}: {name}"
    parts = [
        f"<header><h1>{page.escape(title)}</h1><p class=\"status\">{page.escape(_status(record))}</p></header>",
        '<section aria-labelledby="h-listen"><h2 id="h-listen">Listen</h2>',
        _players(record, html_path),
        "</section>",
    ]
    if spectrogram_png is not None:
        panels = (["content"] if record.get("inputs", {}).get("content") else []) + [
            "style" for _ in record.get("inputs", {}).get("styles", [])[:2]
        ]
        what = ", ".join(panels + ["result"])
        parts.append(
            '<section aria-labelledby="h-spec"><h2 id="h-spec">Spectrograms</h2>'
            + page.image(
                spectrogram_png,
                html_path,
                f"Log-magnitude STFT spectrograms of the {what}, side by side on one colour "
                "scale: time in seconds across, frequency in kHz up.",
                "log(1 + |STFT|) of each clip on one colour scale; time runs left to right.",
            )
            + "</section>"
        )
    parts.append(_quality(record))
    parts.append(_extra_numbers(record))
    parts.append('<section aria-labelledby="h-loss"><h2 id="h-loss">Loss</h2>')
    if loss_png is not None:
        floor = record.get("content_floor")
        raw = "middle" if floor else "right"
        panel = (
            f"; then the content kept (chroma correlation with the content) at each check, the "
            f"floor {page.fmt(floor.get('floor'))} dashed and the iteration written dotted"
            if floor
            else ""
        )
        parts.append(
            page.image(
                loss_png,
                html_path,
                "Loss of each term against iteration on a logarithmic axis: left the weighted "
                f"loss β·L that the optimiser minimises (with the total), {raw} the raw loss L{panel}.",
                f"Per-term loss, log axis: weighted β·L (left, with the total) and raw L ({raw}){panel}.",
            )
        )
    parts.append(_terms_table(record) + "</section>")
    parts.append('<section aria-labelledby="h-config"><h2 id="h-config">Configuration</h2>')
    parts.append(_config(record) + "</section>")
    notices = record.get("notices") or []
    if notices:
        parts.append(
            '<section aria-labelledby="h-notices"><h2 id="h-notices">Notices</h2><ul>'
            + "".join(f"<li>{page.escape(n)}</li>" for n in notices)
            + "</ul></section>"
        )
    links = []
    if out.get("path"):
        links.append(f'<a href="{page.escape(page.href(out["path"], html_path))}">{page.escape(name)}</a>')
    if record_path is not None:
        links.append(
            f'<a href="{page.escape(page.href(record_path, html_path))}">{page.escape(os.path.basename(record_path))}</a> (run record)'
        )
    version = record.get("versions", {}).get("mst_jax")
    parts.append(
        f'<footer class="note"><p>Files: {", ".join(links) or "–"}. '
        f"Written by mst_jax {page.escape(version or '')}.</p></footer>"
    )
    page.write_html(html_path, page.document(title, "".join(parts)))


def index_row(record: Mapping, *, page: str | None = None) -> dict:
    """One row of :func:`write_index` from a run record.

    Args:
      record: a run record (as :func:`write_run_page` reads it).
      page: that run's page, or None.

    Returns:
      ``{"page", "content", "style", "spans", "result", "config", "quality"}``: audio paths
      (``style`` a list), ``spans`` the excerpt of each input the run read (``{"content": [span],
      "style": [span, ...]}``, each :func:`input_span`), ``config`` a dict of column -> value
      (preset, init, iterations, seed, seconds), ``quality`` a dict of measure label -> value
      (plus ``verdict``), empty without quality.
    """
    inputs = record.get("inputs", {})
    c = record.get("config", {})
    q = record.get("quality") or {}
    quality = {m.get("label", m["name"]): m.get("value") for m in q.get("measures", [])}
    if q.get("verdict"):
        quality["verdict"] = q["verdict"]
    content = inputs.get("content") or {}
    styles = inputs.get("styles", [])
    return {
        "page": page,
        "content": content.get("path"),
        "style": [s["path"] for s in styles],
        "spans": {
            "content": [input_span(content) if content else None],
            "style": [input_span(s) for s in styles],
        },
        "result": record.get("output", {}).get("path"),
        "config": {
            "preset": c.get("preset"),
            "init": c.get("init"),
            "iterations": record.get("iterations"),
            "seed": c.get("seed"),
            "seconds": record.get("wall_seconds"),
        },
        "quality": quality,
    }
