"""Penalized quasi-likelihood as ``MASS::glmmPQL`` computes it (Breslow and Clayton 1993).

glmmPQL's steps, kept exactly (its stopping rule is loose, so the path decides the last digits):

1. ``glm`` on the fixed effects alone (IRLS from R's ``mustart``, stopping when the deviance changes by
   less than 1e-8 relative); the working response ``z = eta + (y - mu) / mu_eta - offset`` and working
   weights ``w mu_eta^2 / V(mu)`` (those of glm's last iteration, as ``glm.fit`` returns them).
2. Up to ``niter`` (10) times: a linear mixed model of ``z`` by ML with residual variance
   ``sigma^2 / weight`` (nlme's ``varFixed(~ invwt)``), fitted here by the linear engine; the new linear
   predictor is the fit's fitted values plus the offset; stop when
   ``sum((eta - eta_old)^2) < 1e-6 sum(eta^2)``, else update ``z`` and the weights and refit.

The dispersion ``sigma^2`` is estimated, not fixed at 1, as glmmPQL does; its "log-likelihood" is that of the
last working linear model, not a likelihood of the data (glmmPQL strips it of its class for that reason).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ...design import Design
from ...errors import FitError
from ...results import FitResult
from ..fit import fit_design
from ..theta import ThetaLayout
from ..unit_scale import fit_unit_scale, unit_scale_objective
from .covparms import carried, entries
from .derivatives import hessian
from .families import Vector
from .pirls import Matrix
from .response import GlmmResponse

GLM_TOL = 1e-8  # glm.control()$epsilon
GLM_MAXIT = 25


@dataclass(frozen=True)
class PqlFit:
    """A GLMM fitted by PQL.

    Attributes:
        family, link: the response distribution and link.
        fixed_names, beta, vcov, se: fixed effects and their covariance from the last working LMM (nlme's
            ``vcov`` of the lme fit glmmPQL returns).
        varcorr: the last working LMM's variance components (lme4's layout; ``Residual`` is the dispersion).
        sigma: the dispersion's square root (nlme's ``sigma``).
        iterations: working LMM fits; converged: glmmPQL's criterion met within ``niter``.
        working_loglik: the last working LMM's ML log-likelihood (not a likelihood of the data).
        ranef: the last working LMM's conditional modes per grouping factor.
        lmm: the last working linear mixed model fit; working: its design (the working response and weights).
        messages: notes.
        gen_chisq: with the residual variance known to be 1 (GLIMMIX's pseudo-likelihood), the last working model's
            ``r' V^-1 r``, GLIMMIX's Generalized Chi-Square (the penalized weighted residual sum of squares).
        covparm_se: with the residual variance known to be 1, each term's variances' and covariances' SEs from the
            observed information of the last working model's (restricted) likelihood, ``2 H^-1`` carried to the
            covariances (GLIMMIX's Standard Error of its Covariance Parameter Estimates), by (grouping factor,
            column, column); None otherwise.
    """

    family: str
    link: str
    fixed_names: tuple[str, ...]
    beta: Vector
    vcov: Matrix
    se: Vector
    varcorr: pd.DataFrame
    sigma: float
    iterations: int
    converged: bool
    working_loglik: float
    ranef: dict[str, pd.DataFrame]
    lmm: FitResult
    working: Design
    messages: tuple[str, ...] = ()
    gen_chisq: float | None = None
    covparm_se: dict[tuple[str, str, str], float] | None = None


def glm_start(resp: GlmmResponse, X: Matrix) -> tuple[Vector, Vector, Vector]:
    """R's ``glm.fit`` on the fixed effects: the final linear predictor, working residuals and working weights."""
    fam = resp.family
    mu = fam.start_mean(resp.y, resp.wt)
    eta = fam.link.link(mu)
    dev_old = float(np.sum(fam.dev_resids(resp.y, mu, resp.wt)))
    w = resp.wt
    for _ in range(GLM_MAXIT):
        me = fam.link.mu_eta(eta)
        w = resp.wt * me**2 / fam.variance(mu)
        z = eta - resp.offset + (resp.y - mu) / me
        beta = np.linalg.lstsq(X * np.sqrt(w)[:, None], z * np.sqrt(w), rcond=None)[0]
        eta = X @ beta + resp.offset
        mu = fam.link.inverse(eta)
        dev = float(np.sum(fam.dev_resids(resp.y, mu, resp.wt)))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < GLM_TOL:
            break
        dev_old = dev
    else:
        raise FitError("the glm of the fixed effects (glmmPQL's start) did not converge in 25 iterations")
    residuals: Vector = (resp.y - mu) / fam.link.mu_eta(eta)
    return eta, residuals, w


def fit_pql(
    design: Design,
    resp: GlmmResponse,
    niter: int = 10,
    *,
    unit_scale: bool = False,
    method: str = "ML",
    tol: float = 1e-6,
    marginal: bool = False,
) -> PqlFit:
    """PQL as glmmPQL (see the module's docstring) on ``design``'s matrices and ``resp``.

    ``unit_scale``: the working model's residual variance fixed at 1 (glmmPQL with
    ``control = lmeControl(sigma = 1)``; :mod:`replicate.engine.unit_scale`) instead of estimated; ``method``: the
    working model's ``ML`` (glmmPQL's) or ``REML``; ``tol``: the stopping rule's relative change of the linear
    predictor (glmmPQL's 1e-6 on the sum of squares); ``marginal``: linearize about the marginal linear predictor
    ``X beta + offset`` (the random effects at their mean 0: GLIMMIX's RMPL and MMPL, Breslow and Clayton's MQL)
    instead of the conditional one with the predicted random effects (PQL, RSPL, MSPL).
    """
    fam, X = resp.family, np.asarray(design.X, dtype=float)
    eta, residuals, wz = glm_start(resp, X)
    zz = eta + residuals - resp.offset
    fit: FitResult | None = None
    converged, it = False, 0
    for it in range(1, niter + 1):
        working = replace(design, y=zz, weights=wz, offset=None)
        fit = fit_unit_scale(working, method) if unit_scale else fit_design(working, method)
        eta_old = eta
        if marginal:  # the expansion point: the random effects at their mean
            eta = X @ np.asarray(fit.fixed, dtype=float) + resp.offset
        else:
            eta = np.asarray(fit.fitted, dtype=float) + resp.offset
        if np.sum((eta - eta_old) ** 2) < tol * np.sum(eta**2):
            converged = True
            break
        mu = fam.link.inverse(eta)
        me = fam.link.mu_eta(eta)
        zz = eta + (resp.y - mu) / me - resp.offset
        wz = resp.wt * me**2 / fam.variance(mu)
    assert fit is not None
    gen_chisq, covparm_se = None, None
    if unit_scale and fit.theta is not None:  # r' V^-1 r of the last working model (its scale is 1)
        theta = np.asarray(fit.theta, dtype=float)
        objective, dev = unit_scale_objective(working, method)
        gen_chisq = float(dev.factorize(theta).pwrss)
        covparm_se = variance_ses(working, objective, theta)
    messages = list(fit.messages)
    if not converged:
        messages.append(f"the linearization's criterion was not met in {niter} iterations (the last fit is returned)")
    names = list(fit.fixed.index)
    vcov = np.asarray(fit.vcov.loc[names, names], dtype=float)
    return PqlFit(
        family=fam.name,
        link=fam.link.name,
        fixed_names=tuple(names),
        beta=np.asarray(fit.fixed, dtype=float),
        vcov=vcov,
        se=np.sqrt(np.diag(vcov)),
        varcorr=fit.varcorr,
        sigma=float(np.sqrt(fit.sigma2)),
        iterations=it,
        converged=converged,
        working_loglik=float(fit.loglik),
        ranef=fit.ranef(),
        lmm=fit,
        working=working,
        messages=tuple(dict.fromkeys(messages)),
        gen_chisq=gen_chisq,
        covparm_se=covparm_se,
    )


def variance_ses(
    design: Design, objective: Callable[[np.ndarray], float], theta: np.ndarray
) -> dict[tuple[str, str, str], float] | None:
    """The SE of each random term's variances and covariances (the residual variance being 1), keyed by (group,
    column, column): the observed information ``2 H^-1`` of ``objective`` (the unit-scale ``-2 log L``, REML or
    ML) in theta, central differences, carried to the covariances at the optimum
    (:func:`.covparms.carried`). A fit with a variance at 0 has no SEs (NaN)."""
    layout = ThetaLayout.of(design)
    keys = [
        (design.reterms[t].group, str(design.reterms[t].columns[i]), str(design.reterms[t].columns[j]))
        for t, i, j in entries(layout)
    ]
    theta = np.asarray(theta, dtype=float)
    if np.any(theta[layout.is_diagonal()] <= 0):
        return dict.fromkeys(keys, float("nan"))
    _, H = hessian(objective, theta)
    try:
        cov = carried(layout, theta, np.asarray(2.0 * np.linalg.inv(H), dtype=np.float64))
    except np.linalg.LinAlgError:
        return dict.fromkeys(keys, float("nan"))
    diag = np.diag(cov)
    se = np.sqrt(np.where(diag > 0, diag, np.nan))
    return {key: float(se[i]) for i, key in enumerate(keys)}
