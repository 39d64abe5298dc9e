"""Reading a SAS table by its header: which column is which, and what each may hold.

A SAS table is read by the words of its header, not by the position a
column usually has: a header that puts ``Standard Error`` before
``Estimate`` gets its numbers read in that order. Each column admits only
the values its header allows (see :mod:`replicate.references.allowed`: a
standard error, a df or a p-value is never negative; a p-value is at most 1),
and a line of text between the rows of a table does not end it: the line is
reported and the rows after it are read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..printed import Printed
from .allowed import first_refused
from .numbers import Line, is_cell, is_ruler, tokens


def header_columns(lines: Sequence[str], specs: Sequence[tuple[str, str]]) -> list[str]:
    """The columns of ``specs`` (name, regex) that the header shows, in the header's order.

    A header on one line, or split over lines with tabs (a copy from a web
    page), is read left to right. A header aligned with spaces over several
    lines (``Standard`` above ``Error``) is read by where each column's word
    ends on its own line, since SAS right-aligns the headers of numeric columns.
    """
    joined = " ".join(ln.strip() for ln in lines)
    found = [(name, rx) for name, rx in specs if re.search(rx, joined)]
    aligned = len(lines) > 1 and not any("\t" in ln for ln in lines)

    def place(item: tuple[str, str]) -> tuple[int, int]:
        _name, rx = item
        if aligned:
            for i, ln in enumerate(reversed(lines)):
                m = re.search(rx, ln)
                if m:
                    return m.end(), i
        m = re.search(rx, joined)
        assert m is not None
        return m.end(), 0

    return [name for name, _rx in sorted(found, key=place)]


def row_problem(columns: Sequence[str], values: Sequence[Printed | None]) -> str | None:
    """The first value of a row that its column does not allow, as a reason for skipping the row."""
    return first_refused(dict(zip(columns, values)))


def _header_like(text: str, header_words: set[str]) -> bool:
    words = {w.lower() for w in text.split()}
    return len(words & header_words) >= 2


def table_rows(body: Sequence[Line]) -> tuple[list[str], list[tuple[Line, list[str]]], list[tuple[Line, str]]]:
    """(header lines, rows, skipped lines) of a table's section.

    A row ends with a number (or SAS's '.' for a missing one); the lines
    before the first row are the header. A line of text after the first row
    is held: if rows follow it, it was inside the table and is returned among
    the skipped lines with the reason; if none follow, the table had ended.
    A line of text that repeats the header's words begins another table (one
    whose title the parser does not know): the rows after it are skipped too.
    """
    header: list[str] = []
    rows: list[tuple[Line, list[str]]] = []
    skipped: list[tuple[Line, str]] = []
    pending: list[Line] = []
    ended_at: Line | None = None
    words: set[str] = set()
    for ln in body:
        s = ln.stripped
        if not s or is_ruler(s):
            continue
        toks = tokens(s)
        if not is_cell(toks[-1]):
            if not rows:
                header.append(ln.text.rstrip())
                continue
            if ended_at is None and _header_like(s, words):
                ended_at = ln
            pending.append(ln)
            continue
        if not rows:
            words = {w.lower() for h in header for w in h.split() if not is_cell(w)}
        if ended_at is not None:
            after = f"after the table ended at line {ended_at.no} (another table, whose title is not known, begins)"
            skipped.extend((p, f"a line {after}") for p in pending)
            skipped.append((ln, f"a row of numbers {after}; not read"))
            pending = []
            continue
        skipped.extend((p, "a line of text inside the table (the rows after it are read)") for p in pending)
        pending = []
        rows.append((ln, toks))
    return header, rows, skipped
