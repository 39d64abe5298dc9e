"""The rest of R's printed summaries: lm's R-squared and overall F, and residual quantiles.

``summary(lm(...))`` prints R-squared, adjusted R-squared and the F statistic of the
model against the intercept-only model; ``summary(lmer(...))`` and ``summary(lm(...))``
print five quantiles of the residuals. These are defined here as R defines them, so a
case can compare them:

* R-squared ``= mss / (mss + rss)`` with ``mss`` the (weighted) sum of squares of the
  fitted values about their (weighted) mean, or about 0 for a model without intercept;
  adjusted ``= 1 - (1 - R^2) (n - i) / (n - p)``, ``i`` = 1 with an intercept, else 0;
* F ``= (mss / (p - i)) / (rss / (n - p))`` on ``p - i`` and ``n - p`` df;
* residual quantiles: Min, 1Q, Median, 3Q, Max by R's default quantile (type 7). lm
  prints the residuals themselves (``sqrt(w) * (y - fitted)`` with weights); lmer prints
  "Scaled residuals", the Pearson residuals divided by sigma.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ..design import Design
from ..errors import NotImplementedOption
from ..results import FitResult

#: the five printed quantiles, as a case names them
QUANTILES = {"min": 0.0, "q1": 0.25, "median": 0.5, "q3": 0.75, "max": 1.0}


def _linear_model(fit: FitResult, design: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    if design.reterms:
        raise NotImplementedOption(
            "R-squared and the overall F test are lm's summaries; this model has random effects",
            hint="compare them in a fixed_only case",
        )
    if fit.fitted is None or fit.residuals is None:
        raise NotImplementedOption(f"engine {fit.engine!r} does not return fitted values and residuals")
    w = np.ones(design.n) if design.weights is None else np.asarray(design.weights, dtype=float)
    intercept = "(Intercept)" in design.fixed_names
    return np.asarray(fit.fitted, dtype=float), np.asarray(fit.residuals, dtype=float), w, intercept


def _sums(fit: FitResult, design: Design) -> tuple[float, float, int, int]:
    f, r, w, intercept = _linear_model(fit, design)
    centre = float(np.sum(w * f) / np.sum(w)) if intercept else 0.0
    mss = float(np.sum(w * (f - centre) ** 2))
    rss = float(np.sum(w * r**2))
    return mss, rss, int(design.n), int(intercept)


def r_squared(fit: FitResult, design: Design) -> tuple[float, float]:
    """(R-squared, adjusted R-squared) of a linear model, as ``summary.lm`` prints them."""
    mss, rss, n, i = _sums(fit, design)
    p = int(design.p)
    r2 = mss / (mss + rss)
    return r2, 1.0 - (1.0 - r2) * (n - i) / (n - p)


def overall_f(fit: FitResult, design: Design) -> dict[str, float]:
    """``summary.lm``'s F statistic against the intercept-only model: statistic, df, ddf, p."""
    mss, rss, n, i = _sums(fit, design)
    p = int(design.p)
    if p - i < 1:
        raise NotImplementedOption("the overall F test needs a predictor besides the intercept")
    num, den = p - i, n - p
    f = (mss / num) / (rss / den)
    return {"statistic": f, "df": float(num), "ddf": float(den), "p": float(stats.f.sf(f, num, den))}


def residual_quantiles(fit: FitResult, design: Design, *, scaled: bool) -> dict[str, float]:
    """Min, 1Q, Median, 3Q, Max of the residuals (``scaled``: lmer's Pearson residuals / sigma)."""
    if fit.residuals is None:
        raise NotImplementedOption(f"engine {fit.engine!r} does not return residuals")
    r = np.asarray(fit.residuals, dtype=float)
    if design.weights is not None:
        r = r * np.sqrt(np.asarray(design.weights, dtype=float))
    if scaled:
        r = r / math.sqrt(float(fit.sigma2))
    return {k: float(np.quantile(r, q)) for k, q in QUANTILES.items()}


__all__ = ["QUANTILES", "overall_f", "r_squared", "residual_quantiles"]
