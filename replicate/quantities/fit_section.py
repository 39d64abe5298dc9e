"""The engine's numbers for a block's ``fit`` section: counts, likelihood-based statistics as the
block's program defines them, R-squared, residual quantiles, ICCs and sigma."""

from __future__ import annotations

import math
from typing import Any

from ..block_names import mapped
from ..inference import Inference
from ..inference.fitstats import convention_of, fit_statistics, statistic
from ..inference.summaries import r_squared, residual_quantiles
from ..inference.vartests import icc
from .value import Collector, Lazy

#: What each program's fit statistics count, in words (by convention).
STAT_NOTES: dict[str, dict[str, str]] = {
    "sas": {
        "aic": "SAS: -2 log L + 2d, d = covariance parameters (+ fixed effects under ML)",
        "aicc": "SAS: -2 log L + 2d n*/(n* - d - 1), n* = n - p under REML",
        "bic": "SAS: -2 log L + d log(subjects)",
        "npar": "SAS/HLM count: covariance parameters (+ fixed effects under ML)",
    },
    "hlm": {"npar": "HLM's number of estimated parameters: covariance parameters (+ fixed effects under ML)"},
}


def fit_values(out: Collector, inf: Inference, method: str) -> None:
    """Every printed number of the block's ``fit`` section; ``method`` is the block's REML/ML."""
    block, fit, design = out.block, inf.fit, inf.design
    convention = convention_of(block.software)
    fstats = Lazy(lambda: fit_statistics(fit, design, convention, method=method))
    stat_notes = STAT_NOTES.get(convention, {})
    for q, ref in block.section("fit").items():
        path = ("fit", q)
        if q == "ngroups":
            for g, n in ref.items():
                out.add("fit", f"groups {g}", "ngroups", n, fit.ngroups.get(mapped(block, g)), ("fit", "ngroups", g))
        elif q == "nobs":
            out.add("fit", "nobs", "nobs", ref, fit.nobs, path)
        elif q in ("r2", "adj_r2"):
            note = "summary.lm's " + ("adjusted R-squared" if q == "adj_r2" else "R-squared")
            out.add("fit", q, q, ref, lambda q=q: r_squared(fit, design)[q == "adj_r2"], path, note=note)
        elif q in ("residuals", "scaled_residuals"):
            _residual_quantiles(out, inf, q, ref)
        elif q == "icc":
            _icc(out, inf, ref)
        elif q == "sigma":
            out.add("fit", q, q, ref, math.sqrt(fit.sigma2), path)
        elif q == "npar":
            note = stat_notes.get(q, "") or "parameters counted by AIC/BIC"
            out.add("fit", "npar", "nobs", ref, lambda: statistic(fstats.get(), "npar"), path, note=note)
        else:
            note = stat_notes.get(q, "")
            if q == "reml_criterion" and fit.method != "REML":
                note = "REML criterion of an ML fit"
            out.add("fit", q, q, ref, lambda q=q: statistic(fstats.get(), q), path, note=note)


def _residual_quantiles(out: Collector, inf: Inference, q: str, ref: dict[str, Any]) -> None:
    scaled = q == "scaled_residuals"
    rq = Lazy(lambda: residual_quantiles(inf.fit, inf.design, scaled=scaled))
    note = "lmer's scaled (Pearson / sigma) residuals" if scaled else "lm's residuals"
    for k, r in ref.items():
        out.add("fit", f"{q} {k}", "residual", r, lambda k=k: rq.get()[k], ("fit", q, k), note=note)


def _icc(out: Collector, inf: Inference, ref: Any) -> None:
    block = out.block
    if isinstance(ref, dict) and "value" not in ref:  # group -> ICC (several grouping factors)
        for g, r in ref.items():
            out.add("fit", f"icc {g}", "corr", r, lambda g=g: icc(inf.fit, mapped(block, g)), ("fit", "icc", g))
    else:
        out.add("fit", "icc", "corr", ref, lambda: icc(inf.fit), ("fit", "icc"))
