"""Likelihood-ratio tests between nested fits, as lme4's ``anova(fit0, fit1)``.

lme4 (``anova.merMod``) first refuses models fitted to different numbers of
rows ("models were not all fitted to the same size of dataset"), then with
``refit = TRUE`` (its default) refits every REML fit by ML, orders the models by
their number of parameters and prints ``npar, AIC, BIC, logLik, deviance,
Chisq, Df, Pr(>Chisq)`` with ``Chisq = 2 max(0, diff logLik)`` between
successive models. A likelihood ratio is only meaningful on the same rows,
so here two fits on different rows are refused even when their counts agree.
The usual fix is to fit every model on the rows complete for all of them
(:func:`common_sample`, the ``in_sample`` subset of seed 002).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..design import Design
from ..engine import fit_design
from ..errors import ModelError
from ..results import FitResult
from ..spec import ModelSpec, parse_formula

REFIT = (True, False, "auto")


def common_sample(frame: pd.DataFrame, specs: Iterable[object], *, columns: Sequence[str] = ()) -> pd.DataFrame:
    """The rows of ``frame`` complete for every variable of every model.

    Args:
        frame: the data.
        specs: models, as formulas (str) or :class:`replicate.spec.ModelSpec`.
        columns: further columns that must be present (weights, for example).

    Returns:
        ``frame`` restricted to those rows, with its original index (so that
        which rows were dropped can be seen).
    """

    needed: dict[str, None] = {}
    for s in specs:
        spec = parse_formula(s, field="formula") if isinstance(s, str) else s
        if not isinstance(spec, ModelSpec):
            raise ModelError(f"cannot read a model from {s!r}", hint="give formulas or ModelSpec objects")
        for v in spec.variables():
            needed.setdefault(v, None)
    for c in columns:
        needed.setdefault(c, None)
    missing = [v for v in needed if v not in frame.columns]
    if missing:
        raise ModelError(f"variable(s) {', '.join(map(repr, missing))} not in the data")
    mask = frame[list(needed)].notna().all(axis=1)
    return frame.loc[mask]


def _check_same_rows(fits: Sequence[FitResult]) -> None:
    nobs = [int(f.nobs) for f in fits]
    hint = (
        "refit every model on the rows complete for all of them: "
        "common_sample(frame, [formula0, formula1]), as seed 002's in_sample subset"
    )
    if len(set(nobs)) > 1:
        raise ModelError(
            f"models were not all fitted to the same size of dataset (rows used: {', '.join(map(str, nobs))})",
            hint=hint,
        )
    rows = [np.asarray(f.rows) for f in fits if f.rows is not None]
    if len(rows) == len(fits) and any(not np.array_equal(rows[0], r) for r in rows[1:]):
        raise ModelError("models were fitted to different rows of the data (same number of rows)", hint=hint)


#: Fits a design by a method: the run's engine (``engine.fit``); the native engine by default.
Fitter = Callable[[Design, str], FitResult]


def _native(design: Design, method: str) -> FitResult:
    return fit_design(design, method)


def _ml(fit: FitResult, design: Design | None, name: str, fitter: Fitter | None = None) -> FitResult:
    if design is None:
        raise ModelError(
            f"model {name} was fitted by REML and must be refitted by ML, but its design is missing",
            hint="pass design0/design1, or refit=False to compare REML criteria",
        )
    return (fitter or _native)(design, "ML")


def lrt_table(
    fits: Sequence[FitResult],
    designs: Sequence[Design | None] | None = None,
    *,
    refit: bool | str = True,
    names: Sequence[str] | None = None,
    fitter: Fitter | None = None,
) -> pd.DataFrame:
    """lme4's ``anova`` for any number of fits (see :func:`lrt`); ``fitter`` refits REML fits by ML
    (the run's engine, so a run with ``--engine lme4`` refits in lme4; the native engine by default)."""
    if refit not in REFIT:
        raise ModelError(f"refit {refit!r} unknown", hint="True (lme4), False, or 'auto'")
    fits = list(fits)
    if len(fits) < 2:
        raise ModelError("a likelihood-ratio test needs at least two fits")
    designs = list(designs) if designs is not None else [None] * len(fits)
    names = list(names) if names is not None else [f"fit{i}" for i in range(len(fits))]
    if len(designs) != len(fits) or len(names) != len(fits):
        raise ModelError("fits, designs and names have different lengths")
    _check_same_rows(fits)
    reml = [f.method == "REML" for f in fits]
    if refit == "auto":
        fixed = {tuple(f.fixed.index) for f in fits}
        refit = len(fixed) > 1
    messages = []
    if refit and any(reml):
        messages.append("refitting model(s) with ML (instead of REML)")
        fits = [_ml(f, d, n, fitter) if r else f for f, d, n, r in zip(fits, designs, names, reml)]
    elif any(reml) and not all(reml):
        messages.append("some models fit with REML = TRUE, some not")
    ll = np.array([float(f.loglik) for f in fits])
    npar = np.array([int(f.npar) if f.npar is not None else np.nan for f in fits], dtype=float)
    n = float(fits[0].nobs)
    order = np.argsort(npar, kind="stable")
    ll, npar = ll[order], npar[order]
    chisq = np.r_[np.nan, 2.0 * np.maximum(0.0, np.diff(ll))]
    df = np.r_[np.nan, np.diff(npar)]
    with np.errstate(invalid="ignore"):
        p = np.where(df > 0, stats.chi2.sf(chisq, np.where(df > 0, df, 1)), np.nan)
    p[0] = np.nan
    table = pd.DataFrame(
        {
            "npar": npar.astype(int),
            "AIC": -2 * ll + 2 * npar,
            "BIC": -2 * ll + np.log(n) * npar,
            "logLik": ll,
            "deviance": -2 * ll,
            "Chisq": chisq,
            "Df": df,
            "Pr(>Chisq)": p,
        },
        index=[names[i] for i in order],
    )
    table.attrs["messages"] = tuple(messages)
    table.attrs["method"] = (
        "ML" if all(f.method == "ML" for f in fits) else "REML" if all(f.method == "REML" for f in fits) else "mixed"
    )
    return table


def lrt(
    fit0: FitResult,
    fit1: FitResult,
    design0: Design | None = None,
    design1: Design | None = None,
    *,
    refit: bool | str = True,
    names: Sequence[str] = ("fit0", "fit1"),
    fitter: Fitter | None = None,
) -> pd.DataFrame:
    """Likelihood-ratio test of two nested fits, as lme4's ``anova(fit0, fit1)``.

    Args:
        fit0, fit1: fits on the same rows.
        design0, design1: their designs, needed to refit REML fits by ML.
        refit: ``True`` (lme4's default): refit every REML fit by ML;
            ``False``: compare the criteria as fitted (lme4's ``refit = FALSE``;
            valid for REML only when the fixed effects are the same);
            ``"auto"``: refit only when the fixed-effect columns differ.
        names: row names.
        fitter: ``(design, method) -> fit`` for the ML refits (default: the native engine).

    Returns:
        Rows ordered by ``npar``; columns ``npar, AIC, BIC, logLik, deviance,
        Chisq, Df, Pr(>Chisq)``. ``attrs["messages"]`` has lme4's notes.

    Raises:
        ModelError: fits on different rows (with a hint naming
            :func:`common_sample`), or a REML fit to refit without its design.
    """
    return lrt_table([fit0, fit1], [design0, design1], refit=refit, names=names, fitter=fitter)


__all__ = ["common_sample", "lrt", "lrt_table"]
