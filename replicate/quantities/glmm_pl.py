"""The engine's numbers for a block of SAS GLIMMIX's pseudo-likelihood (``options.method: rspl``, ``mspl``, ``rmpl``
or ``mmpl``).

GLIMMIX prints the last linearized (working) model's results: the Solutions for Fixed Effects (``fixed``:
estimate, SE from ``(X' V^-1 X)^-1`` of the working model, whose residual variance is known to be 1 for binomial
and Poisson outcomes; t, and df and p under the block's ``options.df``: SAS's containment, between-within, the residual
``n - rank(X)`` or ``none`` for z), the Covariance Parameter Estimates (``random``: the variance of each random effect),
and Fit Statistics that are the working model's, not a likelihood of the data: ``-2 Res Log Pseudo-Likelihood``
(RSPL, RMPL) or ``-2 Log Pseudo-Likelihood`` (MSPL, MMPL), the Generalized Chi-Square ``r' V^-1 r`` and its ratio to ``n -
rank(X)``. A log-likelihood, deviance, AIC or BIC printed for such a block is not comparable with any likelihood,
and is said so. A random intercept's variance has its SE from the observed information of the last linearized
model (``2 H^-1`` carried to the variances and covariances).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..block_names import component_columns, mapped
from ..design import Design
from ..engine.glmm.pql import PqlFit
from ..errors import NotImplementedOption
from ..inference.robust import cluster_robust
from ..reference_block import ReferenceBlock
from ..vocab import SeKind
from .glimmix_df import PL_ACCEPTED, column_df, effect_df_of
from .glmm_pql import _varcomp
from .glmm_tests import GlmmTests, add_glmm_tests
from .value import Collector, EngineValue, Lazy

NOTE = "GLIMMIX's last linearized model"
#: Fit keys that are no likelihood of the data under pseudo-likelihood.
LIKELIHOODS = ("loglik", "deviance", "reml_criterion", "aic", "aicc", "bic")


def check_pl_block(block: ReferenceBlock) -> None:
    """Refuse options a GLIMMIX pseudo-likelihood block does not have here (other df rules, other SEs)."""
    o = block.options
    if o.se not in (SeKind.MODEL, SeKind.CR0) or (o.df is not None and o.df not in PL_ACCEPTED):
        raise NotImplementedOption(
            f"options {o.as_dict()} for a GLIMMIX pseudo-likelihood block",
            hint="the model-based SEs or GLIMMIX's EMPIRICAL (se: cr0, the classical sandwich; HLM's robust SEs), "
            "with df: containment (GLIMMIX's default), between-within (DDFM=BW), residual, hlm or none",
        )


def pl_vcov(block: ReferenceBlock, pl: PqlFit) -> np.ndarray:
    """The fixed effects' covariance the block's inference uses: the last working model's ``(X' V^-1 X)^-1``, or
    with ``se: cr0`` GLIMMIX's EMPIRICAL (its classical sandwich of the last working model, the subjects of the
    coarsest grouping factor as clusters; the same estimator as clubSandwich's CR0 of that model)."""
    if block.options.se == SeKind.CR0:
        return np.asarray(cluster_robust(pl.lmm, pl.working, "CR0").vcov, dtype=float)
    return np.asarray(pl.vcov, dtype=float)


@dataclass(frozen=True)
class PlFit:
    """A GLIMMIX pseudo-likelihood fit with what its block needs: the method, observations, levels per grouping
    factor and the design (for SAS's df rules)."""

    pql: PqlFit
    method: str
    nobs: int
    ngroups: dict[str, int]
    design: Design | None


def pl_quantities(block: ReferenceBlock, fit: PlFit, part: Lazy | None = None) -> list[EngineValue]:
    """The engine's number for every number a GLIMMIX RSPL / MSPL block prints (``part``: the model's lazy fixed
    part, for its LS-means, with ILINK, and Type III tests)."""
    check_pl_block(block)
    out = Collector(block)
    pl = fit.pql
    index = {name: j for j, name in enumerate(pl.fixed_names)}
    df = column_df(block, fit.design, len(pl.fixed_names))
    vcov = Lazy(lambda: pl_vcov(block, pl))
    for term, qs in block.section("fixed").items():
        j = index.get(mapped(block, term))
        for q, ref in qs.items():
            value = None if j is None else _fixed(fit, vcov, df, j, q)
            if q in ("df", "p"):
                note = f"df: {block.options.df}" if df is not None else "the block does not declare options.df"
            else:
                note = (
                    (NOTE + (": GLIMMIX's EMPIRICAL sandwich" if block.options.se == SeKind.CR0 else ""))
                    if q in ("se", "t")
                    else ""
                )
            out.add("fixed", term, q, ref, value, ("fixed", term, q), note)
    for grp, comps in block.section("random").items():
        if grp == "Residual":
            for q, ref in comps.items():
                out.add("random", "Residual", q, ref, None, ("random", grp, q), "GLIMMIX fixes the scale at 1 here")
            continue
        for comp, qs in comps.items():
            cols = component_columns(block, comp)
            for q, ref in qs.items():
                if q == "se":
                    value, note = (
                        _variance_se(pl, mapped(block, grp), cols),
                        "observed information of the last linearized model",
                    )
                else:
                    value, note = _varcomp(pl, mapped(block, grp), cols, q), ""
                out.add("random", f"{grp} {comp}", q, ref, value, ("random", grp, comp, q), note)
    _fit(out, fit)
    if part is not None:
        df_said = block.options.df is not None
        df_of = effect_df_of(block, fit.design, df) if df_said else (lambda _e: float("inf"))
        tests = Lazy(lambda: GlmmTests(part.get(), pl.beta, vcov.get(), pl.family, pl.link, df_of))
        add_glmm_tests(out, tests, df_said, f"df: {block.options.df}")
    return out.values


def _variance_se(pl: PqlFit, group: str, cols: list[str]) -> Callable[[], float]:
    def get() -> float:
        if pl.covparm_se is None:
            raise NotImplementedOption(
                "the SE of a covariance parameter of a pseudo-likelihood fit with an estimated scale",
                hint="GLIMMIX's binomial and Poisson pseudo-likelihood (scale 1) have theirs",
            )
        for a, b in ((cols[0], cols[-1]), (cols[-1], cols[0])):
            if (group, a, b) in pl.covparm_se:
                return pl.covparm_se[(group, a, b)]
        raise NotImplementedOption(
            f"the model has no covariance parameter {', '.join(cols)} of {group!r}", hint="map it under names:"
        )

    return get


def _fixed(fit: PlFit, vcov: Lazy, df: np.ndarray | None, j: int, q: str) -> Callable[[], float] | None:
    pl = fit.pql
    if q in ("df", "p") and df is None:
        return None

    def get() -> float:
        se = float(np.sqrt(vcov.get()[j, j]))
        t = float(pl.beta[j]) / se
        value = {"estimate": float(pl.beta[j]), "se": se, "t": t}.get(q)
        if value is not None:
            return value
        if q == "df" and df is not None:
            return float(df[j])
        if q == "p" and df is not None:
            return float(2 * stats.t.sf(abs(t), df[j])) if df[j] > 0 else float("nan")
        raise NotImplementedOption(f"GLIMMIX prints no {q} for a fixed effect", hint="estimate, se, df, t, p")

    return get


def _fit(out: Collector, fit: PlFit) -> None:
    pl, reml = fit.pql, fit.method in ("rspl", "rmpl")
    n, p = fit.nobs, len(pl.fixed_names)
    own = "pseudo_reml_criterion" if reml else "pseudo_deviance"
    for q, ref in out.block.section("fit").items():
        if q == "ngroups":
            for g, count in ref.items():
                mine = fit.ngroups.get(mapped(out.block, g))
                out.add("fit", f"groups {g}", "ngroups", count, None if mine is None else float(mine), ("fit", q, g))
        elif q == "nobs":
            out.add("fit", "nobs", "nobs", ref, float(n), ("fit", q))
        elif q == own:
            out.add("fit", q, "loglik", ref, -2.0 * pl.working_loglik, ("fit", q), NOTE + ": a pseudo-likelihood")
        elif q in ("gen_chisq", "gen_chisq_df") and pl.gen_chisq is not None:
            value = pl.gen_chisq if q == "gen_chisq" else pl.gen_chisq / (n - p)
            out.add("fit", q, "t", ref, value, ("fit", q), NOTE + ": r' V^-1 r of the pseudo-data")
        else:
            why = (
                "not a likelihood: a pseudo-likelihood fit has no likelihood of the data to compare"
                if q in LIKELIHOODS
                else f"{q} is not printed for GLIMMIX's {fit.method.upper()}"
            )
            out.add("fit", q, q, ref, None, ("fit", q), why)
