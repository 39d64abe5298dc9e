"""HLM's variance-component chi-square and reliability, from per-unit OLS regressions.

HLM (Raudenbush & Bryk 2002, sections 3.5-3.6 and 4.4) tests ``tau_qq = 0`` for
each random level-1 coefficient without refitting: in every level-2 unit with
enough data for its own OLS regression it compares the unit's OLS estimate
``beta_hat_qj`` with the fitted level-2 prediction ``W_j' gamma_hat_q``,

    chi2_q = sum_j (beta_hat_qj - W_j' gamma_hat_q)^2 / V_qqj,
    V_j = sigma_hat^2 (X_j' X_j)^-1,

on ``J' - S_q - 1`` df (J' units used, S_q level-2 predictors of coefficient q).
The level-1 coefficients without a random part are fixed at their estimates
before the unit regressions. The reliability of ``beta_hat_qj`` is
``tau_qq / (tau_qq + V_qqj)``; HLM prints its average over the units used.
Units "with sufficient data" are those whose X_j'X_j is invertible with a
condition number below 1e6 (HLM's checks, per its FAQ).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..design import Design
from ..engine.theta import ThetaLayout
from ..errors import ModelError, NotImplementedOption
from ..results import FitResult

COND_MAX = 1e6  # HLM's condition-number check on X_j'X_j


@dataclass(frozen=True)
class UnitRegressions:
    """Per-unit OLS regressions behind HLM's chi-square and reliability.

    Attributes:
        group: grouping factor.
        coefficients: random level-1 coefficients (column names).
        tau: their variances (diagonal of T).
        used: boolean per unit: enough data for the unit's OLS fit.
        beta_hat: OLS estimates (units x coefficients), NaN where not used.
        v: sampling variances V_qqj (units x coefficients).
        predicted: level-2 predictions ``W_j' gamma_hat_q`` (units x coefficients).
        n_predictors: level-2 columns (including gamma_q0) per coefficient.
    """

    group: str
    coefficients: tuple[str, ...]
    tau: np.ndarray
    used: np.ndarray
    beta_hat: np.ndarray
    v: np.ndarray
    predicted: np.ndarray
    n_predictors: np.ndarray


def _group_constant(
    values: np.ndarray, index: np.ndarray, nlev: int, mask: np.ndarray, tol: float
) -> tuple[bool, np.ndarray]:
    """Whether ``values[mask]`` is constant within each group; returns the group values."""
    lo = np.full(nlev, np.inf)
    hi = np.full(nlev, -np.inf)
    np.minimum.at(lo, index[mask], values[mask])
    np.maximum.at(hi, index[mask], values[mask])
    seen = np.isfinite(lo)
    scale = max(1.0, float(np.max(np.abs(values[mask])))) if mask.any() else 1.0
    ok = bool(np.all(hi[seen] - lo[seen] <= tol * scale))
    return ok, np.where(seen, lo, 0.0)


def unit_regressions(fit: FitResult, design: Design, *, level1_columns: Sequence[str] = ()) -> UnitRegressions:
    """Per-unit OLS regressions of a two-level model, as HLM2 computes them.

    Args:
        fit: fit of ``design`` (REML or ML; the estimates of gamma, sigma^2 and
            T are used).
        design: a design with one grouping factor.
        level1_columns: fixed-effect columns entered at level 1 with a fixed
            slope in HLM although they are constant within units (HLM then
            subtracts them instead of treating them as level-2 predictors;
            seed 000's "URBAN as level-1 covariate").
    """
    groups = list(dict.fromkeys(t.group for t in design.reterms))
    if len(groups) != 1:
        raise NotImplementedOption(
            f"HLM's chi-square tests are implemented for two-level models (one grouping factor), not {groups}",
            hint="HLM3's level-2 and level-3 tests are not implemented",
        )
    group = groups[0]
    first = design.reterms[0]
    index = np.asarray(first.index)
    J = first.nlevels
    cols: dict[str, np.ndarray] = {}
    for t in design.reterms:
        if not np.array_equal(np.asarray(t.index), index):
            raise ModelError(f"terms of grouping factor {group!r} disagree on the units")
        for j, col in enumerate(t.columns):
            cols.setdefault(col, np.asarray(t.Xre[:, j], dtype=float))
    names = tuple(cols)
    R = np.column_stack([cols[col] for col in names])
    k = R.shape[1]
    X = np.asarray(design.X, dtype=float)
    gamma = fit.fixed.to_numpy(dtype=float)
    # assign fixed columns to the level-2 equations of the random coefficients
    assigned: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(k)]
    level1: list[int] = []
    for c, name in enumerate(design.fixed_names):
        target = None
        if name not in level1_columns:
            for q in range(k):
                nz = R[:, q] != 0
                if not np.all(X[~nz, c] == 0):
                    continue
                ratio = np.zeros(len(X))
                ratio[nz] = X[nz, c] / R[nz, q]
                ok, w = _group_constant(ratio, index, J, nz, 1e-8)
                if ok:
                    target = (q, w)
                    break
        if target is None:
            level1.append(c)
        else:
            assigned[target[0]].append((c, target[1]))
    ystar = np.asarray(design.y, dtype=float) - X[:, level1] @ gamma[level1]
    wts = np.ones(design.n) if design.weights is None else np.asarray(design.weights, dtype=float)
    sigma2 = float(fit.sigma2)
    beta_hat = np.full((J, k), np.nan)
    v = np.full((J, k), np.nan)
    used = np.zeros(J, dtype=bool)
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(J + 1))
    for j in range(J):
        rows = order[bounds[j] : bounds[j + 1]]
        if len(rows) < k:
            continue
        Rj = R[rows] * np.sqrt(wts[rows])[:, None]
        XtX = Rj.T @ Rj
        sv = np.linalg.svd(XtX, compute_uv=False)
        if sv[-1] <= 0 or sv[0] / sv[-1] >= COND_MAX:
            continue
        inv = np.linalg.inv(XtX)
        beta_hat[j] = inv @ (Rj.T @ (ystar[rows] * np.sqrt(wts[rows])))
        v[j] = sigma2 * np.diag(inv)
        used[j] = True
    predicted = np.zeros((J, k))
    for q in range(k):
        for c, w in assigned[q]:
            predicted[:, q] += gamma[c] * w
    tau = _coefficient_variances(fit, design, names)
    return UnitRegressions(group, names, tau, used, beta_hat, v, predicted, np.array([len(a) for a in assigned]))


def _coefficient_variances(fit: FitResult, design: Design, names: tuple[str, ...]) -> np.ndarray:
    """tau_qq of each random column (its term's G block; ``(x || g)`` terms are separate blocks)."""
    if fit.theta is None:
        raise NotImplementedOption("HLM's tests need the native engine's fit (theta)")
    var: dict[str, float] = {}
    for t, L in zip(design.reterms, ThetaLayout.of(design).factors(np.asarray(fit.theta, dtype=float))):
        G = float(fit.sigma2) * (L @ L.T)
        for j, c in enumerate(t.columns):
            var.setdefault(c, float(G[j, j]))
    return np.array([var[c] for c in names])


def hlm_variance_tests(fit: FitResult, design: Design, *, level1_columns: Sequence[str] = ()) -> pd.DataFrame:
    """HLM's "Final estimation of variance components" table for a two-level model.

    Returns:
        One row per random coefficient: ``group``, ``coefficient``, ``sd``,
        ``variance`` (tau_qq), ``df`` (J' - S_q - 1), ``chisq``, ``p``,
        ``units_used`` (J') and ``units`` (J). When J' < J, ``attrs["note"]``
        holds HLM's note on units without sufficient data.
    """
    u = unit_regressions(fit, design, level1_columns=level1_columns)
    Jp = int(u.used.sum())
    rows = []
    for q, name in enumerate(u.coefficients):
        dev = u.beta_hat[u.used, q] - u.predicted[u.used, q]
        chisq = float(np.sum(dev**2 / u.v[u.used, q]))
        df = Jp - int(u.n_predictors[q])
        rows.append(
            {
                "group": u.group,
                "coefficient": name,
                "sd": float(np.sqrt(u.tau[q])),
                "variance": float(u.tau[q]),
                "df": df,
                "chisq": chisq,
                "p": float(stats.chi2.sf(chisq, df)) if df > 0 else np.nan,
                "units_used": Jp,
                "units": len(u.used),
            }
        )
    table = pd.DataFrame(rows)
    if Jp < len(u.used):
        table.attrs["note"] = (
            f"The chi-square statistics reported above are based on only {Jp} of "
            f"{len(u.used)} units that had sufficient data for computation."
        )
    return table


def reliability(fit: FitResult, design: Design, *, level1_columns: Sequence[str] = ()) -> pd.Series:
    """HLM's reliability of each random level-1 coefficient's OLS estimate.

    The average over units with sufficient data of ``tau_qq / (tau_qq + V_qqj)``.
    """
    u = unit_regressions(fit, design, level1_columns=level1_columns)
    vals = [float(np.mean(u.tau[q] / (u.tau[q] + u.v[u.used, q]))) for q in range(len(u.coefficients))]
    return pd.Series(vals, index=list(u.coefficients), name="reliability")


__all__ = ["COND_MAX", "UnitRegressions", "hlm_variance_tests", "reliability", "unit_regressions"]
