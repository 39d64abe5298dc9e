"""Empirical ("sandwich") covariance of the fixed effects of a repeated-measures fit.

SAS's EMPIRICAL option (Liang and Zeger's classical estimator) replaces the model-based
``(X'V^-1X)^-1`` by ``M [sum_i X_i' V_i^-1 e_i e_i' V_i^-1 X_i] M`` over the subjects i (``M`` the
model-based covariance, ``e_i = y_i - X_i beta`` the subject's marginal residuals, ``V_i`` the
structure's covariance over the subject's observed visits): clubSandwich's CR0 on a ``gls`` fit and
mmrm's "Empirical". CR1 multiplies it by S / (S - 1) (S subjects); CR2 (Bell and McCaffrey's bias
reduction: clubSandwich's CR2, mmrm's "Empirical-Bias-Reduced") adjusts each subject's residuals by
``A_i = R_i' G_i^(-1/2) R_i`` with ``V_i = R_i' R_i`` and ``G_i = R_i (V_i - X_i M X_i') R_i'``; with it
come clubSandwich's Satterthwaite df per coefficient. The working weights are the fitted model's own
``V_i^-1`` (with SAS's WEIGHT, ``V_i = W_i^-1/2 R_i W_i^-1/2``). The sums are over subjects, each an
m_i x m_i block.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.linalg as sla

from ..engine.rside.result import RsideFit
from ..errors import NotImplementedOption
from .robust import KINDS, SandwichBlock, sandwich


def _blocks(fit: RsideFit) -> list[SandwichBlock]:
    rows = fit.rows
    if rows is None:
        raise NotImplementedOption(
            "empirical SEs of this repeated-measures fit (it does not keep its rows: a fit in clusters)",
            hint="empirical SEs are implemented for a residual structure, with or without a subject's intercept",
        )
    e = rows.y - rows.X @ fit.beta
    order = np.lexsort((rows.visit, rows.subject))
    subject = rows.subject[order]
    starts = np.searchsorted(subject, np.arange(int(subject.max()) + 2))
    out = []
    for s in range(len(starts) - 1):
        idx = order[starts[s] : starts[s + 1]]
        if idx.size == 0:
            continue
        R = fit.R[int(rows.group[idx[0]])]
        v = rows.visit[idx]
        V = R[np.ix_(v, v)]
        if rows.weights is not None:
            inv_sqrt = 1.0 / np.sqrt(rows.weights[idx])
            V = V * np.outer(inv_sqrt, inv_sqrt)
        chol = sla.cholesky(V, lower=False)
        X = rows.X[idx]
        out.append(SandwichBlock(idx, X, e[idx], V, chol, sla.cho_solve((chol, False), X)))
    return out


def rside_sandwich(fit: RsideFit, kind: str = "CR0", *, df: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The empirical covariance of ``fit``'s fixed effects (``kind``: CR0 = SAS's EMPIRICAL, CR1, CR2), and,
    with ``df``, clubSandwich's CR2 Satterthwaite df per coefficient.

    Raises:
        NotImplementedOption: an unknown kind, df for another kind than CR2, or a fit without its rows.
    """
    kind = kind.upper()
    if kind not in KINDS:
        raise NotImplementedOption(f"empirical SEs of kind {kind!r}", hint="one of " + ", ".join(KINDS))
    if df and kind != "CR2":
        raise NotImplementedOption("Satterthwaite df of an empirical covariance other than CR2", hint="use CR2")
    return sandwich(_blocks(fit), len(fit.fixed_names), kind, df=df)


def with_empirical(fit: RsideFit, kind: str) -> RsideFit:
    """``fit`` with its fixed effects' covariance replaced by the empirical one: every SE, LS-mean, difference
    and Type 3 test computed from it then uses it (as SAS's EMPIRICAL does)."""
    vcov, _ = rside_sandwich(fit, kind)
    return replace(fit, vcov_beta=vcov, se_beta=np.sqrt(np.diag(vcov)))
