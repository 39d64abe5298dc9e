"""Every program's df and SE of a fixed effect, by the names case files use (``options.df``, ``options.se``).

Each name of :class:`~replicate.vocab.DfMethod` and :class:`~replicate.vocab.SeKind` is implemented; an
unknown name is refused with the list of known ones. Kenward-Roger goes through the fit's
:class:`~replicate.inference.context.Inference`, which computes it once and refits through the run's engine.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from ..design import Design
from ..errors import ModelError, NotImplementedOption
from ..results import FitResult
from ..vocab import DfMethod, SeKind
from . import dfrules
from .kenward_roger import KRResult
from .robust import cluster_robust_se, cr2_satterthwaite_df
from .satterthwaite import satterthwaite_df

DF_METHODS = tuple(m.value for m in DfMethod)
SE_KINDS = tuple(k.value for k in SeKind)
# df method / SE kind -> Kenward-Roger variant
KR_VARIANTS = {"kenward-roger": "kr", "kenward-roger-2": "kr2"}
# (information, parameterization) of Kenward-Roger as pbkrtest computes it
PBKRTEST_KR = ("expected", "linear")


class InferenceLike(Protocol):
    """What the dispatch needs of a fit's :class:`~replicate.inference.context.Inference` (which imports this
    module): the fit, its design and its cached Kenward-Roger."""

    fit: FitResult
    design: Design

    def kenward_roger(self, variant: str, information: str, parameterization: str) -> KRResult: ...


def fixed_df_of(inf: InferenceLike, method: str, kr: tuple[str, str]) -> pd.Series:
    """The df of ``method`` for the fit of ``inf`` (Kenward-Roger through its cache and refit)."""
    fit, design = inf.fit, inf.design
    names = list(fit.fixed.index)
    if method == "residual":
        return dfrules.residual_df(fit, design).astype(float).reindex(names)
    if not design.reterms and method != "none":
        raise ModelError(
            f"df method {method!r} needs random effects; this is a linear model",
            hint="a linear model (model.fixed_only) has the residual df",
        )
    if method == "satterthwaite":
        return satterthwaite_df(fit, design)
    if method in ("containment", "between-within", "hlm", "nlme"):
        rule = {
            "containment": dfrules.containment_df,
            "between-within": dfrules.between_within_df,
            "hlm": dfrules.hlm_df,
            "nlme": dfrules.nlme_df,
        }[method]
        return rule(fit, design, design.spec)
    if method in KR_VARIANTS:
        return inf.kenward_roger(KR_VARIANTS[method], *kr).df
    if method == "cr2-satterthwaite":  # clubSandwich's coef_test(vcov = "CR2", test = "Satterthwaite")
        return cr2_satterthwaite_df(fit, design)
    if method == "none":
        return pd.Series(np.inf, index=names)
    raise NotImplementedOption(f"unknown df method {method!r}", hint="one of " + ", ".join(DF_METHODS))


def fixed_se_of(inf: InferenceLike, kind: str, kr: tuple[str, str]) -> pd.Series:
    """The SEs of ``kind`` for the fit of ``inf``."""
    fit, design = inf.fit, inf.design
    if kind == "model":
        return pd.Series(np.sqrt(np.diag(np.asarray(fit.vcov, dtype=float))), index=fit.fixed.index)
    if not design.reterms:
        raise ModelError(
            f"standard-error kind {kind!r} needs random effects; this is a linear model",
            hint="a linear model (model.fixed_only) has the model-based SE",
        )
    if kind in ("cr0", "cr1", "cr2"):
        return cluster_robust_se(fit, design, kind.upper())
    if kind in KR_VARIANTS:
        return inf.kenward_roger(KR_VARIANTS[kind], *kr).se
    raise NotImplementedOption(f"unknown standard-error kind {kind!r}", hint="one of " + ", ".join(SE_KINDS))
