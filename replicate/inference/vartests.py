"""Tests and summaries of variance components: HLM's chi-square and reliability
(:mod:`~replicate.inference.hlm_chisq`), the ICC (here), and lmerTest's ``ranova`` likelihood-ratio tests
(:mod:`~replicate.inference.variance_lrt`) with boundary p-values from chi-bar-square mixtures
(:mod:`~replicate.inference.chibar`).
"""

from __future__ import annotations

from ..errors import ModelError
from ..results import FitResult
from .chibar import chibar_pvalue
from .hlm_chisq import UnitRegressions, hlm_variance_tests, reliability, unit_regressions
from .variance_lrt import Reduction, ranova, reductions


def icc(fit: FitResult, group: str | None = None) -> float:
    """Intraclass correlation of a random-intercept model: ``tau_00 / (sum of taus + sigma^2)``.

    Args:
        fit: a fit whose random terms are all intercept-only.
        group: which grouping factor's share to report when there are several
            (e.g. schools in a three-level model); required then.
    """
    vc = fit.varcorr
    re = vc[vc["grp"] != "Residual"]
    if len(re) == 0 or not (re["var1"] == "(Intercept)").all() or re["var2"].notna().any():
        raise ModelError(
            "the ICC is defined here for random-intercept models", hint="every random term must be (1 | group)"
        )
    if group is None:
        if len(re) != 1:
            raise ModelError(
                f"several grouping factors ({', '.join(re['grp'])}); name one", hint="icc(fit, group='schoolid')"
            )
        group = str(re["grp"].iloc[0])
    if group not in set(re["grp"]):
        raise ModelError(f"no random intercept for {group!r}", hint=f"one of {', '.join(re['grp'])}")
    tau = float(re.loc[re["grp"] == group, "vcov"].iloc[0])
    return tau / (float(re["vcov"].sum()) + float(fit.sigma2))


__all__ = [
    "Reduction",
    "UnitRegressions",
    "chibar_pvalue",
    "hlm_variance_tests",
    "icc",
    "ranova",
    "reductions",
    "reliability",
    "unit_regressions",
]
