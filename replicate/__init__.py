"""replicate: check that multilevel models give the same answers in different programs.

The public API is small:

* :func:`fit` fits a mixed model given an lme4 formula and a data frame;
* :func:`load_case` reads and validates a case file;
* :func:`run_cases` runs case files with an engine and compares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    import pandas as pd

from .case import Case, load_case
from .design import build_design
from .engine.glmm import fit_glmm, fit_glmm_nb, fit_glmm_pl, fit_glmm_pql
from .engine.glmm.api import GLIMMIX_PL
from .engines import get_engine
from .errors import CaseError, DataError, FitError, ModelError, NotImplementedOption, ReplicateError
from .inference.lrt import lrt as _lrt
from .model import FittedModel, unwrap
from .runner import CaseResult, run_cases
from .spec import parse_formula


def fit(
    formula: str,
    data: pd.DataFrame,
    method: str | None = None,
    weights: str | None = None,
    *,
    contrasts: str = "treatment",
    engine: str = "native",
    family: str | None = None,
    link: str | None = None,
    nagq: int = 1,
    offset: str | None = None,
    information: str = "expected",
) -> Any:
    """Fit a linear mixed model given as an lme4 formula, or with ``family`` a generalized one (glmer's).

    Without ``family`` it returns a :class:`~replicate.model.FittedModel`: the fit with its design, so that
    ``fit.df("kenward-roger")``, ``fit.se("cr2")``, ``fit.coef_table()``, ``fit.summary(like="sas")`` and the
    rest need nothing else. With ``family`` (``"binomial"``, ``"poisson"`` or ``"negative.binomial"``, whose size
    theta is estimated as glmer.nb does) it returns the GLMM engine's
    :class:`~replicate.engine.glmm.result.GlmmFit` (``method`` ``"laplace"``, the default, or ``"agq"`` with
    ``nagq`` nodes) or, for ``method="pql"``, :class:`~replicate.engine.glmm.pql.PqlFit` (``MASS::glmmPQL``; also for
    SAS GLIMMIX's pseudo-likelihood, ``method="rspl"``, ``"mspl"``, ``"rmpl"`` or ``"mmpl"``).

    Args:
        formula: e.g. ``"Reaction ~ Days + (Days | Subject)"``; a binomial response may be
            ``cbind(successes, trials - successes)``.
        data: a pandas DataFrame holding every variable of the formula.
        method: ``"REML"`` (the default without ``family``, as lme4) or ``"ML"``; with ``family``
            ``"laplace"`` (the default), ``"agq"``, ``"pql"``, ``"rspl"``, ``"mspl"``, ``"rmpl"`` or ``"mmpl"``.
        weights: name of a column of weights (level-1 weights; prior weights for a GLMM).
        contrasts: ``"treatment"`` (R) or ``"sas"`` (last level is the reference); linear models only.
        engine: ``"native"`` (default) or ``"statsmodels"``; linear models only.
        family, link, nagq, offset: the GLMM's family, link (default the canonical one), quadrature nodes
            (glmer's nAGQ) and offset column.
        information: the Laplace approximation's determinant, ``"expected"`` (glmer's) or ``"observed"``
            (glmmTMB's, SAS GLIMMIX's METHOD=LAPLACE); they differ for a non-canonical link only.

    Raises:
        ModelError: a method of the other model class, or GLMM arguments without ``family``.
    """

    if family is None:
        if link is not None or offset is not None or nagq != 1 or information != "expected":
            raise ModelError(
                "link, offset, nagq and information are for generalized models",
                field="family",
                hint="give family='binomial' or 'poisson'",
            )
        method = method or "REML"
        if method not in ("REML", "ML"):
            raise ModelError(
                f"method {method!r} unknown for a linear mixed model",
                field="method",
                hint="use 'REML' or 'ML' (laplace, agq and pql need family=)",
            )
        spec = parse_formula(formula, field="formula")
        design = build_design(spec, data, contrasts=contrasts, weights=weights)
        eng = get_engine(engine)
        return FittedModel(eng.fit(design, method), design, refit=eng.fit)
    method = method or "laplace"
    if method not in ("laplace", "agq", "pql", *GLIMMIX_PL):
        raise ModelError(
            f"method {method!r} unknown for a generalized linear mixed model",
            field="method",
            hint="use 'laplace', 'agq' (with nagq), 'pql', or 'rspl' / 'mspl' / 'rmpl' / 'mmpl' (SAS GLIMMIX's pseudo-likelihood); "
            "REML and ML are for linear models",
        )
    if engine != "native" or contrasts != "treatment":
        raise NotImplementedOption(
            "engine= and contrasts= for a generalized linear mixed model",
            hint="GLMMs are fitted by the native engine with R's treatment contrasts",
        )
    if information != "expected" and method != "laplace":
        raise ModelError(
            f"information={information!r} with method {method!r}",
            field="information",
            hint="the observed information is the Laplace approximation's (method='laplace')",
        )
    if str(family).lower() == "negative.binomial":
        if method != "laplace" or nagq != 1 or link not in (None, "log"):
            raise NotImplementedOption(
                f"method {method!r}, nagq {nagq}, link {link!r} for the negative binomial",
                hint="the negative binomial is fitted by the Laplace approximation with the log link (glmer.nb)",
            )
        return fit_glmm_nb(data, formula, weights=weights, offset=offset, information=information)
    if method == "pql":
        return fit_glmm_pql(data, formula, family=family, link=link, weights=weights, offset=offset)
    if method in GLIMMIX_PL:
        return fit_glmm_pl(data, formula, family=family, method=method, link=link, weights=weights, offset=offset)
    return fit_glmm(
        data,
        formula,
        family=family,
        link=link,
        method=method,
        nagq=nagq,
        weights=weights,
        offset=offset,
        information=information,
    )


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
