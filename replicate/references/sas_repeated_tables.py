"""SAS's LSMEANS, ESTIMATE and CONTRAST tables and the R matrices, in a REPEATED model's sections.

  * Least Squares Means -> ``lsmeans``: effect as printed (``ARMCD*AVISIT``)
    -> the levels of its variables in the effect's order, joined by ``", "``
    (``TRT, VIS1``) -> estimate, se, df, t, p;
  * Differences of Least Squares Means -> ``diffs``: effect -> ``"A - B"``
    (each side as an ``lsmeans`` level, the row's levels before the ``_``
    columns' levels) -> estimate, se, df, t, p;
  * Tests of Effect Slices -> ``slices``: effect -> ``"<variable> <level>"``
    -> num_df, den_df, F, p (one slicing column per table);
  * Estimates and Contrasts -> ``estimates`` / ``contrasts`` by label as
    printed (its words joined by one space);
  * Estimated R Matrix / R Correlation Matrix -> ``rmatrix`` / ``rcorr``:
    ``"row,col"`` -> value, for the one subject the tables are printed for (a
    matrix cut over pages is read from all its pieces).

Every table's columns are found by its header's words. A row whose label does
not give one level per CLASS column of its effect (a level with a space in it,
a covariate's AT value), a nested effect, a second table of a kind and a
matrix of a second subject are unparsed lines with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..printed import Printed
from .numbers import Line, Section, cells, is_cell
from .printout import Builder
from .sas_columns import header_columns, row_problem
from .sas_sections import SasState, joined, once, read_rows

_I = re.IGNORECASE

_T_SPECS = [
    ("estimate", r"\bEstimate\b"),
    ("se", r"\bStandard\b|\bStdErr\b|\bStd\s*Err"),
    ("df", r"(?<!Num )(?<!Den )\bDF\b"),
    ("t", r"\bt\s*Value\b|\btValue\b"),
    ("p", r"Pr\s*>\s*\|\s*t\s*\||\bProbt\b"),
    ("Alpha", r"\bAlpha\b"),
    ("Lower", r"\bLower\b"),
    ("Upper", r"\bUpper\b"),
]
_F_SPECS = [
    ("num_df", r"\bNum\b|\bNumDF\b"),
    ("den_df", r"\bDen\b|\bDenDF\b"),
    ("Chi-Square", r"Chi-?Square"),
    ("F", r"\bF\s*Value\b|\bFValue\b"),
    ("Pr > ChiSq", r"Pr\s*>\s*ChiSq\b|\bProbChiSq\b"),
    ("p", r"Pr\s*>\s*F\b|\bProbF\b"),
]
_KEEP_T = ("estimate", "se", "df", "t", "p")
_KEEP_F = ("num_df", "den_df", "F", "p")
_STAT_WORDS = {
    "estimate",
    "standard",
    "error",
    "stderr",
    "df",
    "t",
    "value",
    "tvalue",
    "pr",
    ">",
    "|t|",
    "pr>|t|",
    "probt",
    "alpha",
    "lower",
    "upper",
    "num",
    "den",
    "numdf",
    "dendf",
    "chi-square",
    "f",
    "fvalue",
    "mean",
    "margins",
}

Rows = list[tuple[Line, list[str]]]


def _table(
    sec: Section, b: Builder, state: SasState, specs: list[tuple[str, str]], required: str
) -> tuple[list[str], list[str], Rows] | None:
    """(CLASS columns after ``Effect``, known columns, rows) of a table; None (rows reported) without ``required``."""
    once(sec, state)
    header, rows = read_rows(sec, b)
    cols = header_columns(header, specs)
    if required not in cols:
        for ln, _t in rows:
            b.skip(ln, f"no '{required}' column in the header of '{sec.title.stripped}'")
        return None
    htoks = joined(header).split()
    class_cols: list[str] = []
    if "Effect" in htoks:
        for t in htoks[htoks.index("Effect") + 1 :]:
            if t.lower() in _STAT_WORDS:
                break
            class_cols.append(t)
    return class_cols, cols, rows


def _numbers(ln: Line, toks: list[str], cols: list[str], b: Builder) -> dict[str, Printed | None] | None:
    """The row's numbers by column; None (the line reported) when the row does not end in one per column."""
    n = len(cols)
    if len(toks) <= n or not all(is_cell(t) for t in toks[-n:]):
        b.skip(ln, f"expected a label and {n} numbers ({', '.join(cols)})")
        return None
    vals = cells(toks[-n:])
    problem = row_problem(cols, vals)
    if problem:
        b.skip(ln, problem)
        return None
    return dict(zip(cols, vals))


def _put(b: Builder, ln: Line, section: str, outer: str, inner: str, values: dict[str, Printed]) -> None:
    slot = b.extra.setdefault(section, {}).setdefault(outer, {})
    if inner in slot:
        b.skip(ln, f"{section} {outer} {inner!r} was already read; a second row is not merged")
        return
    slot[inner] = values


def _levels(ln: Line, toks: list[str], n: int, class_cols: list[str], b: Builder, sides: int) -> list[list[str]] | None:
    """The levels of the effect's variables (in the effect's order) on each of ``sides`` sides; None if unread."""
    effect, levels = toks[0], toks[1 : len(toks) - n]
    if is_cell(effect) or any(is_cell(t) for t in levels):
        b.skip(ln, "the row does not start with an effect and its levels")
        return None
    variables = effect.split("*")
    if not all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v) for v in variables):
        b.skip(ln, f"effect {effect!r} is not CLASS variables joined by '*' (a nested effect is not read)")
        return None
    out = []
    for side in range(sides):
        prefix = "_" * side
        involved = [c for c in class_cols if c.startswith(prefix) and c[len(prefix) :] in variables]
        involved = [c for c in involved if not c[len(prefix) :].startswith("_")]
        if sorted(c[len(prefix) :] for c in involved) != sorted(variables):
            b.skip(ln, f"the header has no column for each variable of {effect!r}")
            return None
        out.append(involved)
    if len(levels) != sides * len(variables):
        b.skip(
            ln,
            f"cannot match {len(levels)} printed level(s) to the {sides * len(variables)} CLASS column(s) of effect "
            f"{effect!r} (a level with a space, or a covariate's value)",
        )
        return None
    result = []
    for side, involved in enumerate(out):
        printed = dict(zip(involved, levels[side * len(variables) : (side + 1) * len(variables)]))
        prefix = "_" * side
        result.append([printed[prefix + v] for v in variables])
    return result


def lsmeans(sec: Section, b: Builder, state: SasState) -> None:
    _effect_rows(sec, b, state, "lsmeans", 1)


def diffs(sec: Section, b: Builder, state: SasState) -> None:
    _effect_rows(sec, b, state, "diffs", 2)


def _effect_rows(sec: Section, b: Builder, state: SasState, section: str, sides: int) -> None:
    found = _table(sec, b, state, _T_SPECS, "estimate")
    if found is None:
        return
    class_cols, cols, rows = found
    for ln, toks in rows:
        q = _numbers(ln, toks, cols, b)
        if q is None:
            continue
        levels = _levels(ln, toks, len(cols), class_cols, b, sides)
        if levels is None:
            continue
        key = " - ".join(", ".join(side) for side in levels)
        _put(b, ln, section, toks[0], key, {k: v for k in _KEEP_T if (v := q.get(k)) is not None})
        for c, v in q.items():
            b.add_cell(sec.title.stripped, " ".join(toks[: len(toks) - len(cols)]), c, v)


def slices(sec: Section, b: Builder, state: SasState) -> None:
    found = _table(sec, b, state, _F_SPECS, "p")
    if found is None:
        return
    class_cols, cols, rows = found
    for ln, toks in rows:
        q = _numbers(ln, toks, cols, b)
        if q is None:
            continue
        label = toks[: len(toks) - len(cols)]
        if len(class_cols) != 1 or len(label) != 2:
            b.skip(
                ln,
                f"a slice is read from one slicing column ({len(class_cols)} in the header) and one level "
                f"({len(label) - 1} printed)",
            )
            continue
        _put(
            b,
            ln,
            "slices",
            label[0],
            f"{class_cols[0]} {label[1]}",
            {k: v for k in _KEEP_F if (v := q.get(k)) is not None},
        )


def estimates(sec: Section, b: Builder, state: SasState) -> None:
    _labelled(sec, b, state, "estimates", _T_SPECS, "estimate", _KEEP_T)


def contrasts(sec: Section, b: Builder, state: SasState) -> None:
    _labelled(sec, b, state, "contrasts", _F_SPECS, "p", _KEEP_F)


def _labelled(
    sec: Section,
    b: Builder,
    state: SasState,
    section: str,
    specs: list[tuple[str, str]],
    required: str,
    keep: tuple[str, ...],
) -> None:
    found = _table(sec, b, state, specs, required)
    if found is None:
        return
    _class_cols, cols, rows = found
    header = [h for h in read_header(sec)]
    first = dict(specs)[cols[0]]
    for ln, toks in rows:
        q = _numbers(ln, toks, cols, b)
        if q is None:
            continue
        words = toks[: len(toks) - len(cols)]
        if any(is_cell(w) for w in words) and not _left_of(ln, words, header, first):
            b.skip(ln, f"the label ends in a number that may be a column's: more numbers than {len(cols)} columns")
            continue
        label = " ".join(words)
        slot = b.extra.setdefault(section, {})
        if label in slot:
            b.skip(ln, f"{section} {label!r} was already read; a second row is not merged")
            continue
        slot[label] = {k: v for k in keep if (v := q.get(k)) is not None}
        for c, v in q.items():
            b.add_cell(sec.title.stripped, label, c, v)


def read_header(sec: Section) -> list[str]:
    """The header lines of a table (its text lines before the first row), as printed."""
    out: list[str] = []
    for ln in sec.body:
        toks = ln.stripped.split()
        if toks and is_cell(toks[-1]):
            break
        if toks:
            out.append(ln.text.rstrip())
    return out


def _left_of(ln: Line, words: list[str], header: list[str], first: str) -> bool:
    """Whether the label's last word ends left of where the first numeric column's header begins (a label such as
    'at age 8'); False when the layout is not aligned by spaces (tabs), so a number cannot be placed."""
    if "\t" in ln.text or any("\t" in h for h in header):
        return False
    starts = [m.start() for h in header if (m := re.search(first, h))]
    if not starts:
        return False
    end = 0
    for w in words:
        end = ln.text.index(w, end) + len(w)
    return end <= min(starts)


_FOR = re.compile(r"\bfor\s+(?P<subject>\S.*?)\s*$", _I)


def r_matrix(section: str) -> Callable[[Section, Builder, SasState], None]:
    """The reader of an Estimated R (Correlation) Matrix into ``section``, one subject's, from all its pieces;
    ``"split"`` for a title cut after ``Estimated R`` (the next line says which matrix). Another subject's
    matrix goes to ``tables`` only."""

    def read(sec: Section, b: Builder, state: SasState) -> None:
        header, rows = read_rows(sec, b)
        title = [sec.title.stripped, *(h.strip() for h in header if not re.match(r"^\s*Row\b", h))]
        m = _FOR.search(" ".join(title))
        subject = m.group("subject") if m else ""
        corr = re.search(r"\bCorrelation\b", " ".join(title))
        kind = section if section != "split" else ("rcorr" if corr else "rmatrix")
        first = b.info.setdefault(f"{kind}_subject", subject)
        columns = [int(c) for c in re.findall(r"\bCol(\d+)\b", joined(header))]
        table = f"Estimated R {'Correlation ' if kind == 'rcorr' else ''}Matrix for {subject}"
        for ln, toks in rows:
            if not columns or len(toks) != len(columns) + 1 or not re.fullmatch(r"\d+", toks[0]):
                b.skip(ln, f"expected a row number and {len(columns)} values (Col{', Col'.join(map(str, columns))})")
                continue
            if not all(is_cell(t) for t in toks[1:]):
                b.skip(ln, "a value of the matrix is not a number")
                continue
            for col, v in zip(columns, cells(toks[1:])):
                if v is None:
                    continue
                b.add_cell(table, toks[0], f"Col{col}", v)
                if subject != first:
                    continue  # another subject's matrix: in tables only
                slot = b.extra.setdefault(kind, {})
                key = f"{int(toks[0])},{col}"
                if key in slot and slot[key].text != v.text:
                    b.skip(ln, f"{kind} {key} was already read as {slot[key].text}")
                    continue
                slot[key] = v

    return read
