"""Compare reference numbers with an engine's numbers, value by value.

Each reference number is compared with the engine's number under the same
definition (same REML/ML, df method and SE kind). A value *agrees* when the
engine's number rounds to the printed one, is *within tolerance* when it is
inside the tolerance for its kind, and is a *discrepancy* otherwise. The LRE
(log relative error; McCullough 1998) counts the agreeing significant digits,
capped at the digits that were printed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from .printed import Printed, printed_unit
from .vocab import Verdict

AGREES = Verdict.AGREES
WITHIN = Verdict.WITHIN
DISCREPANCY = Verdict.DISCREPANCY
NOT_COMPARABLE = Verdict.NOT_COMPARABLE
EXPLAINED = Verdict.EXPLAINED

#: Default tolerance per quantity kind: relative and absolute limits.
DEFAULT_TOLERANCE: dict[str, dict[str, float]] = {
    "estimate": {"rtol": 1e-4, "atol": 1e-8},
    "se": {"rtol": 1e-4, "atol": 1e-8},
    "t": {"rtol": 1e-4, "atol": 1e-6},
    "df": {"rtol": 1e-3, "atol": 1e-6},
    "p": {"rtol": 1e-3, "atol": 1e-8},
    "variance": {"rtol": 1e-4, "atol": 1e-8},
    "sd": {"rtol": 1e-4, "atol": 1e-8},
    "corr": {"rtol": 1e-4, "atol": 1e-4},
    "loglik": {"rtol": 1e-7, "atol": 1e-6},
    "count": {"rtol": 0.0, "atol": 0.0},
}

QUANTITY_KIND: dict[str, str] = {
    "estimate": "estimate",
    "se": "se",
    "t": "t",
    "z": "t",
    "df": "df",
    "p": "p",
    "variance": "variance",
    "cov": "variance",
    "sd": "sd",
    "corr": "corr",
    "loglik": "loglik",
    "deviance": "loglik",
    "reml_criterion": "loglik",
    "aic": "loglik",
    "aicc": "loglik",
    "bic": "loglik",
    "sigma": "sd",
    "nobs": "count",
    "ngroups": "count",
    "chisq": "t",
    "statistic": "t",
    "refused": "count",
    "reliability": "corr",
    "lower": "estimate",  # a confidence limit (SAS's CL option)
    "upper": "estimate",
}


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    digits: float | None = None


def resolve_tolerance(kind: str, *layers: dict[str, Any] | None) -> Tolerance:
    """Tolerance for ``kind``: defaults, then each layer (case, block, value) in turn."""
    tol: dict[str, Any] = dict(DEFAULT_TOLERANCE.get(kind, {"rtol": 1e-4, "atol": 1e-8}))
    for layer in layers:
        if layer:
            tol.update({k: v for k, v in layer.items() if k in ("rtol", "atol", "digits")})
    return Tolerance(float(tol.get("rtol", 0.0)), float(tol.get("atol", 0.0)), tol.get("digits"))


def lre(ref: float, value: float, cap: float | None = None) -> float:
    """Log relative error: the number of agreeing significant digits."""
    if math.isnan(value) or math.isnan(ref):
        return 0.0
    diff = abs(value - ref)
    if diff == 0:
        score = 15.0
    elif ref == 0:
        score = -math.log10(diff)
    else:
        score = -math.log10(diff / abs(ref))
    score = max(0.0, min(score, 15.0))
    if cap is not None:
        score = min(score, cap)
    return round(score, 2)


@dataclass(frozen=True)
class ValueComparison:
    """One reference number beside the engine's.

    Attributes:
        section: ``fixed``, ``random`` or ``fit``.
        name: term or component (as printed, with the engine name if mapped).
        quantity: ``estimate``, ``se``, ``df``, ``variance``, ...
        kind: tolerance kind.
        reference: the printed text.
        reference_value: its value.
        engine: the engine's value, or None when it cannot compute it.
        abs_diff, rel_diff, lre: differences and agreeing digits.
        verdict: agrees / within tolerance / discrepancy / explained (a declared
            definition difference) / not comparable.
        note: why a value is not comparable, or what the definition was.
        line: line of the reference number in the case file.
    """

    section: str
    name: str
    quantity: str
    kind: str
    reference: str
    reference_value: float
    engine: float | None
    abs_diff: float | None
    rel_diff: float | None
    lre: float | None
    verdict: str
    note: str = ""
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_value(
    section: str,
    name: str,
    quantity: str,
    ref: Printed,
    engine: float | None,
    tol: Tolerance,
    *,
    note: str = "",
    line: int | None = None,
) -> ValueComparison:
    """Compare one printed number with the engine's value."""
    kind = QUANTITY_KIND.get(quantity, "estimate")

    def made(
        engine: float | None, diff: float | None, rel: float | None, score: float | None, verdict: Verdict, note: str
    ) -> ValueComparison:
        return ValueComparison(
            section=section,
            name=name,
            quantity=quantity,
            kind=kind,
            reference=ref.text,
            reference_value=ref.value,
            line=line,
            engine=engine,
            abs_diff=diff,
            rel_diff=rel,
            lre=score,
            verdict=verdict,
            note=note,
        )

    if engine is None:
        return made(None, None, None, None, NOT_COMPARABLE, note or "the engine does not compute this value")
    engine = float(engine)
    if not math.isfinite(engine):  # a failed computation (overflow, NaN) is never agreement
        why = f"the engine's value is not finite ({engine}): a failed computation, never agreement"
        return made(engine, None, None, 0.0, DISCREPANCY, (note + "; " if note else "") + why)
    if ref.bound:
        ok = {"<": engine < ref.value, "<=": engine <= ref.value, ">": engine > ref.value, ">=": engine >= ref.value}[
            ref.bound
        ]
        return made(engine, None, None, None, AGREES if ok else DISCREPANCY, note or f"printed as a bound ({ref.text})")
    diff = abs(engine - ref.value)
    rel = diff / abs(ref.value) if ref.value != 0 else (math.inf if diff else 0.0)
    score = lre(ref.value, engine, cap=float(ref.significant))
    unit = printed_unit(ref)
    if unit is not None and diff <= 0.5 * unit * (1 + 1e-9) + 1e-300:
        verdict = AGREES
    elif diff <= tol.atol or diff <= tol.rtol * abs(ref.value):
        verdict = WITHIN
    else:
        verdict = DISCREPANCY
    if tol.digits is not None and verdict != DISCREPANCY and score < min(tol.digits, ref.significant):
        verdict = DISCREPANCY
    return made(engine, diff, rel, score, verdict, note)


def never_agree(values: list[ValueComparison], why: str) -> list[ValueComparison]:
    """``values`` with every agreeing verdict turned into a discrepancy that says why (and no agreeing digits
    counted, so that the HTML heat map shows them red)."""
    out = []
    for v in values:
        if v.verdict in (AGREES, WITHIN, EXPLAINED):
            v = replace(v, verdict=DISCREPANCY, lre=0.0, note=f"{why}" + (f"; {v.note}" if v.note else ""))
        out.append(v)
    return out
