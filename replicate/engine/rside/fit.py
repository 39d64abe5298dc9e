"""Fit a residual structure by REML or ML: optimize the profiled criterion, then build the result.

The steps follow the engine's shape (check -> cross-products -> optimize -> result):
:func:`.blocks.make_blocks` reduces the data to visit patterns, :func:`optimize_structure`
minimizes the profiled -2 log-likelihood over the structure's unconstrained parameters with
L-BFGS-B and an analytic gradient, and :func:`fit_blocks` assembles an :class:`.RsideFit`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ...errors import FitError
from ...rside_names import SAS_TYPE
from .blocks import Blocks
from .criterion import profiled
from .information import covparm_covariance, natural_gradient
from .parameters import GroupedParameters
from .result import CovParm, RsideFit, correlation, covparm_ses
from .structures import Structure

BIG = 1e30
RESTARTS = 3
GRADIENT_TOL = 1e-3


@dataclass(frozen=True)
class Optimum:
    """The optimizer's record: parameters, value, convergence and counts."""

    theta: np.ndarray
    value: float
    converged: bool
    iterations: int
    evaluations: int
    message: str


def residual_covariance(blocks: Blocks) -> np.ndarray:
    """k x k covariance of OLS residuals by visit, from the available pairs (for starting values)."""
    k, p = blocks.k, blocks.p
    A = sum(np.einsum("aaij->ij", pat.S) for pat in blocks.patterns)
    try:
        beta = np.linalg.solve(A[:p, :p], A[:p, p])
    except np.linalg.LinAlgError:
        return np.eye(k)
    u = np.concatenate([-beta, [1.0]])
    cov = np.zeros((k, k))
    cnt = np.zeros((k, k))
    for pat in blocks.patterns:
        ix = np.ix_(pat.visits, pat.visits)
        cov[ix] += np.einsum("abij,i,j->ab", pat.S, u, u)
        cnt[ix] += pat.count
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = np.where(cnt > 1, cov / np.maximum(cnt - 1, 1), 0.0)
    d = np.diag(cov).copy()
    d[~(d > 0)] = max(float(np.nanmean(d[d > 0])) if np.any(d > 0) else 1.0, 1e-12)
    np.fill_diagonal(cov, d)
    return cov


def optimize_structure(blocks: Blocks, params: GroupedParameters, reml: bool) -> Optimum:
    """Minimize the profiled -2 log-likelihood over ``params``, from OLS-residual starting values.

    L-BFGS-B may stop early on a flat ridge (a correlation near +/-1, a variance near 0): it is
    restarted from where it stopped, up to :data:`RESTARTS` times, while that still lowers the criterion.
    """

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        ev = profiled(blocks, params.blocks(theta), reml, gradient=True)
        if not np.isfinite(ev.value) or ev.grads is None:
            return BIG, np.zeros_like(theta)
        return ev.value, params.gradient(theta, ev.grads)

    x0 = params.start_from(residual_covariance(blocks))
    if not fun(x0)[0] < BIG:
        x0 = params.start()
    if params.size == 0:
        value = fun(x0)[0]
        return Optimum(x0, value, bool(value < BIG), 0, 1, "no parameters to optimize")
    nit = nfev = 0
    best = None
    for _ in range(1 + RESTARTS):
        res = optimize.minimize(
            fun,
            x0 if best is None else best.x,
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 10000, "maxfun": 20000, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 30},
        )
        nit, nfev = nit + int(res.nit), nfev + int(res.nfev)
        improved = best is None or res.fun < best.fun - 1e-10 * (1 + abs(best.fun))
        if best is None or res.fun < best.fun:
            best = res
        if not improved or np.max(np.abs(res.jac)) < 1e-6:
            break
    assert best is not None
    return Optimum(best.x, float(best.fun), bool(best.fun < BIG), nit, nfev, str(best.message))


def _boundary(structure: Structure, nat: np.ndarray, R: np.ndarray, label: str) -> list[str]:
    notes = []
    var_pos = set(structure.variance_labels())
    top = max(float(np.max(np.diag(R))), 1e-300)
    for i, lab in enumerate(structure.labels()):
        if i in var_pos and nat[i] < 1e-8 * top:
            notes.append(f"{lab}{label} = {nat[i]:.3g} is at the boundary (variance near 0)")
        if i in structure.correlation_labels() and abs(nat[i]) > 1 - 1e-6:
            notes.append(f"{lab}{label} = {nat[i]:.8f} is at the boundary (correlation near +/-1)")
    corr = correlation(R)
    off = corr[~np.eye(len(corr), dtype=bool)]
    if off.size and np.max(np.abs(off)) > 1 - 1e-6:
        notes.append(f"the estimated R{label} has a correlation within 1e-6 of +/-1: it is nearly singular")
    return notes


def fit_blocks(
    blocks: Blocks,
    structure: Structure,
    method: str,
    fixed_names: tuple[str, ...],
    visit_levels: tuple[str, ...],
    group_levels: tuple[str, ...] | None,
    messages: tuple[str, ...] = (),
) -> RsideFit:
    """Fit ``structure`` to ``blocks`` by ``method`` (REML or ML) and build the result."""
    reml = method == "REML"
    params = GroupedParameters(structure, blocks.n_groups)
    opt = optimize_structure(blocks, params, reml)
    ev = profiled(blocks, params.blocks(opt.theta), reml)
    notes = list(messages)
    if not np.isfinite(ev.value) or ev.value >= BIG:
        raise FitError(
            "the criterion is not finite at the optimizer's end point",
            hint="check the data: a subject block or X'V^-1X is singular",
        )
    nat_groups = params.natural(opt.theta, ev.scale)
    nat = np.concatenate(nat_groups)
    grad = natural_gradient(blocks, structure, nat, reml)
    scale_grad = float(np.max(np.abs(grad * np.where(nat == 0, 1.0, nat))))
    converged = opt.converged and np.isfinite(scale_grad) and scale_grad < GRADIENT_TOL
    if not converged:
        notes.append(f"optimizer did not converge ({opt.message}; largest |gradient x parameter| {scale_grad:.2g})")
    cov = covparm_covariance(blocks, structure, nat, reml)
    se, missing = covparm_ses(cov, len(nat))
    if missing:
        notes.append(missing)
    labels = structure.labels()
    var_pos = set(structure.variance_labels())
    covparms = []
    Rs, Rc = [], []
    for g, nat_g in enumerate(nat_groups):
        glabel = group_levels[g] if group_levels else None
        R = structure.from_natural(nat_g)
        Rs.append(R)
        Rc.append(correlation(R))
        notes += _boundary(structure, nat_g, R, f" (group {glabel})" if glabel else "")
        for i, lab in enumerate(labels):
            j = g * len(labels) + i
            covparms.append(CovParm.of(lab, glabel, nat[j], se[j], variance=i in var_pos))
    one = sum(p.count for p in blocks.patterns if len(p.visits) == 1)
    if one:
        notes.append(f"{one} subject(s) with one visit contribute to the variances only")
    vcov = ev.scale * np.linalg.inv(ev.xtvx)
    return RsideFit(
        structure=structure.name,
        sas_type=SAS_TYPE[structure.name],
        method=method,
        converged=bool(converged),
        iterations=opt.iterations,
        evaluations=opt.evaluations,
        loglik=-ev.value / 2,
        minus2loglik=ev.value,
        fixed_names=fixed_names,
        beta=ev.beta,
        vcov_beta=vcov,
        se_beta=np.sqrt(np.diag(vcov)),
        covparms=tuple(covparms),
        covparm_vcov=cov,
        R=tuple(Rs),
        R_corr=tuple(Rc),
        visit_levels=visit_levels,
        group_levels=group_levels,
        n=blocks.n,
        n_subjects=blocks.n_subjects,
        n_patterns=len(blocks.patterns),
        theta=opt.theta,
        scale=ev.scale,
        messages=tuple(notes),
        blocks=blocks,
        covariance=structure,
    )
