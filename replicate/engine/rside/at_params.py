"""A repeated-measures fit evaluated at given covariance parameters instead of at its optimum.

For a program known to stop before the optimum (SAS's relative-Hessian criterion on a flat likelihood),
the fair comparison is at the covariance parameters it printed: the fixed effects, their covariance and
every df are then the GLS ones at those parameters, and the gap between the two -2 log-likelihoods says
which of the two stopped short. The parameters are SAS's natural-scale ones, in the fit's ``covparms``
order (each GROUP= level's structure parameters in turn).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...errors import FitError
from .criterion import unprofiled
from .information import covparm_covariance
from .result import CovParm, RsideFit, correlation, covparm_ses


def fit_at_natural(fit: RsideFit, nat: np.ndarray, note: str) -> RsideFit:
    """``fit`` re-evaluated at the natural-scale covariance parameters ``nat`` (``note`` says whose they are).

    Raises:
        FitError: the fit does not keep its visit patterns (a fit in clusters), ``nat`` has the wrong length,
            or the covariance is not positive definite there.
    """
    blocks, structure = fit.blocks, fit.covariance
    if blocks is None or structure is None:
        raise FitError(
            "this repeated-measures fit cannot be evaluated at other covariance parameters",
            hint="only fits of a residual structure (with or without a subject's random intercept) can",
        )
    nat = np.asarray(nat, dtype=float)
    m = structure.n_natural
    if nat.shape != (m * blocks.n_groups,):
        raise FitError(f"{nat.size} covariance parameters given, the fit has {m * blocks.n_groups}")
    covs = [structure.from_natural(nat[g * m : (g + 1) * m]) for g in range(blocks.n_groups)]
    if any(np.linalg.eigvalsh((c + c.T) / 2).min() <= 0 for c in covs):
        raise FitError("the covariance at these parameters is not positive definite")
    ev = unprofiled(blocks, covs, fit.method == "REML")
    if not np.isfinite(ev.value):
        raise FitError("the criterion is not finite at these covariance parameters")
    cov = covparm_covariance(blocks, structure, nat, fit.method == "REML")
    se, missing = covparm_ses(cov, len(nat))
    labels = structure.labels()
    var_pos = set(structure.variance_labels())
    covparms = tuple(
        CovParm.of(c.label, c.group, nat[j], se[j], variance=(j % len(labels)) in var_pos)
        for j, c in enumerate(fit.covparms)
    )
    vcov = np.linalg.inv(ev.xtvx)
    return replace(
        fit,
        converged=True,
        loglik=-ev.value / 2,
        minus2loglik=ev.value,
        beta=ev.beta,
        vcov_beta=vcov,
        se_beta=np.sqrt(np.diag(vcov)),
        covparms=covparms,
        covparm_vcov=cov,
        R=tuple(covs),
        R_corr=tuple(correlation(c) for c in covs),
        messages=(*fit.messages, note, *((missing,) if missing else ())),
    )
