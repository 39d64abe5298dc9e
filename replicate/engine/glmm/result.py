"""The result of a GLMM fit (frozen), with the quantities glmer's ``summary`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .deviance import GlmmDeviance
from .families import Vector
from .optimize import GlmmOptimum
from .pirls import Matrix


@dataclass(frozen=True)
class VarComp:
    """One random-effect term's covariance (lme4's ``VarCorr``; no residual variance in a GLMM).

    Attributes:
        group: the grouping factor as lme4 prints it.
        names: the term's columns (``(Intercept)``, ``x``).
        cov: the covariance matrix ``lambda lambda'``.
    """

    group: str
    names: tuple[str, ...]
    cov: Matrix

    @property
    def sd(self) -> Vector:
        out: Vector = np.sqrt(np.diag(self.cov))
        return out

    @property
    def corr(self) -> Matrix:
        sd = self.sd
        with np.errstate(invalid="ignore", divide="ignore"):
            out: Matrix = self.cov / np.outer(sd, sd)
        return out


@dataclass(frozen=True)
class GlmmFit:
    """A generalized linear mixed model fitted by the Laplace approximation or adaptive quadrature.

    Attributes:
        family, link: the response distribution and link.
        method: ``Laplace`` or ``AGQ``; nagq: quadrature nodes (1 for Laplace).
        formula: the model as rebuilt from its parsed form (the response as the successes column).
        fixed_names, beta: fixed effects.
        vcov, se, z, p_value: their covariance (``vcov_source`` says from what), SEs and Wald z tests as glmer's
            ``summary`` prints them.
        vcov_source: ``hessian`` (2 H^-1 of the deviance in (theta, beta), glmer's default) or ``RX`` (the
            PIRLS system at the mode, glmer's fallback when the Hessian is not positive definite).
        vcov_rx: the RX covariance in either case (the fixed effects' covariance given theta; see
            :func:`.summary.with_rx_vcov`).
        theta: lme4's relative covariance factor elements; varcomps: per term, ``lambda lambda'``.
        objective: the minimized deviance as lme4's devfun defines it; ``-2 * logLik`` as glmer prints it. For
            nagq > 1 lme4 leaves out the saturated model's log-likelihood, so the value is not comparable
            with the Laplace one; ``minus2loglik`` is the full -2 log-likelihood in both cases.
        loglik, aic, bic: glmer's ``logLik`` (``-objective / 2``), AIC and BIC; npar = len(theta) + len(beta).
        nobs, ngroups: observations used, levels per grouping factor.
        ranef: conditional modes ``b`` per term (levels x columns); condvar: their conditional variances per term,
            arrays (nlevels, k, k) (lme4's ``condVar``).
        converged, singular: lme4's checks (optimizer success and the scaled gradient below 0.002; a diagonal
            element of theta below 1e-4).
        messages: notes (dropped rows, convergence, singularity).
        optimum: the optimizer's record.
        deviance_function: the deviance in ``(theta, beta)`` (evaluate it at another program's parameters).
        information: the Laplace determinant's weights, ``expected`` (lme4) or ``observed`` (glmmTMB, GLIMMIX).
        nb_theta: the negative binomial's size (glmer.nb's ``theta``), None for other families.
    """

    family: str
    link: str
    method: str
    nagq: int
    formula: str
    fixed_names: tuple[str, ...]
    beta: Vector
    vcov: Matrix
    se: Vector
    z: Vector
    p_value: Vector
    vcov_source: str
    vcov_rx: Matrix
    theta: Vector
    varcomps: tuple[VarComp, ...]
    objective: float
    minus2loglik: float
    loglik: float
    aic: float
    bic: float
    npar: int
    nobs: int
    ngroups: dict[str, int]
    ranef: tuple[pd.DataFrame, ...]
    condvar: tuple[np.ndarray, ...]
    converged: bool
    singular: bool
    messages: tuple[str, ...]
    optimum: GlmmOptimum = field(repr=False)
    deviance_function: GlmmDeviance = field(repr=False, compare=False)
    information: str = "expected"
    nb_theta: float | None = None

    def coef_table(self) -> pd.DataFrame:
        """glmer's fixed-effects table: Estimate, Std. Error, z value, Pr(>|z|)."""
        return pd.DataFrame(
            {"Estimate": self.beta, "Std. Error": self.se, "z value": self.z, "Pr(>|z|)": self.p_value},
            index=list(self.fixed_names),
        )

    def varcorr(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(VarCorr(fit))``: grp, var1, var2, vcov, sdcor."""
        rows: list[tuple[str, str, str | None, float, float]] = []
        for vc in self.varcomps:
            sd, corr = vc.sd, vc.corr
            for i, name in enumerate(vc.names):
                rows.append((vc.group, name, None, float(vc.cov[i, i]), float(sd[i])))
            for j in range(len(vc.names)):
                for i in range(j + 1, len(vc.names)):
                    rows.append((vc.group, vc.names[i], vc.names[j], float(vc.cov[i, j]), float(corr[i, j])))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])
