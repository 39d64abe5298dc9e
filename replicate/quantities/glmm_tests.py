"""LS-means, differences of LS-means and Type III tests of a GLMM block, on the link scale, with SAS's ILINK columns.

GLIMMIX's LSMEANS (and emmeans on a glmer fit) build the same rows as for a linear model (:mod:`..inference.lsmeans`:
equal weights over the other CLASS variables, covariates at their means) on the linear predictor, with the fit's
covariance of the fixed effects; ``ILINK`` adds the inverse-linked ``mean`` with the delta-method ``se_mean``
(``|d mu / d eta| se``, emmeans's ``type = "response"`` SE) and the inverse-linked limits ``lower_mean``,
``upper_mean``. Type III tests are Wald tests of SAS's hypothesis: ``F`` = chi-square / rank, with ``den_df``
infinite for glmer (emmeans's ``joint_tests``) or the block's df rule for GLIMMIX. The df of an effect come from
``df_of`` (None: the block does not say them, so df, p and limits are not computed).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from scipy import stats

from ..engine.glmm.families import LINKS
from ..fixed_part import FixedPart
from ..inference.lsmeans import Estimate, lsmean_diffs, lsmeans
from ..inference.sumcoding import sum_coding
from ..inference.type3 import Type3Test, type3_tests
from .estimate_fields import ALPHA, DF_COLUMNS, FIELDS
from .gside_sections import add_rows, add_type3
from .rside_diffs import diff_levels, pair_value
from .rside_levels import lsmean_level
from .value import Collector, Lazy

SECTIONS = ("type3", "lsmeans", "diffs")
#: The ILINK columns (the inverse-linked LS-mean, its delta-method SE and limits).
ILINK = ("mean", "se_mean", "lower_mean", "upper_mean")


class GlmmTests:
    """Wald LS-means, differences and Type III tests of one GLMM fit (link scale), with SAS's ILINK."""

    def __init__(
        self, part: FixedPart, beta: np.ndarray, vcov: np.ndarray, family: str, link: str, df_of: Callable[[str], float]
    ) -> None:
        self.part, self.df_of = part, df_of
        self.beta, self.vcov = np.asarray(beta, dtype=float), np.asarray(vcov, dtype=float)
        self.link = LINKS[str(link)]
        self.coding = sum_coding(part)

    def lsmeans(self, effect: str) -> dict[tuple[str, ...], Estimate]:
        return {
            e.levels: e
            for e in lsmeans(self.part, self.beta, self.vcov, effect, self.df_of(effect), coding=self.coding)
        }

    def diffs(self, effect: str) -> dict[tuple[tuple[str, ...], tuple[str, ...]], Estimate]:
        rows = lsmean_diffs(self.part, self.beta, self.vcov, effect, self.df_of(effect), coding=self.coding)
        return {(e.levels, e.other): e for e in rows if e.other is not None}

    def type3(self) -> dict[str, Type3Test]:
        df = {lab: self.df_of(lab) for lab, term in zip(self.coding.labels, self.coding.terms, strict=True) if term}
        return {t.effect: t for t in type3_tests(self.part, self.beta, self.vcov, df, coding=self.coding)}

    def ilink(self, e: Estimate, q: str) -> float:
        """An ILINK column of the LS-mean ``e``."""
        eta = np.array([e.estimate])
        if q == "mean":
            return float(self.link.inverse(eta)[0])
        if q == "se_mean":
            return float(abs(self.link.mu_eta(eta)[0]) * e.se)
        half = float(stats.t.ppf(1 - ALPHA / 2, e.df) * e.se)
        bound = e.estimate - half if q == "lower_mean" else e.estimate + half
        return float(self.link.inverse(np.array([bound]))[0])


def add_glmm_tests(out: Collector, tests: Lazy, df_said: bool, note: str) -> None:
    """Add the block's ``type3``, ``lsmeans`` and ``diffs`` values (``tests``: a lazy :class:`GlmmTests`; ``df_said``:
    whether the block's df are known, else df, p and limits are not computed)."""
    add_type3(out, Lazy(lambda: tests.get().type3()), df_said, note)
    readers = {
        "lsmeans": (partial(_table, tests, "lsmeans"), partial(_value, tests, "lsmeans")),
        "diffs": (partial(_table, tests, "diffs"), partial(_value, tests, "diffs")),
    }
    add_rows(
        out,
        readers,
        df_said,
        note,
        DF_COLUMNS | {"lower_mean", "upper_mean"},
        lambda q: "SAS's ILINK (delta method)" if q in ILINK else "",
    )


def _table(tests: Lazy, kind: str, key: str) -> Any:
    return getattr(tests.get(), kind)(key)


def _value(tests: Lazy, section: str, table: Lazy, key: str, row: str, q: str) -> float:
    t: GlmmTests = tests.get()
    if section == "lsmeans":
        e = table.get()[lsmean_level(t.coding, key, row)]
        return t.ilink(e, q) if q in ILINK else FIELDS[q](e)
    a, b = diff_levels(t.coding, key, row)
    return pair_value(table.get(), a, b, q, FIELDS)
