"""SAS's containment df and nlme's df for a residual structure with random effects beside it.

With a RANDOM statement beside REPEATED, SAS's default ``DDFM=`` is containment (``contain``), not
between-within: a fixed effect takes the smallest rank contribution to ``[X Z]`` among the RANDOM effects
that syntactically contain it, and ``n - rank[X Z]`` when none does. The REPEATED statement's subject is
not a RANDOM effect and does not count. nlme's ``lme(random = ..., correlation = ...)`` prints the df of
:func:`~replicate.inference.dfrules.nlme_df`, which depend on the grouping alone (the correlation leaves
them as they are).

Both rules are those of the linear mixed models (:mod:`.dfrules`), applied to the design of the fit's fixed
part with its random terms (:attr:`~replicate.engine.rside.RsideFit.random_terms`) on the rows used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design import Design, build_design
from ..engine.rside import RsideFit
from ..errors import ModelError
from ..spec import parse_formula
from .design_levels import col_terms, hierarchy, varies_within
from .dfrules import containment_df, nlme_df
from .sumcoding import SumCoding

#: The rule-based df methods of this module (SAS's DDFM= name and nlme's).
RANDOM_RULES = ("contain", "nlme")


def random_design(fit: RsideFit) -> Design:
    """The design of the fit's fixed part with its random terms (SAS's RANDOM statement), on its rows.

    Raises:
        ModelError: the fit has no random terms, or does not keep its fixed part.
    """
    part = fit.fixed_part
    if part is None:
        raise ModelError("the fit does not keep its fixed part (fit it with fit_residual)", field="fit")
    if not fit.random_terms:
        raise ModelError(
            "containment and nlme df need random effects beside the structure (SAS's RANDOM statement)",
            field="ddfm",
            hint="without RANDOM, SAS's default is between-within: use ddfm='betwithin' or 'residual'",
        )
    fixed = part.spec.source.strip()
    if "~" not in fixed:
        raise ModelError("the fit's fixed part does not record its formula", field="fit")
    spec = parse_formula(f"{fixed} + {' + '.join(fit.random_terms)}", field="formula")
    design = build_design(spec, part.frame)
    if design.n != part.X.shape[0] or tuple(design.fixed_names) != tuple(fit.fixed_names):
        raise ModelError(
            "the random terms' design does not match the fit's rows and coefficients",
            field="formula",
            hint="the fixed part's rows or columns changed when the random terms were added",
        )
    return design


def _nlme_term_df(design: Design) -> dict[str, float]:
    """nlme's df of each model term: the df of its innermost-varying column (as ``anova.lme`` takes them)."""
    per_column = nlme_df(None, design)
    levels = hierarchy(design)
    out: dict[str, float] = {}
    depth: dict[str, int] = {}
    for j, (name, term) in enumerate(zip(design.fixed_names, col_terms(design), strict=True)):
        x = design.X[:, j]
        k = sum(1 for t in levels if varies_within(x, t.index))
        if term not in out or k > depth[term]:
            out[term], depth[term] = float(per_column[name]), k
    return out


def _residual(fit: RsideFit) -> float:
    part = fit.fixed_part
    if part is None:
        raise ModelError("the fit does not keep its fixed part (fit it with fit_residual)", field="fit")
    return float(part.X.shape[0] - np.linalg.matrix_rank(part.X))


def random_effect_df(fit: RsideFit, coding: SumCoding, ddfm: str) -> dict[str, float]:
    """The df of every term of ``fit`` (by the coding's label) under ``contain`` or ``nlme``; without random
    effects both are ``n - rank(X)`` (no RANDOM effect contains a fixed effect; gls's df)."""
    if ddfm in RANDOM_RULES and not fit.random_terms:
        return dict.fromkeys(coding.labels, _residual(fit))
    design = random_design(fit)
    if ddfm == "contain":
        per_column = containment_df(None, design)
        by_term = {t: float(per_column[n]) for n, t in zip(design.fixed_names, col_terms(design), strict=True)}
    elif ddfm == "nlme":
        by_term = _nlme_term_df(design)
    else:
        raise ModelError(f"ddfm {ddfm!r} is not a random-effects rule", field="ddfm", hint="'contain' or 'nlme'")
    out: dict[str, float] = {}
    for label, term in zip(coding.labels, coding.terms, strict=True):
        key = "(Intercept)" if not term else ":".join(term)
        if key not in by_term:
            raise ModelError(f"no df for the term {label!r} in the random terms' design", field="ddfm")
        out[label] = by_term[key]
    return out


def random_coefficient_df(fit: RsideFit, ddfm: str) -> np.ndarray:
    """The df of every coefficient of ``fit`` (in its order) under ``contain`` or ``nlme`` (``n - rank(X)`` for
    each without random effects)."""
    if ddfm in RANDOM_RULES and not fit.random_terms:
        return np.full(len(fit.fixed_names), _residual(fit))
    design = random_design(fit)
    rule = containment_df if ddfm == "contain" else nlme_df if ddfm == "nlme" else None
    if rule is None:
        raise ModelError(f"ddfm {ddfm!r} is not a random-effects rule", field="ddfm", hint="'contain' or 'nlme'")
    values: pd.Series = rule(None, design)
    return np.array([float(values[n]) for n in fit.fixed_names])
