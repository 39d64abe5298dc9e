"""SAS's Type III tests of fixed effects (Tests3, with the CHISQ option's Wald chi-square).

The Type III hypothesis of a term is "the term's columns are zero" in sum-to-zero coding (see
:mod:`.sumcoding`), taken to the fit's coefficients: ``L = E_term M^-1``. The F statistic is
``(L b)' (L V L')^-1 (L b) / rank(L)`` with ``rank(L)`` numerator df; the chi-square is F times
rank(L). The denominator df are given per term (residual df, between-within, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..fixed_part import FixedPart
from .sumcoding import SumCoding, sum_coding


@dataclass(frozen=True)
class Type3Test:
    """One row of SAS's "Type 3 Tests of Fixed Effects".

    Attributes:
        effect: the term (``ARMCD:AVISIT``).
        num_df, den_df: numerator and denominator df.
        f_value, p_value: the F test.
        chisq, p_chisq: the Wald chi-square (SAS's CHISQ option).
        L: the hypothesis matrix on the fit's coefficients (num_df rows).
    """

    effect: str
    num_df: int
    den_df: float
    f_value: float
    p_value: float
    chisq: float
    p_chisq: float
    L: np.ndarray


def type3_matrix(coding: SumCoding, effect: str) -> np.ndarray:
    """The Type III hypothesis matrix of ``effect`` on the fit's coefficients (one row per column of the term)."""
    span = coding.spans[coding.term_index(effect)]
    return coding.to_fit[span]


def wald_f(L: np.ndarray, beta: np.ndarray, vcov: np.ndarray) -> tuple[float, int]:
    """The Wald F statistic of ``L beta = 0`` and its numerator df (the rank of ``L V L'``)."""
    Lb = L @ beta
    LVL = L @ vcov @ L.T
    rank = int(np.linalg.matrix_rank(LVL))
    if rank == 0:
        return np.nan, 0
    quad = float(Lb @ np.linalg.pinv(LVL) @ Lb)
    return quad / rank, rank


def type3_tests(
    part: FixedPart,
    beta: np.ndarray,
    vcov: np.ndarray,
    df: float | Mapping[str, float],
    *,
    coding: SumCoding | None = None,
) -> tuple[Type3Test, ...]:
    """Type III F tests of every term but the intercept, in formula order.

    Args:
        part: the fit's fixed part (formula, rows used, X).
        beta, vcov: the fit's fixed-effect estimates and their covariance.
        df: denominator df, one number for every term or one per term label.
        coding: a :func:`sum_coding` of ``part`` already made.
    """
    coding = coding or sum_coding(part)
    b, V = np.asarray(beta, dtype=float), np.asarray(vcov, dtype=float)
    out = []
    for label, term in zip(coding.labels, coding.terms, strict=True):
        if not term:
            continue
        L = type3_matrix(coding, label)
        f, k = wald_f(L, b, V)
        den = float(df[label]) if isinstance(df, Mapping) else float(df)
        p = float(stats.f.sf(f, k, den)) if k else np.nan
        chisq = f * k
        out.append(Type3Test(label, k, den, f, p, chisq, float(stats.chi2.sf(chisq, k)) if k else np.nan, L))
    return tuple(out)
