"""Satterthwaite denominator df, as lmerTest computes them.

lmerTest (Kuznetsova, Brockhoff & Christensen 2017, J. Stat. Softw. 82(13))
takes the variance parameters ``varpar = (theta, sigma)``, their asymptotic
covariance ``A = 2 H^-1`` from the Hessian H of the deviance, and the gradient
of ``L' C(varpar) L`` (C the covariance of beta); then
``df = 2 (L' C L)^2 / (g' A g)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design import Design
from ..results import FitResult
from .marginal import MarginalModel, hessian, richardson_derivative


def varpar_of(fit: FitResult) -> np.ndarray:
    if fit.theta is None:
        raise ValueError("this fit has no theta; Satterthwaite df need the native engine's fit")
    return np.concatenate([np.asarray(fit.theta, dtype=float), [np.sqrt(fit.sigma2)]])


def satterthwaite_parts(fit: FitResult, design: Design) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Covariance of beta, covariance of varpar, and d vcov(beta) / d varpar_j."""
    mm = MarginalModel(design)
    vp = varpar_of(fit)
    reml = fit.method == "REML"
    H = hessian(lambda v: mm.deviance(v, reml), vp)
    A = 2.0 * np.linalg.pinv(H)
    C = mm.vcov_beta(vp)
    jac = [richardson_derivative(mm.vcov_beta, vp, j) for j in range(len(vp))]
    return C, A, jac


def satterthwaite_df(fit: FitResult, design: Design) -> pd.Series:
    """Satterthwaite df for each fixed-effect coefficient (lmerTest's summary)."""
    C, A, jac = satterthwaite_parts(fit, design)
    out = []
    for i in range(C.shape[0]):
        g = np.array([J[i, i] for J in jac])
        denom = float(g @ A @ g)
        out.append(2.0 * C[i, i] ** 2 / denom if denom > 0 else np.nan)
    return pd.Series(out, index=list(fit.fixed.index))
