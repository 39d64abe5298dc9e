"""The multi-term analytic gradient through the blocked factor: the leading term's blocks, then the dense tail.

:mod:`.gradient_blocked` needs ``K = P M`` on the diagonal blocks of the random effects, where ``M = (Lambda' A)[:, :q]``
and ``P = Linv' C Linv`` (``C`` the weights of the three log-determinants). With the augmented system split as
the deviance splits it (:mod:`.deviance`): ``D`` block diagonal (the leading term, one ``k1 x k1`` block per level),
``B`` the tail's rows against it and ``S = T - B D^-1 B'`` the dense tail (m x m) with Cholesky factor ``L2``,

    P = [[D^-1 + F' Q F, -F' Q], [-Q F, Q]],   F = B D^-1,   Q = L2^-T C_t L2^-1,

so that, per level ``s`` of the leading term and per level of a tail term,

    K_ss = D_s^-1 lambda_1' A11_s + F_s' Q V_s,   V = Lambda_t' A_t1 blockdiag(h_s A11_s - I),
    K_tail = Q[:qt] U,                            U = Lambda_t' (A_tt - A_t1 h A_t1')[:, :qt],

with ``h_s = lambda_1 D_s^-1 lambda_1'`` (the deviance's own ``h``). The cost is that of the tail (its factor, its
triangular inverse, ``Q``) plus ``m^2 q1`` for ``Q V``: far below the dense augmented matrix's ``(q1 + m)^3`` when
the leading term is the larger one (subjects x items with slopes), and no inverse of ``lambda`` is taken, so it
holds on the boundary. ``A_t1`` may be stored dense or sparse (InstEval's students x lecturers): ``F`` and ``V``
keep its pattern, and ``sum_s F_s' Q V_s`` is read off ``Q`` at the entries of ``F_a V_b'``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack, solve_triangular

from .arrays import Floats
from .deviance import ProfiledDeviance
from .smallblocks import batched_logdet_tril

LOG2PI = float(np.log(2.0 * np.pi))


def has_tail_gradient(dev: ProfiledDeviance) -> bool:
    """True for every multi-term model (``A_t1`` stored dense or sparse)."""
    return dev.cp.qt > 0


def tail_gradient_cost(dev: ProfiledDeviance) -> float:
    """Seconds for one value and gradient, at the 3e10 flop/s of :meth:`.ProfiledDeviance.cost_estimate`: the
    tail's factor and inverse (``2 m^3`` with the rank updates), a fixed 2 ms of array handling, the products with the leading term's columns (``m^2 q1``
    dense; sparse, as many as the Schur map's entries, counted ten times slower) and the tail's
    blocks."""
    cp = dev.cp
    m, qt = float(cp.m), float(cp.qt)
    if cp.at1_dense is not None:
        products = 3.0 * m * m * cp.q1
    else:
        products = 10.0 * float(cp.schur_map.nnz if cp.schur_map is not None else 0)
    return 2e-3 + (2.0 * m**3 + products + 2.0 * m * qt * max(cp.ks)) / 3e10


def _tail_lambda(dev: ProfiledDeviance, lams: tuple[Floats, ...]) -> sp.csr_matrix:
    """``Lambda_t'`` as a sparse m x m matrix (the tail terms' blocks, the identity on X and y)."""
    cp = dev.cp
    blocks = [sp.kron(sp.identity(cp.nlevels[t]), lams[t].T) for t in range(1, len(cp.ks))]
    return sp.block_diag([*blocks, sp.identity(cp.m - cp.qt)], format="csr")


def _scaled_columns(dev: ProfiledDeviance, lams: tuple[Floats, ...], per_level: Floats) -> Floats | sp.csr_matrix:
    """``Lambda_t' A_t1 blockdiag(per_level)`` (m x q1): dense, or sparse where ``A_t1`` is stored sparse."""
    cp = dev.cp
    m = cp.m
    if cp.at1_dense is not None:
        out = np.einsum("rla,lab->rlb", cp.at1_dense, per_level).reshape(m, -1)
        return dev.lambda_rows(out, lams, transpose=True)
    nl1, k1 = cp.nlevels[0], cp.ks[0]
    blocks = sp.bsr_matrix((per_level, np.arange(nl1), np.arange(nl1 + 1)), shape=(nl1 * k1, nl1 * k1))
    return (_tail_lambda(dev, lams) @ (cp.at1 @ blocks.tocsc())).tocsr()


def _leading_products(f: Floats | sp.csr_matrix, q: Floats, v: Floats | sp.csr_matrix, nl1: int, k1: int) -> Floats:
    """``sum_s F_s' Q V_s`` (k1 x k1): the leading term's diagonal blocks of ``F' Q V`` summed over levels.

    Dense: through ``Q V``. Sparse: entry (a, b) is ``sum(Q * F_a V_b')`` with ``F_a`` the columns of within-level
    index ``a``, a sparse outer-product sum that never forms ``Q V``.
    """
    m = q.shape[0]
    if not sp.issparse(f):
        qv = q @ np.asarray(v)
        dense: Floats = np.einsum("rla,rlb->ab", np.asarray(f).reshape(m, nl1, k1), qv.reshape(m, nl1, k1))
        return dense
    fc, vc = sp.csc_matrix(f), sp.csc_matrix(v)
    out = np.zeros((k1, k1))
    for a in range(k1):
        for b in range(k1):
            outer = (fc[:, a::k1] @ vc[:, b::k1].T).tocoo()
            out[a, b] = float(np.dot(outer.data, q[outer.row, outer.col]))
    return out


def _weighted_inverse(l2: Floats, weights: Floats) -> Floats | None:
    """``L2^-T diag(weights) L2^-1`` as ``S^-1`` (LAPACK's dpotri, from the factor) plus a rank-r correction for the
    r rows whose weight is not 1 (X and y: row i of ``L2^-1`` solves ``L2' x = e_i``); None if singular."""
    sinv, info = lapack.dpotri(l2, lower=1)
    if info != 0:
        return None
    full: Floats = np.tril(sinv) + np.tril(sinv, -1).T
    rows = np.flatnonzero(weights != 1.0)
    if rows.size:
        unit = np.zeros((l2.shape[0], rows.size))
        unit[rows, np.arange(rows.size)] = 1.0
        h_rows = solve_triangular(l2, unit, lower=True, trans="T", check_finite=False)  # columns: rows of L2^-1
        full += (h_rows * (weights[rows] - 1.0)) @ h_rows.T
    return full


def tail_value_and_gradient(dev: ProfiledDeviance, theta: Floats) -> tuple[float, Floats]:
    """Deviance (or REML criterion) and its analytic gradient at ``theta`` (design order)."""
    dev.evaluations += 1
    cp = dev.cp
    theta = np.asarray(theta, dtype=float)
    lams = dev.internal_factors(theta)
    lam1, k1, nl1, m, qt = lams[0], cp.ks[0], cp.nlevels[0], cp.m, cp.qt
    l11, l11_inv, _, h = dev.leading_blocks(lam1)  # h = lambda_1 D_s^-1 lambda_1'
    dinv = np.matmul(np.transpose(l11_inv, (0, 2, 1)), l11_inv)  # D_s^-1
    e = np.matmul(lam1, dinv)  # lambda_1 D_s^-1
    pre = dev.schur_pre(h, full=True)  # A_tt - A_t1 h A_t1'
    u = dev.lambda_rows(pre[:, :qt].copy(), lams, transpose=True)  # Lambda_t' pre[:, :qt]
    s = dev.apply_lambda_tail(pre, lams)
    s[np.arange(qt), np.arange(qt)] += 1.0
    l2, info = lapack.dpotrf(s, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        return float("inf"), np.zeros(dev.layout.size)
    diag = np.diagonal(l2)
    ldl2 = batched_logdet_tril(l11) + 2.0 * float(np.sum(np.log(diag[:qt])))
    ldrx2 = 2.0 * float(np.sum(np.log(diag[qt : qt + cp.p])))
    pwrss = float(diag[-1] ** 2)
    weights = np.ones(m)  # the log-determinants' weights summed over the tail rows (see gradient_blocked)
    if dev.reml:
        nmp = cp.n - cp.p
        value = ldl2 + ldrx2 - cp.ldw + nmp * (1.0 + LOG2PI + float(np.log(pwrss / nmp)))
        weights[-1] = float(nmp)
    else:
        value = ldl2 - cp.ldw + cp.n * (1.0 + LOG2PI + float(np.log(pwrss / cp.n)))
        weights[qt : qt + cp.p] = 0.0
        weights[-1] = float(cp.n)
    q = _weighted_inverse(l2, weights)  # L2^-T C_t L2^-1
    if q is None:
        return float("inf"), np.zeros(dev.layout.size)
    f = _scaled_columns(dev, lams, e)  # F = B D^-1
    v = _scaled_columns(dev, lams, np.matmul(h, cp.a11) - np.eye(k1))
    blocks = [
        np.matmul(dinv, np.matmul(lam1.T, cp.a11)).sum(axis=0) + _leading_products(f, q, v, nl1, k1),
    ]
    for t, off in enumerate(cp.tail_offsets, start=1):
        nl, k = cp.nlevels[t], cp.ks[t]
        rows = slice(off, off + nl * k)
        blocks.append(np.einsum("lam,lbm->ab", q[rows].reshape(nl, k, m), u[:, rows].T.reshape(nl, k, m)))
    grad = np.zeros(dev.layout.size)
    for t, blk in enumerate(blocks):
        design_term = cp.order[t]
        kmat = 2.0 * blk.T
        grad[dev.layout.term_slice(design_term)] = kmat[dev.layout.rows[design_term], dev.layout.cols[design_term]]
    return float(value), grad


__all__ = ["has_tail_gradient", "tail_gradient_cost", "tail_value_and_gradient"]
