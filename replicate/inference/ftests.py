"""Type III F tests of fixed-effect terms with Satterthwaite df, as lmerTest's ``anova``.

lmerTest (Kuznetsova, Brockhoff & Christensen 2017, J. Stat. Softw. 82(13))
tests each term's hypothesis ``L beta = 0`` with the multi-df method of its
``contestMD``: take the eigen-decomposition ``L C L' = P D P'`` (C the covariance
of beta), so that the rows of ``P'L`` are independent contrasts; then
``F = sum_m (P'L beta)_m^2 / d_m / q``, each contrast gets its own
Satterthwaite df ``nu_m = 2 d_m^2 / (g_m' A g_m)`` (A the asymptotic covariance
of the variance parameters, g_m the gradient of the contrast's variance), and
the denominator df of F is ``2E / (E - q)`` with ``E = sum nu_m / (nu_m - 2)``
(Fai & Cornelius 1996). The df depend on the basis of L's rows, so the exact L
matters: for Type III lmerTest follows SAS's construction (Goodnight 1980):
start from the over-parameterized model with a dummy column for every cell of
every term (``rdX``), express its parameters in the full-rank treatment-coded
ones, and make each term's hypothesis orthogonal to those of the terms that
contain it (same numeric variables, more factors).

The cell dummies are rebuilt here from the design's own column names, without
the data: under treatment coding the indicator of a reference level is the
term one order lower minus the other levels' indicators, so each cell's
column is an integer combination of X's columns (for models that respect
marginality, the only ones lmerTest's Type III is meant for).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..design import Design
from ..errors import ModelError
from ..results import FitResult
from .context import Inference
from .satterthwaite import satterthwaite_parts
from .type3_hypotheses import FixedStructure, fixed_structure, match_pieces, type3_contrasts

DDF = ("Satterthwaite", "Kenward-Roger")


def _fstat_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """lmerTest's ``get_Fstat_ddf``: combine the contrasts' df into the F's denominator df."""
    if len(nu) == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * E / (E - len(nu))


def contest(
    L: np.ndarray,
    beta: np.ndarray,
    C: np.ndarray,
    A: np.ndarray,
    jac: list[np.ndarray],
    sigma: float,
    eps: float = float(np.sqrt(np.finfo(float).eps)),
) -> dict[str, float]:
    """F test of ``L beta = 0`` with Satterthwaite df (lmerTest's ``contestMD``).

    Args:
        L: hypothesis matrix (rows x p).
        beta: fixed effects; C: their covariance; A: covariance of varpar;
        jac: derivatives of C along each varpar; sigma: residual sd.
    """
    nan = {"Sum Sq": np.nan, "Mean Sq": np.nan, "NumDF": np.nan, "DenDF": np.nan, "F value": np.nan, "Pr(>F)": np.nan}
    if L.shape[0] == 0:
        return nan
    d, P = np.linalg.eigh(L @ C @ L.T)
    idx = np.argsort(d)[::-1]
    d, P = d[idx], P[:, idx]
    tol = max(eps * d[0], 0.0)
    q = int(np.sum(d > tol))
    if q == 0:
        return nan
    PtL = (P.T @ L)[:q]
    d = d[:q]
    Fvalue = float(np.sum((PtL @ beta) ** 2 / d) / q)
    nu = np.empty(q)
    for m in range(q):
        g = np.array([PtL[m] @ J @ PtL[m] for J in jac])
        nu[m] = 2.0 * d[m] ** 2 / float(g @ A @ g)
    ddf = _fstat_ddf(nu)
    ms = Fvalue * sigma**2
    return {
        "Sum Sq": ms * q,
        "Mean Sq": ms,
        "NumDF": float(q),
        "DenDF": ddf,
        "F value": Fvalue,
        "Pr(>F)": float(stats.f.sf(Fvalue, q, ddf)),
    }


def anova_type3(
    fit: FitResult, design: Design, ddf: str = "Satterthwaite", *, inference: Inference | None = None
) -> pd.DataFrame:
    """Type III ANOVA table of the fixed-effect terms (lmerTest's ``anova(fit, type = 3)``).

    Args:
        fit: native-engine fit of ``design`` (REML or ML).
        design: its design; treatment-coded factors (R's or SAS's reference level).
        ddf: ``"Satterthwaite"`` (lmerTest's default) or ``"Kenward-Roger"`` (pbkrtest's F).

    Returns:
        One row per term with columns ``Sum Sq``, ``Mean Sq``, ``NumDF``,
        ``DenDF``, ``F value``, ``Pr(>F)`` (``Sum Sq = F sigma^2 NumDF`` as lmerTest).
    """
    if ddf not in DDF:
        raise ModelError(f"ddf {ddf!r} unknown", hint="use 'Satterthwaite' or 'Kenward-Roger'")
    hyps = type3_contrasts(design)
    cols = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]
    if not hyps:
        return pd.DataFrame(columns=cols, dtype=float)
    if ddf == "Kenward-Roger":
        # pbkrtest's F test of each term's hypothesis (KRmodcomp: the scaled F with
        # Kenward-Roger's denominator df), as lmerTest's anova(ddf = "Kenward-Roger")
        kr = (inference or Inference(fit, design)).kenward_roger()
        s2 = float(fit.sigma2)
        rows = {}
        for label, L in hyps.items():
            r = kr.ftest(np.atleast_2d(L))
            F, q = float(r["F"]), int(r["ndf"])
            rows[label] = {
                "Sum Sq": F * s2 * q,
                "Mean Sq": F * s2,
                "NumDF": q,
                "DenDF": float(r["ddf"]),
                "F value": F,
                "Pr(>F)": float(r["p"]),
            }
        table = pd.DataFrame.from_dict(rows, orient="index")[cols]
        table.attrs["heading"] = "Type III Analysis of Variance Table with Kenward-Roger's method"
        table.attrs["hypotheses"] = hyps
        return table
    C, A, jac = satterthwaite_parts(fit, design)
    beta = fit.fixed.to_numpy(dtype=float)
    sigma = float(np.sqrt(fit.sigma2))
    rows = {label: contest(L, beta, C, A, jac, sigma) for label, L in hyps.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")[cols]
    table.attrs["heading"] = "Type III Analysis of Variance Table with Satterthwaite's method"
    table.attrs["hypotheses"] = hyps
    return table


__all__ = ["FixedStructure", "anova_type3", "contest", "fixed_structure", "match_pieces", "type3_contrasts"]
