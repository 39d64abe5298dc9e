"""SAS's tables of estimates and tests: Covariance Parameter Estimates, Solution for Fixed Effects,
Type 1/2/3 Tests of Fixed Effects, Null Model Likelihood Ratio Test.

Columns are found by their header words (a header may be split over lines);
rows are a label (an effect and its CLASS levels, a covariance parameter and
its subject) followed by one number per column.
"""

from __future__ import annotations

import re

from .numbers import Line, Section, cells, is_cell
from .printout import Builder
from .sas_columns import header_columns, row_problem
from .sas_sections import TYPE, SasState, joined, once, read_rows

_I = re.IGNORECASE

_COV_SPECS = [
    ("Estimate", r"\bEstimate\b"),
    ("Standard Error", r"\bStandard\b|\bStdErr\b|\bStd\s*Err"),
    ("Z Value", r"\bValue\b|\bZValue\b"),
    ("Pr > Z", r"Pr\s*>?\s*Z\b|\bProbZ\b"),
    ("Alpha", r"\bAlpha\b"),
    ("Lower", r"\bLower\b"),
    ("Upper", r"\bUpper\b"),
]
_UN = re.compile(r"^UN\((\d+),(\d+)\)$", _I)
_STRUCTURE = re.compile(r"^(?:Variance|CS|CSH|Corr|Rho|AR\(1\)|ARH\(1\)|ARMA\(1,1\)|TOEP|SP\(|FA|HF|LIN|Gamma)", _I)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\([A-Za-z_][A-Za-z0-9_*]*\))?$")


Rows = list[tuple[Line, list[str]]]


def _columns(
    sec: Section, b: Builder, state: SasState, specs: list[tuple[str, str]], required: str | None, missing: str
) -> tuple[list[str], Rows, list[str]] | None:
    """A table's header lines, rows and known columns; None, every row reported with ``missing``, when the
    ``required`` column (with None: any known column) is not in the header."""
    once(sec, state)
    header, rows = read_rows(sec, b)
    cols = header_columns(header, specs)
    absent = not cols if required is None else required not in cols
    if absent:
        for ln, _t in rows:
            b.skip(ln, missing)
        return None
    return header, rows, cols


def covparms(sec: Section, b: Builder, state: SasState) -> None:
    found = _columns(sec, b, state, _COV_SPECS, "Estimate", "no 'Estimate' column in the covariance parameter header")
    if found is None:
        return
    header, rows, cols = found
    has_subject = bool(re.search(r"\bSubject\b", joined(header)))
    has_group = bool(re.search(r"\bGroup\b", joined(header)))
    n = len(cols)
    table = "Covariance Parameter Estimates"
    for ln, toks in rows:
        if len(toks) <= n or not all(is_cell(t) for t in toks[-n:]):
            b.skip(ln, f"expected a name and {n} numbers ({', '.join(cols)})")
            continue
        label, vals = toks[:-n], cells(toks[-n:])
        if any(is_cell(t) for t in label):
            b.skip(ln, f"more numbers than the {n} columns ({', '.join(cols)})")
            continue
        problem = row_problem(cols, vals)
        if problem:
            b.skip(ln, problem)
            continue
        cp, subject, group = label[0], None, None
        if len(label) == 2 and has_subject:
            subject = label[1]
        elif len(label) == 2 and has_group:
            group = label[1]
        elif len(label) == 3 and has_subject and has_group:
            subject, group = label[1], label[2]
        elif len(label) != 1:
            b.skip(ln, "cannot tell the covariance parameter from its subject")
            continue
        row = " ".join(label)
        for col, v in zip(cols, vals):
            b.add_cell(table, row, col, v)
        q = dict(zip(cols, vals))
        est, se = q.get("Estimate"), q.get("Standard Error")
        if subject and subject not in state.subjects:
            state.subjects.append(subject)
        if group is not None:
            b.skip(
                ln,
                f"a group-specific covariance parameter (GROUP={group}) has no lme4 counterpart; "
                f"kept in tables[{table!r}]",
            )
            continue
        if cp.lower() == "residual":
            b.add_residual(ln, {"variance": est, "se": se})
            continue
        if subject is not None:
            m = _UN.match(cp)
            if m:
                i, j = int(m.group(1)), int(m.group(2))
                if i == j:
                    b.add_random(ln, subject, f"UN({i},{i})", {"variance": est, "se": se})
                else:
                    lo, hi = min(i, j), max(i, j)
                    b.add_random(ln, subject, f"UN({lo},{lo}), UN({hi},{hi})", {"cov": est, "se": se})
                continue
            if _STRUCTURE.match(cp) or not _IDENT.match(cp):
                b.skip(
                    ln,
                    f"covariance parameter {cp!r} is part of a covariance structure with no lme4 "
                    f"counterpart; kept in tables[{table!r}]",
                )
                continue
            b.add_random(ln, subject, cp, {"variance": est, "se": se})
            continue
        if "*" in cp or not _IDENT.match(cp) or _STRUCTURE.match(cp):
            b.skip(
                ln, f"covariance parameter {cp!r} without a SUBJECT: cannot tell its group; kept in tables[{table!r}]"
            )
            continue
        b.add_random(ln, cp, "Intercept", {"variance": est, "se": se})


_FIXED_SPECS = [
    ("estimate", r"\bEstimate\b"),
    ("se", r"\bStandard\b|\bStdErr\b|\bStd\s*Err"),
    ("df", r"\bDF\b"),
    ("t", r"\bt\s*Value\b|\btValue\b"),
    ("p", r"Pr\s*>\s*\|\s*t\s*\||\bProbt\b"),
    ("Alpha", r"\bAlpha\b"),
    ("Lower", r"\bLower\b"),
    ("Upper", r"\bUpper\b"),
]
_FIXED_WORDS = {
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
    "probt",
    "alpha",
    "lower",
    "upper",
    "pr>|t|",
}


def fixed_effects(sec: Section, b: Builder, state: SasState) -> None:
    found = _columns(sec, b, state, _FIXED_SPECS, "estimate", "no 'Estimate' column in the fixed-effects header")
    if found is None:
        return
    header, rows, cols = found
    class_cols: list[str] = []
    htoks = joined(header).split()
    if "Effect" in htoks:
        for t in htoks[htoks.index("Effect") + 1 :]:
            if t.lower() in _FIXED_WORDS:
                break
            class_cols.append(t)
    n = len(cols)
    effects: dict[str, dict[str, object]] = {}
    for ln, toks in rows:
        if len(toks) <= n or not all(is_cell(t) for t in toks[-n:]):
            b.skip(ln, f"expected an effect and {n} numbers ({', '.join(cols)})")
            continue
        label, vals = toks[:-n], cells(toks[-n:])
        effect, levels = label[0], label[1:]
        if is_cell(effect):
            b.skip(ln, "the row does not start with an effect name")
            continue
        problem = row_problem(cols, vals)
        if problem:
            b.skip(ln, problem)
            continue
        parts = {p.lower() for p in re.split(r"[*()\s|@]+", effect) if p}
        involved = [c for c in class_cols if c.lower() in parts]
        if len(levels) != len(involved):
            b.skip(
                ln,
                f"cannot match {len(levels)} printed level(s) to the CLASS column(s) "
                f"{', '.join(involved) or '(none)'} of effect {effect!r}",
            )
            continue
        key = " ".join(label)
        q = dict(zip(cols, vals))
        if levels:
            effects[key] = {"effect": effect, "levels": dict(zip(involved, levels))}
        est = q.get("estimate")
        aliased = est is not None and est.value == 0 and all(q.get(c) is None for c in cols if c != "estimate")
        if aliased:
            b.add_cell("Aliased Fixed Effects", key, "estimate", est)
            b.info.setdefault("sas_aliased", []).append(key)
            continue
        b.add_fixed(ln, key, {k: q.get(k) for k in ("estimate", "se", "df", "t", "p")})
        for extra in ("Alpha", "Lower", "Upper"):
            b.add_cell("Fixed Effects Confidence Limits", key, extra, q.get(extra))
    if effects:
        b.set_info("sas_effects", effects)
    if class_cols:
        b.set_info("sas_class_columns", class_cols)


_TEST_SPECS = [
    ("Num DF", r"\bNum\b|\bNumDF\b"),
    ("Den DF", r"\bDen\b|\bDenDF\b"),
    ("Chi-Square", r"Chi-?Square"),
    ("F Value", r"\bF\s*Value\b|\bFValue\b"),
    ("Pr > ChiSq", r"Pr\s*>\s*ChiSq\b|\bProbChiSq\b"),
    ("Pr > F", r"Pr\s*>\s*F\b|\bProbF\b"),
]


def type_tests(sec: Section, b: Builder, state: SasState) -> None:
    table = f"Type {TYPE[sec.match.group('type').upper()]} Tests of Fixed Effects"
    found = _columns(
        sec, b, state, _TEST_SPECS, None, "no known columns (Num DF, Den DF, F Value, Pr > F) in the header"
    )
    if found is None:
        return
    _header, rows, cols = found
    n = len(cols)
    for ln, toks in rows:
        if len(toks) <= n or not all(is_cell(t) for t in toks[-n:]) or any(is_cell(t) for t in toks[:-n]):
            b.skip(ln, f"expected an effect and {n} numbers ({', '.join(cols)})")
            continue
        row, vals = " ".join(toks[:-n]), cells(toks[-n:])
        problem = row_problem(cols, vals)
        if problem:
            b.skip(ln, problem)
            continue
        for col, v in zip(cols, vals):
            b.add_cell(table, row, col, v)


def null_model_lrt(sec: Section, b: Builder, state: SasState) -> None:
    once(sec, state)
    header, rows = read_rows(sec, b)
    cols = header_columns(
        header, [("DF", r"\bDF\b"), ("Chi-Square", r"Chi-?Square"), ("Pr > ChiSq", r"Pr\s*>\s*ChiSq")]
    )
    for ln, toks in rows:
        if len(toks) != len(cols) or not all(is_cell(t) for t in toks):
            b.skip(ln, f"expected {len(cols)} numbers ({', '.join(cols)})")
            continue
        problem = row_problem(cols, cells(toks))
        if problem:
            b.skip(ln, problem)
            continue
        for col, v in zip(cols, cells(toks)):
            b.add_cell("Null Model Likelihood Ratio Test", "test", col, v)
