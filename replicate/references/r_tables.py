"""Tables as R prints them, shared by the lme4 and nlme parsers.

R's column headers hold names of several words (``Std. Error``, ``Pr(>|t|)``),
a narrow page wraps the end of a row onto a line of its own, and a table of
coefficients may have a line of text inside it (a warning printed between two
rows) or after it (a note). :func:`coefficient_rows` holds the one rule for
that text: it is kept until the next line tells whether the table went on
(then the text is reported as skipped and the rows after it are read) or had
ended (then it is not the table's).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from .numbers import Line, collapse, is_ruler
from .printout import Builder

# Column headers made of several words, and R's p-value headers.
_MULTI = re.compile(
    r"Std\.\s*Error|Std\.\s*Dev\.|\b[tzF]\s+value\b|\bSum\s+Sq\b|\bMean\s+Sq\b|\bChi\s+Df\b|"
    r"Pr\s*\(\s*>\s*\|?\s*[A-Za-z]+\s*\|?\s*\)|-2\s*\*\s*log\s*\(\s*L\s*\)"
)
# A piece of a row or header that a narrow page wrapped onto the next line.
_FRAGMENT = re.compile(r"^\s*(?P<frag>[0-9)][0-9.eE+)\-]*)\s*(?P<stars>\*{1,3}|\.)?\s*$")


def header_tokens(text: str) -> list[str]:
    """Split an R table header into column names (``Std. Error`` stays one name)."""
    out: list[str] = []
    pos = 0
    for m in _MULTI.finditer(text):
        out.extend(text[pos : m.start()].split())
        out.append(collapse(m.group()))
        pos = m.end()
    out.extend(text[pos:].split())
    return out


def _joined(prev: Line, m: re.Match[str]) -> Line:
    stars = m.group("stars")
    return prev.with_text(prev.text.rstrip() + m.group("frag") + (" " + stars if stars else ""))


def unwrap(lines: list[Line]) -> list[Line]:
    """Join fragments that a wrap moved to their own line back to the line above.

    ``(Intercept) 41.1 0.47 4165 87.5 <2e-1`` + ``6 ***`` ->
    ``... <2e-16 ***``; ``... t value Pr(> t`` + ``)`` -> ``... Pr(> t)``.
    """
    out: list[Line] = []
    for ln in lines:
        m = _FRAGMENT.match(ln.text)
        if m and out and out[-1].stripped and not _FRAGMENT.match(out[-1].text):
            out[-1] = _joined(out[-1], m)
            continue
        if m and out and not out[-1].stripped:
            # a fragment after blank lines: attach to the last non-blank line
            k = len(out) - 1
            while k >= 0 and not out[k].stripped:
                k -= 1
            if k >= 0 and not _FRAGMENT.match(out[k].text):
                out[k] = _joined(out[k], m)
                continue
        out.append(ln)
    return out


Row = tuple[Line, list[str], list[str]]


def find_header(
    lines: Iterator[Line], b: Builder, read: Callable[[str], list[str] | None], expected: str
) -> list[str] | None:
    """Consume ``lines`` up to a table's header and return its column names (None when there is none).

    ``read`` gives the column names of a line that is the header, None for any other line; a line
    before the header that is not blank is reported (``expected the '<expected>' header``).
    """
    for ln in lines:
        s = ln.stripped
        if not s:
            continue
        header = read(s)
        if header is not None:
            return header
        b.skip(ln, f"expected the '{expected}' header")
    return None


def coefficient_rows(
    lines: Iterable[Line],
    b: Builder,
    *,
    width: int,
    columns: str,
    split: Callable[[str], tuple[list[str], list[str]]],
    table: str = "fixed-effects",
    ruler_ends: bool = False,
) -> Iterator[Row]:
    """The rows ``(line, label tokens, value tokens)`` of a table of ``width`` numbers under its header.

    ``lines`` are the lines after the header; ``split`` cuts a line's text into
    its label and its numbers; ``columns`` names the columns in messages. A
    line that is not a row before the first row, and a row with another
    number of values, is reported with ``b.skip``. A line without numbers
    after the first row is held: if the next line is a row of the table, the
    held lines are reported as text inside the table and reading goes on;
    otherwise the table has ended there. With ``ruler_ends`` a ruler (``---``)
    after the first row ends the table.
    """
    started = False
    held: list[Line] = []
    for ln in lines:
        s = ln.stripped
        if not s:
            continue
        if ruler_ends and started and is_ruler(s):
            return
        labels, vals = split(s)
        if not vals and started:
            held.append(ln)  # past the table, or a line of text inside it: the next row tells
            continue
        if held and (len(vals) != width or not labels):
            return  # a row ends with numbers: the text was past the table
        for h in held:
            b.skip(h, f"a line of text inside the {table} table (the rows after it are read)")
        held = []
        if not labels or not vals:
            b.skip(ln, f"not a row of the {table} table")
            continue
        started = True
        if len(vals) != width:
            b.skip(ln, f"expected {width} numbers ({columns}), found {len(vals)}")
            continue
        yield ln, labels, vals
