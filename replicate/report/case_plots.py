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
from ..compare import printed_unit
from ..errors import ReplicateError
from ..printed import Printed
from ..vocab import Verdict
from .plots import DigitGap, Interval, forest, printed_digits

_WORSE = [Verdict.DISCREPANCY, Verdict.NOT_COMPARABLE, Verdict.EXPLAINED, Verdict.WITHIN, Verdict.AGREES]


def _names(case_path: str) -> dict[str, dict[str, str]]:
    """Block label -> printed name -> engine name, from the case file (empty when it cannot be read)."""
    try:
        case = load_case(case_path)
    except (ReplicateError, OSError):
        return {}
    out: dict[str, dict[str, str]] = {}
    for i, blk in enumerate(case.expected):
        out[case.block_label(i)] = {str(k): str(v) for k, v in (blk.get("names") or {}).items()}
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
