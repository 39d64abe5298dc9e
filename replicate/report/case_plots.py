"""A case's plots for the HTML report: coefficients across programs, and each value's printed-digit gap.

The programs print one coefficient under different names ("(Intercept)", "INTRCPT2, G00", "Intercept");
each block's ``names:`` mapping (read back from the case file) brings them under the engine's name, so one
coefficient gets one forest plot with every program on a shared axis.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from ..case import load_case
from ..errors import ReplicateError
from ..inference import Inference
from ..printed import Printed, printed_unit
from ..vocab import DfMethod, Verdict
from .plots import DigitGap, Interval, df_dots, forest, printed_digits, profile_line

_WORSE = [Verdict.DISCREPANCY, Verdict.NOT_COMPARABLE, Verdict.EXPLAINED, Verdict.WITHIN, Verdict.AGREES]


def _names(case_path: str) -> dict[str, dict[str, str]]:
    """Block label -> printed name -> engine name, from the case file (empty when it cannot be read)."""
    try:
        case = load_case(case_path)
    except (ReplicateError, OSError):
        return {}
    out: dict[str, dict[str, str]] = {}
    for blk in case.blocks:
        out[blk.label] = {str(k): str(v) for k, v in blk.names.items()}
    return out


def _worse(*verdicts: str) -> str:
    return next((v for v in _WORSE if v in verdicts), Verdict.AGREES)


def forests(result: Any) -> str:
    """One forest plot per fixed effect: each program's printed estimate +- 1.96 SE and the engine's."""
    names = _names(result.path)
    rows: dict[str, list[Interval]] = defaultdict(list)
    engine_rows: dict[str, dict[tuple[float, float | None], str]] = defaultdict(dict)
    for b in result.blocks:
        mapping = names.get(b.label, {})
        est = {v.name: v for v in b.values if v.section == "fixed" and v.quantity == "estimate"}
        se = {v.name: v for v in b.values if v.section == "fixed" and v.quantity == "se"}
        for printed, v in est.items():
            term = mapping.get(printed, printed)
            s = se.get(printed)
            verdict = _worse(v.verdict, s.verdict) if s else v.verdict
            rows[term].append(
                Interval(f"{b.label} ({b.software})", v.reference_value, s.reference_value if s else None, verdict)
            )
            if v.engine is not None:
                eng_se = s.engine if s is not None else None
                kind = s.note.removeprefix("SE: ") if s is not None and s.note else "model"
                engine_rows[term].setdefault((v.engine, eng_se), f"engine ({result.engine}, SE {kind})")
    out = []
    for term, progs in rows.items():
        eng = [Interval(label, e, s, "engine") for (e, s), label in engine_rows[term].items()]
        out.append(forest(term, progs + eng))
    return "<div class='forests'>" + "".join(out) + "</div>" if out else ""


def _gap(v: Any) -> DigitGap | None:
    if v.engine is None or v.reference_value is None or not math.isfinite(v.engine):
        return None
    text = str(v.reference).strip()
    if text[:1] in "<>":
        return None  # a printed bound has no last digit to count in
    unit = printed_unit(Printed(float(v.reference_value), text))
    if not unit:
        return None
    label = f"{v.section} {v.name} {v.quantity}"
    return DigitGap(label, (v.engine - v.reference_value) / unit, v.verdict, text, float(v.engine))


def digit_gaps(result: Any) -> str:
    """Per block, each value's (engine - printed) in units of the last printed digit."""
    out = []
    for b in result.blocks:
        gaps = [g for g in (_gap(v) for v in b.values) if g is not None]
        if gaps:
            out.append(printed_digits(f"{b.label}: engine - printed, in units of the last printed digit", gaps))
    return "<div class='gaps'>" + "".join(out) + "</div>" if out else ""


#: The df definitions drawn, with their short names (as `replicate show` heads its columns).
DF_DRAWN = [
    (DfMethod.RESIDUAL, "resid"),
    (DfMethod.CONTAINMENT, "contain"),
    (DfMethod.BETWEEN_WITHIN, "bw"),
    (DfMethod.HLM, "HLM"),
    (DfMethod.NLME, "nlme"),
    (DfMethod.SATTERTHWAITE, "Satt"),
    (DfMethod.KENWARD_ROGER, "KR"),
]


def df_charts(result: Any) -> str:
    """Per fixed effect, its df under every definition from the case's fit, beside the df each program printed."""
    if result.design is None or not result.fits or not result.design.reterms:
        return ""
    fit = result.fits.get("REML") or next(iter(result.fits.values()))
    inf = Inference(fit, result.design)
    defs: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for method, short in DF_DRAWN:
        try:
            series = inf.df(method)
        except (ReplicateError, ValueError, ArithmeticError):
            continue
        for term, d in series.items():
            defs[str(term)].append((short, float(d)))
    names = _names(result.path)
    printed: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for b in result.blocks:
        mapping = names.get(b.label, {})
        for v in b.values:
            if v.section == "fixed" and v.quantity == "df" and v.reference_value is not None:
                printed[mapping.get(v.name, v.name)].append((b.label, float(v.reference_value)))
    out = [df_dots(term, rows, printed.get(term, [])) for term, rows in defs.items()]
    return "<div class='dfcharts'>" + "".join(out) + "</div>"


def optimum_profiles(result: Any) -> str:
    """For each block whose difference is diagnosed as another optimum: the likelihood between the two."""
    out = []
    for b in result.blocks:
        for d in b.diagnoses:
            if "profile" in d.data:
                title = f"{b.label}: profiled log-likelihood from the engine's optimum to {b.software}'s"
                out.append(profile_line(title, [tuple(p) for p in d.data["profile"]], b.software))
    return "<div class='profiles'>" + "".join(out) + "</div>" if out else ""
