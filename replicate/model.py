"""A fitted model that knows its design: the Python API researchers use.

``replicate.fit(formula, data)`` returns a :class:`FittedModel`. It keeps the
engine's :class:`~replicate.results.FitResult` *and* the design it was fitted
on, so every program's definition of a df, a standard error or a test is one
method call away, computed from this one fit::

    fit = replicate.fit("mathkind ~ ses + (1 | schoolid)", data)
    fit.coef_table(df="satterthwaite")         # lmerTest's summary table
    fit.df("kenward-roger"), fit.se("cr2")     # pbkrtest's df, clubSandwich's SE
    fit.summary(like="sas")                    # SAS PROC MIXED's tables

Every attribute of the ``FitResult`` (``fixed``, ``vcov``, ``varcorr``,
``loglik``, ``converged`` ...) is read through, except ``se``, which is a method
here (``fit.se()`` is the model-based SE, ``fit.se("cr2")`` another kind). The
free functions of :mod:`replicate.inference` stay for advanced use; they take
``fit.result`` and ``fit.design``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .design import Design
from .errors import ModelError, NotImplementedOption
from .inference import KR_VARIANTS, PBKRTEST_KR, Inference, Refit
from .inference.covparms import covariance_parameters
from .inference.fitstats import fit_statistics
from .inference.ftests import anova_type3
from .inference.robust import cluster_robust_vcov
from .inference.vartests import hlm_variance_tests, icc, reliability
from .results import FitResult
from .summaries import render_summary

#: SE kinds whose covariance matrix :meth:`FittedModel.vcov_of` returns.
VCOV_KINDS = ("model", "kenward-roger", "kenward-roger-2", "cr0", "cr1", "cr2")
#: anova ddf names, as the df methods are spelled here -> as ftests spells them.
ANOVA_DDF = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger"}


@dataclass(frozen=True)
class FittedModel:
    """A fit together with its design.

    Attributes:
        result: the engine's fit (estimates, variance components, likelihood,
            optimizer record).
        design: the model matrices it was fitted on (``design.spec`` is the
            parsed formula).
    """

    result: FitResult
    design: Design
    refit: Refit | None = field(default=None, repr=False, compare=False)
    inference: Inference = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # one Inference per fit: df, SEs and Kenward-Roger computed once, refits through the fitting engine
        object.__setattr__(self, "inference", Inference(self.result, self.design, self.refit))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("result", "design", "refit", "inference"):
            raise AttributeError(name)
        return getattr(self.result, name)

    def __repr__(self) -> str:
        return (
            f"FittedModel({self.result.formula!r}, method={self.result.method}, nobs={self.result.nobs}, "
            f"loglik={self.result.loglik:.6g}, converged={self.result.converged})"
        )

    # -- fixed effects -------------------------------------------------------------------------
    def df(
        self, method: str = "satterthwaite", *, information: str | None = None, parameterization: str | None = None
    ) -> pd.Series:
        """Denominator df of each fixed effect under ``method``.

        Methods: residual, containment, between-within, hlm, nlme, satterthwaite,
        kenward-roger, kenward-roger-2, cr2-satterthwaite, none. For Kenward-Roger,
        ``information`` (expected, as pbkrtest; observed, as SAS) and
        ``parameterization`` (linear; cholesky, as SAS type=fa0) choose the variant.
        """
        return self.inference.df(method, kr=self._kr(information, parameterization))

    def se(
        self, kind: str = "model", *, information: str | None = None, parameterization: str | None = None
    ) -> pd.Series:
        """Standard errors of the fixed effects: model, kenward-roger, kenward-roger-2, cr0, cr1, cr2."""
        if kind == "model":
            return self.result.se
        return self.inference.se(kind, kr=self._kr(information, parameterization))

    def vcov_of(
        self, kind: str = "model", *, information: str | None = None, parameterization: str | None = None
    ) -> pd.DataFrame:
        """Covariance matrix of the fixed effects of the given kind (see :data:`VCOV_KINDS`)."""
        if kind == "model":
            return self.result.vcov
        if kind in KR_VARIANTS:
            info, par = self._kr(information, parameterization)
            return self.inference.kenward_roger(KR_VARIANTS[kind], info, par).vcov_adj
        if kind in ("cr0", "cr1", "cr2"):
            self._needs_random_effects(kind)
            return cluster_robust_vcov(self.result, self.design, kind.upper())
        raise NotImplementedOption(f"covariance kind {kind!r} unknown", hint="one of " + ", ".join(VCOV_KINDS))

    def coef_table(
        self,
        df: str = "satterthwaite",
        se: str = "model",
        *,
        level: float = 0.95,
        information: str | None = None,
        parameterization: str | None = None,
    ) -> pd.DataFrame:
        """Estimate, SE, df, t, two-sided p and a confidence interval per fixed effect.

        ``df="satterthwaite", se="model"`` is lmerTest's ``summary`` table;
        ``df="kenward-roger", se="kenward-roger"`` is pbkrtest's; ``df="none"``
        gives z tests (infinite df).
        """
        if not 0 < level < 1:
            raise ModelError(f"level {level} must lie between 0 and 1", field="level")
        kr = {"information": information, "parameterization": parameterization}
        est = self.result.fixed
        ses = self.se(se, **kr)
        dfs = self.df(df, **kr)
        t = est / ses
        p = 2 * stats.t.sf(np.abs(t), dfs)
        q = stats.t.ppf(0.5 + level / 2, dfs)
        pct = f"{100 * level:g}%"
        return pd.DataFrame(
            {
                "Estimate": est,
                "Std. Error": ses,
                "df": dfs,
                "t value": t,
                "Pr(>|t|)": p,
                f"lower {pct}": est - q * ses,
                f"upper {pct}": est + q * ses,
            }
        )

    def anova(self, type: int = 3, df: str = "satterthwaite") -> pd.DataFrame:
        """Type III F tests of the fixed-effect terms, as lmerTest's ``anova(fit)`` (or pbkrtest's F)."""
        if type != 3:
            raise NotImplementedOption(f"type {type} anova is not implemented", hint="type=3 (lmerTest's default)")
        if df not in ANOVA_DDF:
            raise NotImplementedOption(
                f"anova with df {df!r} is not implemented", hint="satterthwaite or kenward-roger"
            )
        return anova_type3(self.result, self.design, ddf=ANOVA_DDF[df], inference=self.inference)

    # -- covariance parameters -----------------------------------------------------------------
    def covparms(self, information: str = "observed") -> pd.DataFrame:
        """SAS's Covariance Parameter Estimates (COVTEST): estimate, asymptotic SE, Wald Z, p."""
        self._needs_random_effects("covparms")
        return covariance_parameters(self.result, self.design, information)

    def hlm_tests(self) -> pd.DataFrame:
        """HLM's chi-square tests of the variance components (two-level models)."""
        self._needs_random_effects("hlm_tests")
        return hlm_variance_tests(self.result, self.design)

    def reliability(self) -> pd.Series:
        """HLM's reliability of each random level-1 coefficient's OLS estimate."""
        self._needs_random_effects("reliability")
        return reliability(self.result, self.design)

    def icc(self, group: str | None = None) -> float:
        """Intraclass correlation of a random-intercept grouping factor (default: the only one)."""
        self._needs_random_effects("icc")
        return icc(self.result, group)

    def fit_statistics(self, like: str = "lme4") -> dict[str, object]:
        """logLik, deviance, AIC, AICC, BIC and the parameter count as ``like`` (lme4, nlme, sas, hlm) counts."""
        return fit_statistics(self.result, self.design, like)

    def summary(self, like: str = "lmerTest") -> str:
        """A printout of this fit in the layout and with the definitions of ``like``.

        ``lme4`` (no df), ``lmerTest`` (Satterthwaite df), ``sas`` (PROC MIXED:
        covariance parameters with COVTEST, fit statistics, containment df,
        Type 3 tests) or ``hlm`` (HLM2: HLM's df, variance-component chi-squares).
        """
        return render_summary(self, like)

    # -- helpers -------------------------------------------------------------------------------
    def _kr(self, information: str | None, parameterization: str | None) -> tuple[str, str]:
        return (information or PBKRTEST_KR[0], parameterization or PBKRTEST_KR[1])

    def _needs_random_effects(self, what: str) -> None:
        if not self.design.reterms:
            raise ModelError(f"{what} needs random effects; this is a linear model")


def unwrap(fit: FitResult | FittedModel) -> tuple[FitResult, Design | None]:
    """(result, design) of a FittedModel, or (fit, None) of a bare FitResult."""
    if isinstance(fit, FittedModel):
        return fit.result, fit.design
    return fit, None
