"""Test helpers: load R datasets through rpy2 and build Designs by hand.

The formula -> Design builder lives elsewhere; the engine tests build the
model matrices directly so that they exercise the engine alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from replicate.design import Design, ReTerm
from tests.rsupport import from_r as r_to_pandas  # R data frame or expression -> pandas
from tests.rsupport import need_r
from tests.rsupport import to_r as pandas_to_r  # pandas -> R global environment


def require_r():
    """rpy2's ``robjects`` with lme4 loaded, or skip (fail if REPLICATE_REQUIRE_R=1)."""
    return need_r("lme4")


def factor_codes(values: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes and labels, in R's factor level order where known."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cat = values.cat.remove_unused_categories()
    else:
        cat = pd.Categorical(values.astype(str), categories=sorted(values.astype(str).unique()))
        cat = pd.Series(cat)
    codes = np.asarray(cat.cat.codes if hasattr(cat, "cat") else cat.codes, dtype=np.int64)
    cats = cat.cat.categories if hasattr(cat, "cat") else cat.categories
    return codes, tuple(str(c) for c in cats)


def re_term(df: pd.DataFrame, group: str | Sequence[str], columns: Sequence[str]) -> ReTerm:
    """Random-effect term ``(columns | group)``.

    ``group`` may be a list ``[inner, outer]`` for the interaction factor that
    ``(1 | outer/inner)`` creates; it is named ``inner:outer`` as lme4 does.
    Column ``"(Intercept)"`` is the constant 1.
    """
    if isinstance(group, str):
        key = df[group]
        name = group
    else:
        key = df[list(group)].astype(str).agg(":".join, axis=1)
        name = ":".join(group)
    codes, labels = factor_codes(key)
    n = len(df)
    cols = [np.ones(n) if c == "(Intercept)" else df[c].to_numpy(dtype=float) for c in columns]
    return ReTerm(name, codes, labels, tuple(columns), np.column_stack(cols))


def make_design(
    df: pd.DataFrame,
    response: str,
    fixed: Sequence[str],
    terms: Sequence[ReTerm],
    *,
    weights: str | None = None,
    formula: str = "",
) -> Design:
    """Design with intercept + numeric ``fixed`` columns (already numeric in df)."""
    n = len(df)
    cols = [np.ones(n)] + [df[c].to_numpy(dtype=float) for c in fixed]
    return Design(
        y=df[response].to_numpy(dtype=float),
        X=np.column_stack(cols),
        fixed_names=("(Intercept)",) + tuple(fixed),
        reterms=tuple(terms),
        weights=None if weights is None else df[weights].to_numpy(dtype=float),
        rows=np.arange(n),
        formula=formula,
        response=response,
    )


TIGHT_CONTROL = (
    "lme4::lmerControl(optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, ftol_rel = 1e-15, xtol_rel = 1e-12))"
)


def lmer_fit(ro, df: pd.DataFrame, formula: str, reml: bool, weights: str | None = None, tight: bool = False) -> dict:
    """Fit ``lmer`` on ``df`` and return the numbers the tests compare.

    With ``tight=True`` lme4's optimizer (nloptwrap's BOBYQA) runs with far
    smaller tolerances than its defaults, so that its optimum is accurate to
    more digits than the comparison needs.

    The fitted model stays in R as ``.replicate_fm`` and its deviance function as
    ``.replicate_devfun`` (see :func:`lmer_devfun`).
    """
    pandas_to_r(ro, df, ".replicate_df")
    wt = f", weights = {weights}" if weights else ""
    if tight:
        wt += f", control = {TIGHT_CONTROL}"
    ro.r(
        f".replicate_fm <- lme4::lmer({formula}, data = .replicate_df, REML = {'TRUE' if reml else 'FALSE'}{wt});"
        ".replicate_devfun <- lme4::getME(.replicate_fm, 'devfun')"
    )
    return _extract(ro, ".replicate_fm")


def lmer_devfun(ro, theta: np.ndarray) -> float:
    """lme4's profiled deviance of the last :func:`lmer_fit` model at ``theta``."""
    from rpy2.robjects import FloatVector

    val = ro.r[".replicate_devfun"](FloatVector(list(map(float, theta))))[0]
    ro.r[".replicate_devfun"](ro.r("lme4::getME(.replicate_fm, 'theta')"))  # restore state
    return float(val)


def lmer_ranef(ro, group: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Conditional modes of one grouping factor and their conditional variances."""
    re = r_to_pandas(ro, f"as.data.frame(lme4::ranef(.replicate_fm)[['{group}']])")
    pv = np.array(ro.r(f"attr(lme4::ranef(.replicate_fm, condVar = TRUE)[['{group}']], 'postVar')"))
    return re, pv


def lmer_at_theta(
    ro, df: pd.DataFrame, formula: str, reml: bool, theta: np.ndarray, weights: str | None = None
) -> dict:
    """lme4's merMod at a given theta (``lFormula -> mkLmerDevfun -> mkMerMod``).

    Everything lme4 derives from theta (beta, sigma, vcov, VarCorr, ranef,
    condVar) then depends only on lme4's linear algebra, not on its optimizer.
    The model is left in R as ``.replicate_fm`` for :func:`lmer_ranef`.
    """
    from rpy2.robjects import FloatVector

    pandas_to_r(ro, df, ".replicate_df")
    wt = f", weights = {weights}" if weights else ""
    ro.globalenv[".replicate_theta"] = FloatVector(list(map(float, theta)))
    ro.r(
        f".replicate_lmod <- lme4::lFormula({formula}, data = .replicate_df, REML = {'TRUE' if reml else 'FALSE'}{wt});"
        ".replicate_devfun <- do.call(lme4::mkLmerDevfun, .replicate_lmod);"
        ".replicate_opt <- list(par = .replicate_theta, fval = .replicate_devfun(.replicate_theta),"
        " conv = 0, feval = 1L, message = '');"
        ".replicate_fm <- lme4::mkMerMod(environment(.replicate_devfun), .replicate_opt,"
        " .replicate_lmod$reTrms, fr = .replicate_lmod$fr)"
    )
    return _extract(ro, ".replicate_fm")


def _extract(ro, fm: str) -> dict:
    vc = r_to_pandas(ro, f"as.data.frame(lme4::VarCorr({fm}))")
    names = list(ro.r(f"names(lme4::fixef({fm}))"))
    vcov = np.array(ro.r(f"as.matrix(vcov({fm}))"))
    return {
        "theta": np.array(ro.r(f"unname(lme4::getME({fm}, 'theta'))")),
        "fixed": pd.Series(np.array(ro.r(f"unname(lme4::fixef({fm}))")), index=names),
        "se": pd.Series(np.sqrt(np.diag(vcov)), index=names),
        "vcov": vcov,
        "varcorr": vc,
        "loglik": float(ro.r(f"as.numeric(logLik({fm}))")[0]),
        "objective": float(ro.r(f"as.numeric(-2 * logLik({fm}))")[0]),
        "sigma": float(ro.r(f"sigma({fm})")[0]),
        "aic": float(ro.r(f"AIC({fm})")[0]),
        "bic": float(ro.r(f"BIC({fm})")[0]),
        "singular": bool(ro.r(f"lme4::isSingular({fm})")[0]),
        "fitted": np.array(ro.r(f"unname(fitted({fm}))")),
        "npar": int(ro.r(f"attr(logLik({fm}), 'df')")[0]),
        "nobs": int(ro.r(f"nobs({fm})")[0]),
    }
