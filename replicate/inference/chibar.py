"""Chi-bar-square mixtures: p-values of likelihood-ratio tests whose null lies on the boundary.

Testing a variance against 0 puts the null on the edge of the parameter space, and the likelihood-ratio
statistic then follows a mixture of chi-squares rather than one: ``0.5 chi2_0 + 0.5 chi2_1`` for one
variance (Self & Liang 1987), and ``0.5 chi2_{k-1} + 0.5 chi2_k`` for reducing a k-dimensional
unstructured block to k - 1 dimensions, which also drops k - 1 covariances (Stram & Lee 1994).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def chibar_pvalue(stat: float, mixture: dict[int, float] | None) -> float:
    """Upper tail of a chi-bar-square mixture ``sum_k w_k chi2_k`` (chi2_0 is a point mass at 0)."""
    if mixture is None or not np.isfinite(stat):
        return np.nan
    total = 0.0
    for df, w in mixture.items():
        total += w * ((1.0 if stat <= 0 else 0.0) if df == 0 else float(stats.chi2.sf(max(stat, 0.0), df)))
    return total


def mixture_text(mixture: dict[int, float] | None) -> str:
    """The mixture as ranova prints it (``0.5 chi2(0) + 0.5 chi2(1)``); empty when unknown."""
    if mixture is None:
        return ""
    return " + ".join(f"{w:g} chi2({df})" for df, w in sorted(mixture.items()))


__all__ = ["chibar_pvalue", "mixture_text"]
