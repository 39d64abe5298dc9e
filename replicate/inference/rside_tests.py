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
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..engine.rside import RsideFit
from ..errors import ModelError
from ..fixed_part import FixedPart
from ..rside_names import StructureName
from .bwsplit import split_within_df
from .lsmeans import Estimate, lsmean_diffs, lsmeans
from .sumcoding import SumCoding, sum_coding
from .type3 import Type3Test, type3_tests

DDFM = ("betwithin", "residual")


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
    """Denominator df of every term of ``fit`` under ``ddfm`` (``betwithin`` or ``residual``)."""
    part = _part(fit)
    if ddfm == "residual":
        return dict.fromkeys(coding.labels, residual_df(part))
    if ddfm == "betwithin":
        return between_within_df(part, coding, fit.structure)
    raise ModelError(f"ddfm {ddfm!r} unknown", field="ddfm", hint="one of: " + ", ".join(DDFM))


def rside_lsmeans(
    fit: RsideFit, effect: str, *, at: Mapping[str, float] | None = None, ddfm: str = "betwithin", diff: bool = False
) -> tuple[Estimate, ...]:
    """LS-means of ``effect`` (or, with ``diff``, their pairwise differences) of a repeated-measures fit."""
    part = _part(fit)
    coding = sum_coding(part)
    df = effect_df(fit, coding, ddfm)[coding.labels[coding.term_index(effect)]]
    fun = lsmean_diffs if diff else lsmeans
    return fun(part, fit.beta, fit.vcov_beta, effect, df, at=at, coding=coding)


def rside_type3(fit: RsideFit, *, ddfm: str = "betwithin") -> tuple[Type3Test, ...]:
    """Type III F tests of every fixed effect of a repeated-measures fit."""
    part = _part(fit)
    coding = sum_coding(part)
    return type3_tests(part, fit.beta, fit.vcov_beta, effect_df(fit, coding, ddfm), coding=coding)
