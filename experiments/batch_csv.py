"""The ``--batch`` CSV of ``experiments.transfer``: its columns, read and checked.

The header names ``content,style,output`` (any order) and optionally ``content_offset`` and
``style_offset``; each further line is one transfer. Paths are relative to the CSV's folder; a
style cell may list several files separated by commas (quote the cell; a file whose name holds a
comma is taken whole: :func:`experiments.resolve.split_paths`); an offset cell is a
row's start in its files, in seconds, and an empty one leaves the flag's value. Every problem is
one :class:`experiments.console.RunError` line naming the CSV and its line.
"""

from __future__ import annotations

import csv
import math
import os

from experiments import console
from experiments.console import RunError
from experiments.resolve import split_paths

COLUMNS = ("content", "style", "output")
OFFSET_COLUMNS = ("content_offset", "style_offset")  # optional: seconds, per row


def _offset_cell(csv_path: str, line: int, column: str, text: str) -> float:
    """A non-empty offset cell in seconds (finite, >= 0)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise RunError(
            f"--batch={csv_path} line {line}: {column} {text!r} must be a finite number of "
            "seconds >= 0"
        )
    return value


def read(csv_path: str) -> list[tuple[int, str, tuple[str, ...], str, dict]]:
    """``(line, content, styles, output, offsets)`` per row, paths resolved against the CSV's
    folder; ``offsets``: ``{column: seconds}`` of the row's non-empty offset cells."""
    try:
        # utf-8-sig: a spreadsheet saving "CSV UTF-8" starts the file with a byte-order mark.
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, r) for r in reader if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RunError(
            f"--batch={csv_path}: cannot read the CSV ({console.one_line(error)})"
        ) from None
    if not rows:
        raise RunError(
            f"--batch={csv_path}: empty (the header content,style,output and one row per transfer)"
        )
    header = tuple(c.strip().lower() for c in rows[0][1])
    if (
        len(set(header)) != len(header)
        or not set(COLUMNS) <= set(header) <= set(COLUMNS + OFFSET_COLUMNS)
    ):
        raise RunError(
            f"--batch={csv_path}: the header is {','.join(header)!r}; it must name the columns "
            "content,style,output (and optionally content_offset, style_offset), once each"
        )
    if len(rows) == 1:
        raise RunError(f"--batch={csv_path}: no transfers below the header")
    where = os.path.dirname(os.path.abspath(csv_path))
    resolve = lambda p: p if os.path.isabs(p) else os.path.normpath(os.path.join(where, p))
    out = []
    for line, r in rows[1:]:
        if len(r) != len(header):
            raise RunError(
                f"--batch={csv_path} line {line}: {len(r)} cells, the header has {len(header)}"
            )
        cells = {k: c.strip() for k, c in zip(header, r)}
        styles = split_paths(cells["style"], root=where)
        if not cells["content"] or not cells["output"] or any(not s for s in styles):
            raise RunError(f"--batch={csv_path} line {line}: an empty file name")
        offsets = {
            c: _offset_cell(csv_path, line, c, cells[c]) for c in OFFSET_COLUMNS if cells.get(c)
        }
        out.append(
            (
                line,
                resolve(cells["content"]),
                tuple(resolve(s) for s in styles),
                resolve(cells["output"]),
                offsets,
            )
        )
    return out
