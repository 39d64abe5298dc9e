"""SAS's inference on the covariance parameters of a repeated-measures fit: the CL option's confidence limits
and the Null Model Likelihood Ratio Test.

CL (PROC MIXED's default method for it): a parameter that is a variance (a diagonal of UN, Var(i), Residual,
CS's and a random intercept's variance) gets Satterthwaite-type limits from a chi-square with
``nu = 2 Z^2`` df (Z the Wald Z = estimate / SE): ``nu est / chi2_{1 - a/2, nu}`` .. ``nu est / chi2_{a/2, nu}``;
any other (a covariance, a correlation) gets Wald limits ``est -/+ z_{1 - a/2} SE``.

The Null Model Likelihood Ratio Test compares the fit with the model whose R is sigma^2 I (the same fixed
effects, one variance): chi-square = -2 log L(null) - (-2 log L(fit)), df = the number of covariance
parameters less one, p from the chi-square (under REML both criteria are the restricted ones).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from ..engine.rside.criterion import profiled
from ..engine.rside.result import RsideFit
from ..errors import NotImplementedOption


def covparm_limits(fit: RsideFit, alpha: float = 0.05) -> list[tuple[float, float]]:
    """SAS's CL limits (lower, upper) of each covariance parameter, in ``fit.covparms`` order; NaN where
    the parameter has no SE."""
    structure = fit.covariance
    var_pos = set(structure.variance_labels()) if structure is not None else set()
    per = structure.n_natural if structure is not None else len(fit.covparms)
    out = []
    for j, c in enumerate(fit.covparms):
        if not (math.isfinite(c.se) and c.se > 0):
            out.append((math.nan, math.nan))
        elif (j % per) in var_pos or c.label == "Residual":
            nu = 2.0 * (c.estimate / c.se) ** 2
            out.append(
                (nu * c.estimate / stats.chi2.ppf(1 - alpha / 2, nu), nu * c.estimate / stats.chi2.ppf(alpha / 2, nu))
            )
        else:
            z = stats.norm.ppf(1 - alpha / 2)
            out.append((c.estimate - z * c.se, c.estimate + z * c.se))
    return out


def null_model_lrt(fit: RsideFit) -> tuple[float, int, float]:
    """SAS's Null Model Likelihood Ratio Test of ``fit``: (chi-square, df, p).

    Raises:
        NotImplementedOption: a fit that does not keep its visit patterns (a fit in clusters).
    """
    blocks = fit.blocks
    if blocks is None:
        raise NotImplementedOption(
            "the Null Model Likelihood Ratio Test of a fit in clusters",
            hint="it is computed for a residual structure, with or without a subject's random intercept",
        )
    null = profiled(blocks, [np.eye(blocks.k) for _ in range(blocks.n_groups)], fit.method == "REML").value
    chisq = float(null - fit.minus2loglik)
    df = len(fit.covparms) - 1
    return chisq, df, float(stats.chi2.sf(chisq, df)) if df > 0 else math.nan
