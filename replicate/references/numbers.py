"""Shared helpers for reading printed output: lines, tokens, numbers, sections.

Text pasted from a web page or a PDF differs from what the program wrote:
non-breaking spaces, tabs instead of aligned columns, a Unicode minus, a
header split over several lines, knitr's ``## `` prefix. :func:`prepare`
undoes the character-level damage and keeps every line's number in the
original text, so that whatever cannot be read is reported where it is.

Numbers are kept as printed (:class:`replicate.case.Printed`): the text keeps
the printed precision, and bounds such as ``<2e-16``, ``< 2e-16``, ``<.0001``
or ``<0.001`` keep their comparison operator.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import ReferenceError_
from ..printed import Printed

# ------------------------------------------------------------------- lines

_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\u2028\u2029\u0085\x0b\x1c-\x1f]")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad\x00-\x08\x0c\x0e-\x1b\x7f]")
_DASHES = re.compile(r"[\u2010-\u2013\u2212\ufe63\uff0d]")
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'}
_KNITR = re.compile(r"^\s*(?:##|#>)(?: |\t|$)")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the pasted text.

    Attributes:
        no: 1-based line number in the original text.
        text: the line with characters normalised (see :func:`normalize_chars`).
        raw: the line as it was in the text (without its end-of-line).
    """

    no: int
    text: str
    raw: str

    @property
    def stripped(self) -> str:
        return self.text.strip()

    def with_text(self, text: str) -> Line:
        return Line(self.no, text, self.raw)


def normalize_chars(s: str) -> str:
    """Undo copy damage that does not change meaning.

    Non-breaking and other Unicode spaces become spaces, invisible characters
    (zero-width spaces, soft hyphens, form feeds) go, the Unicode minus and
    hyphen-like dashes become ``-``, ``≤``/``≥`` become ``<=``/``>=``, a
    superscript two becomes ``2`` (``χ²`` -> ``χ2``) and curly quotes become
    straight ones. Tabs are kept: they separate columns.
    """
    s = _SPACES.sub(" ", s)
    s = _INVISIBLE.sub("", s)
    s = _DASHES.sub("-", s)
    s = s.replace("\u2264", "<=").replace("\u2265", ">=").replace("\u00b2", "2")
    for k, v in _QUOTES.items():
        s = s.replace(k, v)
    return s


def prepare(text: str, *, knitr: bool = False, first_line: int = 1) -> list[Line]:
    """Split ``text`` into normalised :class:`Line` objects.

    Args:
        text: the printout as pasted.
        knitr: also strip the ``## `` (knitr) and ``#> `` (reprex) prefixes
            that R documents put in front of printed output.
        first_line: the number of the text's first line (a part cut out of a
            longer paste keeps the paste's line numbers).

    Raises:
        ReferenceError_: if ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise ReferenceError_(f"a printout must be text (str), not {type(text).__name__}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[Line] = []
    for i, raw in enumerate(text.split("\n"), start=first_line):
        t = normalize_chars(raw)
        if knitr:
            t = _KNITR.sub("", t, count=1)
        out.append(Line(i, t.rstrip(), raw.rstrip()))
    return out


def collapse(s: str) -> str:
    """Collapse runs of whitespace to one space and strip."""
    return " ".join(s.split())


def squash(s: str) -> str:
    """Lower-case text without any whitespace (for matching words split by a wrap)."""
    return "".join(s.split()).lower()


# ----------------------------------------------------------------- numbers

NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf"
_NUMBER_TOKEN = re.compile(rf"^(?P<op><=|>=|<|>)?\s*(?P<num>{NUMBER})$")
NUMBER_RE = re.compile(NUMBER)
#: Tokens that stand for a missing cell: SAS prints '.', R prints NA or NaN.
MISSING = frozenset({".", "NA", "NaN", "<NA>", "-NaN"})
#: R's significance codes, printed after a p-value.
STARS = frozenset({"*", "**", "***", "."})
_BOUND_OPS = ("<", "<=", ">", ">=")


def parse_number(token: str) -> Printed | None:
    """The :class:`Printed` number a token shows, or None if it is not a number.

    ``'0.5460'`` -> 0.546 with its text, ``'<.0001'`` -> bound ``<`` at 1e-4,
    ``'< 2e-16'`` -> bound ``<`` at 2e-16, ``'Inf'`` -> infinity.
    """
    t = token.strip()
    m = _NUMBER_TOKEN.match(t)
    if not m:
        return None
    num = m.group("num")
    try:
        value = float(num)
    except (ValueError, OverflowError):  # pragma: no cover - the pattern only admits floats
        return None
    if math.isnan(value):
        return None
    return Printed(value, t, bound=m.group("op") or "")


def is_number(token: str) -> bool:
    return parse_number(token) is not None


def is_cell(token: str) -> bool:
    """A number or a missing-value marker."""
    return token in MISSING or is_number(token)


def tokens(text: str) -> list[str]:
    """Whitespace-separated tokens, with a lone bound operator joined to its number.

    ``'ses 10.7 < 2e-16 ***'`` -> ``['ses', '10.7', '< 2e-16', '***']``.
    """
    raw = text.split()
    out: list[str] = []
    i = 0
    while i < len(raw):
        t = raw[i]
        if t in _BOUND_OPS and i + 1 < len(raw) and is_number(raw[i + 1]) and raw[i + 1][0] not in "<>":
            out.append(f"{t} {raw[i + 1]}")
            i += 2
            continue
        out.append(t)
        i += 1
    return out


def strip_stars(toks: list[str]) -> tuple[list[str], str]:
    """Remove R significance codes from the end of a row: (tokens, stars)."""
    if toks and toks[-1] in STARS:
        return toks[:-1], toks[-1]
    return toks, ""


def split_label(toks: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split a row into (label tokens, value tokens).

    The values are the longest run of numbers or missing markers at the end
    of the row; everything before is the label (which may itself contain
    digits, as in ``(1 | schoolid)``).
    """
    k = len(toks)
    while k > 0 and is_cell(toks[k - 1]):
        k -= 1
    return list(toks[:k]), list(toks[k:])


def cells(values: Iterable[str]) -> list[Printed | None]:
    """Tokens -> Printed numbers, None for missing markers."""
    return [None if v in MISSING else parse_number(v) for v in values]


def has_number(text: str) -> bool:
    """Whether a line holds at least one numeric token."""
    return any(is_number(t) for t in tokens(text))


_RULER = re.compile(r"^[\s\-=_*~+|]*$")


def is_ruler(text: str) -> bool:
    """Blank lines and rules made of dashes, equals signs and the like."""
    return bool(_RULER.match(text))


# ---------------------------------------------------------------- sections


@dataclass(frozen=True)
class Section:
    """A recognised section: its kind, its title line and its body lines.

    ``lines[0]`` is the title line (or, for a table recognised by its header,
    the header line).
    """

    kind: str
    lines: list[Line]
    match: re.Match

    @property
    def title(self) -> Line:
        return self.lines[0]

    @property
    def body(self) -> list[Line]:
        return self.lines[1:]


def find_sections(
    lines: list[Line],
    patterns: Sequence[tuple[str, re.Pattern[str]]],
    headers: Sequence[tuple[str, re.Pattern[str], re.Pattern[str]]] = (),
) -> list[Section]:
    """Cut ``lines`` into sections.

    Args:
        lines: the prepared text.
        patterns: (kind, regex) pairs matched against each stripped line; a
            match starts a section that runs to the next match.
        headers: (kind, header regex, title regex): a table header that
            starts a section of ``kind`` unless the previous non-blank line
            is a title matching ``title regex`` (then it belongs to that
            title's section). This recognises tables printed on their own,
            such as ``coef(summary(fit))`` or ``VarCorr(fit)``.
    """
    starts: list[tuple[int, str, re.Match]] = []
    prev = ""
    for i, ln in enumerate(lines):
        s = ln.stripped
        if not s:
            continue
        hit = None
        for kind, rx in patterns:
            m = rx.search(s)
            if m:
                hit = (i, kind, m)
                break
        if hit is None:
            for kind, hrx, trx in headers:
                m = hrx.search(s)
                if m and not trx.search(prev):
                    hit = (i, kind, m)
                    break
        if hit is not None:
            starts.append(hit)
        prev = s
    out = []
    for j, (i, kind, m) in enumerate(starts):
        end = starts[j + 1][0] if j + 1 < len(starts) else len(lines)
        out.append(Section(kind, lines[i:end], m))
    return out


def merge_runs(sections: list[Section], kind: str) -> list[Section]:
    """Join consecutive sections of ``kind`` into one (a table cut by its own sub-titles)."""
    out: list[Section] = []
    for sec in sections:
        if out and out[-1].kind == kind and sec.kind == kind:
            prev = out[-1]
            out[-1] = Section(kind, prev.lines + sec.lines, prev.match)
        else:
            out.append(sec)
    return out


def title_re(*titles: str) -> re.Pattern[str]:
    """A case-insensitive regex matching a whole line equal to one of ``titles``.

    Words may be separated by any whitespace, and a trailing colon is allowed.
    """
    alts = []
    for t in titles:
        words = [re.escape(w) for w in t.split()]
        alts.append(r"\s+".join(words))
    return re.compile(r"^(?:" + "|".join(alts) + r")\s*:?\s*$", re.IGNORECASE)


def check_one_summary(sec: Section, seen: dict[str, int]) -> None:
    """Refuse a second copy of a section that one model summary prints once.

    ``seen`` maps the kinds met so far to their line numbers; ``sec``'s kind is added.
    """
    if sec.kind in seen:
        raise ReferenceError_(
            f"the text holds more than one model summary (a second '{sec.title.stripped[:40]}' at line "
            f"{sec.title.no}; the first at line {seen[sec.kind]})",
            line=sec.title.no,
            hint="paste one summary per file, or use parse_printouts()",
        )
    seen[sec.kind] = sec.title.no


def line_index(lines: list[Line], line: Line) -> int:
    """Position of ``line`` in ``lines`` (as prepared, consecutive numbers) in constant time."""
    k = line.no - lines[0].no
    if not (0 <= k < len(lines) and lines[k].no == line.no):  # pragma: no cover - lines not from prepare()
        k = lines.index(line)
    return k


def repeat_starts(
    lines: list[Line], sections: list[Section], once: Iterable[str], lead: Iterable[str] = ()
) -> list[int]:
    """Indices of the lines where a new printout begins (for splitting a paste).

    A printout begins where a section of a kind in ``once`` (printed once per
    printout) appears again, together with the sections of a kind in ``lead``
    just before it.
    """
    once, lead = set(once), set(lead)
    starts = [0]
    seen: set[str] = set()
    for k, sec in enumerate(sections):
        if sec.kind not in once:
            continue
        if sec.kind in seen:
            j = k
            while j > 0 and sections[j - 1].kind in lead:
                j -= 1
            start = line_index(lines, sections[j].title)
            if start > starts[-1]:
                starts.append(start)
            seen = set()
        seen.add(sec.kind)
    return starts
