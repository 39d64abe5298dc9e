"""The engine's numbers for a block of a generalized linear mixed model (``model.family``, lme4's ``glmer``).

The sections glmer's ``summary`` prints: the fixed effects (``fixed``: Estimate, Std. Error, z value,
Pr(>|z|)), the random effects (``random``: Variance and Std.Dev. per group and column, correlations of
a vector term; a GLMM has no residual variance) and the fit (``fit``: AIC, BIC, logLik and deviance as
its first table prints them, the deviance being -2 logLik; Number of obs and groups).

SAS GLIMMIX's METHOD=LAPLACE and METHOD=QUAD maximize the same likelihood and print it their own way: t tests
(the same ratio as glmer's z) with the df of the block's ``options.df`` (containment, GLIMMIX's default, between-within,
residual or none), the Covariance Parameter Estimates with SEs from ``C(theta, theta)`` of the inverse Hessian in
the fixed effects and the covariances (:mod:`replicate.engine.glmm.covparms`), and Fit Statistics under SAS's
definitions: ``-2 Log Likelihood`` the full one (with quadrature too, where glmer leaves out the saturated
model), ``d`` = fixed effects + covariance parameters, AICC with ``n`` observations, BIC with the subjects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy import stats as sps

from ..block_names import component_columns, mapped
from ..design import Design
from ..engine.glmm.covparms import covparm_se
from ..engine.glmm.empirical import sandwich, subjects, with_empirical
from ..engine.glmm.result import GlmmFit
from ..errors import NotImplementedOption
from ..inference.fitstats import convention_of, sas_subjects
from ..reference_block import ReferenceBlock
from ..vocab import SeKind
from .glimmix_df import ACCEPTED, column_df, effect_df_of
from .glmm_tests import GlmmTests, add_glmm_tests
from .value import Collector, EngineValue, Lazy

#: A fixed-effect quantity as the block prints it -> (the quantity it is compared as, the fit's attribute).
FIXED: dict[str, tuple[str, str]] = {
    "estimate": ("estimate", "beta"),
    "se": ("se", "se"),
    "z": ("z", "z"),
    "t": ("t", "z"),
    "p": ("p", "p_value"),
}

#: The model-based SEs and GLIMMIX's EMPIRICAL after METHOD=LAPLACE or QUAD.
SES = (SeKind.MODEL, SeKind.CR0)
EMPIRICAL_NOTE = "GLIMMIX's EMPIRICAL: the sandwich of the subjects' likelihood gradients"
#: What the fixed effects' z, p and t are, in words.
FIXED_NOTES = {"z": "Wald z, as glmer's summary", "p": "Wald z, as glmer's summary", "t": "GLIMMIX's t: glmer's z"}


def glmm_fit_statistics(fit: GlmmFit) -> dict[str, float]:
    """glmer's first summary table: AIC, BIC, logLik and deviance (-2 logLik, as glmer's summary prints it)."""
    out = {
        "loglik": float(fit.loglik),
        "deviance": float(fit.objective),
        "aic": float(fit.aic),
        "bic": float(fit.bic),
        "nobs": float(fit.nobs),
        "npar": float(fit.npar),
    }
    if fit.nb_theta is not None:
        out["nb_theta"] = float(fit.nb_theta)
    return out


def check_glmm_block(block: ReferenceBlock) -> None:
    """Refuse block options a Laplace or quadrature GLMM block does not have (REML, other df rules, other
    SEs, GLIMMIX's options on another program's block) with the reason."""
    o = block.options
    if o.method in ("REML", "ML", "pql") or (o.df is not None and o.df not in ACCEPTED) or o.se not in SES or o.at:
        raise NotImplementedOption(
            f"options {o.as_dict()} for a model with family:",
            hint="glmer prints Wald z tests with model-based SEs; GLIMMIX's METHOD=LAPLACE or QUAD t tests take "
            "options.df: containment, between-within, residual or none, and se: cr0 (its EMPIRICAL); "
            "options.method takes laplace, agq or pql",
        )
    if (o.df is not None or o.se == SeKind.CR0) and convention_of(block.software) != "sas":
        raise NotImplementedOption(
            f"options.df and se: cr0 on a {block.software} block of a Laplace or quadrature fit",
            hint="they are SAS GLIMMIX's (its t tests' df and its EMPIRICAL sandwich): set software: sas, or leave "
            "them out for glmer's Wald z tests",
        )


def glmm_quantities(
    block: ReferenceBlock, fit: GlmmFit, part: Lazy | None = None, design: Lazy | None = None
) -> list[EngineValue]:
    """The engine's number for every number a GLMM block prints (``part``: the model's lazy fixed part, for the
    block's LS-means and Type III tests, Wald z / chi-square as glmer with emmeans gives them, or with the df
    of the block's ``options.df`` as GLIMMIX gives them; ``design``: the model's lazy design, for the df
    rules and SAS's subjects)."""
    check_glmm_block(block)
    empirical = block.options.se == SeKind.CR0
    full_cov = Lazy(lambda: sandwich(fit)) if empirical else None
    if empirical:
        subjects(fit.deviance_function)  # a crossed design has no subjects: the block's error, not n/c values
    wald: Lazy = Lazy(lambda: with_empirical(fit)) if empirical else Lazy(lambda: fit)  # the SEs' source, lazily
    sas = convention_of(block.software) == "sas"
    out = Collector(block)
    index = {name: j for j, name in enumerate(fit.fixed_names)}
    the_design: Design | None = design.get() if design is not None and block.options.df is not None else None
    df = column_df(block, the_design, len(fit.fixed_names))
    for term, qs in block.section("fixed").items():
        j = index.get(mapped(block, term))
        for q, ref in qs.items():
            if q == "df" or (q == "p" and (df is not None or sas)):
                _t_test(out, term, q, ref, wald, j, df)
                continue
            if q not in FIXED:
                out.add("fixed", term, q, ref, None, ("fixed", term, q), note=f"a GLMM prints no {q}")
                continue
            kind, column = FIXED[q]
            number = None if j is None else float(fit.beta[j]) if q == "estimate" else _wald_value(wald, column, j)
            note = FIXED_NOTES.get(q, "") if q == "estimate" or not empirical else EMPIRICAL_NOTE
            out.add("fixed", term, kind, ref, number, ("fixed", term, q), note)
    _random(out, fit, full_cov)
    stats = sas_fit_statistics(fit, design) if sas else glmm_fit_statistics(fit)
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
            what = (
                "-2 Log Likelihood, the full one, as GLIMMIX prints it"
                if sas
                else "-2 logLik, as glmer's summary prints it"
            )
            out.add(
                "fit",
                q,
                q if q != "npar" else "nobs",
                ref,
                _stat(stats, q),
                ("fit", q),
                what if q == "deviance" else "",
            )
    if part is not None:
        df_of = effect_df_of(block, the_design, df)
        tests = Lazy(lambda: GlmmTests(part.get(), fit.beta, wald.get().vcov, fit.family, fit.link, df_of))
        said = (
            f"df: {block.options.df}, GLIMMIX's t and F"
            if df is not None
            else "Wald, infinite df (z), as emmeans gives them for glmer"
        )
        add_glmm_tests(out, tests, True, said)
    return out.values


def _wald_value(wald: Lazy, column: str, j: int) -> Callable[[], float]:
    return lambda: float(getattr(wald.get(), column)[j])


def _t_test(out: Collector, term: str, q: str, ref: Any, wald: Lazy, j: int | None, df: Any) -> None:
    """GLIMMIX's df and p of a fixed effect's t test (t = glmer's z) under the block's ``options.df``."""
    path = ("fixed", term, q)
    if df is None:
        out.add("fixed", term, q, ref, None, path, "the block does not declare options.df (GLIMMIX's p needs its df)")
        return
    if j is None:
        out.add("fixed", term, q, ref, None, path)
        return
    d = float(df[j])

    def p_value() -> float:
        t = float(wald.get().z[j])
        return float(2 * sps.t.sf(abs(t), d)) if d > 0 else float("nan")

    out.add("fixed", term, q, ref, d if q == "df" else p_value, path, f"df: {out.block.options.df}")


def sas_fit_statistics(fit: GlmmFit, design: Lazy | None) -> dict[str, Any]:
    """GLIMMIX's Fit Statistics after METHOD=LAPLACE or QUAD: the full -2 log-likelihood (quadrature's with the
    saturated part glmer leaves out), d = fixed effects + covariance parameters, AICC with the observations,
    BIC with SAS's subjects (the reason it cannot be computed, raised when read)."""
    m2ll, d, n = float(fit.minus2loglik), int(fit.npar), int(fit.nobs)
    out: dict[str, Any] = {
        "loglik": -m2ll / 2,
        "deviance": m2ll,
        "aic": m2ll + 2 * d,
        "aicc": m2ll + 2 * d * n / (n - d - 1) if n - d - 1 > 0 else float("nan"),
        "nobs": float(n),
        "npar": float(d),
    }
    if fit.nb_theta is not None:
        out["nb_theta"] = float(fit.nb_theta)
    try:
        if design is None:
            raise NotImplementedOption("SAS's BIC needs the model's design", hint="fit the block from its case")
        out["bic"] = m2ll + d * np.log(sas_subjects(design.get()))
    except NotImplementedOption as exc:
        out["bic"] = exc
    return out


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


def _stat(stats: Mapping[str, Any], q: str) -> Callable[[], float]:
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
        value = stats[q]
        if isinstance(value, Exception):
            raise value
        return float(value)

    return get


def _ngroups(fit: GlmmFit, group: str) -> Callable[[], float]:
    def get() -> float:
        if group not in fit.ngroups:
            raise NotImplementedOption(
                f"the model has no grouping factor {group!r}", hint=f"its groups are {sorted(fit.ngroups)}"
            )
        return float(fit.ngroups[group])

    return get


def _random(out: Collector, fit: GlmmFit, full_cov: Lazy | None = None) -> None:
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
                if q == "se":
                    se = _covparm_se(fit, mapped(block, grp), cols, full_cov)
                    note = (
                        "C(theta, theta) of GLIMMIX's inverse Hessian, in the covariances"
                        if full_cov is None
                        else EMPIRICAL_NOTE + ", in the covariances"
                    )
                    out.add("random", f"{grp} {comp}", q, ref, se, (*path0, comp, q), note)
                    continue
                value = _varcomp(fit, mapped(block, grp), cols, q)
                out.add("random", f"{grp} {comp}", q, ref, value, (*path0, comp, q))


def _covparm_se(fit: GlmmFit, group: str, cols: list[str], full_cov: Lazy | None) -> Callable[[], float]:
    def get() -> float:
        try:
            return covparm_se(fit, group, cols[0], cols[-1], None if full_cov is None else full_cov.get())
        except KeyError:
            raise NotImplementedOption(
                f"the model has no covariance parameter {', '.join(cols)} of {group!r}", hint="map it under names:"
            ) from None

    return get


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
