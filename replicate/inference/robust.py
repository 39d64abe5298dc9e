"""Cluster-robust ("sandwich") covariance of the fixed effects of a fitted LMM.

The definitions follow R's clubSandwich (Pustejovsky & Tipton 2018, J. Bus.
Econ. Stat. 36(4)) as ``vcovCR(<lmerMod>, type = ...)`` applies them:

* working weights are the inverse of the model's own marginal covariance,
  ``W_j = V_j^-1`` with ``V_j = Z_j Lambda Lambda' Z_j' + I`` (relative to sigma^2),
  block by block over the clusters;
* ``M = (sum_j X_j' W_j X_j)^-1`` (the model-based vcov over sigma^2);
* residuals are marginal, ``e = y - X beta``;
* ``vcov = M [sum_j E_j e_j e_j' E_j'] M`` with ``E_j = X_j' W_j A_j``, where
  ``A_j = I`` for CR0, ``sqrt(J / (J - 1)) I`` for CR1 and, for CR2 (Bell &
  McCaffrey 2002), ``A_j = R_j' G_j^(-1/2) R_j`` with ``V_j = R_j' R_j`` (upper
  Cholesky factor) and ``G_j = R_j (V_j - X_j M X_j') R_j'``; the inverse square
  root drops eigenvalues below 1e-12, as clubSandwich's ``matrix_power``.

HLM's "final estimation of fixed effects (with robust standard errors)" is the
CR0 sandwich of the GLS fit with the same weights (Raudenbush & Bryk 2002,
sec. 8 "robust standard errors"), so :func:`hlm_robust_se` is CR0.

The Satterthwaite df that ``clubSandwich::coef_test(fit, vcov = "CR2", test =
"Satterthwaite")`` reports are :func:`cr2_satterthwaite_df`: under the working
model, each coefficient's robust variance is a quadratic form ``sum_j (p_j' e)^2``
whose mean and variance give ``df = 2 E^2 / Var``. With ``G_j = M E_j R_j'`` and
``H_j = M E_j X_j L`` (``M = L L'``), the J x J matrix of the quadratic form for
coefficient i is ``P = diag(|G_j[i, :]|^2) - h h'`` (rows ``h_j = H_j[i, :]``),
and ``df = tr(P)^2 / sum(P^2)``; the sums are taken without forming P.

With level-1 prior weights the identity in ``V_j`` becomes ``diag(1 / w)``;
that case has no reference (clubSandwich refuses weighted lmer fits).

All work is per cluster: V is block diagonal over the clusters when every
random-effect grouping factor is nested in the cluster variable, which is
checked. Nothing n x n is formed; each block is n_j x n_j.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg as sla

from ..design import Design
from ..errors import ModelError
from ..results import FitResult
from .marginal import lambda_matrix, sparse_z

KINDS = ("CR0", "CR1", "CR2")

#: what to cluster by: None (the grouping factor with fewest levels), a grouping factor's name, or a label per row
ClusterSpec = str | Sequence[object] | np.ndarray | None


@dataclass(frozen=True)
class RobustResult:
    """A cluster-robust covariance and what it was computed from.

    Attributes:
        kind: ``CR0``, ``CR1`` or ``CR2``.
        vcov: p x p covariance of the fixed effects (DataFrame, R names).
        cluster: name of the clustering factor (or ``"<custom>"``).
        nclusters: number of clusters J.
        df: CR2 Satterthwaite df per coefficient (only for CR2 when asked).
    """

    kind: str
    vcov: pd.DataFrame
    cluster: str
    nclusters: int
    df: pd.Series | None = None

    @property
    def se(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.vcov.index)


# ------------------------------------------------------------------ helpers


def _codes(labels: np.ndarray) -> tuple[np.ndarray, int]:
    _, inv = np.unique(np.asarray(labels), return_inverse=True)
    inv = inv.ravel().astype(np.int64)
    return inv, int(inv.max()) + 1 if inv.size else 0


def resolve_cluster(design: Design, cluster: ClusterSpec = None) -> tuple[str, np.ndarray, int]:
    """Cluster code per row: the grouping factor with fewest levels by default
    (clubSandwich's ``get_outer_group``), a named grouping factor, or labels per row.

    Raises:
        ModelError: unknown factor, wrong length, or a random-effect grouping
            factor not nested in the clusters (V would not be block diagonal).
    """
    if not design.reterms:
        raise ModelError("the model has no random-effect terms to cluster by")
    if cluster is None:
        t = min(design.reterms, key=lambda r: r.nlevels)  # first of the smallest, as which.min
        name, codes, J = t.group, t.index.astype(np.int64), t.nlevels
    elif isinstance(cluster, str):
        match = [t for t in design.reterms if t.group == cluster]
        if not match:
            names = sorted({t.group for t in design.reterms})
            raise ModelError(
                f"cluster {cluster!r} is not a grouping factor of the model", hint="one of: " + ", ".join(names)
            )
        name, codes, J = cluster, match[0].index.astype(np.int64), match[0].nlevels
    else:
        arr = np.asarray(cluster)
        if arr.shape[0] != design.n:
            raise ModelError(f"cluster labels have length {arr.shape[0]}, the model uses {design.n} rows")
        codes, J = _codes(arr)
        name = "<custom>"
    if J < 2:
        raise ModelError("cluster-robust variance needs at least two clusters")
    for t in design.reterms:
        if not _nested_in(t.index, codes):
            raise ModelError(
                f"grouping factor {t.group!r} is not nested in the cluster variable {name!r}",
                hint="clubSandwich refuses such models too: the marginal covariance is not block diagonal",
            )
    return name, codes, J


def _nested_in(inner: np.ndarray, outer: np.ndarray) -> bool:
    """Each level of ``inner`` occurs within a single level of ``outer``."""
    pairs = np.unique(np.stack([inner, outer], axis=1), axis=0)
    return bool(np.unique(pairs[:, 0]).size == pairs.shape[0])


def _inv_sqrt_psd(G: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Symmetric G^(-1/2), with eigenvalues <= tol set to zero (clubSandwich's matrix_power)."""
    vals, vecs = np.linalg.eigh((G + G.T) / 2)
    pw = np.where(vals > tol, np.abs(vals) ** -0.5, 0.0)
    out: np.ndarray = (vecs * pw) @ vecs.T
    return out


@dataclass
class SandwichBlock:
    """One cluster's rows, design, marginal residuals, working covariance (V = R'R) and V^-1 X."""

    rows: np.ndarray
    X: np.ndarray
    e: np.ndarray
    V: np.ndarray
    R: np.ndarray  # upper Cholesky factor, V = R'R
    WX: np.ndarray  # V^-1 X


def _blocks(fit: FitResult, design: Design, codes: np.ndarray, J: int) -> list[SandwichBlock]:
    if fit.theta is None:
        raise ValueError("this fit has no theta; the robust covariance needs the native engine's fit")
    beta = fit.fixed.reindex(list(design.fixed_names)).to_numpy(dtype=float)
    if np.isnan(beta).any():
        raise ValueError("the fit's fixed effects do not match the design's columns")
    resid = design.y - design.X @ beta
    ZL = (sparse_z(design) @ lambda_matrix(design, np.asarray(fit.theta, dtype=float))).tocsr()
    w = design.weights
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(J + 1))
    out: list[SandwichBlock] = []
    for j in range(J):
        rows = order[starts[j] : starts[j + 1]]
        Zj = ZL[rows]
        V = np.asarray((Zj @ Zj.T).todense(), dtype=float)
        V[np.diag_indices_from(V)] += 1.0 if w is None else 1.0 / w[rows]
        R = sla.cholesky(V, lower=False)
        Xj = design.X[rows]
        WX = sla.cho_solve((R, False), Xj)
        out.append(SandwichBlock(rows, Xj, resid[rows], V, R, WX))
    return out


def _bread(blocks: list[SandwichBlock], p: int) -> np.ndarray:
    XWX = np.zeros((p, p))
    for b in blocks:
        XWX += b.X.T @ b.WX
    return np.linalg.inv((XWX + XWX.T) / 2)


def _adjusted_est(blocks: list[SandwichBlock], M: np.ndarray, kind: str, J: int) -> list[np.ndarray]:
    """E_j = X_j' W_j A_j for each cluster (p x n_j)."""
    est = [b.WX.T for b in blocks]  # X_j' W_j (W symmetric)
    if kind == "CR0":
        return est
    if kind == "CR1":
        f = np.sqrt(J / (J - 1.0))
        return [e * f for e in est]
    out = []
    for b, e in zip(blocks, est):
        G = b.R @ (b.V - b.X @ M @ b.X.T) @ b.R.T
        A = b.R.T @ _inv_sqrt_psd(G) @ b.R
        out.append(e @ A)
    return out


def _satterthwaite(blocks: list[SandwichBlock], M: np.ndarray, est: list[np.ndarray]) -> np.ndarray:
    p = M.shape[0]
    L = np.linalg.cholesky(M)
    g = np.empty((len(blocks), p))  # |G_j[i, :]|^2
    H = np.empty((len(blocks), p, p))  # H_j = M E_j X_j L
    for j, (b, e) in enumerate(zip(blocks, est)):
        ME = M @ e
        Gj = ME @ b.R.T
        g[j] = np.sum(Gj**2, axis=1)
        H[j] = ME @ b.X @ L
    df = np.empty(p)
    for i in range(p):
        h = H[:, i, :]  # J x p
        hh = np.sum(h**2, axis=1)
        trace = g[:, i].sum() - hh.sum()
        HtH = h.T @ h
        sumsq = np.sum(g[:, i] ** 2) - 2.0 * np.sum(g[:, i] * hh) + np.sum(HtH**2)
        df[i] = trace**2 / sumsq if sumsq > 0 else np.nan
    return df


# ------------------------------------------------------------------- public


def cluster_robust(
    fit: FitResult,
    design: Design,
    kind: str = "CR2",
    cluster: ClusterSpec = None,
    *,
    df: bool = False,
) -> RobustResult:
    """Cluster-robust covariance of beta (and, for CR2, optionally its Satterthwaite df).

    Args:
        fit: a fit of ``design`` with ``theta`` (the native engine's).
        design: the model's design.
        kind: ``CR0``, ``CR1`` or ``CR2`` (clubSandwich's types of those names).
        cluster: None (the grouping factor with fewest levels), a grouping
            factor's name (as lme4 prints it), or one label per row used.
        df: also compute the CR2 Satterthwaite df (``coef_test``'s ``df_Satt``).
    """
    kind = kind.upper()
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} unknown; one of {', '.join(KINDS)}")
    if df and kind != "CR2":
        raise ValueError("Satterthwaite df are defined here for CR2 only (as clubSandwich pairs them)")
    name, codes, J = resolve_cluster(design, cluster)
    V, satt = sandwich(_blocks(fit, design, codes, J), design.p, kind, df=df)
    names = list(design.fixed_names)
    dfs = pd.Series(satt, index=names) if satt is not None else None
    return RobustResult(kind, pd.DataFrame(V, index=names, columns=names), name, J, dfs)


def sandwich(
    blocks: list[SandwichBlock], p: int, kind: str, *, df: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """The sandwich ``M [sum_j E_j e_j e_j' E_j'] M`` over the clusters' blocks (``kind``: CR0, CR1, CR2), and,
    with ``df``, the CR2 Satterthwaite df per coefficient; shared by the G-side fits and the repeated-measures
    ones (:mod:`replicate.inference.rside_robust`)."""
    M = _bread(blocks, p)
    est = _adjusted_est(blocks, M, kind, len(blocks))
    comps = np.column_stack([e @ b.e for e, b in zip(est, blocks)])  # p x J
    V = M @ (comps @ comps.T) @ M
    V = (V + V.T) / 2
    return V, (_satterthwaite(blocks, M, est) if df else None)


def cluster_robust_vcov(fit: FitResult, design: Design, kind: str = "CR2", cluster: ClusterSpec = None) -> pd.DataFrame:
    """Cluster-robust covariance of the fixed effects, as ``clubSandwich::vcovCR(fit, type=kind)``."""
    return cluster_robust(fit, design, kind, cluster).vcov


def cluster_robust_se(fit: FitResult, design: Design, kind: str = "CR2", cluster: ClusterSpec = None) -> pd.Series:
    """Square roots of the diagonal of :func:`cluster_robust_vcov`."""
    return cluster_robust(fit, design, kind, cluster).se


def cr2_satterthwaite_df(fit: FitResult, design: Design, cluster: ClusterSpec = None) -> pd.Series:
    """Satterthwaite df of the CR2 t-tests (``coef_test(fit, vcov="CR2", test="Satterthwaite")``)."""
    res = cluster_robust(fit, design, "CR2", cluster, df=True)
    assert res.df is not None
    return res.df


def hlm_robust_vcov(fit: FitResult, design: Design) -> pd.DataFrame:
    """HLM's robust covariance: CR0 on the GLS fit, clustered by the level-2 units."""
    return cluster_robust_vcov(fit, design, "CR0")


def hlm_robust_se(fit: FitResult, design: Design) -> pd.Series:
    """HLM's "robust standard errors" (CR0, clustered by the top-level units)."""
    return cluster_robust_se(fit, design, "CR0")
