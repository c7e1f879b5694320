"""Structural checks of a listening page with the standard library's HTML parser (test helper).

Independent of ``mst_jax.page``: it reads the written HTML back and checks what a reader and a
browser need, not how the page was produced.
"""

import html.parser
import os
import urllib.parse


class Parsed(html.parser.HTMLParser):
    """Every element's tag and attributes, the text of ``data-field`` elements, ``<audio>`` children."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []  # (tag, attrs)
        self.audios = []  # {"attrs": ..., "sources": [...]}
        self.fields = {}  # data-field -> (text, data-value or None)
        self.label_for = set()
        self._open = []  # stack of (tag, attrs, text parts) for data-field elements
        self._audio = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        if tag == "audio":
            self._audio = {"attrs": a, "sources": []}
            self.audios.append(self._audio)
        if tag == "source" and self._audio is not None:
            self._audio["sources"].append(a)
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        if "data-field" in a:
            self._open.append((tag, a, []))

    def handle_endtag(self, tag):
        if tag == "audio":
            self._audio = None
        if self._open and self._open[-1][0] == tag:
            _, a, text = self._open.pop()
            self.fields[a["data-field"]] = ("".join(text).strip(), a.get("data-value"))

    def handle_data(self, data):
        for _, _, text in self._open:
            text.append(data)


def local_target(ref: str, page: str) -> str:
    """The file a relative ``src``/``href`` of ``page`` points at."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(ref).path)
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(page)), path))


def check_page(page: str) -> Parsed:
    """Parses ``page`` and asserts its structure; returns the parse.

    Every ``src``/``href`` is relative (no scheme, no network) and names an existing file; every
    ``<audio>`` has a ``<source>`` with a type and an accessible name; every ``<img>`` has alt
    text; every button has an accessible name; ids are unique; the page declares its language
    and a phone-width viewport.
    """
    with open(page, encoding="utf-8") as f:
        text = f.read()
    p = Parsed()
    p.feed(text)
    p.close()
    tags = [t for t, _ in p.elements]
    assert text.startswith("<!DOCTYPE html>")
    assert ("html", {"lang": "en"}) in p.elements
    assert any(t == "meta" and a.get("name") == "viewport" and "width=device-width" in a.get("content", "")
               for t, a in p.elements)
    assert "link" not in tags  # no external stylesheet, font or icon
    for tag, a in p.elements:
        for key in ("src", "href"):
            if key not in a:
                continue
            ref = a[key]
            split = urllib.parse.urlsplit(ref)
            assert not split.scheme and not split.netloc, f"<{tag} {key}={ref!r}>: not a relative path"
            assert os.path.isfile(local_target(ref, page)), f"<{tag} {key}={ref!r}>: no such file"
        if tag == "img":
            assert a.get("alt", "").strip(), f"<img src={a.get('src')!r}> has no alt text"
        if tag == "script":
            assert "src" not in a  # inline only
        if tag == "button":
            assert a.get("aria-label", "").strip()
    for audio in p.audios:
        a = audio["attrs"]
        assert audio["sources"] and all(s.get("src") and s.get("type") for s in audio["sources"])
        assert a.get("aria-label", "").strip() or a.get("aria-labelledby") or a.get("id") in p.label_for
        assert "controls" in a
    ids = [a["id"] for _, a in p.elements if "id" in a]
    assert len(ids) == len(set(ids)), "duplicate ids"
    return p


def record_value(record: dict, field: str):
    """``record`` at a dotted ``data-field`` path (list items by index, -1 the last, or by name)."""
    node = record
    for part in field.split("."):
        if isinstance(node, list) and part.lstrip("-").isdigit():
            node = node[int(part)]
        elif isinstance(node, list):
            (node,) = [item for item in node if item.get("name") == part]
        else:
            node = node[part]
    return node
