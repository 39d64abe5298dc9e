"""The engine's Type 3 tests, LS-means and differences of LS-means for a block of a model without a residual
structure (SAS's Tests3 and LSMEANS / DIFF beside RANDOM statements; lmerTest's ``anova``, ``ls_means``,
``difflsmeans``), under the block's ``options.df``.

The sections are written as for repeated-measures blocks (``type3``: effect -> num_df, den_df, F, p;
``lsmeans``: effect -> level -> estimate, se, df, t, p, lower, upper; ``diffs``: effect -> 'A - B' -> the
same). A block that does not say its df method gets no df, p or limits (they are reported as not computed,
with the reason), as for its fixed effects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from ..block_names import mapped
from ..build import frame_of
from ..case import Case
from ..case_statements import case_statements
from ..errors import NotImplementedOption
from ..fixed_part import from_design
from ..inference import Inference, kr_settings
from ..inference.gside_tests import GsideTests
from ..inference.lsmeans import Estimate
from ..inference.sas_rows import statement_rows
from ..inference.type3 import Type3Test
from ..sas_statement import Statement
from ..vocab import SeKind
from .estimate_fields import DF_COLUMNS, FIELDS
from .rside_diffs import diff_levels, pair_value
from .rside_levels import effect_label, lsmean_level
from .value import Collector, Lazy

SECTIONS = ("type3", "lsmeans", "diffs", "estimates", "contrasts")

#: type3 column -> (the comparison's quantity, its value of an engine test).
TYPE3: Mapping[str, tuple[str, Callable[[Type3Test], float]]] = {
    "num_df": ("df", lambda t: float(t.num_df)),
    "den_df": ("df", lambda t: float(t.den_df)),
    "F": ("t", lambda t: float(t.f_value)),
    "p": ("p", lambda t: float(t.p_value)),
    "chisq": ("t", lambda t: float(t.chisq)),
    "p_chisq": ("p", lambda t: float(t.p_chisq)),
}


#: What a section's rows are read with: the effect -> its table, and (table, effect, row, column) -> the value.
Readers = Mapping[str, tuple[Callable[[str], Any], Callable[[Lazy, str, str, str], float]]]


def _tests(case: Case, inf: Inference, method: str, kr: tuple[str, str]) -> GsideTests:
    return GsideTests(inf, from_design(inf.design, frame_of(case).df), method, kr)


def _check_se(out: Collector, method: str | None) -> None:
    se = out.block.options.se
    kr_method = method in ("kenward-roger", "kenward-roger-2")
    if se == SeKind.MODEL or (kr_method and str(se) == method):
        return
    raise NotImplementedOption(
        f"options.se: {se} with options.df: {method} for the type3, lsmeans or diffs sections",
        hint="these sections use the model-based SEs, or Kenward-Roger's adjusted ones under its df "
        "(se and df both kenward-roger)",
    )


def gside_values(out: Collector, case: Case, inf: Inference) -> None:
    """Every printed number of the block's ``type3``, ``lsmeans`` and ``diffs`` sections."""
    block = out.block
    if not any(block.section(s) for s in SECTIONS):
        return
    method = str(block.options.df) if block.options.df is not None else None
    _check_se(out, method)
    kr = kr_settings(block.options.as_dict(), block.software)
    tests = Lazy(lambda: _tests(case, inf, method or "none", kr))
    at = dict(block.options.at) or None
    note = f"df: {method}" if method else ""

    add_type3(out, Lazy(lambda: tests.get().type3()), method is not None, note)
    _statements(out, case, tests, method, UNSAID, note)
    readers: Readers = {
        "lsmeans": (partial(_lsmean_table, tests, at=at), partial(_lsmean_value, tests)),
        "diffs": (partial(_pairs, tests, at=at), partial(_diff_value, tests)),
    }
    add_rows(out, readers, method is not None, note)


def add_rows(
    out: Collector,
    readers: Readers,
    df_said: bool,
    note: str,
    df_columns: frozenset[str] = DF_COLUMNS,
    why_else: Callable[[str], str] = lambda _q: "",
) -> None:
    """Add the block's LS-means-like rows (``lsmeans``, ``diffs``: effect -> row -> column) of each section of
    ``readers``; the ``df_columns`` are not computed when the block does not say its df (``df_said``), and carry
    ``note`` when it does; ``why_else`` gives the other columns' note."""
    block = out.block
    for section, (table_of, value_of) in readers.items():
        for effect, rows in block.section(section).items():
            key = mapped(block, str(effect))
            table = Lazy(partial(table_of, key))
            for row, qs in rows.items():
                for q, ref in qs.items():
                    value: Any = partial(value_of, table, key, str(row), q)
                    if not df_said and q in df_columns:
                        value, why = None, UNSAID
                    else:
                        why = note if q in df_columns else why_else(q)
                    out.add(section, f"{effect} {row}", q, ref, value, (section, effect, row, q), why)


UNSAID = "the block does not declare options.df, so the df definition is unknown"


def add_type3(out: Collector, type3: Lazy, df_said: bool, note: str) -> None:
    """Add the block's ``type3`` values (``type3``: a lazy ``{term label: Type3Test}``; ``df_said``: whether the
    block's df are known, else den_df and p are not computed; ``note``: how the df were taken)."""
    for effect, qs in out.block.section("type3").items():
        key = mapped(out.block, str(effect))
        for q, ref in qs.items():
            quantity, pick = TYPE3[q]
            value: Any = partial(_type3_value, type3, key, pick)
            if not df_said and q in ("den_df", "p"):
                value, why = None, UNSAID
            else:
                why = note if q in ("den_df", "p", "p_chisq") else ""
            out.add("type3", str(effect), quantity, ref, value, ("type3", effect, q), why)


def _statements(out: Collector, case: Case, tests: Lazy, method: str | None, unsaid: str, note: str) -> None:
    """The block's ``estimates`` and ``contrasts``: the case's ESTIMATE and CONTRAST statements (SAS's rows)."""
    block = out.block
    if not (block.section("estimates") or block.section("contrasts")):
        return
    statements = case_statements(case)

    def rows(statement: Statement) -> tuple[Any, str]:
        return statement_rows(tests.get().coding, statement), statement.last_effect

    for label, qs in block.section("estimates").items():
        row = Lazy(partial(_estimate_row, tests, rows, statements.estimate[str(label)], str(label)))
        for q, ref in qs.items():
            value: Any = partial(_pick, row, FIELDS[q])
            if method is None and q in DF_COLUMNS:
                value, why = None, unsaid
            else:
                why = note if q in DF_COLUMNS else ""
            out.add("estimates", str(label), q, ref, value, ("estimates", label, q), why)
    for label, qs in block.section("contrasts").items():
        test = Lazy(partial(_contrast_test, tests, rows, statements.contrast[str(label)], str(label)))
        for q, ref in qs.items():
            quantity, pick = TYPE3[q]
            value = partial(_pick, test, pick)
            if method is None and q in ("den_df", "p"):
                value, why = None, unsaid
            else:
                why = note if q in ("den_df", "p") else ""
            out.add("contrasts", str(label), quantity, ref, value, ("contrasts", label, q), why)


def _pick(lazy: Lazy, get: Callable[[Any], float]) -> float:
    return get(lazy.get())


def _estimate_row(
    tests: Lazy, rows: Callable[[Statement], tuple[Any, str]], statement: Statement, label: str
) -> Estimate:
    L, last = rows(statement)
    return tests.get().estimate(L[0], last, label)


def _contrast_test(
    tests: Lazy, rows: Callable[[Statement], tuple[Any, str]], statement: Statement, label: str
) -> Type3Test:
    L, last = rows(statement)
    if np.linalg.matrix_rank(L) < L.shape[0]:
        raise NotImplementedOption("a CONTRAST whose rows are linearly dependent", hint="write independent rows")
    return tests.get().contrast(L, last, label)


def _type3_value(type3: Lazy, key: str, pick: Callable[[Type3Test], float]) -> float:
    table: dict[str, Type3Test] = type3.get()
    label = effect_label(key, list(table))
    if label is None:
        raise NotImplementedOption(f"the model has no fixed-effect term {key!r}", hint=f"its terms: {list(table)}")
    return pick(table[label])


def _lsmean_table(tests: Lazy, key: str, at: dict[str, float] | None = None) -> dict[tuple[str, ...], Estimate]:
    return {e.levels: e for e in tests.get().lsmeans(key, at)}


def _lsmean_value(tests: Lazy, table: Lazy, key: str, level: str, q: str) -> float:
    return FIELDS[q](table.get()[lsmean_level(tests.get().coding, key, level)])


def _pairs(
    tests: Lazy, key: str, at: dict[str, float] | None = None
) -> dict[tuple[tuple[str, ...], tuple[str, ...]], Estimate]:
    return {(e.levels, e.other): e for e in tests.get().diffs(key, at) if e.other is not None}


def _diff_value(tests: Lazy, pairs: Lazy, key: str, text: str, q: str) -> float:
    a, b = diff_levels(tests.get().coding, key, text)
    return pair_value(pairs.get(), a, b, q, FIELDS)
