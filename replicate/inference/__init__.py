"""Inference from one fit: every program's df and standard errors.

:func:`fixed_df` and :func:`fixed_se` dispatch on the definition names used in
case files (``options.df`` and ``options.se``). A definition that is part of the
format but not implemented yet raises :class:`NotImplementedOption` saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..design import Design
from ..errors import ModelError, NotImplementedOption
from ..results import FitResult
from ..vocab import DfMethod, SeKind

DF_METHODS = tuple(m.value for m in DfMethod)
SE_KINDS = tuple(k.value for k in SeKind)
# df method / SE kind -> Kenward-Roger variant
KR_VARIANTS = {"kenward-roger": "kr", "kenward-roger-2": "kr2"}
# (information, parameterization) of Kenward-Roger as pbkrtest computes it
PBKRTEST_KR = ("expected", "linear")


def kr_settings(options: dict | None, software: str | None = None) -> tuple[str, str]:
    """(information, parameterization) for Kenward-Roger from a block's ``options``.

    ``information`` is the block's ``options.information`` if it says, else
    the program's default: ``"observed"`` for SAS (``ddfm=kr`` uses the
    observed information unless told otherwise), ``"expected"`` for everything
    else (pbkrtest). ``parameterization`` defaults to ``"linear"`` (pbkrtest,
    SAS ``type=un``/``vc``); ``cholesky`` is SAS ``type=fa0(k)``/``chol``.
    """
    from .fitstats import convention_of

    options = options or {}
    default = "observed" if convention_of(software) == "sas" else PBKRTEST_KR[0]
    return (str(options.get("information", default)), str(options.get("parameterization", PBKRTEST_KR[1])))


def _once(fit: FitResult, key: object, compute: Callable[[], Any]) -> Any:
    """Compute a quantity of ``fit`` once and keep it with the fit, so that the
    comparison, the diagnosis and ``replicate show`` share it."""
    cache = fit.extra.setdefault("_inference", {})
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def fixed_df(fit: FitResult, design: Design, method: str, *, kr: tuple[str, str] = PBKRTEST_KR) -> pd.Series:
    """Denominator degrees of freedom per fixed effect under ``method``.

    ``kr`` is (information, parameterization) for the Kenward-Roger methods
    (see :func:`kr_settings`); other methods ignore it.
    """
    key = ("df", method, kr) if method in KR_VARIANTS else ("df", method)
    return _once(fit, key, lambda: _fixed_df(fit, design, method, kr))


def fixed_se(fit: FitResult, design: Design, kind: str, *, kr: tuple[str, str] = PBKRTEST_KR) -> pd.Series:
    """Standard errors of the fixed effects of the given kind (``kr`` as in :func:`fixed_df`)."""
    key = ("se", kind, kr) if kind in KR_VARIANTS else ("se", kind)
    return _once(fit, key, lambda: _fixed_se(fit, design, kind, kr))


def _fixed_df(fit: FitResult, design: Design, method: str, kr: tuple[str, str]) -> pd.Series:
    names = list(fit.fixed.index)
    if method == "residual":
        return pd.Series(float(design.n - design.p), index=names)
    if not design.reterms and method != "none":
        raise ModelError(
            f"df method {method!r} needs random effects; this is a linear model",
            hint="a linear model (model.fixed_only) has the residual df",
        )
    if method == "satterthwaite":
        from .satterthwaite import satterthwaite_df

        return satterthwaite_df(fit, design)
    if method in ("containment", "between-within", "hlm", "nlme"):
        from . import dfrules

        rule = {
            "containment": dfrules.containment_df,
            "between-within": dfrules.between_within_df,
            "hlm": dfrules.hlm_df,
            "nlme": dfrules.nlme_df,
        }[method]
        return rule(fit, design, design.spec)
    if method in KR_VARIANTS:
        return kenward_roger_of(fit, design, KR_VARIANTS[method], *kr).df
    if method == "cr2-satterthwaite":  # clubSandwich's coef_test(vcov = "CR2", test = "Satterthwaite")
        from .robust import cr2_satterthwaite_df

        return cr2_satterthwaite_df(fit, design)
    if method == "none":
        return pd.Series(np.inf, index=names)
    if method in DF_METHODS:
        raise NotImplementedOption(
            f"df method {method!r} is not implemented yet", hint="see the inference issue; it is planned"
        )
    raise NotImplementedOption(f"unknown df method {method!r}", hint="one of " + ", ".join(DF_METHODS))


def _fixed_se(fit: FitResult, design: Design, kind: str, kr: tuple[str, str]) -> pd.Series:
    if kind == "model":
        return pd.Series(np.sqrt(np.diag(np.asarray(fit.vcov, dtype=float))), index=fit.fixed.index)
    if not design.reterms:
        raise ModelError(
            f"standard-error kind {kind!r} needs random effects; this is a linear model",
            hint="a linear model (model.fixed_only) has the model-based SE",
        )
    if kind in ("cr0", "cr1", "cr2"):
        from .robust import cluster_robust_se

        return cluster_robust_se(fit, design, kind.upper())
    if kind in KR_VARIANTS:
        return kenward_roger_of(fit, design, KR_VARIANTS[kind], *kr).se
    if kind in SE_KINDS:
        raise NotImplementedOption(
            f"standard-error kind {kind!r} is not implemented yet", hint="see the inference issue; it is planned"
        )
    raise NotImplementedOption(f"unknown standard-error kind {kind!r}", hint="one of " + ", ".join(SE_KINDS))


def kenward_roger_of(
    fit: FitResult,
    design: Design,
    variant: str = "kr",
    information: str = PBKRTEST_KR[0],
    parameterization: str = PBKRTEST_KR[1],
):  # -> KRResult
    """Kenward-Roger for this fit, computed once and kept with the fit (df and SEs share it)."""
    from .kenward_roger import kenward_roger

    return _once(
        fit,
        ("kenward-roger", variant, information, parameterization),
        lambda: kenward_roger(fit, design, variant=variant, information=information, parameterization=parameterization),
    )
