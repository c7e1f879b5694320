"""Self-contained HTML pages: labelled players, figures and sortable tables; index and study pages.

A page is one HTML file with inline CSS and no network (no CDN, no web font, no framework);
every audio file and figure is referenced by a path relative to the page, URL-quoted, so the
folder can be copied or served as is (``python3 -m http.server``). An input whose format
browsers do not play (:data:`BROWSER_AUDIO`) gets a note instead of a player. Tables of many
rows sort with a few lines of inline vanilla JavaScript: a header is a button (with an
``aria-label``); click it to sort by that column, again to reverse; empty cells stay last.
Numbers are printed with :func:`fmt`; a numeric cell carries ``data-value`` (``repr`` of the
number) and, when it comes from a record, ``data-field`` (its place in that record), so a
reader, a script or a test can check it. :mod:`mst_jax.run_page` builds a run's page from these.

Public names: :func:`write_index`, :func:`write_study_page`, and the parts :func:`fmt`,
:func:`escape`, :func:`href`, :func:`num_cell`, :func:`text_cell`, :func:`player`,
:func:`image`, :func:`table`, :func:`document`, :func:`write_html`.
"""

from __future__ import annotations

import csv
import html
import math
import os
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence

from mst_jax import writing

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
  color: var(--fg); background: var(--bg); overflow-wrap: break-word; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid var(--line); }
a { color: var(--accent); }
.status, .note, figcaption, .path { color: var(--mute); font-size: .9rem; }
.path { overflow-wrap: anywhere; }
.players { display: grid; gap: .75rem; grid-template-columns: repeat(auto-fit, minmax(15rem, 1fr)); }
.player { border: 1px solid var(--line); border-radius: .4rem; padding: .5rem .75rem; margin: 0; }
.player h3 { font-size: 1rem; margin: 0 0 .3rem; }
audio { width: 100%; min-width: 9rem; }
td audio { min-width: 13rem; }
figure { margin: .5rem 0; }
img { max-width: 100%; height: auto; display: block; background: #fff; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: .9rem; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left;
  vertical-align: top; }
td.wide { min-width: 22rem; }
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


# --------------------------------------------------------------------------- parts


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


def escape(text) -> str:
    """``str(text)`` escaped for HTML text and attribute values (quotes included)."""
    return html.escape(str(text), quote=True)


def href(path: str, html_path: str) -> str:
    """``path`` relative to the page's folder, URL-quoted (a file URI across Windows drives)."""
    here = os.path.dirname(os.path.abspath(html_path))
    try:
        rel = os.path.relpath(os.path.abspath(path), here)
    except ValueError:
        return "file://" + urllib.parse.quote(os.path.abspath(path).replace(os.sep, "/"))
    return urllib.parse.quote(rel.replace(os.sep, "/"))


def num_cell(value, field: str | None = None, *, tag: str = "td") -> str:
    """A numeric cell whose text is :func:`fmt` and whose attributes hold the exact value."""
    attrs = ' class="num"'
    if value is not None and not isinstance(value, bool) and math.isfinite(float(value)):
        exact = repr(int(value)) if isinstance(value, int) else repr(float(value))
        attrs += f' data-sort="{exact}" data-value="{exact}"'
    else:
        attrs += ' data-sort=""'
    if field is not None:
        attrs += f' data-field="{escape(field)}"'
    return f"<{tag}{attrs}>{escape(fmt(value))}</{tag}>"


def media_fragment(span: tuple[float, float] | None) -> str:
    """``#t=start,end`` (W3C Media Fragments: a player starts at ``start`` s of the file and
    pauses at ``end``), or "" for ``None``, the whole file."""
    return "" if span is None else f"#t={span[0]:g},{span[1]:g}"


def player(
    title: str,
    path: str | None,
    html_path: str,
    *,
    note: str = "",
    span: tuple[float, float] | None = None,
) -> str:
    """One labelled ``<audio>`` (or, for a format browsers do not play, a note saying so).
    ``span``: ``(start, end)`` seconds of the file to play (a media fragment ``#t=start,end``:
    the player starts there and pauses at the end), or None for the whole file."""
    head = f'<figure class="player"><h3>{escape(title)}</h3>'
    if path is None:
        return head + f'<p class="note">{escape(note or "no file")}</p></figure>'
    ext = os.path.splitext(path)[1].lower()
    name = os.path.basename(path)
    if ext not in BROWSER_AUDIO:
        return head + (
            f'<p class="note">No player: {escape(name)} is not a format browsers play '
            f"({', '.join(sorted(BROWSER_AUDIO))}).</p></figure>"
        )
    src = href(path, html_path) + media_fragment(span)
    return head + (
        f'<audio controls preload="metadata" aria-label="{escape(title)}: {escape(name)}">'
        f'<source src="{escape(src)}" type="{BROWSER_AUDIO[ext]}">'
        f'Your browser plays no audio here: <a href="{escape(src)}">download {escape(name)}</a>.</audio>'
        f'<figcaption class="path">{escape(name)}{(" – " + escape(note)) if note else ""}</figcaption>'
        "</figure>"
    )


def image(path: str, html_path: str, alt: str, caption: str) -> str:
    src = escape(href(path, html_path))
    return (
        f'<figure><a href="{src}"><img src="{src}" alt="{escape(alt)}" loading="eager"></a>'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def table(caption: str, header: Sequence[str], rows: Iterable[Sequence[str]], *, sortable=False) -> str:
    """A table in a scrollable, labelled region; ``rows`` hold ready-made ``<td>``/``<th>`` cells."""
    if sortable:
        heads = "".join(
            f'<th scope="col"><button type="button" aria-label="Sort by {escape(h)}">{escape(h)}</button></th>'
            for h in header
        )
    else:
        heads = "".join(f'<th scope="col">{escape(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    cls = ' class="sortable"' if sortable else ""
    return (
        f'<div class="scroll" role="region" aria-label="{escape(caption)}" tabindex="0">'
        f"<table{cls}><caption class=\"note\">{escape(caption)}</caption><thead><tr>{heads}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def text_cell(text, *, sort: str | None = None) -> str:
    attr = f' data-sort="{escape(sort)}"' if sort is not None else ""
    return f"<td{attr}>{escape(text)}</td>"


def document(title: str, body: str, *, script: bool = False) -> str:
    js = f"<script>{_SORT_JS}</script>" if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body><main>{body}</main>{js}</body></html>\n"
    )


def write_html(html_path: str, text: str) -> None:
    writing.atomic_write_bytes(html_path, text.encode("utf-8"))


def _cell(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return num_cell(value)
    return text_cell("–", sort="") if value is None else text_cell(value)


def _audio_cell(paths: Sequence[str], html_path: str, what: str, spans=None) -> str:
    """A cell of players; ``spans``: per path, ``(start, end)`` seconds to play, or None."""
    parts = []
    for p, span in zip(paths, spans or [None] * len(paths)):
        name = os.path.basename(p)
        if os.path.splitext(p)[1].lower() in BROWSER_AUDIO:
            src = escape(href(p, html_path) + media_fragment(span))
            parts.append(
                f'<div><span class="path">{escape(name)}</span><audio controls preload="metadata" '
                f'aria-label="{escape(what)}: {escape(name)}"><source src="{src}" '
                f'type="{BROWSER_AUDIO[os.path.splitext(p)[1].lower()]}"></audio></div>'
            )
        else:
            parts.append(f'<div class="path">{escape(name)} (no player for this format)</div>')
    sort = ", ".join(os.path.basename(p) for p in paths)
    return f'<td data-sort="{escape(sort)}">{"".join(parts) or "–"}</td>'


def write_index(html_path: str, rows: Sequence[Mapping], *, title: str = "Runs", note: str = "") -> None:
    """Writes one page listing many runs: a sortable table with players and links to each page.

    Args:
      html_path: the page to write (atomically), e.g. ``<folder>/index.html``.
      rows: one dict per run, as :func:`index_row` makes: ``page`` (path or None), ``content``
        (path or None), ``style`` (list of paths), optionally ``spans`` (``{"content": [span],
        "style": [span, ...]}``, each ``(start, end)`` seconds to play or None for the whole
        file), ``result`` (path), ``config`` and ``quality``
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
        page, spans = r.get("page"), r.get("spans") or {}
        if page:
            name = os.path.basename(page)
            link = f'<td data-sort="{escape(name)}"><a href="{escape(href(page, html_path))}">{escape(name)}</a></td>'
        else:
            link = text_cell("–", sort="")
        cells = [
            num_cell(i),
            link,
            _audio_cell(
                [r["content"]] if r.get("content") else [],
                html_path,
                f"row {i} content",
                spans.get("content"),
            ),
            _audio_cell(list(r.get("style", [])), html_path, f"row {i} style", spans.get("style")),
            _audio_cell([r["result"]] if r.get("result") else [], html_path, f"row {i} result"),
        ]
        cells += [_cell(r.get("config", {}).get(k)) for k in cfg_cols]
        cells += [_cell(r.get("quality", {}).get(k)) for k in q_cols]
        body.append(cells)
    parts = [
        f"<header><h1>{escape(title)}</h1>",
        f'<p class="status">{escape(note)}</p>' if note else "",
        f'<p class="note">{len(rows)} runs. Click a column header to sort by it; click again to '
        "reverse.</p></header>",
        table(title, header, body, sortable=True),
    ]
    write_html(html_path, document(title, "".join(parts), script=True))


def _csv_table(csv_path: str, caption: str) -> str:
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return f'<p class="note">{escape(caption)}: empty</p>'
    cells = []
    for r in rows[1:]:
        row = []
        for v in r:
            try:
                x = float(v)
            except ValueError:
                row.append(text_cell(v))
                continue
            row.append(f'<td class="num" data-sort="{escape(repr(x))}">{escape(v)}</td>')
        cells.append(row)
    link = os.path.basename(csv_path)
    return table(f"{caption} ({link})", rows[0], cells, sortable=True)


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
    parts = [f"<header><h1>{escape(title)}</h1>"]
    if note:
        parts.append(f'<p class="status">{escape(note)}</p>')
    parts.append("</header>")
    for png, alt in figures:
        parts.append(image(png, html_path, alt, os.path.basename(png)))
    for path, caption in tables:
        parts.append(f"<h2>{escape(caption)}</h2>")
        parts.append(_csv_table(path, caption))
        parts.append(f'<p class="note"><a href="{escape(href(path, html_path))}">{escape(os.path.basename(path))}</a></p>')
    write_html(html_path, document(title, "".join(parts), script=bool(tables)))
