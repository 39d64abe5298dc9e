"""The inference of one fit: every df, SE and Kenward-Roger result computed once, refits by the run's engine.

An :class:`Inference` holds a fit, the design it was made on and a ``refit(design, method)`` callable (the
run's engine: under ``--engine lme4`` a REML refit for Kenward-Roger on an ML fit is lme4's). Its cache is
its own, keyed by the definition: the comparison, the diagnosis and ``replicate show`` share one object per
fit and design instead of hiding results inside the frozen fit (where they were keyed without the design).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import pandas as pd

from ..design import Design
from ..results import FitResult
from .dispatch import KR_VARIANTS, PBKRTEST_KR, fixed_df_of, fixed_se_of
from .kenward_roger import KRResult, kenward_roger
from .refit import Refit, native_refit

T = TypeVar("T")


class Inference:
    """One fit's inference, computed on demand and kept.

    Args:
        fit: the fit.
        design: the design it was made on.
        refit: ``(design, method) -> fit`` for refits (Kenward-Roger on an ML fit needs the REML fit); the
            run's engine, by default the native engine.
    """

    def __init__(self, fit: FitResult, design: Design, refit: Refit | None = None) -> None:
        self.fit = fit
        self.design = design
        self.refit: Refit = refit or native_refit
        self._cache: dict[Hashable, Any] = {}

    def once(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` the first time ``key`` is asked for, the kept value after."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]  # type: ignore[no-any-return]

    def reml_fit(self) -> FitResult:
        """The fit itself if it is REML, else one REML refit through ``refit`` (shared by every use)."""
        if str(self.fit.method).upper() != "ML":
            return self.fit
        return self.once(("refit", "REML"), lambda: self.refit(self.design, "REML"))

    def kenward_roger(
        self, variant: str = "kr", information: str = PBKRTEST_KR[0], parameterization: str = PBKRTEST_KR[1]
    ) -> KRResult:
        """Kenward-Roger for this fit (df, SEs, adjusted covariance and F tests share it)."""
        return self.once(
            ("kenward-roger", variant, information, parameterization),
            lambda: kenward_roger(
                self.fit,
                self.design,
                variant=variant,
                information=information,
                parameterization=parameterization,
                reml_fit=self.reml_fit(),
            ),
        )

    def df(self, method: str, *, kr: tuple[str, str] = PBKRTEST_KR) -> pd.Series:
        """Denominator df per fixed effect under ``method`` (:func:`replicate.inference.fixed_df`)."""
        key = ("df", method, kr) if method in KR_VARIANTS else ("df", method)
        return self.once(key, lambda: fixed_df_of(self, method, kr))

    def se(self, kind: str, *, kr: tuple[str, str] = PBKRTEST_KR) -> pd.Series:
        """Standard errors of the fixed effects of ``kind`` (:func:`replicate.inference.fixed_se`)."""
        key = ("se", kind, kr) if kind in KR_VARIANTS else ("se", kind)
        return self.once(key, lambda: fixed_se_of(self, kind, kr))
