"""LS-means, their differences and Type III tests of a G-side (random-effects) fit, under one df method.

What SAS's LSMEANS (with DIFF) and Tests3 print for a model with RANDOM effects and no REPEATED
statement, and what lmerTest's ``ls_means``, ``difflsmeans`` and ``anova`` print for an lmer fit:

- an LS-mean's row ``l`` is SAS's (:mod:`.lsmeans`: equal weights over the other CLASS variables,
  covariates at their means), its estimate ``l b`` and SE ``sqrt(l V l')``;
- its df follow the block's df method: one row's Satterthwaite df ``2 (l C l')^2 / (g' A g)`` (lmerTest's
  ``contest1D``, SAS's ``ddfm=satterthwaite``), Kenward-Roger's df of the one-row test with the adjusted
  covariance for the SE (pbkrtest, SAS's ``ddfm=kr``), or the df a rule gives the effect's columns
  (residual, containment, between-within, ...: SAS prints the effect's Tests3 den df beside its LS-means);
- a Type III test is lmerTest's ``anova`` under Satterthwaite (its multi-df ``contestMD`` on SAS's Type
  III hypothesis, which lmerTest builds as SAS does) and pbkrtest's F under Kenward-Roger; under a rule,
  the Wald F of the sum-to-zero hypothesis (:mod:`.type3`) with the effect's df.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property

import numpy as np
from scipy import stats

from ..errors import NotImplementedOption
from ..fixed_part import FixedPart
from .context import Inference
from .dispatch import KR_VARIANTS, PBKRTEST_KR
from .ftests import contest
from .kenward_roger import KRResult
from .lsmeans import Estimate, estimate_row, lsmean_rows
from .satterthwaite import satterthwaite_parts
from .sumcoding import SumCoding, effect_label, sum_coding
from .type3 import Type3Test, type3_tests, wald_f
from .type3_hypotheses import type3_contrasts

#: df methods that give every column of a term one df (a rule, not an approximation per row).
RULE_METHODS = ("residual", "containment", "between-within", "hlm", "nlme")


def term_dfs(column_term: Sequence[str], per_column: Sequence[float], method: str) -> dict[str, float]:
    """Each term's df under a rule that gives its columns one df (``column_term``: each column's term).

    Raises:
        NotImplementedOption: the rule gives a term's columns different df (no single df for its tests).
    """
    out: dict[str, list[float]] = {}
    for term, df in zip(column_term, per_column, strict=True):
        out.setdefault(term, []).append(float(df))
    single = {}
    for term, values in out.items():
        if max(values) - min(values) > 1e-9 * max(1.0, abs(max(values))):
            raise NotImplementedOption(
                f"df: {method} gives the columns of {term!r} different df ({sorted(set(values))}), so its "
                "LS-means and Type III test have no single df",
                hint="use satterthwaite or kenward-roger, whose df are per row",
            )
        single[term] = values[0]
    return single


def effect_df(dfs: Mapping[str, float], effect: str, method: str) -> float:
    """The df of ``effect`` (as printed: ``A*B``, ``Intercept``) among the terms' ``dfs``."""
    label = "(Intercept)" if effect.lower() == "intercept" else effect_label(effect, list(dfs)) or effect
    if label not in dfs:
        raise NotImplementedOption(f"no df for the effect {effect!r} under df: {method}")
    return dfs[label]


class GsideTests:
    """LS-means, differences and Type III tests of one G-side fit under the df ``method``.

    Args:
        inf: the fit's :class:`Inference` (its fit, design and cached Kenward-Roger).
        part: the fit's fixed part (:func:`replicate.fixed_part.from_design`).
        method: a df method of :class:`~replicate.vocab.DfMethod` (``satterthwaite``, ``kenward-roger``, ...).
        kr: (information, parameterization) for Kenward-Roger (see :func:`replicate.inference.kr_settings`).
    """

    def __init__(self, inf: Inference, part: FixedPart, method: str, kr: tuple[str, str] = PBKRTEST_KR) -> None:
        known = (*RULE_METHODS, "satterthwaite", *KR_VARIANTS, "none")
        if method not in known:
            raise NotImplementedOption(
                f"df method {method!r} for LS-means and Type III tests of a model without a residual structure",
                hint="one of " + ", ".join(known),
            )
        self.inf, self.part, self.method, self.kr = inf, part, method, kr
        self.beta = inf.fit.fixed.to_numpy(dtype=float)

    @cached_property
    def coding(self) -> SumCoding:
        return sum_coding(self.part)

    @cached_property
    def vcov(self) -> np.ndarray:
        """The covariance of the fixed effects the SEs use: Kenward-Roger's adjusted one under its df."""
        if self.method in KR_VARIANTS:
            return np.asarray(self._kr().vcov_adj, dtype=float)
        return np.asarray(self.inf.fit.vcov, dtype=float)

    def _kr(self) -> KRResult:
        return self.inf.kenward_roger(KR_VARIANTS[self.method], *self.kr)

    @cached_property
    def _satterthwaite(self) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        return self.inf.once(("satterthwaite-parts",), lambda: satterthwaite_parts(self.inf.fit, self.inf.design))

    @cached_property
    def term_df(self) -> dict[str, float]:
        """Under a rule: each term's df (the df of its columns), by the design's term label."""
        per_column = self.inf.df(self.method, kr=self.kr)
        design = self.inf.design
        return term_dfs(design.column_term, [per_column[name] for name in design.fixed_names], self.method)

    def _effect_df(self, effect: str) -> float:
        return effect_df(self.term_df, effect, self.method)

    def row_df(self, effect: str, l: np.ndarray) -> float:
        """The df of the one-row estimate ``l beta`` (an LS-mean or a difference of the effect ``effect``)."""
        if self.method == "none":
            return float("inf")
        if self.method in RULE_METHODS:
            return self._effect_df(effect)
        if self.method == "satterthwaite":
            C, A, jac = self._satterthwaite
            var = float(l @ C @ l)
            g = np.array([float(l @ J @ l) for J in jac])
            denom = float(g @ A @ g)
            return 2.0 * var**2 / denom if denom > 0 else float("nan")
        return float(self._kr().ftest(np.atleast_2d(l))["ddf"])

    def _estimate(
        self, name: str, levels: tuple[str, ...], other: tuple[str, ...] | None, l: np.ndarray, effect: str = ""
    ) -> Estimate:
        """The row ``l`` named ``name``; its df those of ``effect`` (default ``name``) under a rule."""
        return estimate_row(name, levels, other, l, self.beta, self.vcov, self.row_df(effect or name, l))

    def lsmeans(self, effect: str, at: Mapping[str, float] | None = None) -> tuple[Estimate, ...]:
        """SAS's LS-means of the CLASS effect ``effect`` (``at``: SAS's AT covariate values)."""
        name = self.coding.labels[self.coding.term_index(effect)]
        levels, L = lsmean_rows(self.coding, effect, at)
        return tuple(self._estimate(name, lev, None, L[i]) for i, lev in enumerate(levels))

    def diffs(self, effect: str, at: Mapping[str, float] | None = None) -> tuple[Estimate, ...]:
        """SAS's DIFF: every pair of the LS-means of ``effect``, level i minus level j for i before j."""
        name = self.coding.labels[self.coding.term_index(effect)]
        levels, L = lsmean_rows(self.coding, effect, at)
        return tuple(
            self._estimate(name, levels[i], levels[j], L[i] - L[j])
            for i in range(len(levels))
            for j in range(i + 1, len(levels))
        )

    def estimate(self, row: np.ndarray, effect: str, label: str = "") -> Estimate:
        """SAS's ESTIMATE of ``row`` (on the fit's coefficients); under a rule, the df of ``effect`` (the final
        effect the statement lists, as SAS takes them from its Tests of Fixed Effects)."""
        return self._estimate(label or effect, (), None, np.asarray(row, dtype=float), effect)

    def contrast(self, L: np.ndarray, effect: str, label: str = "") -> Type3Test:
        """SAS's CONTRAST of the rows ``L``: the Wald F with its rank; den df by the method (lmerTest's multi-row
        Satterthwaite, pbkrtest's Kenward-Roger, or the rule's df of ``effect``)."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if self.method in KR_VARIANTS:
            r = self._kr().ftest(L)
            f, k, ddf, p = float(r["F"]), int(r["ndf"]), float(r["ddf"]), float(r["p"])
        elif self.method == "satterthwaite":
            C, A, jac = self._satterthwaite
            row = contest(L, self.beta, C, A, jac, float(np.sqrt(self.inf.fit.sigma2)))
            f, k, ddf, p = float(row["F value"]), int(row["NumDF"]), float(row["DenDF"]), float(row["Pr(>F)"])
        else:
            f, k = wald_f(L, self.beta, self.vcov)
            ddf = float("inf") if self.method == "none" else self._effect_df(effect)
            p = float(stats.f.sf(f, k, ddf)) if k else float("nan")
        return Type3Test(label or effect, k, ddf, f, p, f * k, float(stats.chi2.sf(f * k, k)) if k else float("nan"), L)

    def type3(self) -> dict[str, Type3Test]:
        """Every term's Type III test, by the term's label (``A:B``)."""
        if self.method in RULE_METHODS or self.method == "none":
            df = {
                label: (float("inf") if self.method == "none" else self._effect_df(label))
                for label, term in zip(self.coding.labels, self.coding.terms, strict=True)
                if term
            }
            return {t.effect: t for t in type3_tests(self.part, self.beta, self.vcov, df, coding=self.coding)}
        # Satterthwaite and Kenward-Roger: each term's hypothesis as lmerTest builds it (SAS's), as a CONTRAST
        return {label: self.contrast(L, label, label) for label, L in type3_contrasts(self.inf.design).items()}


__all__ = ["RULE_METHODS", "GsideTests", "effect_df", "term_dfs"]
