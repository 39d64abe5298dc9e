"""Predictors on very different scales: lme4's advice, and an exact internal rescaling.

lme4 (``checkScaleX``) warns "Some predictor variables are on very different
scales: consider rescaling" when a continuous column of X has a standard
deviation above 1000 or below 1/1000, or two differ by that factor; then its
optimizer may stop away from the optimum. The native engine gives the same
advice and does better: it optimizes the variance parameters on centred and
scaled columns and maps them back exactly.

For ``X = X' T^-1`` (``X'`` the centred and scaled columns; ``T`` upper
triangular with the intercept untouched) the fixed effects are
``beta = T beta'``; for a random-effect column scaled by ``1/d`` the relative
covariance factor is ``Lambda = D^-1 Lambda'``, so the same lower-triangular
form. Only theta is carried back: the final fit is evaluated once at that
theta on the original columns, so every reported number is the one of the
model as given (in exact arithmetic identical to a fit on the original scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..design import Design
from .theta import ThetaLayout

#: lme4's ``check.scaleX`` tolerance (a factor of 1000).
SCALE_TOL = 1e3
ADVICE = "Some predictor variables are on very different scales: consider rescaling"


def _is_binary(col: np.ndarray) -> bool:
    return bool(np.all((col == 0) | (col == 1)))


def _spread(col: np.ndarray) -> tuple[float, float, float]:
    """(largest |value|, mean, sd) computed without overflow for values near the largest double."""
    big = float(np.max(np.abs(col))) if len(col) else 0.0
    if big == 0 or not math.isfinite(big):
        return big, 0.0, 0.0
    u = col / big
    return big, float(np.mean(u)) * big, float(np.std(u, ddof=1)) * big if len(col) > 1 else 0.0


def scale_advice(design: Design) -> str | None:
    """lme4's ``checkScaleX`` on the continuous (not 0/1) columns of X: the advice, or None."""
    X = np.asarray(design.X, dtype=float)
    sds = []
    for j, name in enumerate(design.fixed_names):
        col = X[:, j]
        if _is_binary(col) or not np.all(np.isfinite(col)):
            continue
        sd = _spread(col)[2]
        if sd > 0 and math.isfinite(sd):
            sds.append((name, sd))
    if not sds:
        return None
    logs = [abs(math.log(sd)) for _n, sd in sds]
    ratios = [abs(math.log(a / b)) for i, (_na, a) in enumerate(sds) for _nb, b in sds[i + 1 :]]
    if max(logs + ratios) <= math.log(SCALE_TOL):
        return None
    detail = ", ".join(f"{n} (sd {sd:.3g})" for n, sd in sds)
    return (
        f"{ADVICE} ({detail}); the native engine optimizes on centred and scaled columns and reports the "
        "estimates on the original scale"
    )


@dataclass(frozen=True)
class Rescaled:
    """A design on centred and scaled columns, and the factors that map its theta back.

    Attributes:
        design: the rescaled design (same rows, response and grouping).
        re_scale: per random-effect term, the divisor ``d`` of each of its columns.
    """

    design: Design
    re_scale: tuple[np.ndarray, ...]

    def theta_back(self, theta: np.ndarray, layout: ThetaLayout) -> np.ndarray:
        """theta of the original columns from theta of the scaled ones (``Lambda = D^-1 Lambda'``)."""
        out = np.array(theta, dtype=float)
        for t, d in enumerate(self.re_scale):
            lam = layout.factor(np.asarray(theta, float), t) / d[:, None]
            out[layout.term_slice(t)] = lam[layout.rows[t], layout.cols[t]]
        return out


def rescale(design: Design) -> Rescaled:
    """Centre (when X has an intercept) and scale each non-constant column of X; scale each non-constant
    random-effect column by its root mean square."""
    X = np.array(design.X, dtype=float)
    const = [j for j in range(X.shape[1]) if X.shape[0] and np.all(X[:, j] == X[0, j]) and X[0, j] != 0]
    for j in range(X.shape[1]):
        if j in const:
            continue
        big, mean, sd = _spread(X[:, j])
        if not (big > 0 and math.isfinite(big)):
            continue
        u = X[:, j] / big
        if const:
            u = u - mean / big
        s = sd / big if const and sd > 0 else float(np.sqrt(np.mean(u * u)))
        X[:, j] = u / s if s > 0 else u
    terms, scales = [], []
    for t in design.reterms:
        xre = np.array(t.Xre, dtype=float)
        d = np.ones(t.k)
        for j in range(t.k):
            col = xre[:, j]
            big = float(np.max(np.abs(col))) if len(col) else 0.0
            if big == 0 or not math.isfinite(big) or np.all(col == col[0]):
                continue
            d[j] = big * float(np.sqrt(np.mean((col / big) ** 2)))
            xre[:, j] = (col / big) / (d[j] / big)
        terms.append(replace(t, Xre=xre))
        scales.append(d)
    return Rescaled(replace(design, X=X, reterms=tuple(terms)), tuple(scales))
