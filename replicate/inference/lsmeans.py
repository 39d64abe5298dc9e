"""LS-means as SAS's LSMEANS statement defines them, with SEs, and their pairwise differences (DIFF).

The LS-mean of a level of a CLASS effect is the model's prediction averaged with equal weights over
every level of the model's other CLASS variables, with covariates at their means over the rows used
(or at ``at``: SAS's ``AT x = value``). Its row ``L`` is built in sum-to-zero coding on the full grid
of CLASS levels and taken to the fit's coefficients (:mod:`.sumcoding`), so the estimate is ``L beta``
and its SE ``sqrt(L V L')`` with ``V`` the fit's covariance of the fixed effects. Differences are
between every pair of levels in level order (SAS's ``DIFF``: level i minus level j for i before j).

A formula function's column (``log(x)``, ``I(x^2)``) is a covariate of its own and sits at its own
mean, as a variable made in a SAS DATA step would; ``AT`` can set only a plain covariate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..fixed_part import FixedPart
from .sumcoding import SumCoding, sum_coding


@dataclass(frozen=True)
class Estimate:
    """One row of SAS's "Least Squares Means" or "Differences of Least Squares Means".

    Attributes:
        effect: the effect as written in the model (``ARMCD:AVISIT``).
        levels: the level of each of the effect's variables.
        other: the other levels (a difference ``levels - other``), or None for an LS-mean.
        estimate, se, df, t, p_value: as SAS prints them (two-sided p).
        L: the row of coefficients on the fit's fixed effects.
    """

    effect: str
    levels: tuple[str, ...]
    other: tuple[str, ...] | None
    estimate: float
    se: float
    df: float
    t: float
    p_value: float
    L: np.ndarray


def lsmean_rows(
    coding: SumCoding, effect: str, at: Mapping[str, float] | None = None
) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """The levels of ``effect`` and, per level, its LS-mean row on the fit's coefficients."""
    term = coding.terms[coding.term_index(effect)]
    if any(v not in coding.classes for v in term):
        raise ValueError(f"LS-means are for CLASS effects; {':'.join(term)} has a covariate")
    labels, rows = coding.grid(at)
    keys = list(zip(*(labels[v] for v in term), strict=True)) if len(labels) else []
    levels = [tuple(p) for p in _level_product(coding, term)]
    L = np.zeros((len(levels), rows.shape[1]))
    for i, lev in enumerate(levels):
        mask = np.array([k == lev for k in keys], dtype=bool)
        L[i] = rows[mask].mean(axis=0)
    return levels, L @ coding.to_fit


def _level_product(coding: SumCoding, term: tuple[str, ...]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = [()]
    for v in term:
        out = [(*p, lev) for p in out for lev in coding.classes[v]]
    return out


def estimate_row(
    effect: str,
    levels: tuple[str, ...],
    other: tuple[str, ...] | None,
    L: np.ndarray,
    beta: np.ndarray,
    vcov: np.ndarray,
    df: float,
) -> Estimate:
    """One row ``L beta`` with its SE ``sqrt(L V L')``, t and two-sided p with ``df``."""
    est = float(L @ beta)
    se = float(np.sqrt(max(float(L @ vcov @ L), 0.0)))
    t = est / se if se > 0 else np.nan
    p = float(2 * stats.t.sf(abs(t), df)) if np.isfinite(t) else np.nan
    return Estimate(effect, levels, other, est, se, float(df), float(t), p, L)


def lsmeans(
    part: FixedPart,
    beta: np.ndarray,
    vcov: np.ndarray,
    effect: str,
    df: float,
    *,
    at: Mapping[str, float] | None = None,
    coding: SumCoding | None = None,
) -> tuple[Estimate, ...]:
    """SAS's LS-means of the CLASS effect ``effect`` with ``df`` denominator df.

    Args:
        part: the fit's fixed part (formula, rows used, X).
        beta, vcov: the fit's fixed-effect estimates and their covariance (in X's column order).
        effect: a CLASS term of the model (``ARMCD``, ``ARMCD*AVISIT``).
        df: degrees of freedom for the t tests.
        at: covariate values (SAS's AT); other covariates are at their means.
        coding: a :func:`sum_coding` of ``part`` already made (it is the same for every effect).
    """
    coding = coding or sum_coding(part)
    name = coding.labels[coding.term_index(effect)]
    levels, L = lsmean_rows(coding, effect, at)
    b, V = np.asarray(beta, dtype=float), np.asarray(vcov, dtype=float)
    return tuple(estimate_row(name, lev, None, L[i], b, V, df) for i, lev in enumerate(levels))


def lsmean_diffs(
    part: FixedPart,
    beta: np.ndarray,
    vcov: np.ndarray,
    effect: str,
    df: float,
    *,
    at: Mapping[str, float] | None = None,
    coding: SumCoding | None = None,
) -> tuple[Estimate, ...]:
    """SAS's DIFF: every pairwise difference of the LS-means of ``effect`` (level i minus level j, i < j)."""
    coding = coding or sum_coding(part)
    name = coding.labels[coding.term_index(effect)]
    levels, L = lsmean_rows(coding, effect, at)
    b, V = np.asarray(beta, dtype=float), np.asarray(vcov, dtype=float)
    out = []
    for i in range(len(levels)):
        for j in range(i + 1, len(levels)):
            out.append(estimate_row(name, levels[i], levels[j], L[i] - L[j], b, V, df))
    return tuple(out)
