"""SAS GLIMMIX's covariance parameters of a maximum-likelihood GLMM fit (METHOD=LAPLACE or QUAD) and their
asymptotic covariance.

GLIMMIX parameterizes each random term by the entries of its covariance matrix (a variance per column and,
for an unstructured term, the covariances ``UN(i,j)``), not by lme4's relative factor ``theta``. Its standard
errors of these parameters come from the inverse of the Hessian of the objective in the fixed effects and
the covariance parameters together: the partition ``C(theta, theta)`` of ``H^-1``. The engine's Hessian is
that of the deviance (``-2 log L``) in lme4's ``(theta, beta)``; at the optimum (zero gradient) a change of
parameters ``v = f(theta)`` carries its inverse by the Jacobian: ``Cov(v) = J (2 H^-1)_thetatheta J'``. ``f``
is quadratic in ``theta`` (``Lambda Lambda'``), so its central differences are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pirls import Matrix
from .result import GlmmFit

STEP = 1e-4  # any step is exact for a quadratic map; this one keeps rounding small


@dataclass(frozen=True)
class CovParm:
    """One covariance parameter: the entry ``(row, col)`` (``row >= col``) of term ``term``'s covariance."""

    group: str
    term: int
    row: int
    col: int


def covparms(fit: GlmmFit) -> tuple[CovParm, ...]:
    """The fit's covariance parameters, term by term, each term's lower triangle column by column (lme4's
    order of theta, which is GLIMMIX's order of UN(1,1), UN(2,1), UN(2,2))."""
    out: list[CovParm] = []
    for t, vc in enumerate(fit.varcomps):
        k = len(vc.names)
        out.extend(CovParm(vc.group, t, i, j) for j in range(k) for i in range(j, k))
    return tuple(out)


def _values(fit: GlmmFit, theta: Matrix) -> Matrix:
    factors = fit.deviance_function.random.layout.factors(np.asarray(theta, dtype=float))
    covs = [lam @ lam.T for lam in factors]
    return np.array([covs[c.term][c.row, c.col] for c in covparms(fit)], dtype=float)


def covparm_vcov(fit: GlmmFit, cov: Matrix | None = None) -> Matrix:
    """The asymptotic covariance of :func:`covparms` (GLIMMIX's ASYCOV after METHOD=LAPLACE or QUAD) from
    ``cov``, the covariance of ``(theta, beta)`` (default ``2 H^-1``; GLIMMIX's EMPIRICAL gives its sandwich);
    NaN where the Hessian cannot be inverted (a fit on the boundary)."""
    theta = np.asarray(fit.theta, dtype=float)
    nt = theta.size
    jac = np.empty((len(covparms(fit)), nt))
    for i in range(nt):
        step = np.zeros(nt)
        step[i] = STEP
        jac[:, i] = (_values(fit, theta + step) - _values(fit, theta - step)) / (2 * STEP)
    try:
        inv = 2.0 * np.linalg.inv(np.asarray(fit.optimum.hessian, dtype=float)) if cov is None else cov
    except np.linalg.LinAlgError:
        return np.full((jac.shape[0], jac.shape[0]), np.nan)
    c_tt = inv[:nt, :nt]
    out: Matrix = jac @ (0.5 * (c_tt + c_tt.T)) @ jac.T
    return out


def covparm_se(fit: GlmmFit, group: str, row_name: str, col_name: str, cov: Matrix | None = None) -> float:
    """The SE of the covariance (variance when the names agree) of two columns of ``group``'s term (``cov``: as
    :func:`covparm_vcov`)."""
    vcov = covparm_vcov(fit, cov)
    for i, c in enumerate(covparms(fit)):
        names = fit.varcomps[c.term].names
        if c.group == group and {names[c.row], names[c.col]} == {row_name, col_name}:
            v = float(vcov[i, i])
            return float(np.sqrt(v)) if v >= 0 else float("nan")
    raise KeyError((group, row_name, col_name))
