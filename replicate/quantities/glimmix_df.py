"""The denominator df for the t tests of a GLMM block (``options.df``): SAS GLIMMIX's, whatever its estimation
method: containment (GLIMMIX's default with a RANDOM statement), between-within (DDFM=BW), the residual
``n - rank(X)``, or ``none`` (infinite df: z tests); and for a pseudo-likelihood block HLM's (``hlm``: its HGLM's
unit-specific t tests take the df of its linear models, ``J - S - 1`` for a coefficient with a random part). The
rules read the model's design, as for the linear models."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..design import Design
from ..errors import NotImplementedOption
from ..inference.dfrules import between_within_df, containment_df, hlm_df, residual_df
from ..inference.gside_tests import effect_df, term_dfs
from ..reference_block import ReferenceBlock
from ..vocab import DfMethod

#: The df rules a GLIMMIX block may name (besides ``none``).
RULES = {
    DfMethod.CONTAINMENT: containment_df,
    DfMethod.BETWEEN_WITHIN: between_within_df,
    DfMethod.RESIDUAL: residual_df,
}
ACCEPTED = (*RULES, DfMethod.NONE)
#: A pseudo-likelihood block's rules: GLIMMIX's and HLM's (an HGLM's unit-specific results are PQL with the
#: level-1 variance fixed, the working model of GLIMMIX's RSPL / MSPL).
PL_RULES = {**RULES, DfMethod.HLM: lambda fit, design: hlm_df(fit, design)}
PL_ACCEPTED = (*PL_RULES, DfMethod.NONE)


def column_df(block: ReferenceBlock, design: Design | None, ncols: int) -> np.ndarray | None:
    """The df of each fixed-effect column under the block's ``options.df`` (None when the block names none)."""
    method = block.options.df
    if method is None:
        return None
    if method == DfMethod.NONE:
        return np.full(ncols, np.inf)
    if method not in PL_RULES:
        raise NotImplementedOption(
            f"df: {method} for a GLMM block", hint="containment, between-within, residual, hlm (PQL blocks) or none"
        )
    if design is None:
        raise NotImplementedOption("the GLMM fit does not keep its design", hint="fit it from the case")
    return np.asarray(PL_RULES[method](None, design), dtype=float)


def effect_df_of(block: ReferenceBlock, design: Design | None, df: np.ndarray | None) -> Callable[[str], float]:
    """A model term's df under the block's rule (the df its columns share), for Type III tests and LS-means."""
    if df is None or design is None:
        return lambda _effect: float("inf")
    dfs = term_dfs(design.column_term, list(df), str(block.options.df))
    return lambda effect: effect_df(dfs, effect, str(block.options.df))
