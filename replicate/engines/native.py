"""The native engine: profiled REML/ML as in lme4, in numpy."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..design import Design
from ..engine import fit_design
from ..engine.ols import fit_ols
from ..engine.threads import fit_thread_limit
from ..results import FitResult
from ..version import __version__


class NativeEngine:
    """Adapter for :func:`replicate.engine.fit_design`."""

    name = "native"

    def available(self) -> tuple[bool, str]:
        return True, ""

    def version(self) -> str:
        return f"replicate {__version__} (native engine)"

    def fit(self, design: Design, method: str = "REML") -> FitResult:
        """Fit ``design`` with one BLAS thread unless REPLICATE_BLAS_THREADS says otherwise
        (:mod:`replicate.engine.threads`)."""
        with fit_thread_limit():
            if not design.reterms:  # a linear model (model.fixed_only)
                fit = fit_ols(design, method)
            else:
                fit = fit_design(design, method)
        if design.offset is not None and fit.fitted is not None:  # lme4's fitted() includes the offset
            fit = dataclasses.replace(fit, fitted=np.asarray(fit.fitted) + design.offset)
        return fit
