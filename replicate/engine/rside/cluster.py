"""Repeated measures within subjects within clusters: a random intercept per cluster over the residual structure.

``y ~ x + (1 | school) + ar1(time | student)`` (SAS: ``RANDOM intercept / SUBJECT=school`` with
``REPEATED time / SUBJECT=student(school) TYPE=AR(1)``; nlme: ``lme(random = ~ 1 | school,
correlation = corAR1(form = ~ idx | school/student))``). Within a cluster c,
``V_c = tau J + blockdiag(C_i)`` over its subjects i, with C_i the subject's block of the residual
structure (itself possibly with a subject intercept, :mod:`.intercept`). By the Woodbury identity,
with ``w_i = C_i^-1 1``, ``a_c = sum_i 1' w_i`` and ``u_c = sum_i Z_i' w_i`` (``Z = [X y]``):

* ``Z' V^-1 Z = sum_i Z_i' C_i^-1 Z_i - sum_c tau / (1 + tau a_c) u_c u_c'`` and
* ``log |V| = sum_i log |C_i| + sum_c log(1 + tau a_c)``,

so one evaluation costs the visit patterns' factorizations plus one weighted pass over the rows.
The criterion is the same profiled REML/ML as :mod:`.criterion`; its gradient is taken by central
differences (a handful of parameters), and the covariance parameters' SEs from the numerical
Hessian of the unprofiled criterion in SAS's parameters (the cluster's ``Intercept`` first).
Satterthwaite and Kenward-Roger df are not implemented for these fits (use ``ddfm='residual'``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.linalg import cho_solve, cholesky

from ...errors import DataError
from .blocks import Blocks, make_blocks
from .criterion import LOG_2PI, Evaluation
from .structures import Structure

BIG = 1e30


@dataclass(frozen=True)
class ClusterLayout:
    """The data, reduced to visit patterns, and each row's pattern, position in it and cluster."""

    blocks: Blocks
    Z: np.ndarray
    rows_of_pattern: tuple[np.ndarray, ...]
    pos_of_row: np.ndarray
    cluster_of_row: np.ndarray
    n_clusters: int


def make_layout(
    X: np.ndarray, y: np.ndarray, subject: np.ndarray, visit: np.ndarray, k: int, cluster: np.ndarray
) -> ClusterLayout:
    """Patterns of the subjects and the row bookkeeping the cluster terms need."""
    subject, visit, cluster = (np.asarray(a, dtype=np.int64) for a in (subject, visit, cluster))
    blocks = make_blocks(X, y, subject, visit, k)
    order = np.lexsort((visit, subject))
    s, v, c = subject[order], visit[order], cluster[order]
    Z = np.column_stack([X, y]).astype(float)[order]
    first = np.r_[True, s[1:] != s[:-1]]
    starts = np.flatnonzero(first)
    if np.any(c != np.repeat(c[starts], np.diff(np.r_[starts, len(s)]))):
        raise DataError("a subject belongs to more than one cluster", field="cluster", hint="nest subjects in clusters")
    key_of = {tuple(p.visits.tolist()): i for i, p in enumerate(blocks.patterns)}
    pattern_of_row = np.empty(len(s), dtype=np.int64)
    pos_of_row = np.empty(len(s), dtype=np.int64)
    for a, b in zip(starts, np.r_[starts[1:], len(s)], strict=True):
        pattern_of_row[a:b] = key_of[tuple(v[a:b].tolist())]
        pos_of_row[a:b] = np.arange(b - a)
    rows = tuple(np.flatnonzero(pattern_of_row == i) for i in range(len(blocks.patterns)))
    return ClusterLayout(blocks, Z, rows, pos_of_row, c, int(c.max()) + 1)


def evaluate(lay: ClusterLayout, C: np.ndarray, tau: float, reml: bool, profile: bool) -> Evaluation:
    """-2 log-likelihood (beta, and with ``profile`` the scale, profiled) for subject blocks C and cluster tau."""
    p, q = lay.blocks.p, lay.blocks.p + 1
    A = np.zeros((q, q))
    logdet = 0.0
    w_rows = np.empty(len(lay.Z))
    fail = Evaluation(np.inf, np.full(p, np.nan), np.nan, np.nan, np.full((p, p), np.nan), None)
    try:
        for pat, rows in zip(lay.blocks.patterns, lay.rows_of_pattern, strict=True):
            v = pat.visits
            L = cholesky(C[np.ix_(v, v)], lower=True, check_finite=False)
            Cinv = cho_solve((L, True), np.eye(len(v)), check_finite=False)
            logdet += pat.count * 2.0 * float(np.sum(np.log(np.diag(L))))
            A += np.tensordot(Cinv, pat.S, axes=([0, 1], [0, 1]))
            w_rows[rows] = Cinv.sum(axis=1)[lay.pos_of_row[rows]]
    except np.linalg.LinAlgError:
        return fail
    a = np.bincount(lay.cluster_of_row, weights=w_rows, minlength=lay.n_clusters)
    U = np.zeros((lay.n_clusters, q))
    np.add.at(U, lay.cluster_of_row, lay.Z * w_rows[:, None])
    if tau < 0 or np.any(1 + tau * a <= 0):
        return fail
    f = tau / (1 + tau * a)
    A -= (U * f[:, None]).T @ U
    logdet += float(np.sum(np.log1p(tau * a)))
    try:
        Lx = cholesky(A[:p, :p], lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return fail
    beta = cho_solve((Lx, True), A[:p, p], check_finite=False)
    rss = float(A[p, p] - A[:p, p] @ beta)
    nu = lay.blocks.n - p if reml else lay.blocks.n
    value = logdet + (2.0 * float(np.sum(np.log(np.diag(Lx)))) if reml else 0.0)
    if profile:
        if rss <= 0:
            return fail
        value += nu * (LOG_2PI + 1.0 + np.log(rss / nu))
        scale = rss / nu
    else:
        value += nu * LOG_2PI + rss
        scale = 1.0
    return Evaluation(float(value), beta, rss, scale, A[:p, :p], None)


def central_gradient(fun: Callable[[np.ndarray], float], x: np.ndarray, rel: float = 1e-6) -> np.ndarray:
    """Central differences of a scalar function (step ``rel`` times max(|x_i|, 1))."""
    g = np.zeros(len(x))
    for i in range(len(x)):
        h = rel * max(abs(x[i]), 1.0)
        e = np.zeros(len(x))
        e[i] = h
        g[i] = (fun(x + e) - fun(x - e)) / (2 * h)
    return g


def optimize_cluster(
    lay: ClusterLayout, structure: Structure, start: np.ndarray, reml: bool
) -> optimize.OptimizeResult:
    """Minimize the profiled criterion over (structure theta, log tau / scale) with L-BFGS-B."""
    m = structure.n_theta

    def fun(theta: np.ndarray) -> float:
        ev = evaluate(lay, structure.relative(theta[:m]), float(np.exp(theta[m])), reml, True)
        return ev.value if np.isfinite(ev.value) else BIG

    best = None
    for x0 in (start, np.r_[start[:m], start[m] + 2.0], np.r_[start[:m], start[m] - 3.0]):
        res = optimize.minimize(
            fun,
            x0,
            jac=lambda t: central_gradient(fun, t),
            method="L-BFGS-B",
            options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-8},
        )
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    return best


def natural_hessian(lay: ClusterLayout, structure: Structure, nat: np.ndarray, reml: bool) -> np.ndarray:
    """Hessian of the unprofiled -2 log-likelihood in (tau, the structure's natural parameters)."""

    def fun(x: np.ndarray) -> float:
        return evaluate(lay, structure.from_natural(x[1:]), float(x[0]), reml, False).value

    n = len(nat)
    H = np.zeros((n, n))
    hs = [1e-4 * max(abs(t), 1e-3) for t in nat]
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.zeros(n), np.zeros(n)
            ei[i], ej[j] = hs[i], hs[j]
            H[i, j] = H[j, i] = (fun(nat + ei + ej) - fun(nat + ei - ej) - fun(nat - ei + ej) + fun(nat - ei - ej)) / (
                4 * hs[i] * hs[j]
            )
    return H
