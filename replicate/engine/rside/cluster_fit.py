"""Fit a residual structure with a random intercept per cluster (see :mod:`.cluster`) and build the result."""

from __future__ import annotations

import numpy as np

from ...errors import FitError
from ...rside_names import SAS_TYPE
from .cluster import ClusterLayout, central_gradient, evaluate, natural_hessian, optimize_cluster
from .fit import residual_covariance
from .result import CovParm, RsideFit, correlation, covparm_ses
from .structures import Structure

GRADIENT_TOL = 1e-3
START_LOG_RATIO = float(np.log(0.5))


def fit_cluster(
    lay: ClusterLayout,
    structure: Structure,
    method: str,
    fixed_names: tuple[str, ...],
    visit_levels: tuple[str, ...],
    cluster: str,
    messages: tuple[str, ...] = (),
) -> RsideFit:
    """Fit ``structure`` within subjects plus a random intercept per cluster, by ``method`` (REML or ML)."""
    reml = method == "REML"
    m = structure.n_theta
    start = np.r_[structure.start_from(residual_covariance(lay.blocks)), START_LOG_RATIO]
    opt = optimize_cluster(lay, structure, start, reml)
    ev = evaluate(lay, structure.relative(opt.x[:m]), float(np.exp(opt.x[m])), reml, True)
    if not np.isfinite(ev.value):
        raise FitError("the criterion is not finite at the optimizer's end point", field="cluster")
    nat = np.r_[ev.scale * np.exp(opt.x[m]), structure.natural(opt.x[:m], ev.scale)]

    def unprofiled(x: np.ndarray) -> float:
        return evaluate(lay, structure.from_natural(x[1:]), float(x[0]), reml, False).value

    grad = central_gradient(unprofiled, nat, 1e-7)
    scale_grad = float(np.max(np.abs(grad * np.where(nat == 0, 1.0, nat))))
    converged = bool(opt.success or "ABNORMAL" in str(opt.message)) and scale_grad < GRADIENT_TOL
    notes = list(messages)
    if not converged:
        notes.append(f"optimizer did not converge ({opt.message}; largest |gradient x parameter| {scale_grad:.2g})")
    R = structure.from_natural(nat[1:])
    top = max(float(np.max(np.diag(R))), 1e-300)
    if nat[0] < 1e-8 * top:
        notes.append(f"Intercept({cluster}) = {nat[0]:.3g} is at the boundary (variance near 0)")
    try:
        cov: np.ndarray | None = 2.0 * np.linalg.inv(natural_hessian(lay, structure, nat, reml))
    except np.linalg.LinAlgError:
        cov = None
    se, missing = covparm_ses(cov, len(nat))
    if missing:
        notes.append(missing)
    labels = (f"Intercept({cluster})", *structure.labels())
    variances = {0, *(i + 1 for i in structure.variance_labels())}
    covparms = []
    for j, lab in enumerate(labels):
        covparms.append(CovParm.of(lab, None, nat[j], se[j], variance=j in variances))
    vcov = ev.scale * np.linalg.inv(ev.xtvx)

    def phi_of(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.linalg.inv(evaluate(lay, structure.from_natural(x[1:]), float(x[0]), reml, False).xtvx)
        return out

    return RsideFit(
        structure=structure.name,
        sas_type=SAS_TYPE[structure.name],
        method=method,
        converged=converged,
        iterations=int(opt.nit),
        evaluations=int(opt.nfev),
        loglik=-ev.value / 2,
        minus2loglik=ev.value,
        fixed_names=fixed_names,
        beta=ev.beta,
        vcov_beta=vcov,
        se_beta=np.sqrt(np.diag(vcov)),
        covparms=tuple(covparms),
        covparm_vcov=cov,
        R=(R,),
        R_corr=(correlation(R),),
        visit_levels=visit_levels,
        group_levels=None,
        n=lay.blocks.n,
        n_subjects=lay.blocks.n_subjects,
        n_patterns=len(lay.blocks.patterns),
        theta=np.asarray(opt.x, dtype=float),
        scale=ev.scale,
        messages=tuple(notes),
        phi_of=phi_of,
    )
