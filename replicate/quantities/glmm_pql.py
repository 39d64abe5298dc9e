"""The engine's numbers for a block of ``MASS::glmmPQL`` (a GLMM block with ``options.method: pql``).

glmmPQL returns its last working linear mixed model (an ``nlme::lme`` fit), so its summary prints what lme
prints: the fixed effects (``fixed``: Value, Std.Error, DF, t-value, p-value; the SEs as ``summary.lme``
prints them for an ML fit, ``vcov``'s times ``sqrt(N / (N - p))``; the df are nlme's inner/outer df, the
p-value from Student's t with them), the random-effect standard deviations and variances per group
and column (``random``), and the residual SD (``random: Residual``: the square root of the estimated
dispersion, sigma). Its log-likelihood is that of the working model, not of the data, and glmmPQL strips
it: a block's ``fit`` section takes ``nobs`` and ``ngroups`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import stats

from ..block_names import component_columns, mapped
from ..engine.glmm.pql import PqlFit
from ..errors import NotImplementedOption
from ..inference.robust import RobustResult, cluster_robust
from ..reference_block import ReferenceBlock
from ..vocab import DfMethod, SeKind
from .value import Collector, EngineValue, Lazy

PQL_NOTE = "glmmPQL's last working LMM (nlme)"


#: The sandwich SEs of the last working LMM (clubSandwich's vcovCR on the lme fit glmmPQL returns; HLM's robust SEs
#: of an HGLM are CR0 on the same working model).
ROBUST = (SeKind.CR0, SeKind.CR1, SeKind.CR2)


def check_pql_block(block: ReferenceBlock) -> None:
    """Refuse options a glmmPQL block does not have: df rules other than nlme's own, or (with sandwich SEs) other
    than clubSandwich's CR2 Satterthwaite df or none, said explicitly (coef_test's default is Satterthwaite,
    HLM prints t with its own df: an unsaid df would silently be z)."""
    o = block.options
    model = o.se == SeKind.MODEL and o.df is None
    robust = o.se in ROBUST and (o.df == DfMethod.NONE or (o.df == DfMethod.CR2_SATTERTHWAITE and o.se == SeKind.CR2))
    if not (model or robust):
        raise NotImplementedOption(
            f"options {o.as_dict()} for a glmmPQL block",
            hint="glmmPQL prints nlme's t tests with its own df and model-based SEs (leave out options.df and "
            "options.se); clubSandwich's sandwich on its working model takes se: cr0, cr1 or cr2, with df said: "
            "cr2-satterthwaite (coef_test's default, with cr2) or none (z tests)",
        )


def pql_quantities(
    block: ReferenceBlock, fit: PqlFit, df: Sequence[float] | None, nobs: int, ngroups: dict[str, int]
) -> list[EngineValue]:
    """The engine's number for every number a glmmPQL block prints (``df``: nlme's, None when not computed)."""
    check_pql_block(block)
    out = Collector(block)
    index = {name: j for j, name in enumerate(fit.fixed_names)}
    robust = Lazy(lambda: _robust(fit, block))
    for term, qs in block.section("fixed").items():
        j = index.get(mapped(block, term))
        for q, ref in qs.items():
            if block.options.se in ROBUST:
                value = None if j is None else _robust_fixed(fit, robust, j, q)
                note = f"clubSandwich's {str(block.options.se).upper()} on glmmPQL's last working LMM"
            else:
                value = None if j is None else _fixed(fit, df, j, q, nobs)
                note = PQL_NOTE if q in ("df", "t", "p") else ""
            out.add("fixed", term, q, ref, value, ("fixed", term, q), note)
    for grp, comps in block.section("random").items():
        if grp == "Residual":
            for q, ref in comps.items():
                note = "the dispersion glmmPQL estimates"
                out.add("random", "Residual", q, ref, _residual(fit, q), ("random", grp, q), note)
            continue
        for comp, qs in comps.items():
            cols = component_columns(block, comp)
            for q, ref in qs.items():
                value = _varcomp(fit, mapped(block, grp), cols, q)
                out.add("random", f"{grp} {comp}", q, ref, value, ("random", grp, comp, q))
    for q, ref in block.section("fit").items():
        if q == "ngroups":
            for g, n in ref.items():
                count = ngroups.get(mapped(block, g))
                out.add("fit", f"groups {g}", "ngroups", n, None if count is None else float(count), ("fit", q, g))
        elif q == "nobs":
            out.add("fit", "nobs", "nobs", ref, float(nobs), ("fit", q))
        else:
            note = "glmmPQL has no likelihood of the data (its logLik is the working model's, and it strips it)"
            out.add("fit", q, q, ref, None, ("fit", q), note=note)
    return out.values


def _coefficient(q: str, beta: float, se: float, df: float | None, statistics: tuple[str, ...], who: str) -> float:
    """A fixed effect's printed column ``q`` from its estimate, SE and df (None: not computed; inf: z)."""
    t = beta / se
    if q == "estimate":
        return beta
    if q == "se":
        return se
    if q in statistics:
        return t
    if q in ("df", "p"):
        if df is None:
            raise NotImplementedOption("nlme's df of this model are not computed", hint="nested groups only")
        if q == "df":
            return df
        return float(2 * stats.t.sf(abs(t), df)) if np.isfinite(df) else float(2 * stats.norm.sf(abs(t)))
    raise NotImplementedOption(f"{who} prints no {q}", hint="its fixed effects: estimate, se, df, t, p")


def _fixed(fit: PqlFit, df: Sequence[float] | None, j: int, q: str, nobs: int) -> Callable[[], float]:
    def get() -> float:
        se = float(fit.se[j]) * adjust_sigma(nobs, len(fit.beta))
        return _coefficient(q, float(fit.beta[j]), se, None if df is None else float(df[j]), ("t",), "glmmPQL")

    return get


def _robust(fit: PqlFit, block: ReferenceBlock) -> RobustResult:
    kind = str(block.options.se).upper()
    return cluster_robust(fit.lmm, fit.working, kind, df=block.options.df == DfMethod.CR2_SATTERTHWAITE)


def _robust_fixed(fit: PqlFit, robust: Lazy, j: int, q: str) -> Callable[[], float]:
    def get() -> float:
        res: RobustResult = robust.get()
        df = float("inf") if res.df is None else float(res.df.iloc[j])
        return _coefficient(q, float(fit.beta[j]), float(res.se.iloc[j]), df, ("t", "z"), "clubSandwich's coef_test")

    return get


def adjust_sigma(nobs: int, p: int) -> float:
    """``summary.lme``'s ``adjustSigma = TRUE`` for an ML fit (glmmPQL's): the printed SEs are ``vcov``'s
    times ``sqrt(N / (N - p))``."""
    return float(np.sqrt(nobs / (nobs - p)))


def _residual(fit: PqlFit, q: str) -> Callable[[], float]:
    def get() -> float:
        if q == "sd":
            return float(fit.sigma)
        if q == "variance":
            return float(fit.sigma**2)
        raise NotImplementedOption(f"the residual has no {q}", hint="write sd or variance")

    return get


def _varcomp(fit: PqlFit, group: str, cols: list[str], q: str) -> Callable[[], float]:
    def get() -> float:
        vc = fit.varcorr
        rows = vc[vc["grp"] == group]
        if rows.empty:
            raise NotImplementedOption(f"the model has no grouping factor {group!r}", hint="map it under names:")
        if len(cols) == 1:
            row = rows[(rows["var1"] == cols[0]) & rows["var2"].isna()]
            column = {"variance": "vcov", "sd": "sdcor"}.get(q)
        else:
            row = rows[(rows["var1"] == cols[1]) & (rows["var2"] == cols[0])]
            if row.empty:
                row = rows[(rows["var1"] == cols[0]) & (rows["var2"] == cols[1])]
            column = {"cov": "vcov", "corr": "sdcor"}.get(q)
        if row.empty or column is None:
            raise NotImplementedOption(
                f"{q} of {', '.join(cols)} is not a variance component of {group!r}",
                hint="a column takes variance or sd; a pair 'a, b' takes cov or corr",
            )
        return float(np.asarray(row[column], dtype=float)[0])

    return get
