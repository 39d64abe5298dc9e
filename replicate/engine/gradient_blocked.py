"""Analytic gradient of the profiled deviance for models with several random-effect terms.

Write the augmented system (random effects of every term in internal order, then X, then y) as
``Omega = Lambda_a' A Lambda_a + E`` with ``A = [Z X y]' W [Z X y]``, ``Lambda_a`` block diagonal
(``lambda_t`` per level of term ``t``, the identity on X and y) and ``E`` the identity on the random
effects only. The three pieces of the deviance are log-determinants of leading principal blocks of
``Omega``: ``log|L|^2 = log|Omega_q|``, ``log|L|^2 + log|R_X|^2 = log|Omega_{q+p}|`` and
``log r^2 = log|Omega| - log|Omega_{q+p}|``. By Jacobi's formula, for each leading block ``k``,

    d log|Omega_k| = 2 tr(Omega_k^-1 Lambda_k' A_kk dLambda_k),

so the derivative with respect to a theta element of term ``t`` (entry ``(r, c)`` of ``lambda_t``) is
twice the sum over the term's levels of entry ``(c, r)`` of the level's diagonal block of
``Y_k = Omega_k^-1 Lambda_k' A_kk``. This needs no inverse of ``lambda``, so it holds on the boundary
(a zero diagonal element) as well.

This first version works on the dense augmented matrix (one Cholesky factor of size
``q + p + 1`` and three triangular solves): exact for any number of terms, and cheap for models
whose random effects number at most :data:`MAX_DENSE` (Penicillin, Pastes, sleepstudy with an extra
factor); larger crossed models (InstEval) keep the derivative-free optimizer until a version that
works through the blocked factor of :mod:`.deviance` exists.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack, solve_triangular

from .arrays import Floats
from .deviance import NotPositiveDefinite, ProfiledDeviance

MAX_DENSE = 1500  # largest q + p + 1 handled on the dense augmented matrix


def has_blocked_gradient(dev: ProfiledDeviance) -> bool:
    """True for a multi-term model small enough for the dense augmented gradient."""
    cp = dev.cp
    return cp.qt > 0 and cp.q1 + cp.m <= MAX_DENSE


def use_blocked_gradient(dev: ProfiledDeviance) -> bool:
    """True when the dense gradient is available and costs less than a finite-difference gradient.

    Its cost (a Cholesky factor and three triangular solves of size ``q + p + 1``, about
    ``4 N^3 / 3`` flop at 3e10 flop/s, the rate of :meth:`.ProfiledDeviance.cost_estimate`) is set
    against the ``d + 1`` deviance evaluations of forward differences.
    """
    if not has_blocked_gradient(dev):
        return False
    size = dev.cp.q1 + dev.cp.m
    return 4.0 * size**3 / 3.0 / 3e10 < (dev.layout.size + 1) * dev.cost_estimate()


def augmented_crossproducts(dev: ProfiledDeviance) -> Floats:
    """The dense ``A = [Z X y]' W [Z X y]`` in internal term order, assembled from the stored cross-products."""
    cp = dev.cp
    q1, m = cp.q1, cp.m
    k1 = cp.ks[0]
    a = np.zeros((q1 + m, q1 + m))
    for j in range(cp.nlevels[0]):
        a[j * k1 : (j + 1) * k1, j * k1 : (j + 1) * k1] = cp.a11[j]
    if cp.at1_dense is not None:
        at1 = cp.at1_dense.reshape(m, q1)
    else:
        at1 = sp.csc_matrix(cp.at1).toarray()
    a[q1:, :q1] = at1
    a[:q1, q1:] = at1.T
    a[q1:, q1:] = cp.att
    return a


def _lambda_augmented(dev: ProfiledDeviance, lams: tuple[Floats, ...]) -> tuple[Floats, list[tuple[int, int, int]]]:
    """Dense ``Lambda_a`` and, per internal term, (start row, levels, k)."""
    cp = dev.cp
    size = cp.q1 + cp.m
    lam_a = np.eye(size)
    spans, start = [], 0
    for t, (nl, k) in enumerate(zip(cp.nlevels, cp.ks)):
        for j in range(nl):
            s = start + j * k
            lam_a[s : s + k, s : s + k] = lams[t]
        spans.append((start, nl, k))
        start += nl * k
    return lam_a, spans


def blocked_value_and_gradient(dev: ProfiledDeviance, theta: Floats) -> tuple[float, Floats]:
    """Deviance (or REML criterion) and its analytic gradient at ``theta`` (design order)."""
    dev.evaluations += 1
    cp = dev.cp
    theta = np.asarray(theta, dtype=float)
    lams = dev.internal_factors(theta)
    lam_a, spans = _lambda_augmented(dev, lams)
    a = augmented_crossproducts(dev)
    q = cp.q1 + cp.qt
    la = lam_a.T @ a  # Lambda_a' A
    omega = la @ lam_a
    omega[np.arange(q), np.arange(q)] += 1.0
    chol, info = lapack.dpotrf(omega, lower=1, clean=1)
    if info != 0:
        return float("inf"), np.zeros(dev.layout.size)
    diag = np.diagonal(chol)
    logd = 2.0 * np.log(diag)
    d1, d2 = float(np.sum(logd[:q])), float(np.sum(logd[: q + cp.p]))
    pwrss = float(diag[-1] ** 2)
    if dev.reml:
        nmp = cp.n - cp.p
        value = d2 - cp.ldw + nmp * (1.0 + float(np.log(2.0 * np.pi)) + float(np.log(pwrss / nmp)))
        weights: tuple[tuple[int, float], ...] = ((q + cp.p, 1.0 - nmp), (q + cp.p + 1, float(nmp)))
    else:
        value = d1 - cp.ldw + cp.n * (1.0 + float(np.log(2.0 * np.pi)) + float(np.log(pwrss / cp.n)))
        weights = ((q, 1.0), (q + cp.p, -float(cp.n)), (q + cp.p + 1, float(cp.n)))
    # Only Y's diagonal blocks at the random effects are needed: Y_k[:q, :q] = Omega_k^-1[:q, :k] (Lambda' A)[:k, :q].
    yq = np.zeros((q, q))
    for k, wgt in weights:
        lk = chol[:k, :k]
        rhs = solve_triangular(lk, la[:k, :q], lower=True, check_finite=False)
        left = solve_triangular(lk, np.eye(k)[:, :q], lower=True, check_finite=False)
        yq += wgt * (left.T @ rhs)
    grad = np.zeros(dev.layout.size)
    for t, (start, nl, k) in enumerate(spans):
        blocks = np.zeros((k, k))
        for j in range(nl):
            s = start + j * k
            blocks += yq[s : s + k, s : s + k]
        design_term = cp.order[t]
        kmat = 2.0 * blocks.T
        grad[dev.layout.term_slice(design_term)] = kmat[dev.layout.rows[design_term], dev.layout.cols[design_term]]
    return float(value), grad


__all__ = [
    "MAX_DENSE",
    "NotPositiveDefinite",
    "blocked_value_and_gradient",
    "has_blocked_gradient",
    "use_blocked_gradient",
]
