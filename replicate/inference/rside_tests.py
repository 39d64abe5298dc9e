"""LS-means, differences and Type III tests of a repeated-measures fit, with SAS's df for REPEATED.

Two denominator-df rules (SAS's ``DDFM=``):

* ``residual``: n - rank(X) for every effect;
* ``betwithin`` (SAS's default for a REPEATED statement without RANDOM; Schluchter and Elashoff
  1990): the residual df split into between-subject df, S - rank(X_b) with S subjects and X_b the
  columns of X constant within every subject (the intercept among them), and within-subject df,
  n - S - (rank(X) - rank(X_b)). An effect whose columns change within some subject gets the
  within df, the others the between df; with TYPE=UN every effect gets the between df, as SAS does.
  Where several within-subject effects contain CLASS variables SAS further splits the within df
  into subject-by-effect parts (:mod:`.bwsplit`).

with random effects beside the structure, ``contain`` (SAS's default with RANDOM) and ``nlme`` (lme's df), see
:mod:`.rside_random_df`; and the approximate ones of :mod:`.rside_df`, computed per row of each estimate and per test:
``satterthwaite``, ``kr`` (Kenward-Roger: the adjusted covariance for SEs and F, its df and F scale)
and ``kr(firstorder)`` (without the second-derivative term).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
from scipy import stats

from ..engine.rside import RsideFit
from ..errors import ModelError
from ..fixed_part import FixedPart
from ..rside_names import StructureName
from .bwsplit import split_within_df
from .lsmeans import Estimate, lsmean_diffs, lsmeans
from .rside_coding import part_coding
from .rside_df import APPROXIMATE, DfParts, df_parts, kenward_roger_test, satterthwaite_df
from .rside_random_df import RANDOM_RULES, random_effect_df
from .sumcoding import SumCoding
from .type3 import Type3Test, type3_matrix, type3_tests, wald_f

#: The df methods that give every row of a model term the term's df (SAS's rules and nlme's).
RULES = ("betwithin", "residual", *RANDOM_RULES)
DDFM = (*RULES, *APPROXIMATE)
_RULE_NAMES = {"betwithin": "between-within", "residual": "residual", "contain": "containment", "nlme": "nlme's"}


def residual_df(part: FixedPart) -> float:
    """n - rank(X)."""
    return float(part.X.shape[0] - np.linalg.matrix_rank(part.X))


def _varies_within(M: np.ndarray, subject: np.ndarray) -> np.ndarray:
    """For each column of M: does it take two values within some subject?"""
    order = np.argsort(subject, kind="stable")
    s, Ms = subject[order], M[order]
    same = s[1:] == s[:-1]
    if not same.any():
        return np.zeros(M.shape[1], dtype=bool)
    diff = np.abs(Ms[1:] - Ms[:-1])[same]
    scale = np.maximum(np.max(np.abs(M), axis=0), 1.0)
    out: np.ndarray = np.any(diff > 1e-10 * scale, axis=0)
    return out


def between_within_df(part: FixedPart, coding: SumCoding, structure: StructureName | None) -> dict[str, float]:
    """SAS's between-within df of every term (by label), for a model with R-side structure only."""
    if part.subject is None:
        raise ModelError("between-within df need the subject of each row", field="ddfm", hint="use ddfm='residual'")
    X, subject = np.asarray(part.X, dtype=float), np.asarray(part.subject)
    n_subjects = len(np.unique(subject))
    between_cols = ~_varies_within(X, subject)
    rank_b = int(np.linalg.matrix_rank(X[:, between_cols])) if between_cols.any() else 0
    between = float(n_subjects - rank_b)
    within = float(X.shape[0] - n_subjects - (np.linalg.matrix_rank(X) - rank_b))
    sum_within = _varies_within(coding.X_sum, subject)
    out: dict[str, float] = {}
    within_effects = []
    for label, span in zip(coding.labels, coding.spans, strict=True):
        changes = bool(sum_within[span].any()) and structure is not StructureName.UN
        out[label] = within if changes else between
        if changes:
            within_effects.append(label)
    with_class = [e for e in within_effects if any(v in coding.classes for v in coding.terms[coding.labels.index(e)])]
    if len(with_class) > 1:
        out.update(split_within_df(X, subject, coding, within_effects))
    return out


def _part(fit: RsideFit) -> FixedPart:
    if fit.fixed_part is None:
        raise ModelError("the fit does not keep its fixed part (fit it with fit_residual)", field="fit")
    return fit.fixed_part


def effect_df(fit: RsideFit, coding: SumCoding, ddfm: str) -> dict[str, float]:
    """Denominator df of every term of ``fit`` under one of the :data:`RULES` (between-within, residual,
    containment, nlme's)."""
    part = _part(fit)
    if ddfm == "residual":
        return dict.fromkeys(coding.labels, residual_df(part))
    if ddfm == "betwithin":
        return between_within_df(part, coding, fit.structure)
    if ddfm in RANDOM_RULES:
        return random_effect_df(fit, coding, ddfm)
    raise ModelError(f"ddfm {ddfm!r} unknown", field="ddfm", hint="one of: " + ", ".join(DDFM))


def _with_df(e: Estimate, df: float) -> Estimate:
    p = float(2 * stats.t.sf(abs(e.t), df)) if np.isfinite(e.t) and df > 0 else np.nan
    return replace(e, df=float(df), p_value=p)


def _parts(fit: RsideFit, ddfm: str) -> DfParts | None:
    if ddfm in APPROXIMATE:
        return df_parts(fit, ddfm)
    if ddfm not in DDFM:
        raise ModelError(f"ddfm {ddfm!r} unknown", field="ddfm", hint="one of: " + ", ".join(DDFM))
    return None


def rside_lsmeans(
    fit: RsideFit, effect: str, *, at: Mapping[str, float] | None = None, ddfm: str = "betwithin", diff: bool = False
) -> tuple[Estimate, ...]:
    """LS-means of ``effect`` (or, with ``diff``, their pairwise differences) of a repeated-measures fit.

    Under ``satterthwaite`` and ``kr`` every row has its own df; ``kr`` uses the adjusted covariance.
    """
    part = _part(fit)
    coding = part_coding(part)
    parts = _parts(fit, ddfm)
    fun = lsmean_diffs if diff else lsmeans
    if parts is None:
        df = effect_df(fit, coding, ddfm)[coding.labels[coding.term_index(effect)]]
        return fun(part, fit.beta, fit.vcov_beta, effect, df, at=at, coding=coding)
    rows = fun(part, fit.beta, parts.vcov, effect, np.inf, at=at, coding=coding)
    return tuple(_with_df(e, _row_df(parts, e.L)) for e in rows)


def _row_df(parts: DfParts, row: np.ndarray) -> float:
    return satterthwaite_df(parts, row)  # one row: Kenward-Roger's m is Satterthwaite's df of Phi


def _rows_on_fit(fit: RsideFit, L: np.ndarray, ddfm: str, what: str, df: float | None) -> np.ndarray:
    rows = np.atleast_2d(np.asarray(L, dtype=float))
    if rows.shape[1] != fit.beta.size:
        raise ModelError(
            f"the {what} row has {rows.shape[1]} coefficients, the fit {fit.beta.size}",
            field=what.lower(),
            hint="one coefficient per fixed effect, in the order of fit.fixed_names: " + ", ".join(fit.fixed_names),
        )
    if ddfm in ("betwithin", *RANDOM_RULES) and df is None:
        raise ModelError(
            f"{_RULE_NAMES[ddfm]} df of an arbitrary {what} row: SAS takes them from the final effect the statement "
            "lists; pass them as df",
            field="ddfm",
            hint="use ddfm='satterthwaite', 'kr', 'kr(firstorder)' or 'residual', or give df",
        )
    return rows


def rside_estimate(
    fit: RsideFit, L: np.ndarray, *, ddfm: str = "satterthwaite", label: str = "", df: float | None = None
) -> Estimate:
    """SAS's ESTIMATE statement: ``L beta`` for a row ``L`` on the fit's coefficients (``fit.fixed_names``).

    ``df`` gives the df under the :data:`RULES` (SAS: the final listed effect's; ``residual`` needs none); the
    approximate methods compute the row's own.
    """
    row = _rows_on_fit(fit, L, ddfm, "ESTIMATE", df)
    if row.shape[0] != 1:
        raise ModelError("an ESTIMATE is one row", field="estimate", hint="use rside_contrast for several rows")
    row = row[0]
    parts = _parts(fit, ddfm)
    vcov = fit.vcov_beta if parts is None else parts.vcov
    est = float(row @ fit.beta)
    se = float(np.sqrt(max(float(row @ vcov @ row), 0.0)))
    t = est / se if se > 0 else np.nan
    if parts is not None:
        df = _row_df(parts, row)
    elif df is None:
        df = residual_df(_part(fit))
    return _with_df(Estimate(label, (), None, est, se, np.inf, t, np.nan, row), df)


def rside_contrast(
    fit: RsideFit, L: np.ndarray, *, ddfm: str = "satterthwaite", label: str = "", df: float | None = None
) -> Type3Test:
    """SAS's CONTRAST statement: the F test of ``L beta = 0`` (rows of ``L`` on ``fit.fixed_names``);
    ``df`` as for :func:`rside_estimate`."""
    rows = _rows_on_fit(fit, L, ddfm, "CONTRAST", df)
    parts = _parts(fit, ddfm)
    vcov = fit.vcov_beta if parts is None else parts.vcov
    f, q = wald_f(rows, fit.beta, vcov)
    den = (df if df is not None else residual_df(_part(fit))) if parts is None else satterthwaite_df(parts, rows)
    chisq = f * q
    if parts is not None and parts.ddfm != "satterthwaite":
        kr = kenward_roger_test(parts, rows, fit.beta)
        f, den = kr.f_value, kr.den_df
    p = float(stats.f.sf(f, q, den)) if q and den > 0 else np.nan
    p_chisq = float(stats.chi2.sf(chisq, q)) if q else np.nan
    return Type3Test(label, q, float(den), float(f), p, float(chisq), p_chisq, rows)


def rside_type3(fit: RsideFit, *, ddfm: str = "betwithin") -> tuple[Type3Test, ...]:
    """Type III F tests of every fixed effect of a repeated-measures fit.

    Under ``kr`` the F statistic is Kenward-Roger's scaled F (adjusted covariance, times lambda) with
    its df; the chi-square is the Wald chi-square of the adjusted covariance (q times the unscaled F).
    """
    part = _part(fit)
    coding = part_coding(part)
    parts = _parts(fit, ddfm)
    if parts is None:
        return type3_tests(part, fit.beta, fit.vcov_beta, effect_df(fit, coding, ddfm), coding=coding)
    dfs = {lab: satterthwaite_df(parts, type3_matrix(coding, lab)) for lab, t in zip(coding.labels, coding.terms) if t}
    tests = type3_tests(part, fit.beta, parts.vcov, dfs, coding=coding)
    if parts.ddfm == "satterthwaite":
        return tests
    out = []
    for t in tests:
        kr = kenward_roger_test(parts, t.L, fit.beta)
        p = float(stats.f.sf(kr.f_value, kr.num_df, kr.den_df)) if kr.num_df else np.nan
        out.append(replace(t, f_value=kr.f_value, den_df=kr.den_df, p_value=p))
    return tuple(out)
