"""Inference from one fit: every program's df and standard errors.

:func:`fixed_df` and :func:`fixed_se` take the definition names case files use (``options.df`` and
``options.se``). Pass ``inference=`` (an :class:`Inference` of the fit) to share results between calls and to
refit through the run's engine; without it each call computes afresh and refits with the native engine.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..design import Design
from ..results import FitResult
from .context import Inference
from .dispatch import DF_METHODS, KR_VARIANTS, PBKRTEST_KR, SE_KINDS
from .fitstats import convention_of
from .kenward_roger import KRResult
from .refit import Refit, native_refit

__all__ = [
    "DF_METHODS",
    "KR_VARIANTS",
    "PBKRTEST_KR",
    "SE_KINDS",
    "Inference",
    "Refit",
    "fixed_df",
    "fixed_se",
    "kenward_roger_of",
    "kr_settings",
    "native_refit",
]


def kr_settings(options: dict[str, Any] | None, software: str | None = None) -> tuple[str, str]:
    """(information, parameterization) for Kenward-Roger from a block's ``options``.

    ``information`` is the block's ``options.information`` if it says, else the program's default:
    ``"observed"`` for SAS (``ddfm=kr`` uses the observed information unless told otherwise), ``"expected"``
    for everything else (pbkrtest). ``parameterization`` defaults to ``"linear"`` (pbkrtest, SAS
    ``type=un``/``vc``); ``cholesky`` is SAS ``type=fa0(k)``/``chol``.
    """
    options = options or {}
    default = "observed" if convention_of(software) == "sas" else PBKRTEST_KR[0]
    return (str(options.get("information", default)), str(options.get("parameterization", PBKRTEST_KR[1])))


def _of(fit: FitResult, design: Design, inference: Inference | None) -> Inference:
    if inference is None:
        return Inference(fit, design)
    if inference.fit is not fit or inference.design is not design:
        raise ValueError("the Inference given is of another fit or design")
    return inference


def fixed_df(
    fit: FitResult,
    design: Design,
    method: str,
    *,
    kr: tuple[str, str] = PBKRTEST_KR,
    inference: Inference | None = None,
) -> pd.Series:
    """Denominator degrees of freedom per fixed effect under ``method``.

    ``kr`` is (information, parameterization) for the Kenward-Roger methods (see :func:`kr_settings`); other
    methods ignore it.
    """
    return _of(fit, design, inference).df(method, kr=kr)


def fixed_se(
    fit: FitResult,
    design: Design,
    kind: str,
    *,
    kr: tuple[str, str] = PBKRTEST_KR,
    inference: Inference | None = None,
) -> pd.Series:
    """Standard errors of the fixed effects of the given kind (``kr`` as in :func:`fixed_df`)."""
    return _of(fit, design, inference).se(kind, kr=kr)


def kenward_roger_of(
    fit: FitResult,
    design: Design,
    variant: str = "kr",
    information: str = PBKRTEST_KR[0],
    parameterization: str = PBKRTEST_KR[1],
    *,
    inference: Inference | None = None,
) -> KRResult:
    """Kenward-Roger for this fit (through ``inference``'s cache and refit when given)."""
    return _of(fit, design, inference).kenward_roger(variant, information, parameterization)
