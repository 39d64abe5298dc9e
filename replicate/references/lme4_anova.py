"""lme4's and lmerTest's tests: ``anova(m1, m2)``, lmerTest's ``anova(m)`` and ``ranova(m)``.

Each goes into ``tables`` (``anova``, ``ranova``; a second table of a name
gets `` 2``, `` 3``...), its rows under the printed column names.
"""

from __future__ import annotations

import re

from .numbers import Line, Section, cells, has_number, is_ruler, split_label, strip_stars, tokens
from .printout import Builder
from .r_tables import header_tokens, unwrap


def models(sec: Section, b: Builder) -> None:
    """``Models:`` then ``m1: y ~ ...`` lines, before an ``anova(m1, m2)`` table."""
    found: dict[str, str] = {}
    for ln in sec.body:
        m = re.match(r"^(\S+):\s*(.+)$", ln.stripped)
        if m:
            found[m.group(1)] = m.group(2).strip()
        elif ln.stripped:
            break
    b.set_info("anova_models", found)


def r_table(lines: list[Line], b: Builder, table: str) -> None:
    """A table of rows 'name  n n n ...' under a header of column names.

    Empty cells come last (R leaves the test columns of the first model empty),
    so numbers are given to the columns from the left.
    """
    header: list[str] | None = None
    started = False
    for ln in unwrap(lines):
        s = ln.stripped
        if not s or is_ruler(s):
            continue
        if header is None:
            if not has_number(s):
                header = header_tokens(s)
            continue
        toks, _stars = strip_stars(tokens(s))
        labels, vals = split_label(toks)
        if not vals and started:
            break  # a row ends with numbers: this line is past the table
        if not labels or not vals:
            b.skip(ln, f"not a row of the {table} table")
            continue
        started = True
        if len(vals) > len(header):
            b.skip(ln, f"{len(vals)} numbers under {len(header)} columns ({' '.join(header)})")
            continue
        row = " ".join(labels)
        if row in b.tables.get(table, {}):
            b.skip(ln, f"row {row!r} appears twice")
            continue
        b.tables.setdefault(table, {}).setdefault(row, {})
        for col, cell in zip(header, cells(vals)):
            b.add_cell(table, row, col, cell)


def ranova(sec: Section, b: Builder) -> None:
    """lmerTest's ``ranova(m)``: ``Model:`` and its formula, then the table."""
    body = sec.body
    i = 0
    while i < len(body):
        s = body[i].stripped
        if s.startswith("Model:"):
            formula = s[len("Model:") :].strip()
            j = i + 1
            while not formula and j < len(body):
                formula = body[j].stripped
                j += 1
            b.set_info("ranova_model", formula)
            i = j
            continue
        if re.match(r"^npar\b|^Df\b", s) or ("logLik" in s and "LRT" in s):
            break
        i += 1
    r_table(body[i:], b, b.table_name("ranova"))


def anova_table(sec: Section, b: Builder) -> None:
    """An ``anova(m1, m2)`` table found by its header (``npar AIC BIC logLik ...``)."""
    r_table(sec.lines, b, b.table_name("anova"))


def anova_f(sec: Section, b: Builder) -> None:
    """lmerTest's ``Type III Analysis of Variance Table with Satterthwaite's method``."""
    title = sec.title.stripped
    m = re.search(r"with (.*)$", title)
    if m:
        b.set_info("anova_df_method", m.group(1).strip())
    body = sec.body
    i = 0
    while i < len(body) and not re.search(r"\bF value\b|\bSum Sq\b|\bnpar\b", body[i].text):
        i += 1
    r_table(body[i:], b, b.table_name("anova"))
