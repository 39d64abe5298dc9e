"""Validation of a study's ``analysis`` section: the fitted model, where it is not the generating one.

::

    analysis:
      fixed: [x]              # fit y ~ x ... although the data were generated with w too (omitted variable)
      random_slopes: []       # fit random intercepts only although the data have a random slope of x

Each term of ``fixed`` must be a coefficient of ``truth.fixed`` (a predictor with no effect in the data has
coefficient 0 there, so it can be fitted); each slope a level-1 predictor. The intercept is always fitted.
"""

from __future__ import annotations

from typing import Any

from .checker import Checker, kind_of
from .studytypes import INTERCEPT, Analysis, DesignSpec, Truth

ANALYSIS_KEYS = ("fixed", "random_slopes")


def check_analysis(ck: Checker, value: Any, design: DesignSpec, truth: Truth) -> Analysis:
    path = ("analysis",)
    a = ck.mapping(value, path, ANALYSIS_KEYS)
    fixed = None
    if "fixed" in a:
        known = [n for n, _ in truth.fixed if n != INTERCEPT]
        fixed = _names(ck, a["fixed"], path + ("fixed",), known, "a coefficient of truth.fixed")
    slopes = None
    if "random_slopes" in a:
        level1 = [p.name for p in design.predictors if p.level == 1]
        slopes = _names(ck, a["random_slopes"], path + ("random_slopes",), level1, "a level-1 predictor")
    return Analysis(fixed=fixed, random_slopes=slopes)


def _names(ck: Checker, raw: Any, path: tuple, allowed: list[str], what: str) -> tuple[str, ...]:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ck.error(f"must be a list, not {kind_of(raw)}", path)
    out: list[str] = []
    for i, item in enumerate(raw):
        name = ck.text(item, path + (i,))
        if name == INTERCEPT:
            continue  # always fitted
        if name not in allowed:
            raise ck.error(
                f"{name!r} is not {what}", path + (i,), hint="allowed: " + (", ".join(allowed) or "none in this study")
            )
        if name in out:
            raise ck.error(f"{name!r} is listed twice", path + (i,))
        out.append(name)
    return tuple(out)
