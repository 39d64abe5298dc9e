"""The printed columns of an estimate row (Solution for Fixed Effects, LS-means, differences, ESTIMATE) and how
each is read off the engine's :class:`~replicate.inference.lsmeans.Estimate`.

``lower`` and ``upper`` are SAS's CL columns (and lmerTest's ``lower``/``upper``): the two-sided 95 % t limits
``estimate -+ t(0.975, df) se`` with the row's own df (SAS's default ALPHA=0.05).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from scipy import stats

from ..inference.lsmeans import Estimate

#: SAS's default ALPHA= for confidence limits.
ALPHA = 0.05


def _half_width(e: Estimate) -> float:
    return float(stats.t.ppf(1 - ALPHA / 2, e.df) * e.se)


#: Column -> its value of an engine row.
FIELDS: Mapping[str, Callable[[Estimate], float]] = {
    "estimate": lambda e: e.estimate,
    "se": lambda e: e.se,
    "df": lambda e: e.df,
    "t": lambda e: e.t,
    "p": lambda e: e.p_value,
    "lower": lambda e: e.estimate - _half_width(e),
    "upper": lambda e: e.estimate + _half_width(e),
}

#: The columns whose value depends on the row's df (the rest do not).
DF_COLUMNS = frozenset({"df", "p", "lower", "upper"})
