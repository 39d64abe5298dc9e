"""The engine's numbers for a block of a repeated-measures case (``model.residual``, SAS's REPEATED).

The sections SAS PROC MIXED prints for these models: the Solution for Fixed Effects (``fixed``:
estimate, SE, df, t, p under the block's ``options.df``), the Covariance Parameter Estimates
(``covparms``: estimate, SE, Wald Z, Pr Z, by SAS's label), the Type 3 Tests of Fixed Effects
(``type3``: num df, den df, F, p), the Least Squares Means (``lsmeans``: effect -> level -> estimate,
SE, df, t, p; covariates at their means) and the Fit Statistics (``fit``: -2 (Res) Log Likelihood, AIC,
AICC, BIC as SAS counts them, observations, subjects).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np
from scipy import stats

from ..block_names import mapped
from ..case_statements import Statements
from ..engine.rside.result import RsideFit
from ..errors import NotImplementedOption
from ..inference.lsmeans import Estimate
from ..inference.rside_coding import fit_coding, part_coding
from ..inference.rside_covtest import covparm_limits, null_model_lrt
from ..inference.rside_random_df import RANDOM_RULES, random_coefficient_df
from ..inference.rside_robust import with_empirical
from ..inference.rside_tests import RULES, effect_df, rside_estimate, rside_lsmeans, rside_type3
from ..reference_block import ReferenceBlock
from ..vocab import DfMethod, SeKind
from .estimate_fields import DF_COLUMNS, FIELDS
from .rside_diffs import add_diffs
from .rside_levels import effect_label, lsmean_level
from .rside_random import add_random
from .rside_rmatrix import add_rmatrix
from .rside_slices import add_slices
from .rside_statements import add_statements
from .value import Collector, EngineValue, Lazy

__all__ = ["DDFM", "coefficient_rows", "ddfm_of", "fit_statistics", "lsmean_level", "rside_quantities"]

#: Null Model LRT fit keys -> (quantity, its number from (chi-square, df, p)).
NULL_LRT: dict[str, tuple[str, Callable[[tuple[float, int, float]], float]]] = {
    "null_lrt_chisq": ("chisq", lambda r: r[0]),
    "null_lrt_df": ("df", lambda r: float(r[1])),
    "null_lrt_p": ("p", lambda r: r[2]),
}

#: The empirical (sandwich) SE kinds a repeated-measures block may ask for (cr0 is SAS's EMPIRICAL).
EMPIRICAL = (SeKind.CR0, SeKind.CR1, SeKind.CR2)

#: The block's df method -> SAS's DDFM= as the repeated-measures inference names it.
DDFM: dict[DfMethod, str] = {
    DfMethod.BETWEEN_WITHIN: "betwithin",
    DfMethod.RESIDUAL: "residual",
    DfMethod.CONTAINMENT: "contain",
    DfMethod.NLME: "nlme",
    DfMethod.SATTERTHWAITE: "satterthwaite",
    DfMethod.KENWARD_ROGER: "kr",
    DfMethod.KENWARD_ROGER_2: "kr2",
}


#: The Kenward-Roger SE kinds and the DDFM= each belongs to.
KR_SE: dict[SeKind, str] = {SeKind.KENWARD_ROGER: "kr", SeKind.KENWARD_ROGER_2: "kr2"}


def ddfm_of(block: ReferenceBlock, fit: RsideFit | None = None) -> str:
    """SAS's DDFM= for the block; if unsaid, SAS's default: containment where random effects stand beside the
    structure (a RANDOM statement), between-within otherwise (REPEATED alone)."""
    default = DfMethod.CONTAINMENT if fit is not None and fit.random_terms else DfMethod.BETWEEN_WITHIN
    method = block.options.df or default
    if method not in DDFM:
        raise NotImplementedOption(
            f"options.df: {method} is not implemented for models with a residual structure",
            hint="use one of: " + ", ".join(str(m) for m in DDFM),
        )
    return DDFM[method]


def df_note(block: ReferenceBlock, ddfm: str) -> str:
    """How a value's df were taken, in the block's program's words (gls's n - p for an nlme block)."""
    if block.software == "nlme" and ddfm == "residual":
        return "gls's residual df, n - p"
    if ddfm == "nlme":
        return "lme's df (its grouping levels)"
    return f"SAS ddfm={ddfm}"


def coefficient_rows(fit: RsideFit, ddfm: str) -> dict[str, Estimate]:
    """Each coefficient as SAS's Solution for Fixed Effects prints it under ``ddfm``: estimate, SE, df, t, p.

    Under between-within and residual each coefficient takes the df of the model term it belongs to
    (as SAS does), under containment and nlme's rule the df of its column; under Satterthwaite and Kenward-Roger its own row's df (and, for Kenward-Roger, the
    adjusted SE).
    """
    p = len(fit.fixed_names)
    if ddfm in RULES:
        part = fit.fixed_part
        if part is None:
            raise NotImplementedOption("the fit does not keep its fixed part", hint="fit it with fit_residual")
        if ddfm in RANDOM_RULES:  # per column, as lme's tTable and SAS's containment print them
            df_of = random_coefficient_df(fit, ddfm)
        else:
            coding = part_coding(part)
            if coding.X_sum.shape[1] != p:
                raise NotImplementedOption(
                    "per-coefficient between-within df of a rank-deficient fixed part",
                    hint="drop the aliased columns from the formula",
                )
            term_df = effect_df(fit, coding, ddfm)
            df_of = np.empty(p)
            for label, span in zip(coding.labels, coding.spans, strict=True):
                df_of[span] = term_df[label]
        out = {}
        for j, name in enumerate(fit.fixed_names):
            est, se = float(fit.beta[j]), float(fit.se_beta[j])
            t = est / se if se > 0 else math.nan
            pval = float(2 * stats.t.sf(abs(t), df_of[j])) if np.isfinite(t) and df_of[j] > 0 else math.nan
            out[name] = Estimate(name, (), None, est, se, float(df_of[j]), t, pval, np.eye(p)[j])
        return out
    return {name: rside_estimate(fit, np.eye(p)[j], ddfm=ddfm, label=name) for j, name in enumerate(fit.fixed_names)}


def sas_fit_statistics(fit: RsideFit) -> dict[str, float]:
    """SAS's Fit Statistics: d counts the covariance parameters (and the fixed effects under ML); AICC's
    n* is n (ML) or n - p (REML); BIC's log is of the number of subjects."""
    m2ll = float(fit.minus2loglik)
    p = len(fit.fixed_names)
    ml = fit.method.upper() == "ML"
    d = fit.n_covparms + (p if ml else 0)
    n_star = fit.n if ml else fit.n - p
    aicc = m2ll + 2 * d * n_star / (n_star - d - 1) if n_star - d - 1 > 0 else math.nan
    return {
        "deviance" if ml else "reml_criterion": m2ll,
        "loglik": float(fit.loglik),
        "aic": m2ll + 2 * d,
        "aicc": aicc,
        "bic": m2ll + d * math.log(fit.n_subjects),
        "nobs": float(fit.n),
        "npar": float(d),
    }


def nlme_fit_statistics(fit: RsideFit) -> dict[str, float]:
    """nlme's ``logLik``, ``AIC`` and ``BIC`` of a gls fit: its df count the fixed effects and the covariance
    parameters (sigma among them) under REML and ML alike; BIC's log is of n - p under REML, of n under ML."""
    m2ll = float(fit.minus2loglik)
    p = len(fit.fixed_names)
    ml = fit.method.upper() == "ML"
    d = fit.n_covparms + p
    return {
        "loglik": float(fit.loglik),
        "aic": m2ll + 2 * d,
        "bic": m2ll + d * math.log(fit.n if ml else fit.n - p),
        "nobs": float(fit.n),
        "npar": float(d),
    }


def fit_statistics(block: ReferenceBlock, fit: RsideFit) -> dict[str, float]:
    """The fit statistics as the block's program counts them (nlme's for ``software: nlme``, else SAS's),
    with ``sigma`` (the residual SD, as nlme's "Residual standard error") where the structure has a
    single Residual variance."""
    out = nlme_fit_statistics(fit) if block.software == "nlme" else sas_fit_statistics(fit)
    residual = [c.estimate for c in fit.covparms if c.label == "Residual" and c.group is None]
    if len(residual) == 1 and residual[0] >= 0:
        out["sigma"] = math.sqrt(residual[0])
    return out


def rside_quantities(block: ReferenceBlock, fit: RsideFit, statements: Statements | None = None) -> list[EngineValue]:
    """The engine's number for every number a repeated-measures block prints (``statements``: the case's
    ESTIMATE and CONTRAST definitions, for the block's ``estimates`` and ``contrasts``)."""
    out = Collector(block)
    ddfm = ddfm_of(block, fit)
    rows = Lazy(lambda: coefficient_rows(fit, ddfm))
    se_kind = block.options.se
    if se_kind in EMPIRICAL and ddfm in RULES:
        fit = with_empirical(fit, str(se_kind).upper())  # SAS's EMPIRICAL: every SE, LS-mean and test from it
    elif se_kind not in (SeKind.MODEL, *KR_SE) or KR_SE.get(se_kind) != (ddfm if ddfm in KR_SE.values() else None):
        raise NotImplementedOption(
            f"options.se: {se_kind} with options.df: {block.options.df} for a residual structure",
            hint="SAS prints model-based SEs, the Kenward-Roger adjusted ones under ddfm=kr, or empirical ones "
            "(se: cr0 = SAS's EMPIRICAL, cr1, cr2) with between-within or residual df",
        )
    field = FIELDS
    for term, qs in block.section("fixed").items():
        name = mapped(block, term)
        for q, ref in qs.items():
            get = field[q]
            note = df_note(block, ddfm) if q in DF_COLUMNS | {"se"} else ""
            out.add("fixed", term, q, ref, lambda get=get, name=name: get(rows.get()[name]), ("fixed", term, q), note)
    _covparms(out, fit)
    _type3(out, fit, ddfm)
    _lsmeans(out, fit, ddfm, field)
    add_diffs(out, fit, ddfm, field, df_note(block, ddfm))
    add_statements(out, fit, ddfm, statements or Statements(), field, df_note(block, ddfm))
    add_slices(out, fit, ddfm, df_note(block, ddfm))
    add_rmatrix(out, fit)
    add_random(out, fit)
    stats_ = fit_statistics(block, fit)
    null = Lazy(lambda: null_model_lrt(fit))
    for q, ref in block.section("fit").items():
        if q == "ngroups":
            for g, n in ref.items():
                out.add("fit", f"groups {g}", "ngroups", n, float(fit.n_subjects), ("fit", "ngroups", g), "subjects")
        elif q in NULL_LRT:
            pick = NULL_LRT[q][1]
            out.add(
                "fit", q, NULL_LRT[q][0], ref, lambda pick=pick: pick(null.get()), ("fit", q), "SAS's Null Model LRT"
            )
        else:
            how = "as nlme counts it" if block.software == "nlme" else "as SAS counts it"
            out.add("fit", q, q if q != "npar" else "nobs", ref, stats_.get(q), ("fit", q), how)
    return out.values


def _covparms(out: Collector, fit: RsideFit) -> None:
    limits = Lazy(lambda: dict(zip(((c.label, c.group) for c in fit.covparms), covparm_limits(fit), strict=True)))
    for label, qs in out.block.section("covparms").items():
        name, _, group = str(label).partition(" / ")
        key = mapped(out.block, name)
        for q, ref in qs.items():
            quantity = {"estimate": "variance", "se": "se", "z": "t", "p": "p", "lower": "lower", "upper": "upper"}[q]

            def value(q: str = q, key: str = key, group: str = group) -> float:
                c = fit.covparm(key, group or None)
                if q in ("lower", "upper"):
                    return float(limits.get()[(c.label, c.group)][0 if q == "lower" else 1])
                return float({"estimate": c.estimate, "se": c.se, "z": c.z, "p": c.p_value}[q])

            note = {
                "estimate": "",
                "lower": "SAS's CL: Satterthwaite-type for a variance, Wald otherwise",
                "upper": "SAS's CL: Satterthwaite-type for a variance, Wald otherwise",
            }.get(q, "observed information, as SAS's COVTEST")
            out.add("covparms", str(label), quantity, ref, value, ("covparms", label, q), note)


def _type3(out: Collector, fit: RsideFit, ddfm: str) -> None:
    tests = Lazy(lambda: {t.effect: t for t in rside_type3(fit, ddfm=ddfm)})
    for effect, qs in out.block.section("type3").items():
        key = mapped(out.block, str(effect))
        for q, ref in qs.items():
            get: Mapping[str, Callable[[Any], float]] = {
                "num_df": lambda t: float(t.num_df),
                "den_df": lambda t: float(t.den_df),
                "F": lambda t: float(t.f_value),
                "p": lambda t: float(t.p_value),
                "chisq": lambda t: float(t.chisq),
                "p_chisq": lambda t: float(t.p_chisq),
            }
            quantity = {"num_df": "df", "den_df": "df", "F": "t", "p": "p", "chisq": "t", "p_chisq": "p"}[q]
            pick = get[q]
            out.add(
                "type3",
                str(effect),
                quantity,
                ref,
                lambda pick=pick, key=key: pick(tests.get()[effect_label(key, list(tests.get())) or key]),
                ("type3", effect, q),
                df_note(out.block, ddfm),
            )


def _lsmean_table(
    fit: RsideFit, effect: str, ddfm: str, at: dict[str, float] | None
) -> dict[tuple[str, ...], Estimate]:
    return {e.levels: e for e in rside_lsmeans(fit, effect, ddfm=ddfm, at=at)}


def _lsmeans(out: Collector, fit: RsideFit, ddfm: str, field: Mapping[str, Callable[[Estimate], float]]) -> None:
    section = out.block.section("lsmeans")
    if not section:
        return
    coding = Lazy(lambda: fit_coding(fit))
    for effect, levels in section.items():
        key = mapped(out.block, str(effect))
        table = Lazy(partial(_lsmean_table, fit, key, ddfm, dict(out.block.options.at) or None))
        for level, qs in levels.items():
            for q, ref in qs.items():

                def value(q: str = q, key: str = key, level: str = str(level), table: Lazy = table) -> float:
                    return field[q](table.get()[lsmean_level(coding.get(), key, level)])

                note = df_note(out.block, ddfm) if q in DF_COLUMNS | {"se"} else ""
                out.add("lsmeans", f"{effect} {level}", q, ref, value, ("lsmeans", effect, level, q), note)
