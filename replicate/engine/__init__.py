"""Native engine: profiled REML/ML linear mixed models (lme4's method, blocked Cholesky).

Public API:
    fit_design(design, method="REML", *, optimizer_options=None) -> FitResult
    make_deviance(design, method="REML") -> ProfiledDeviance (theta -> objective)
"""

from .checks import EngineWarning
from .fit import fit_design, make_deviance

__all__ = ["EngineWarning", "fit_design", "make_deviance"]
