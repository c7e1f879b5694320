"""HTML listening pages for runs and batches: players, figures and numbers, standard library only.

A page is one self-contained HTML file: inline CSS, no network (no CDN, no web font), and every
audio file and figure referenced by a path relative to the page, so the folder can be copied or
served as is (``python3 -m http.server``). The inputs' players point at the user's original files
when browsers play their format (:data:`BROWSER_AUDIO`); other formats get no player, only a
note. Index and study pages sort their tables with a few lines of inline vanilla JavaScript (a
header is a button; click it to sort, again to reverse). Every number on a page is printed from
the run record with :func:`fmt` and carries ``data-field`` (its place in the record: dotted
keys, list items by index or by ``name``; ``raw.<term>`` is the last weighted loss over β) and
``data-value`` (``repr`` of the number), so a reader, a script or a test can check it.

Public names: :func:`write_run_page`, :func:`write_loss_figure`, :func:`index_row`,
:func:`write_index`, :func:`write_study_page`, :func:`fmt`.
"""

from __future__ import annotations

import csv
import html
import io
import math
import os
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence

from mst_jax import audio

# Extension -> MIME type of the formats Chromium, Firefox and Safari play in <audio>.
BROWSER_AUDIO = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
}

_CSS = """
:root { color-scheme: light dark; --fg: #1a1a1a; --bg: #fdfdfd; --mute: #555; --line: #ccc;
  --accent: #0b57d0; }
@media (prefers-color-scheme: dark) { :root { --fg: #eee; --bg: #161616; --mute: #aaa;
  --line: #444; --accent: #8ab4f8; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem; font: 16px/1.45 system-ui, sans-serif;
  color: var(--fg); background: var(--bg); }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid var(--line); }
a { color: var(--accent); }
.status, .note, figcaption, .path { color: var(--mute); font-size: .9rem; }
.path { overflow-wrap: anywhere; }
.players { display: grid; gap: .75rem; grid-template-columns: repeat(auto-fit, minmax(15rem, 1fr)); }
.player { border: 1px solid var(--line); border-radius: .4rem; padding: .5rem .75rem; margin: 0; }
.player h3 { font-size: 1rem; margin: 0 0 .3rem; }
audio { width: 100%; min-width: 9rem; }
figure { margin: .5rem 0; }
img { max-width: 100%; height: auto; display: block; background: #fff; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left;
  vertical-align: top; }
td.wide { min-width: 14rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th button { font: inherit; font-weight: bold; background: none; border: 0; padding: 0;
  color: inherit; cursor: pointer; text-align: left; }
th[aria-sort=ascending] button::after { content: " \\25B2"; }
th[aria-sort=descending] button::after { content: " \\25BC"; }
.verdict { font-weight: bold; }
"""

# Sorts every table.sortable by the clicked header's column: numbers (data-sort) numerically,
# text alphabetically, empty cells last; a second click reverses.
_SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th button").forEach(function (button) {
    button.addEventListener("click", function () {
      var th = button.parentNode, col = th.cellIndex;
      var up = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[col], s = cell.getAttribute("data-sort");
        if (s === null) { s = cell.textContent.trim(); }
        var x = s === "" ? NaN : Number(s);
        return { empty: s === "", num: !isNaN(x), x: x, s: s };
      }
      rows.sort(function (a, b) {
        var p = key(a), q = key(b);
        if (p.empty !== q.empty) { return p.empty ? 1 : -1; }
        var c = p.num && q.num ? p.x - q.x : p.s.localeCompare(q.s, undefined, { numeric: true });
        return up ? c : -c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


# --------------------------------------------------------------------------- small parts


def fmt(value) -> str:
    """A number as pages print it: 4 significant digits, ``–`` for None or non-finite.

    Example:
      >>> fmt(0.000123456), fmt(12345.6), fmt(3), fmt(None), fmt(float("nan"))
      ('0.0001235', '1.235e+04', '3', '–', '–')
    """
    if value is None or isinstance(value, bool):
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    v = float(value)
    return f"{v:.4g}" if math.isfinite(v) else "–"


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _href(path: str, html_path: str) -> str:
    """``path`` relative to the page's folder, URL-quoted (a file URI across Windows drives)."""
    here = os.path.dirname(os.path.abspath(html_path))
    try:
        rel = os.path.relpath(os.path.abspath(path), here)
    except ValueError:
        return "file://" + urllib.parse.quote(os.path.abspath(path).replace(os.sep, "/"))
    return urllib.parse.quote(rel.replace(os.sep, "/"))


def _num_cell(value, field: str | None = None, *, tag: str = "td") -> str:
    """A numeric cell whose text is :func:`fmt` and whose attributes hold the exact value."""
    attrs = ' class="num"'
    if value is not None and not isinstance(value, bool) and math.isfinite(float(value)):
        exact = repr(int(value)) if isinstance(value, int) else repr(float(value))
        attrs += f' data-sort="{exact}" data-value="{exact}"'
    else:
        attrs += ' data-sort=""'
    if field is not None:
        attrs += f' data-field="{_e(field)}"'
    return f"<{tag}{attrs}>{_e(fmt(value))}</{tag}>"


def _player(title: str, path: str | None, html_path: str, *, note: str = "") -> str:
    """One labelled ``<audio>`` (or, for a format browsers do not play, a note saying so)."""
    head = f'<figure class="player"><h3>{_e(title)}</h3>'
    if path is None:
        return head + f'<p class="note">{_e(note or "no file")}</p></figure>'
    ext = os.path.splitext(path)[1].lower()
    name = os.path.basename(path)
    if ext not in BROWSER_AUDIO:
        return head + (
            f'<p class="note">No player: {_e(name)} is not a format browsers play '
            f"({', '.join(sorted(BROWSER_AUDIO))}).</p></figure>"
        )
    src = _href(path, html_path)
    return head + (
        f'<audio controls preload="metadata" aria-label="{_e(title)}: {_e(name)}">'
        f'<source src="{_e(src)}" type="{BROWSER_AUDIO[ext]}">'
        f'Your browser plays no audio here: <a href="{_e(src)}">download {_e(name)}</a>.</audio>'
        f'<figcaption class="path">{_e(name)}{(" – " + _e(note)) if note else ""}</figcaption>'
        "</figure>"
    )


def _image(path: str, html_path: str, alt: str, caption: str) -> str:
    src = _e(_href(path, html_path))
    return (
        f'<figure><a href="{src}"><img src="{src}" alt="{_e(alt)}" loading="eager"></a>'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _table(caption: str, header: Sequence[str], rows: Iterable[Sequence[str]], *, sortable=False) -> str:
    """A table in a scrollable, labelled region; ``rows`` hold ready-made ``<td>``/``<th>`` cells."""
    if sortable:
        heads = "".join(
            f'<th scope="col"><button type="button" aria-label="Sort by {_e(h)}">{_e(h)}</button></th>'
            for h in header
        )
    else:
        heads = "".join(f'<th scope="col">{_e(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    cls = ' class="sortable"' if sortable else ""
    return (
        f'<div class="scroll" role="region" aria-label="{_e(caption)}" tabindex="0">'
        f"<table{cls}><caption class=\"note\">{_e(caption)}</caption><thead><tr>{heads}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def _text_cell(text, *, sort: str | None = None) -> str:
    attr = f' data-sort="{_e(sort)}"' if sort is not None else ""
    return f"<td{attr}>{_e(text)}</td>"


def _document(title: str, body: str, *, script: bool = False) -> str:
    js = f"<script>{_SORT_JS}</script>" if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><main>{body}</main>{js}</body></html>\n"
    )


def _write(html_path: str, text: str) -> None:
    audio.atomic_write_bytes(html_path, text.encode("utf-8"))


# --------------------------------------------------------------------------- the run page


def _raw_history(record: Mapping) -> dict[str, list[float]]:
    """Unweighted per-term losses L_t = (β_t L_t) / β_t from the record's weighted history."""
    out = {}
    for name, values in record.get("term_history", {}).items():
        beta = float(record["terms"][name]["beta"])
        out[name] = [
            float(v) / beta if v is not None and beta > 0 else float("nan") for v in values
        ]
    return out


def write_loss_figure(png_path: str, record: Mapping) -> None:
    """Per-term loss against iteration on a log axis: weighted β·L (as optimised) and raw L.

    Args:
      png_path: the PNG to write (atomically; matplotlib Agg, no global state).
      record: a run record with ``loss_history``, ``term_history`` (weighted, per iteration) and
        ``terms[name]["beta"]``. Non-positive or missing values are left out of the log axis.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    weighted = {k: list(v) for k, v in record.get("term_history", {}).items()}
    panels = [("weighted: β·L (as optimised)", weighted), ("raw: L = weighted / β", _raw_history(record))]
    fig = Figure(figsize=(10.0, 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, squeeze=False)[0]
    for i, (ax, (title, series)) in enumerate(zip(axes, panels)):
        if i == 0 and record.get("loss_history"):
            series = {"total": list(record["loss_history"]), **series}
        for name, values in series.items():
            y = np.array([np.nan if v is None else float(v) for v in values], float)
            y[~(y > 0)] = np.nan
            x = np.arange(1, y.size + 1)
            style = dict(color="black", lw=2.0) if name == "total" else dict(lw=1.3)
            ax.plot(x, y, label=name, **style)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("loss")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize="small")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    audio.atomic_write_bytes(png_path, buf.getvalue())


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
    return f"{head} {fmt(seconds)} s in all on {_device(record)}."


def _seconds(value) -> str:
    return f"{float(value):.2f} s" if value is not None else ""


def _device(record: Mapping) -> str:
    dev = record.get("device", {})
    parts = [str(dev[k]) for k in ("platform", "device_kind") if dev.get(k)]
    return " / ".join(dict.fromkeys(parts)) or "?"


def _players(record: Mapping, html_path: str) -> str:
    items = []
    inputs = record.get("inputs", {})
    content = inputs.get("content")
    if content is not None:
        label = "input" if record.get("script") == "reconstruct" else "content"
        items.append(_player(label, content["path"], html_path, note=_seconds(content.get("seconds"))))
    styles = inputs.get("styles", [])
    for i, s in enumerate(styles):
        label = f"style {i + 1}" if len(styles) > 1 else "style"
        items.append(_player(label, s["path"], html_path, note=_seconds(s.get("seconds"))))
    out = record.get("output", {})
    if out.get("path"):
        label = "result so far (checkpoint)" if record.get("interrupted") else "result"
        items.append(_player(label, out["path"], html_path, note=_seconds(out.get("seconds"))))
    return f'<div class="players">{"".join(items)}</div>'


def _quality(record: Mapping) -> str:
    q = record.get("quality")
    if not q:
        return ""
    rows = []
    for m in q.get("measures", []):
        name = m["name"]
        floor = _num_cell(m.get("floor"), f"quality.measures.{name}.floor")
        floor_label = m.get("floor_label")
        rows.append(
            [
                f'<th scope="row">{_e(m.get("label", name))}</th>',
                _num_cell(m.get("value"), f"quality.measures.{name}.value"),
                floor,
                _text_cell(floor_label or ""),
                _text_cell(m.get("read", "")),
            ]
        )
    table = _table(
        "Quality of the result", ["measure", "value", "floor", "floor is", "how to read it"], rows
    )
    return (
        '<section aria-labelledby="h-quality"><h2 id="h-quality">Quality</h2>'
        f'<p class="verdict" data-field="quality.verdict">{_e(q.get("verdict", ""))}</p>{table}</section>'
    )


def _terms_table(record: Mapping) -> str:
    weighted = record.get("term_history", {})
    raw = _raw_history(record)
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
                f'<th scope="row">{_e(name)}</th>',
                _num_cell(t.get("gamma"), f"terms.{name}.gamma"),
                _num_cell(t.get("beta"), f"terms.{name}.beta"),
                _num_cell(w[0], f"term_history.{name}.0"),
                _num_cell(w[-1], f"term_history.{name}.-1"),
                _num_cell(r[-1], f"raw.{name}"),
                f'<td class="wide">{_e(network)}</td>',
            ]
        )
    return _table(
        "Terms: Γ, β (Eq. 7–8), first and last weighted loss, last raw loss, network",
        ["term", "Γ", "β", "first β·L", "last β·L", "last L", "network"],
        rows,
    )


def _config(record: Mapping) -> str:
    c = record.get("config", {})
    spi = [float(s) for s in record.get("seconds_per_iteration", []) if s is not None]
    median = sorted(spi)[len(spi) // 2] if spi else None
    items = [
        ("script", _text_cell(record.get("script", "?")), None),
        ("preset", _text_cell(c.get("preset", "?")), None),
        ("iterations", _num_cell(record.get("iterations"), "iterations"), None),
        ("stop reason", _text_cell(record.get("stop_reason", "?")), None),
        ("seed", _num_cell(c.get("seed"), "config.seed"), None),
        ("sample rate (Hz)", _num_cell(c.get("sr"), "config.sr"), None),
        ("initial waveform", _text_cell(c.get("init", "?")), None),
        ("device", _text_cell(_device(record)), None),
        ("seconds in all", _num_cell(record.get("wall_seconds"), "wall_seconds"), None),
        ("median s/iteration", _num_cell(median), None),
    ]
    if record.get("batch"):
        b = record["batch"]
        items.append(("batch", _text_cell(f"CSV line {b.get('line')} of {b.get('size')} rows; {b.get('note', '')}"), None))
    rows = [[f'<th scope="row">{_e(k)}</th>', cell] for k, cell, _ in items]
    flags = record.get("flags", {})
    flag_rows = [
        [f'<th scope="row">--{_e(k)}</th>', _text_cell("" if v is None else v)]
        for k, v in sorted(flags.items())
    ]
    return (
        _table("Configuration", ["setting", "value"], rows)
        + "<details><summary>Every flag of this run</summary>"
        + _table("Flags (unset: the preset's value)", ["flag", "value"], flag_rows)
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
        [f'<th scope="row">{_e(names.get(k, k))}</th>', _num_cell(v, f"spectral_convergence.{k}")]
        for k, v in sc.items()
    ]
    return (
        '<section aria-labelledby="h-sc"><h2 id="h-sc">Spectral convergence</h2>'
        + _table("‖|X| − |Y|‖ / ‖|Y|‖: lower is better", ["method", "value"], rows)
        + "</section>"
    )


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
      loss_png: the loss figure (:func:`write_loss_figure`), or None.
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
        f"<header><h1>{_e(title)}</h1><p class=\"status\">{_e(_status(record))}</p></header>",
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
            + _image(
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
        parts.append(
            _image(
                loss_png,
                html_path,
                "Loss of each term against iteration on a logarithmic axis: left the weighted "
                "loss β·L that the optimiser minimises (with the total), right the raw loss L.",
                "Per-term loss, log axis: weighted β·L (left, with the total) and raw L (right).",
            )
        )
    parts.append(_terms_table(record) + "</section>")
    parts.append('<section aria-labelledby="h-config"><h2 id="h-config">Configuration</h2>')
    parts.append(_config(record) + "</section>")
    notices = record.get("notices") or []
    if notices:
        parts.append(
            '<section aria-labelledby="h-notices"><h2 id="h-notices">Notices</h2><ul>'
            + "".join(f"<li>{_e(n)}</li>" for n in notices)
            + "</ul></section>"
        )
    links = []
    if out.get("path"):
        links.append(f'<a href="{_e(_href(out["path"], html_path))}">{_e(name)}</a>')
    if record_path is not None:
        links.append(
            f'<a href="{_e(_href(record_path, html_path))}">{_e(os.path.basename(record_path))}</a> (run record)'
        )
    version = record.get("versions", {}).get("mst_jax")
    parts.append(
        f'<footer class="note"><p>Files: {", ".join(links) or "–"}. '
        f"Written by mst_jax {_e(version or '')}.</p></footer>"
    )
    _write(html_path, _document(title, "".join(parts)))


# --------------------------------------------------------------------------- index and studies


def index_row(record: Mapping, *, page: str | None = None) -> dict:
    """One row of :func:`write_index` from a run record.

    Args:
      record: a run record (as :func:`write_run_page` reads it).
      page: that run's page, or None.

    Returns:
      ``{"page", "content", "style", "result", "config", "quality"}``: audio paths (``style`` a
      list), ``config`` a dict of column -> value (preset, init, iterations, seed, seconds),
      ``quality`` a dict of measure label -> value (plus ``verdict``), empty without quality.
    """
    inputs = record.get("inputs", {})
    c = record.get("config", {})
    q = record.get("quality") or {}
    quality = {m.get("label", m["name"]): m.get("value") for m in q.get("measures", [])}
    if q.get("verdict"):
        quality["verdict"] = q["verdict"]
    return {
        "page": page,
        "content": (inputs.get("content") or {}).get("path"),
        "style": [s["path"] for s in inputs.get("styles", [])],
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


def _cell(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _num_cell(value)
    return _text_cell("–", sort="") if value is None else _text_cell(value)


def _audio_cell(paths: Sequence[str], html_path: str, what: str) -> str:
    parts = []
    for p in paths:
        name = os.path.basename(p)
        if os.path.splitext(p)[1].lower() in BROWSER_AUDIO:
            src = _e(_href(p, html_path))
            parts.append(
                f'<div><span class="path">{_e(name)}</span><audio controls preload="metadata" '
                f'aria-label="{_e(what)}: {_e(name)}"><source src="{src}" '
                f'type="{BROWSER_AUDIO[os.path.splitext(p)[1].lower()]}"></audio></div>'
            )
        else:
            parts.append(f'<div class="path">{_e(name)} (no player for this format)</div>')
    sort = ", ".join(os.path.basename(p) for p in paths)
    return f'<td data-sort="{_e(sort)}">{"".join(parts) or "–"}</td>'


def write_index(html_path: str, rows: Sequence[Mapping], *, title: str = "Runs", note: str = "") -> None:
    """Writes one page listing many runs: a sortable table with players and links to each page.

    Args:
      html_path: the page to write (atomically), e.g. ``<folder>/index.html``.
      rows: one dict per run, as :func:`index_row` makes: ``page`` (path or None), ``content``
        (path or None), ``style`` (list of paths), ``result`` (path), ``config`` and ``quality``
        (dicts of column -> number or text; columns are the union over rows, in order of first
        appearance, a missing one shows ``–``).
      title: the page's heading.
      note: one paragraph under the heading.

    Example:
      >>> import os, tempfile
      >>> d = tempfile.mkdtemp()
      >>> write_index(os.path.join(d, "index.html"),
      ...             [{"page": os.path.join(d, "a.html"), "content": None, "style": [],
      ...               "result": os.path.join(d, "a.wav"), "config": {"seed": 0}, "quality": {}}])
      >>> '<a href="a.html">' in open(os.path.join(d, "index.html")).read()
      True
    """
    cfg_cols: list[str] = []
    q_cols: list[str] = []
    for r in rows:
        cfg_cols += [k for k in r.get("config", {}) if k not in cfg_cols]
        q_cols += [k for k in r.get("quality", {}) if k not in q_cols]
    header = ["#", "page", "content", "style", "result", *cfg_cols, *q_cols]
    body = []
    for i, r in enumerate(rows, 1):
        page = r.get("page")
        name = os.path.basename(r.get("result") or page or f"row {i}")
        link = (
            f'<td data-sort="{_e(name)}"><a href="{_e(_href(page, html_path))}">{_e(name)}</a></td>'
            if page
            else _text_cell(name)
        )
        cells = [
            _num_cell(i),
            link,
            _audio_cell([r["content"]] if r.get("content") else [], html_path, f"row {i} content"),
            _audio_cell(list(r.get("style", [])), html_path, f"row {i} style"),
            _audio_cell([r["result"]] if r.get("result") else [], html_path, f"row {i} result"),
        ]
        cells += [_cell(r.get("config", {}).get(k)) for k in cfg_cols]
        cells += [_cell(r.get("quality", {}).get(k)) for k in q_cols]
        body.append(cells)
    parts = [
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="status">{_e(note)}</p>' if note else "",
        f'<p class="note">{len(rows)} runs. Click a column header to sort by it; click again to '
        "reverse.</p></header>",
        _table(title, header, body, sortable=True),
    ]
    _write(html_path, _document(title, "".join(parts), script=True))


def _csv_table(csv_path: str, caption: str) -> str:
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return f'<p class="note">{_e(caption)}: empty</p>'
    cells = []
    for r in rows[1:]:
        row = []
        for v in r:
            try:
                x = float(v)
            except ValueError:
                row.append(_text_cell(v))
                continue
            row.append(f'<td class="num" data-sort="{_e(repr(x))}">{_e(v)}</td>')
        cells.append(row)
    link = os.path.basename(csv_path)
    return _table(f"{caption} ({link})", rows[0], cells, sortable=True)


def write_study_page(
    html_path: str,
    title: str,
    *,
    figures: Sequence[tuple[str, str]] = (),
    tables: Sequence[tuple[str, str]] = (),
    note: str = "",
) -> None:
    """Writes a study's page: its figures and its CSV tables (sortable, values as in the CSV).

    Args:
      html_path: the page to write (atomically), e.g. ``<output_dir>/key_invariance.html``.
      title: the page's heading.
      figures: ``(png_path, alt_text)`` pairs; the alt text says what the figure shows.
      tables: ``(csv_path, caption)`` pairs; each CSV's first row is the header, and each cell is
        printed exactly as the CSV has it.
      note: one paragraph under the heading (what the study measures, how to read it).

    Raises:
      AudioError: the page cannot be written. OSError: a CSV cannot be read.

    Example:
      >>> import os, tempfile
      >>> d = tempfile.mkdtemp()
      >>> with open(os.path.join(d, "s.csv"), "w") as f:
      ...     _ = f.write("offset,mse\\n0,0.05\\n1,0.3\\n")
      >>> write_study_page(os.path.join(d, "s.html"), "Study", tables=[(os.path.join(d, "s.csv"), "MSE")])
      >>> '<td class="num" data-sort="0.3">0.3</td>' in open(os.path.join(d, "s.html")).read()
      True
    """
    parts = [f"<header><h1>{_e(title)}</h1>"]
    if note:
        parts.append(f'<p class="status">{_e(note)}</p>')
    parts.append("</header>")
    for png, alt in figures:
        parts.append(_image(png, html_path, alt, os.path.basename(png)))
    for path, caption in tables:
        parts.append(f"<h2>{_e(caption)}</h2>")
        parts.append(_csv_table(path, caption))
        parts.append(f'<p class="note"><a href="{_e(_href(path, html_path))}">{_e(os.path.basename(path))}</a></p>')
    _write(html_path, _document(title, "".join(parts), script=bool(tables)))
