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

It works on the dense augmented matrix (one Cholesky factor of size ``q + p + 1``, its triangular inverse and
one triangular product, see :func:`blocked_value_and_gradient`; ``Lambda_a`` applied level by level, never formed):
exact for any number of terms, and cheap for models
whose random effects number at most :data:`MAX_DENSE` (Penicillin, Pastes, sleepstudy with an extra
factor); larger crossed models (InstEval) keep the derivative-free optimizer until a version that
works through the blocked factor of :mod:`.deviance` exists.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack

from .arrays import Floats
from .deviance import NotPositiveDefinite, ProfiledDeviance

MAX_DENSE = 1500  # largest q + p + 1 handled on the dense augmented matrix


def has_blocked_gradient(dev: ProfiledDeviance) -> bool:
    """True for a multi-term model small enough for the dense augmented gradient."""
    cp = dev.cp
    return cp.qt > 0 and cp.q1 + cp.m <= MAX_DENSE


def use_blocked_gradient(dev: ProfiledDeviance) -> bool:
    """True when the dense gradient is available and costs less than a finite-difference gradient.

    Its cost (a Cholesky factor of size ``N = q + p + 1``, its triangular inverse and one triangular product,
    about ``4 N^3 / 3`` flop at 3e10 flop/s, the rate of :meth:`.ProfiledDeviance.cost_estimate`) is set against
    the ``d + 1`` deviance evaluations of forward differences.
    """
    if not has_blocked_gradient(dev):
        return False
    return blocked_gradient_cost(dev) < (dev.layout.size + 1) * dev.cost_estimate()


def blocked_gradient_cost(dev: ProfiledDeviance) -> float:
    """Seconds for one value and gradient on the dense augmented matrix (see :func:`use_blocked_gradient`)."""
    size = dev.cp.q1 + dev.cp.m
    return 4.0 * size**3 / 3.0 / 3e10


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


def _augmented(dev: ProfiledDeviance) -> Floats:
    """``A`` of :func:`augmented_crossproducts`, built once per deviance function and kept on it."""
    if dev.augmented_a is None:
        dev.augmented_a = augmented_crossproducts(dev)
    return dev.augmented_a


def _spans(dev: ProfiledDeviance) -> list[tuple[int, int, int]]:
    """Per internal term: (first row, levels, k) in the augmented order."""
    cp = dev.cp
    spans, start = [], 0
    for nl, k in zip(cp.nlevels, cp.ks, strict=True):
        spans.append((start, nl, k))
        start += nl * k
    return spans


def _lambda_rows(out: Floats, lams: tuple[Floats, ...], spans: list[tuple[int, int, int]]) -> Floats:
    """``Lambda_a' out`` in place (``out`` C-contiguous) without forming ``Lambda_a``: each level's rows times
    ``lambda_t'``, the X and y rows kept."""
    mat = out
    cols = mat.shape[1]
    for (start, nl, k), lam in zip(spans, lams, strict=True):
        rows = slice(start, start + nl * k)
        if k == 1:
            out[rows] *= lam[0, 0]
        else:
            blk = mat[rows].reshape(nl, k, cols)
            out[rows] = np.matmul(lam.T, blk).reshape(nl * k, cols)
    return out


def blocked_value_and_gradient(dev: ProfiledDeviance, theta: Floats) -> tuple[float, Floats]:
    """Deviance (or REML criterion) and its analytic gradient at ``theta`` (design order).

    With ``L`` the Cholesky factor of ``Omega`` and ``Linv = L^-1``, the leading block ``L_k`` of ``L`` has the
    inverse ``Linv[:k, :k]``, and row ``i < k`` of ``L_k^-1 (Lambda' A)[:k, :q]`` is row ``i`` of
    ``R = Linv (Lambda' A)[:, :q]`` whatever ``k``. So ``sum_k w_k Y_k[:q, :q]`` is ``sum_i c_i Linv[i, :q]' R[i]``
    with ``c_i = sum_{k > i} w_k``, and only its diagonal blocks are formed: one factor, its triangular
    inverse and one triangular product for all three log-determinants.
    """
    dev.evaluations += 1
    cp = dev.cp
    theta = np.asarray(theta, dtype=float)
    lams = dev.internal_factors(theta)
    spans = _spans(dev)
    q = cp.q1 + cp.qt
    la = _lambda_rows(_augmented(dev).copy(), lams, spans)  # Lambda_a' A
    # (Lambda_a' (Lambda_a' A)')' = Lambda_a' A Lambda_a; the transpose of a C array is the Fortran one LAPACK takes
    omega = _lambda_rows(la.T.copy(), lams, spans).T
    omega[np.arange(q), np.arange(q)] += 1.0
    chol, info = lapack.dpotrf(omega, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        return float("inf"), np.zeros(dev.layout.size)
    diag = np.diagonal(chol)
    logd = 2.0 * np.log(diag)
    d1, d2 = float(np.sum(logd[:q])), float(np.sum(logd[: q + cp.p]))
    pwrss = float(diag[-1] ** 2)
    c = np.ones(chol.shape[0])  # c_i: the weights of the three log-determinants summed over the blocks containing row i
    if dev.reml:
        nmp = cp.n - cp.p
        value = d2 - cp.ldw + nmp * (1.0 + float(np.log(2.0 * np.pi)) + float(np.log(pwrss / nmp)))
        c[q + cp.p] = float(nmp)
    else:
        value = d1 - cp.ldw + cp.n * (1.0 + float(np.log(2.0 * np.pi)) + float(np.log(pwrss / cp.n)))
        c[q : q + cp.p] = 0.0
        c[q + cp.p] = float(cp.n)
    linv, info = lapack.dtrtri(chol, lower=1)
    if info != 0:
        return float("inf"), np.zeros(dev.layout.size)
    r = blas.dtrmm(1.0, linv, la[:, :q], lower=1)  # Linv (Lambda' A)[:, :q]
    w = linv[:, :q] * c[:, None]
    grad = np.zeros(dev.layout.size)
    n_rows = chol.shape[0]
    for t, (start, nl, k) in enumerate(spans):
        cols = slice(start, start + nl * k)
        wt = w[:, cols].reshape(n_rows * nl, k)
        rt = r[:, cols].reshape(n_rows * nl, k)
        blocks = wt.T @ rt  # the term's diagonal blocks of sum_k w_k Y_k, summed over levels
        design_term = cp.order[t]
        kmat = 2.0 * blocks.T
        grad[dev.layout.term_slice(design_term)] = kmat[dev.layout.rows[design_term], dev.layout.cols[design_term]]
    return float(value), grad


__all__ = [
    "MAX_DENSE",
    "NotPositiveDefinite",
    "blocked_gradient_cost",
    "blocked_value_and_gradient",
    "has_blocked_gradient",
    "use_blocked_gradient",
]
