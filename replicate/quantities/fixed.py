"""The engine's fixed-effect numbers for a block: estimate, SE, t, df and p under the block's
definitions, and the printed correlations of the fixed effects."""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
from scipy import stats

from ..block_names import mapped
from ..dfexplain import df_sentence
from ..errors import NotImplementedOption
from ..inference import KR_VARIANTS, Inference, kr_settings
from ..inference.dfrules import hlm_df
from ..inference.fitstats import convention_of
from ..reference_block import ReferenceBlock
from .value import Collector, Lazy


def corr_pair(pair: str) -> list[str]:
    """``"ses, (Intercept)"`` -> the two fixed-effect names of a printed correlation."""
    parts = [t.strip() for t in str(pair).split(",")]
    return parts if len(parts) == 2 and all(parts) else [str(pair)]


def kr_checked(block: ReferenceBlock, method: str, fit_method: str) -> str:
    """``method``, unless it is Kenward-Roger on an ML fit for SAS, which is not implemented:
    pbkrtest refits by REML (what is computed here), SAS works with the ML estimates."""

    if method in KR_VARIANTS and fit_method.upper() == "ML" and convention_of(block.software) == "sas":
        raise NotImplementedOption(
            "SAS's Kenward-Roger on an ML fit (method=ml ddfm=kr) uses the ML estimates; only pbkrtest's "
            "form (a REML refit) is implemented",
            hint="compare a REML fit, or a pbkrtest block",
        )
    return method


def _block_df(block: ReferenceBlock, spec_of: Lazy, inf: Inference, method: str, kr: tuple[str, str]) -> pd.Series:
    """df under ``method``; HLM's rule follows the block's own level of entry when it declares a model."""
    if method == "hlm":
        spec = spec_of.get()
        if spec is not None:
            return hlm_df(inf.fit, inf.design, spec)
    return inf.df(method, kr=kr)


def fixed_values(out: Collector, inf: Inference, spec_of: Lazy) -> None:
    """Every printed number of the block's ``fixed`` and ``fixed_corr`` sections."""
    block, fit = out.block, inf.fit
    df_method = block.options.df
    se_kind = str(block.options.se)
    kr = kr_settings(block.options.as_dict(), block.software)
    se_all = Lazy(lambda: inf.se(kr_checked(block, se_kind, str(fit.method)), kr=kr))
    df_all = None
    if df_method is not None:
        method = str(df_method)
        df_all = Lazy(lambda: _block_df(block, spec_of, inf, kr_checked(block, method, str(fit.method)), kr))

    for term, qs in block.section("fixed").items():
        eng = mapped(block, term)
        for q, ref in qs.items():
            path = ("fixed", term, q)
            if q == "estimate":
                out.add("fixed", term, q, ref, float(fit.fixed[eng]), path)
            elif q == "se":
                out.add("fixed", term, q, ref, lambda eng=eng: float(se_all.get()[eng]), path, note=f"SE: {se_kind}")
            elif q == "t":
                out.add("fixed", term, q, ref, lambda eng=eng: float(fit.fixed[eng] / se_all.get()[eng]), path)
            elif q in ("df", "p") and df_all is None:
                note = "the block does not declare options.df, so the df definition is unknown"
                if q == "df":
                    note = df_sentence(fit, inf.design, eng, ref, kr) or note
                out.add("fixed", term, q, ref, None, path, note=note)
            elif q == "df" and df_all is not None:
                out.add("fixed", term, q, ref, _df_value(df_all, eng), path, note=f"df: {df_method}")
            elif q == "p" and df_all is not None:
                out.add(
                    "fixed",
                    term,
                    q,
                    ref,
                    _p_value(inf, se_all, df_all, eng),
                    path,
                    note=f"p from t with df: {df_method}",
                )
    for pair, ref in block.section("fixed_corr").items():
        a, b = (mapped(block, t) for t in corr_pair(pair))
        out.add(
            "fixed_corr",
            pair,
            "corr",
            ref,
            lambda a=a, b=b: float(fit.vcov.loc[a, b] / math.sqrt(fit.vcov.loc[a, a] * fit.vcov.loc[b, b])),
            ("fixed_corr", pair),
            note="correlation of fixed effects (model-based vcov)",
        )


def _df_value(df_all: Lazy, eng: str) -> Callable[[], float]:
    return lambda: float(df_all.get()[eng])


def _p_value(inf: Inference, se_all: Lazy, df_all: Lazy, eng: str) -> Callable[[], float]:
    def pval() -> float:
        t = float(inf.fit.fixed[eng] / se_all.get()[eng])
        return float(2 * stats.t.sf(abs(t), float(df_all.get()[eng])))

    return pval
