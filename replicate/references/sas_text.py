"""SAS PROC MIXED and PROC GLIMMIX listings (and their copies from web pages).

Reads the tables by their titles:
  * ``Model Information`` (estimation method, df method, SE method, ...);
  * ``Class Level Information`` (levels and their values, in SAS's order);
  * ``Dimensions`` and ``Number of Observations``;
  * ``Covariance Parameter Estimates`` (``Cov Parm`` with or without a
    ``Subject`` column; ``Estimate`` with or without ``Standard Error``,
    ``Z Value``, ``Pr > Z``; ``UN(i,j)`` names);
  * ``Fit Statistics`` (``-2 Res Log Likelihood``, ``-2 Log Likelihood``,
    ``AIC``, ``AICC``, ``BIC``, ...);
  * ``Solution for Fixed Effects`` (GLIMMIX: ``Solutions for Fixed Effects``)
    with CLASS-level columns between ``Effect`` and ``Estimate``;
  * ``Type 3 Tests of Fixed Effects`` (GLIMMIX: ``Type III``) and
    ``Null Model Likelihood Ratio Test``;
  * ``ddfm=`` and ``method=`` from SAS code pasted with the output.

A header split over lines (``Standard`` above ``Error``) is read from all
its lines; ``.`` is a missing cell; page titles (``The SAS System``) are
skipped. Names are kept as SAS prints them: fixed effects ``Intercept``,
``urban``, ``sex F`` (effect, then its CLASS levels); covariance parameters
under their subject (``random[schoolid]["Intercept"]``), ``UN(1,1)``, and
``"UN(1,1), UN(2,2)"`` for the covariance ``UN(2,1)``; a covariance parameter
without subject (``random schoolID;``) is the intercept variance of that
effect (``random[schoolID]["Intercept"]``). SAS prints variances, not SDs.
See :mod:`replicate.references.names` to map the names to lme4's.

Notes recorded in ``model_info["notes"]``: SAS's AIC and BIC under REML count
covariance parameters only (lme4 also counts fixed effects), and SAS's BIC
uses the number of subjects, so they are not lme4's AIC and BIC.
"""

from __future__ import annotations

import re

from ..errors import ReferenceError_
from ..printed import Printed
from .numbers import (
    Line,
    Section,
    cells,
    collapse,
    find_sections,
    is_cell,
    line_index,
    parse_number,
    prepare,
    title_re,
)
from .printout import Builder, ParsedPrintout
from .sas_columns import header_columns, row_problem, table_rows

EXPECTED = "'Solution for Fixed Effects', 'Covariance Parameter Estimates', 'Fit Statistics'"

_I = re.IGNORECASE
PATTERNS = [
    ("model_info", title_re("Model Information")),
    ("class_levels", title_re("Class Level Information")),
    ("dimensions", title_re("Dimensions")),
    ("nobs", title_re("Number of Observations")),
    ("covparms", title_re("Covariance Parameter Estimates")),
    ("fitstats", title_re("Fit Statistics")),
    ("fixed", title_re("Solution for Fixed Effects", "Solutions for Fixed Effects", "Parameter Estimates")),
    ("tests", re.compile(r"^Type\s+(?P<type>1|2|3|I|II|III)\s+Tests\s+of\s+Fixed\s+Effects\s*:?\s*$", _I)),
    ("lrt", title_re("Null Model Likelihood Ratio Test")),
    (
        "ignore",
        re.compile(
            r"^(?:Iteration History|Convergence Status|Optimization Information|Solutions? for Random Effects|"
            r"Estimated [GRV] (?:Correlation )?Matrix|Least Squares Means|Differences of Least Squares Means|"
            r"Estimates|Contrasts|Information Criteria|Fit Statistics for Conditional Distribution|"
            r"Conditional Fit Statistics|Asymptotic Co(?:variance|rrelation) Matrix|Tests of Covariance Parameters|"
            r"Covariance Matrix for Fixed Effects|Correlation Matrix for Fixed Effects|Convergence criteria met|"
            r"Type\s+(?:1|2|3|I|II|III)\s+Tests of Random Effects|Random Effect Solution|Class Level Info)\b.*$",
            _I,
        ),
    ),
]
_COUNTED = {"covparms", "fitstats", "fixed", "tests", "dimensions", "model_info", "nobs", "lrt", "class_levels"}
_PAGE = re.compile(r"^(?:The SAS System\b.*|The (?P<proc>Mixed|GLIMMIX|HPMIXED) Procedure)\s*$", _I)


def _once_key(sec: Section) -> str:
    return sec.kind if sec.kind != "tests" else f"tests {_TYPE[sec.match.group('type').upper()]}"


_DESCRIPTIVE = {"model_info", "class_levels", "dimensions", "nobs", "ignore"}


def part_starts(lines: list[Line]) -> list[int]:
    """Indices of the lines where a new PROC step's output begins.

    A step begins where a table repeats; the descriptive tables just before
    the repeated one (Model Information, Class Level Information, Dimensions,
    Number of Observations, Iteration History) and the page titles before them
    go with the new step, as long as they did not appear in the step before.
    """
    starts = [0]
    seen: dict[str, int] = {}  # table -> index of its section in the current step
    cleaned = [ln.with_text("") if _PAGE.match(ln.stripped) else ln for ln in lines]
    sections = find_sections(cleaned, PATTERNS)
    for k, sec in enumerate(sections):
        if sec.kind not in _COUNTED:
            continue
        key = _once_key(sec)
        if key in seen:
            j = k
            while j - 1 > seen[key] and sections[j - 1].kind in _DESCRIPTIVE:
                j -= 1
            start = line_index(cleaned, sections[j].title)
            while start - 1 > starts[-1] and not cleaned[start - 1].stripped:
                start -= 1  # blank lines and page titles before the step
            if start > starts[-1]:
                starts.append(start)
            seen = {_once_key(t): i for i, t in enumerate(sections[j:k], start=j) if t.kind in _COUNTED}
        seen[key] = k
    return starts


def parse(text: str, software: str = "sas", *, first_line: int = 1) -> ParsedPrintout:
    """Parse a SAS PROC MIXED / GLIMMIX listing (see the module docstring); ``first_line`` numbers the text's
    first line."""
    lines = prepare(text, first_line=first_line)
    b = Builder(software)
    cleaned: list[Line] = []
    for ln in lines:
        m = _PAGE.match(ln.stripped)
        if m:
            if m.group("proc"):
                b.set_info("procedure", m.group("proc").upper())
            cleaned.append(ln.with_text(""))
        else:
            cleaned.append(ln)
    _code(text, b)
    state = _State()
    for sec in find_sections(cleaned, PATTERNS):
        if sec.kind in _COUNTED:
            b.sections += 1
        handler = _HANDLERS.get(sec.kind)
        if handler is not None:
            handler(sec, b, state)
    _finish(b, state)
    return b.build("SAS PROC MIXED/GLIMMIX", EXPECTED)


class _State:
    def __init__(self) -> None:
        self.subjects: list[str] = []
        self.n_subjects: Printed | None = None
        self.seen: dict[str, int] = {}


def _once(sec: Section, b: Builder, state: _State) -> None:
    key = _once_key(sec)
    if key in state.seen:
        raise ReferenceError_(
            f"the text holds more than one '{sec.title.stripped}' table (line {sec.title.no}; the first at "
            f"line {state.seen[key]})",
            line=sec.title.no,
            hint="paste the output of one PROC step per file, or use parse_printouts()",
        )
    state.seen[key] = sec.title.no


def _code(text: str, b: Builder) -> None:
    """Options from SAS code pasted with the output."""
    m = re.search(r"\bddfm\s*=\s*([A-Za-z0-9_()-]+)", text, _I)
    if m:
        b.set_info("ddfm", m.group(1).lower())
    m = re.search(r"\bproc\s+(mixed|glimmix|hpmixed)\b([^;]*);", text, _I)
    if m:
        b.set_info("procedure", m.group(1).upper())
        mm = re.search(r"\bmethod\s*=\s*(\w+)", m.group(2), _I)
        if mm:
            b.set_info("proc_method", mm.group(1).upper())


def _rows(sec: Section, b: Builder) -> tuple[list[str], list[tuple[Line, list[str]]]]:
    """(header lines, [(line, tokens)]) of a table (see :func:`replicate.references.sas_columns.table_rows`).

    Every line skipped between the rows is reported with the reason.
    """
    header, rows, skipped = table_rows(sec.body)
    for ln, why in skipped:
        b.skip(ln, why)
    return header, rows


def _present(header: list[str], specs: list[tuple[str, str]]) -> list[str]:
    return header_columns(header, specs)


def _joined(header: list[str]) -> str:
    return " ".join(h.strip() for h in header)


# ------------------------------------------------------------------ handlers

_MI_KEYS = [
    "Data Set",
    "Dependent Variable",
    "Response Variable",
    "Response Distribution",
    "Link Function",
    "Variance Function",
    "Variance Matrix Blocked By",
    "Variance Matrix",
    "Covariance Structures",
    "Covariance Structure",
    "Subject Effects",
    "Subject Effect",
    "Group Effect",
    "Repeated Effect",
    "Weight Variable",
    "Estimation Method",
    "Estimation Technique",
    "Residual Variance Method",
    "Fixed Effects SE Method",
    "Fixed Effects SE Adjustment",
    "Degrees of Freedom Method",
]


def _model_info(sec: Section, b: Builder, state: _State) -> None:
    _once(sec, b, state)
    info: dict[str, str] = {}
    for ln in sec.body:
        s = collapse(ln.stripped)
        if not s:
            continue
        key = next((k for k in _MI_KEYS if s.lower().startswith(k.lower() + " ") or s.lower() == k.lower()), None)
        if key is None:
            break
        info[key] = s[len(key) :].strip()
    b.set_info("sas_model_information", info)
    method = info.get("Estimation Method") or info.get("Estimation Technique") or ""
    low = method.lower()
    if low in ("reml", "restricted maximum likelihood") or "restricted" in low:
        b.set_info("method", "REML")
    elif low in ("ml", "maximum likelihood"):
        b.set_info("method", "ML")
    if info.get("Degrees of Freedom Method"):
        b.set_info("df_method", info["Degrees of Freedom Method"])
    se = info.get("Fixed Effects SE Method") or info.get("Fixed Effects SE Adjustment")
    if se:
        b.set_info("se_method", se)


def _class_levels(sec: Section, b: Builder, state: _State) -> None:
    levels: dict[str, list[str]] = {}
    counts: dict[str, Printed] = {}
    current: str | None = None
    row_indent: int | None = None
    for ln in sec.body:
        s = ln.stripped
        if not s:
            continue
        if re.match(r"^Class\s+Levels\s+Values\b", s, _I):
            continue
        indent = len(ln.text.expandtabs()) - len(ln.text.expandtabs().lstrip())
        toks = s.split()
        if current is not None and row_indent is not None and indent > row_indent + 2 and "\t" not in ln.text:
            levels[current].extend(toks)
            continue
        n = parse_number(toks[1]) if len(toks) >= 2 else None
        if n is None or n.bound or n.value != int(n.value):
            break
        current = toks[0]
        row_indent = indent if row_indent is None else row_indent
        counts[current] = n
        levels[current] = toks[2:]
    for name, n in counts.items():
        b.add_cell("Class Level Information", name, "Levels", n)
        if len(levels[name]) != int(n.value):
            b.note(
                f"Class Level Information: {name} has {int(n.value)} levels but {len(levels[name])} values "
                "are printed (a list cut or wrapped); its level order is incomplete"
            )
    b.set_info("class_levels", levels)


def _label_value(sec: Section, b: Builder, table: str) -> list[tuple[Line, str, Printed]]:
    """Rows 'label ... value' (Dimensions, Fit Statistics, Number of Observations)."""
    out = []
    _header, rows = _rows(sec, b)
    for ln, toks in rows:
        if len(toks) < 2 or parse_number(toks[-1]) is None:
            b.skip(ln, f"expected a label and a number in the {table} table")
            continue
        label = collapse(" ".join(toks[:-1]))
        v = parse_number(toks[-1])
        assert v is not None
        b.add_cell(table, label, "value", v)
        out.append((ln, label, v))
    return out


def _dimensions(sec: Section, b: Builder, state: _State) -> None:
    _once(sec, b, state)
    for _ln, label, v in _label_value(sec, b, "Dimensions"):
        if re.match(r"^Subjects\b", label, _I):
            state.n_subjects = v


def _nobs(sec: Section, b: Builder, state: _State) -> None:
    _once(sec, b, state)
    for _ln, label, v in _label_value(sec, b, "Number of Observations"):
        if re.match(r"^Number of Observations Used$", label, _I):
            b.add_fit("nobs", v)


_FIT_KEYS = {
    "-2 res log likelihood": "reml_criterion",
    "-2 log likelihood": "deviance",
    "aic": "aic",
    "aicc": "aicc",
    "bic": "bic",
}


def _fitstats(sec: Section, b: Builder, state: _State) -> None:
    _once(sec, b, state)
    rows = _label_value(sec, b, "Fit Statistics")
    for _ln, label, v in rows:
        key = re.sub(r"\s*\(\s*smaller is better\s*\)\s*", "", label, flags=_I).strip().lower()
        if key in _FIT_KEYS:
            b.add_fit(_FIT_KEYS[key], v)
    if any(re.match(r"^(AIC|BIC)\b", label) for _ln, label, _v in rows):
        b.note(
            "SAS's AIC and BIC under REML count the covariance parameters only and its BIC uses the number "
            "of subjects: they are not lme4's AIC and BIC (a block with software: sas is compared with "
            "SAS's definitions)"
        )


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


def _covparms(sec: Section, b: Builder, state: _State) -> None:
    _once(sec, b, state)
    header, rows = _rows(sec, b)
    cols = _present(header, _COV_SPECS)
    if "Estimate" not in cols:
        for ln, _t in rows:
            b.skip(ln, "no 'Estimate' column in the covariance parameter header")
        return
    has_subject = bool(re.search(r"\bSubject\b", _joined(header)))
    has_group = bool(re.search(r"\bGroup\b", _joined(header)))
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


def _fixed(sec: Section, b: Builder, state: _State) -> None:
    _once(sec, b, state)
    header, rows = _rows(sec, b)
    cols = _present(header, _FIXED_SPECS)
    if "estimate" not in cols:
        for ln, _t in rows:
            b.skip(ln, "no 'Estimate' column in the fixed-effects header")
        return
    class_cols: list[str] = []
    htoks = _joined(header).split()
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
        aliased = (
            q.get("estimate") is not None
            and q["estimate"].value == 0
            and all(q.get(c) is None for c in cols if c != "estimate")
        )
        if aliased:
            b.add_cell("Aliased Fixed Effects", key, "estimate", q["estimate"])
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
_TYPE = {"1": "I", "2": "II", "3": "III", "I": "I", "II": "II", "III": "III"}


def _tests(sec: Section, b: Builder, state: _State) -> None:
    _once(sec, b, state)
    table = f"Type {_TYPE[sec.match.group('type').upper()]} Tests of Fixed Effects"
    header, rows = _rows(sec, b)
    cols = _present(header, _TEST_SPECS)
    n = len(cols)
    if n == 0:
        for ln, _t in rows:
            b.skip(ln, "no known columns (Num DF, Den DF, F Value, Pr > F) in the header")
        return
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


def _lrt(sec: Section, b: Builder, state: _State) -> None:
    _once(sec, b, state)
    header, rows = _rows(sec, b)
    cols = _present(header, [("DF", r"\bDF\b"), ("Chi-Square", r"Chi-?Square"), ("Pr > ChiSq", r"Pr\s*>\s*ChiSq")])
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


def _finish(b: Builder, state: _State) -> None:
    if state.n_subjects is not None and len(state.subjects) == 1:
        b.add_ngroups(state.subjects[0], state.n_subjects)
    elif state.n_subjects is not None and len(state.subjects) > 1:
        b.note(
            "Dimensions shows the number of subjects, but the covariance parameters have several subject "
            "effects, so the count is not given to a group"
        )


_HANDLERS = {
    "model_info": _model_info,
    "class_levels": _class_levels,
    "dimensions": _dimensions,
    "nobs": _nobs,
    "covparms": _covparms,
    "fitstats": _fitstats,
    "fixed": _fixed,
    "tests": _tests,
    "lrt": _lrt,
}
