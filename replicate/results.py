"""The result of fitting a mixed model, shared by every engine.

Every engine adapter (native, statsmodels, lme4 through rpy2) returns a
:class:`FitResult`, so that the comparison layer reads the same fields whatever
program produced them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class OptSummary:
    """Record of the optimizer's run (as MixedModels.jl's OptSummary).

    Attributes:
        method: optimizer name and backend.
        initial: starting parameter vector.
        final: final parameter vector.
        fmin: final objective value.
        evaluations: number of objective evaluations.
        gradient: gradient at the optimum (if computed), else None.
        message: the optimizer's own message.
        tolerances: tolerances in force.
    """

    method: str
    initial: tuple[float, ...] = ()
    final: tuple[float, ...] = ()
    fmin: float = float("nan")
    evaluations: int = 0
    gradient: tuple[float, ...] | None = None
    message: str = ""
    tolerances: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FitResult:
    """A fitted linear mixed model.

    Attributes:
        engine: engine name (``native``, ``statsmodels``, ``lme4``).
        engine_version: version string of the engine / program.
        method: ``REML`` or ``ML``.
        formula: formula as fitted.
        fixed: fixed-effect estimates, indexed by R term names.
        vcov: model-based covariance of the fixed effects (DataFrame).
        varcorr: lme4 ``as.data.frame(VarCorr(fit))`` layout: columns grp,
            var1, var2, vcov, sdcor; residual row has grp ``Residual``.
        sigma2: residual variance.
        theta: relative covariance factor parameters (lme4 order), if known.
        loglik: log-likelihood (REML or ML, as lme4's logLik).
        reml_criterion: -2 * REML log-likelihood, for REML fits.
        deviance: -2 * ML log-likelihood, for ML fits.
        aic, bic: information criteria with lme4's parameter counts.
        npar: number of parameters counted by AIC/BIC.
        nobs: rows used.
        ngroups: number of levels per grouping factor.
        n_dropped: rows removed by listwise deletion.
        converged: optimizer converged.
        singular: estimate on the boundary of the parameter space.
        messages: warnings and notes.
        optinfo: optimizer record.
        ranef_fn: callable returning conditional modes (dict group -> DataFrame).
        fitted: fitted values (including random effects), or None.
        residuals: response residuals, or None.
        rows: positions of the rows used.
        extra: engine-specific extras (e.g. objects for the inference layer).
    """

    engine: str
    method: str
    fixed: pd.Series
    vcov: pd.DataFrame
    varcorr: pd.DataFrame
    sigma2: float
    loglik: float
    nobs: int
    ngroups: dict[str, int]
    engine_version: str = ""
    formula: str = ""
    theta: np.ndarray | None = None
    reml_criterion: float | None = None
    deviance: float | None = None
    aic: float | None = None
    bic: float | None = None
    npar: int | None = None
    n_dropped: int = 0
    converged: bool = True
    singular: bool = False
    messages: tuple[str, ...] = ()
    optinfo: OptSummary | None = None
    ranef_fn: Callable[[], dict[str, pd.DataFrame]] | None = None
    fitted: np.ndarray | None = None
    residuals: np.ndarray | None = None
    rows: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def se(self) -> pd.Series:
        """Model-based standard errors of the fixed effects."""
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.fixed.index)

    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes of the random effects per grouping factor."""
        if self.ranef_fn is None:
            raise NotImplementedError(f"engine {self.engine!r} does not provide ranef()")
        return self.ranef_fn()
