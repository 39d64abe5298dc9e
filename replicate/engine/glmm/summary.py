"""From the optimum to the result (lme4's ``mkMerMod`` for a GLMM): SEs, variance components, modes, checks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.stats import norm

from ...design import Design
from .derivatives import scaled_gradient
from .deviance import GlmmDeviance
from .families import Vector
from .optimize import GlmmOptimum
from .pirls import Matrix, Mode
from .result import GlmmFit, VarComp

SINGULAR_TOL = 1e-4  # lme4's isSingular
GRAD_TOL = 2e-3  # lme4's check.conv.grad


def vcov_from_hessian(hess: Matrix, ntheta: int) -> Matrix | None:
    """glmer's default ``vcov``: the beta block of ``2 H^-1`` (H the Hessian in (theta, beta)), None unless
    positive definite."""
    try:
        inv = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return None
    block = np.asarray(inv[ntheta:, ntheta:], dtype=float)
    v: Matrix = block + block.T
    if not np.all(np.isfinite(v)) or np.min(np.linalg.eigvalsh(v)) <= 0:
        return None
    return v


def vcov_from_rx(dev: GlmmDeviance, theta: Vector, mode: Mode) -> Matrix:
    """``(R_X' R_X)^-1`` at the mode (lme4's ``unsc()``): the Schur complement of the PIRLS system in beta."""
    A, X, w = dev.random.z_lambda(theta), dev.X, mode.weights
    awx = A.T @ (w[:, None] * X)
    solved = np.linalg.solve(mode.chol, awx)
    out: Matrix = np.asarray(np.linalg.inv(X.T @ (w[:, None] * X) - solved.T @ solved), dtype=float)
    return out


def with_rx_vcov(fit: GlmmFit, params: Vector | None = None) -> GlmmFit:
    """``fit`` with glmer's fallback covariance from RX (what glmer prints when its finite-difference Hessian is
    not positive definite): at the fit's optimum, or at ``params`` (``(theta, beta)``, lme4's order: where
    another program stopped, since lme4 takes RX at its own final parameters), with the SEs, z and p from it."""
    if params is None:
        beta, vcov = fit.beta, fit.vcov_rx
    else:
        dev = fit.deviance_function
        theta, beta = dev.split(np.asarray(params, dtype=float))
        vcov = vcov_from_rx(dev, theta, dev.mode(theta, beta))
    se = np.sqrt(np.diag(vcov))
    z = beta / se
    return replace(fit, beta=beta, vcov=vcov, se=se, z=z, p_value=2 * norm.sf(np.abs(z)), vcov_source="RX")


def convergence(opt: GlmmOptimum, dev: GlmmDeviance) -> tuple[bool, list[str]]:
    """The optimizer's flag and lme4's scaled-gradient check."""
    notes: list[str] = []
    converged = opt.converged
    if not converged:
        notes.append(f"the optimizer did not report convergence: {opt.message}")
    g = np.where((opt.params <= dev.lower_bounds()) & (opt.gradient > 0), 0.0, opt.gradient)
    sg = scaled_gradient(g, opt.hessian)
    worst = np.abs(g) if sg is None else np.minimum(np.abs(sg), np.abs(g))
    if worst.size and float(np.max(worst)) > GRAD_TOL:
        converged = False
        notes.append(f"Model failed to converge with max|grad| = {float(np.max(worst)):.6g} (tol = {GRAD_TOL})")
    return converged, notes


def make_result(
    design: Design,
    dev: GlmmDeviance,
    opt: GlmmOptimum,
    messages: list[str],
) -> GlmmFit:
    """The :class:`GlmmFit` at the optimum."""
    theta, beta = dev.split(opt.params)
    mode = dev.mode(theta, beta)
    ntheta, names = dev.ntheta, list(design.fixed_names)
    vcov_rx = vcov_from_rx(dev, theta, mode)
    vcov = vcov_from_hessian(opt.hessian, ntheta)
    source = "hessian"
    if vcov is None:
        vcov, source = vcov_rx, "RX"
        messages.append(
            "variance-covariance matrix computed from finite-difference Hessian is not positive definite or "
            "contains NA values: falling back to var-cov estimated from RX"
        )
    se = np.sqrt(np.diag(vcov))
    converged, notes = convergence(opt, dev)
    singular = bool(np.any(theta[dev.random.layout.is_diagonal()] < SINGULAR_TOL))
    if singular:
        notes.append("boundary (singular) fit: see help('isSingular')")
    lams = dev.random.layout.factors(theta)
    varcomps = tuple(VarComp(t.group, tuple(t.columns), lam @ lam.T) for t, lam in zip(design.reterms, lams))
    cov_u: Matrix = np.asarray(np.linalg.inv(mode.chol @ mode.chol.T), dtype=float)
    b = dev.random.b_blocks(theta, mode.u)
    ranef = tuple(pd.DataFrame(bt, index=list(t.levels), columns=list(t.columns)) for t, bt in zip(design.reterms, b))
    resp = dev.resp
    full = dev(opt.params)
    saturated = float(
        np.sum(resp.family.minus2_loglik(resp.y, resp.n, _saturated_mean(resp.y, resp.family.name), resp.wt))
    )
    objective = full if dev.nagq == 1 else full - saturated
    npar, n = ntheta + dev.p, design.n
    z = beta / se
    return GlmmFit(
        family=resp.family.name,
        link=resp.family.link.name,
        method="Laplace" if dev.nagq == 1 else "AGQ",
        nagq=dev.nagq,
        formula=design.formula,
        fixed_names=tuple(names),
        beta=beta,
        vcov=vcov,
        se=se,
        z=z,
        p_value=2 * norm.sf(np.abs(z)),
        vcov_source=source,
        vcov_rx=vcov_rx,
        theta=theta,
        varcomps=varcomps,
        objective=objective,
        minus2loglik=full,
        loglik=-objective / 2,
        aic=objective + 2 * npar,
        bic=objective + np.log(n) * npar,
        npar=npar,
        nobs=n,
        ngroups=design.ngroups(),
        ranef=ranef,
        condvar=dev.random.b_variances(theta, cov_u),
        converged=converged,
        singular=singular,
        messages=tuple(dict.fromkeys(messages + notes)),
        optimum=opt,
        deviance_function=dev,
        information=dev.information,
    )


def _saturated_mean(y: Vector, family: str) -> Vector:
    """The saturated model's mean (``mu = y``), kept inside the range where the log-likelihood is finite."""
    out: Vector = np.clip(y, 1e-300, 1.0) if family == "binomial" else np.maximum(y, 1e-300)
    return out
