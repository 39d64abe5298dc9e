"""replicate: check that multilevel models give the same answers in different programs.

The public API is small:

* :func:`fit` fits a mixed model given an lme4 formula and a data frame;
* :func:`load_case` reads and validates a case file;
* :func:`run_cases` runs case files with an engine and compares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .version import __version__

if TYPE_CHECKING:
    import pandas as pd

from .case import Case, load_case
from .design import build_design
from .engines import get_engine
from .errors import CaseError, DataError, FitError, ModelError, ReplicateError
from .inference.lrt import lrt as _lrt
from .model import FittedModel, unwrap
from .runner import CaseResult, run_cases
from .spec import parse_formula


def fit(
    formula: str,
    data: pd.DataFrame,
    method: str = "REML",
    weights: str | None = None,
    *,
    contrasts: str = "treatment",
    engine: str = "native",
) -> FittedModel:
    """Fit a linear mixed model given as an lme4 formula.

    Returns a :class:`~replicate.model.FittedModel`: the fit with its design, so that
    ``fit.df("kenward-roger")``, ``fit.se("cr2")``, ``fit.coef_table()``,
    ``fit.summary(like="sas")`` and the rest need nothing else.

    Args:
        formula: e.g. ``"Reaction ~ Days + (Days | Subject)"``.
        data: a pandas DataFrame holding every variable of the formula.
        method: ``"REML"`` (default, as lme4) or ``"ML"``.
        weights: name of a column of level-1 weights (as lme4 ``weights=``).
        contrasts: ``"treatment"`` (R) or ``"sas"`` (last level is the reference).
        engine: ``"native"`` (default) or ``"statsmodels"``.
    """

    if method not in ("REML", "ML"):
        raise ModelError(f"method {method!r} unknown", field="method", hint="use 'REML' or 'ML'")
    spec = parse_formula(formula, field="formula")
    design = build_design(spec, data, contrasts=contrasts, weights=weights)
    eng = get_engine(engine)
    return FittedModel(eng.fit(design, method), design, refit=eng.fit)


def lrt(fit0, fit1, design0=None, design1=None, *, refit: bool = True):
    """Likelihood-ratio test of two nested fits, as lme4's ``anova`` (see
    :func:`replicate.inference.lrt.lrt`): REML fits are refitted by ML, and fits on
    different rows are refused with a clear message. Fits from :func:`fit` carry
    their designs; bare ``FitResult``s need ``design0``/``design1`` to be refitted."""

    r0, d0 = unwrap(fit0)
    r1, d1 = unwrap(fit1)
    return _lrt(r0, r1, design0 if design0 is not None else d0, design1 if design1 is not None else d1, refit=refit)


__all__ = [
    "Case",
    "CaseError",
    "CaseResult",
    "DataError",
    "FitError",
    "ModelError",
    "ReplicateError",
    "__version__",
    "fit",
    "load_case",
    "lrt",
    "run_cases",
]
