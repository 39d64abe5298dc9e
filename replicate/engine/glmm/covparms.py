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

from ..theta import ThetaLayout
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


def entries(layout: ThetaLayout) -> tuple[tuple[int, int, int], ...]:
    """``(term, row, col)`` of each covariance parameter: term by term, each term's lower triangle column by
    column (lme4's order of theta; GLIMMIX lists UN(i,j) row by row, the same order for two columns, and a
    block names each by its columns, so the order is never relied on)."""
    return tuple((t, int(i), int(j)) for t in range(len(layout.sizes)) for i, j in zip(layout.rows[t], layout.cols[t]))


def covparms(fit: GlmmFit) -> tuple[CovParm, ...]:
    """The fit's covariance parameters (see :func:`entries`), with their grouping factors."""
    return tuple(CovParm(fit.varcomps[t].group, t, i, j) for t, i, j in entries(_layout(fit)))


def _layout(fit: GlmmFit) -> ThetaLayout:
    return fit.deviance_function.random.layout


def _values(layout: ThetaLayout, theta: Matrix) -> Matrix:
    covs = [lam @ lam.T for lam in layout.factors(np.asarray(theta, dtype=float))]
    return np.array([covs[t][i, j] for t, i, j in entries(layout)], dtype=float)


def jacobian(layout: ThetaLayout, theta: Matrix) -> Matrix:
    """``d (covariance parameters) / d theta`` at ``theta`` (exact: the map is quadratic)."""
    theta = np.asarray(theta, dtype=float)
    jac = np.empty((layout.size, theta.size))
    for i in range(theta.size):
        step = np.zeros(theta.size)
        step[i] = STEP
        jac[:, i] = (_values(layout, theta + step) - _values(layout, theta - step)) / (2 * STEP)
    return jac


def carried(layout: ThetaLayout, theta: Matrix, cov_theta: Matrix) -> Matrix:
    """The covariance of the covariance parameters from that of theta at an optimum: ``J C J'``."""
    jac = jacobian(layout, theta)
    out: Matrix = jac @ (0.5 * (cov_theta + cov_theta.T)) @ jac.T
    return out


def covparm_vcov(fit: GlmmFit, cov: Matrix | None = None) -> Matrix:
    """The asymptotic covariance of :func:`covparms` (GLIMMIX's ASYCOV after METHOD=LAPLACE or QUAD) from
    ``cov``, the covariance of ``(theta, beta)`` (default ``2 H^-1``; GLIMMIX's EMPIRICAL gives its sandwich);
    NaN for a fit on the boundary (a diagonal element of theta at 0, where the gradient need not vanish and SAS
    prints no SE) or where the Hessian cannot be inverted."""
    theta = np.asarray(fit.theta, dtype=float)
    nt = theta.size
    if np.any(theta[_layout(fit).is_diagonal()] <= 0):
        return np.full((nt, nt), np.nan)
    try:
        inv = 2.0 * np.linalg.inv(np.asarray(fit.optimum.hessian, dtype=float)) if cov is None else cov
    except np.linalg.LinAlgError:
        return np.full((nt, nt), np.nan)
    return carried(_layout(fit), theta, inv[:nt, :nt])


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
