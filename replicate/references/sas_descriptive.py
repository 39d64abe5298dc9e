"""SAS's descriptive tables: Model Information, Class Level Information, Dimensions, Number of Observations,
Fit Statistics.

Model Information gives the estimation method and the df and SE methods; Class
Level Information the levels of every CLASS variable in SAS's order; the
others are rows of a label and a number.
"""

from __future__ import annotations

import math
import re

from ..printed import Printed
from .numbers import Line, Section, collapse, parse_number
from .printout import Builder
from .sas_glmm import glmm_fit_statistic, glmm_info
from .sas_repeated import residual
from .sas_sections import SasState, once, read_rows

_I = re.IGNORECASE

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
    "Likelihood Approximation",
    "Residual Variance Method",
    "Fixed Effects SE Method",
    "Fixed Effects SE Adjustment",
    "Degrees of Freedom Method",
]


def model_info(sec: Section, b: Builder, state: SasState) -> None:
    once(sec, state)
    info: dict[str, str] = {}
    rows: dict[str, tuple[Line, str]] = {}
    for ln in sec.body:
        s = collapse(ln.stripped)
        if not s:
            continue
        key = next((k for k in _MI_KEYS if s.lower().startswith(k.lower() + " ") or s.lower() == k.lower()), None)
        if key is None:
            break
        info[key] = s[len(key) :].strip()
        rows[key] = (ln, info[key])
    b.set_info("sas_model_information", info)
    residual(rows, b)
    if glmm_info(info, b):  # a GLIMMIX GLMM: family, link and its own method, never REML or ML
        if info.get("Degrees of Freedom Method"):
            b.set_info("df_method", info["Degrees of Freedom Method"])
        return
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


def class_levels(sec: Section, b: Builder, state: SasState) -> None:
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
        if n is None or n.bound or not math.isfinite(n.value) or n.value != int(n.value):
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
    out: list[tuple[Line, str, Printed]] = []
    _header, rows = read_rows(sec, b)
    for ln, toks in rows:
        v = parse_number(toks[-1]) if len(toks) >= 2 else None
        if v is None:
            b.skip(ln, f"expected a label and a number in the {table} table")
            continue
        label = collapse(" ".join(toks[:-1]))
        b.add_cell(table, label, "value", v)
        out.append((ln, label, v))
    return out


def dimensions(sec: Section, b: Builder, state: SasState) -> None:
    once(sec, state)
    for _ln, label, v in _label_value(sec, b, "Dimensions"):
        if re.match(r"^Subjects\b", label, _I):
            state.n_subjects = v


def nobs(sec: Section, b: Builder, state: SasState) -> None:
    once(sec, state)
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


def fit_statistics(sec: Section, b: Builder, state: SasState) -> None:
    once(sec, state)
    rows = _label_value(sec, b, "Fit Statistics")
    for _ln, label, v in rows:
        key = re.sub(r"\s*\(\s*smaller is better\s*\)\s*", "", label, flags=_I).strip().lower()
        if key in _FIT_KEYS:
            b.add_fit(_FIT_KEYS[key], v)
        elif b.info.get("glmm"):
            glmm_fit_statistic(label, v, b)
    if any(re.match(r"^(AIC|BIC)\b", label) for _ln, label, _v in rows):
        b.note(
            "SAS's AIC and BIC under REML count the covariance parameters only and its BIC uses the number "
            "of subjects: they are not lme4's AIC and BIC (a block with software: sas is compared with "
            "SAS's definitions)"
        )
