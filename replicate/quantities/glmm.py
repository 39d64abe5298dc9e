"""The engine's numbers for a block of a generalized linear mixed model (``model.family``, lme4's ``glmer``).

The sections glmer's ``summary`` prints: the fixed effects (``fixed``: Estimate, Std. Error, z value,
Pr(>|z|)), the random effects (``random``: Variance and Std.Dev. per group and column, correlations of
a vector term; a GLMM has no residual variance) and the fit (``fit``: AIC, BIC, logLik and deviance as
its first table prints them, the deviance being -2 logLik; Number of obs and groups).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..block_names import component_columns, mapped
from ..engine.glmm.result import GlmmFit
from ..errors import NotImplementedOption
from ..reference_block import ReferenceBlock
from ..vocab import SeKind
from .glmm_tests import GlmmTests, add_glmm_tests
from .value import Collector, EngineValue, Lazy

#: A fixed-effect quantity as the block prints it -> (the quantity it is compared as, the fit's attribute).
FIXED: dict[str, tuple[str, str]] = {
    "estimate": ("estimate", "beta"),
    "se": ("se", "se"),
    "z": ("z", "z"),
    "p": ("p", "p_value"),
}


def glmm_fit_statistics(fit: GlmmFit) -> dict[str, float]:
    """glmer's first summary table: AIC, BIC, logLik and deviance (-2 logLik, as glmer's summary prints it)."""
    return {
        "loglik": float(fit.loglik),
        "deviance": float(fit.objective),
        "aic": float(fit.aic),
        "bic": float(fit.bic),
        "nobs": float(fit.nobs),
        "npar": float(fit.npar),
    }


def check_glmm_block(block: ReferenceBlock) -> None:
    """Refuse block options a GLMM does not have (REML, denominator df, other SEs) with the reason."""
    o = block.options
    if o.method in ("REML", "ML", "pql") or o.df is not None or o.se != SeKind.MODEL or o.at:
        raise NotImplementedOption(
            f"options {o.as_dict()} for a model with family:",
            hint="glmer fits by maximum likelihood and prints Wald z tests with model-based SEs: leave out "
            "options.df and options.se; options.method takes laplace, agq or pql",
        )


def glmm_quantities(block: ReferenceBlock, fit: GlmmFit, part: Lazy | None = None) -> list[EngineValue]:
    """The engine's number for every number a GLMM block prints (``part``: the model's lazy fixed part, for the
    block's LS-means and Type III tests, Wald z / chi-square as glmer with emmeans gives them)."""
    check_glmm_block(block)
    out = Collector(block)
    index = {name: j for j, name in enumerate(fit.fixed_names)}
    for term, qs in block.section("fixed").items():
        j = index.get(mapped(block, term))
        for q, ref in qs.items():
            if q not in FIXED:
                out.add("fixed", term, q, ref, None, ("fixed", term, q), note=f"a GLMM prints no {q}")
                continue
            kind, column = FIXED[q]
            number = None if j is None else float(getattr(fit, column)[j])
            note = "Wald z, as glmer's summary" if q in ("z", "p") else ""
            out.add("fixed", term, kind, ref, number, ("fixed", term, q), note)
    _random(out, fit)
    stats = glmm_fit_statistics(fit)
    for q, ref in block.section("fit").items():
        if q == "ngroups":
            for g, n in ref.items():
                out.add("fit", f"groups {g}", "ngroups", n, _ngroups(fit, mapped(block, g)), ("fit", "ngroups", g))
        elif q == "scaled_residuals":
            rq = Lazy(lambda: pearson_quantiles(fit))
            for k, r in ref.items():
                note = "glmer's Pearson residuals at the conditional modes"
                out.add("fit", f"{q} {k}", "residual", r, lambda k=k, rq=rq: rq.get()[k], ("fit", q, k), note=note)
        else:
            note = "-2 logLik, as glmer's summary prints it" if q == "deviance" else ""
            out.add("fit", q, q if q != "npar" else "nobs", ref, _stat(stats, q), ("fit", q), note)
    if part is not None:
        tests = Lazy(lambda: GlmmTests(part.get(), fit.beta, fit.vcov, fit.family, fit.link, lambda _e: float("inf")))
        add_glmm_tests(out, tests, True, "Wald, infinite df (z), as emmeans gives them for glmer")
    return out.values


def pearson_quantiles(fit: GlmmFit) -> dict[str, float]:
    """glmer's ``Scaled residuals``: quantiles (R's type 7) of the Pearson residuals
    ``sqrt(w) (y - mu) / sqrt(V(mu))`` at the conditional modes (scaled by sigma, which is 1 here)."""
    dev = fit.deviance_function
    resp = dev.resp
    mu = dev.mode(np.asarray(fit.theta, dtype=float), np.asarray(fit.beta, dtype=float)).mu
    r = np.sqrt(resp.wt) * (resp.y - mu) / np.sqrt(resp.family.variance(mu))
    qs = np.quantile(r, [0.0, 0.25, 0.5, 0.75, 1.0])
    return dict(zip(("min", "q1", "median", "q3", "max"), (float(v) for v in qs)))


#: Fit statistics of GLIMMIX's pseudo-likelihood, which a likelihood-based block has not.
PSEUDO = ("pseudo_reml_criterion", "pseudo_deviance", "gen_chisq", "gen_chisq_df")


def _stat(stats: Mapping[str, float], q: str) -> Callable[[], float]:
    def get() -> float:
        if q in PSEUDO:
            raise NotImplementedOption(
                f"not a likelihood: {q} is a pseudo-likelihood fit statistic (GLIMMIX's linearized model), which a "
                "Laplace or quadrature fit does not have",
                hint="the block's numbers come from GLIMMIX's pseudo-likelihood: set options.method: rspl (or "
                "mspl, rmpl, mmpl)",
            )
        if q not in stats:
            raise NotImplementedOption(f"a GLMM fit has no {q}", hint="glmer prints loglik, deviance, aic, bic")
        return stats[q]

    return get


def _ngroups(fit: GlmmFit, group: str) -> Callable[[], float]:
    def get() -> float:
        if group not in fit.ngroups:
            raise NotImplementedOption(
                f"the model has no grouping factor {group!r}", hint=f"its groups are {sorted(fit.ngroups)}"
            )
        return float(fit.ngroups[group])

    return get


def _random(out: Collector, fit: GlmmFit) -> None:
    block = out.block
    for grp, comps in block.section("random").items():
        path0 = ("random", grp)
        if grp == "Residual":
            for q, ref in comps.items():
                out.add("random", "Residual", q, ref, None, (*path0, q), note="a GLMM has no residual variance")
            continue
        for comp, qs in comps.items():
            cols = component_columns(block, comp)
            for q, ref in qs.items():
                value = _varcomp(fit, mapped(block, grp), cols, q)
                out.add("random", f"{grp} {comp}", q, ref, value, (*path0, comp, q))


def _varcomp(fit: GlmmFit, group: str, cols: list[str], q: str) -> Callable[[], float]:
    """A variance, SD, covariance or correlation of one random-effect term (found by group and columns)."""

    def get() -> float:
        for vc in fit.varcomps:
            if vc.group != group or not all(c in vc.names for c in cols):
                continue
            i = vc.names.index(cols[0])
            k = vc.names.index(cols[-1])
            table: dict[str, Any] = {
                "variance": vc.cov[i, i],
                "sd": vc.sd[i],
                "cov": vc.cov[i, k],
                "corr": vc.corr[i, k],
            }
            if q not in table or (q in ("variance", "sd")) != (len(cols) == 1):
                raise NotImplementedOption(
                    f"{q} of {', '.join(cols)} is not a GLMM variance component",
                    hint="a column takes variance or sd; a pair 'a, b' takes cov or corr",
                )
            return float(table[q])
        known = [f"{vc.group}: {', '.join(vc.names)}" for vc in fit.varcomps]
        raise NotImplementedOption(
            f"the model has no random effect {', '.join(cols)} of {group!r}",
            hint=f"its terms are {known}; map the printed names under names:",
        )

    return get
