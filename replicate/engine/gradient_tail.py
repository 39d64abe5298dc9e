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
holds on the boundary. Used where ``A_t1`` is stored dense (:meth:`.CrossProducts.dense_at1`).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from .arrays import Floats
from .deviance import ProfiledDeviance
from .smallblocks import batched_cholesky, batched_logdet_tril, batched_tril_inverse

LOG2PI = float(np.log(2.0 * np.pi))


def has_tail_gradient(dev: ProfiledDeviance) -> bool:
    """True for a multi-term model whose ``A_t1`` is stored dense (the form this gradient works on)."""
    return dev.cp.qt > 0 and dev.cp.at1_dense is not None


def tail_gradient_cost(dev: ProfiledDeviance) -> float:
    """Seconds for one value and gradient, at the 3e10 flop/s of :meth:`.ProfiledDeviance.cost_estimate`: the
    tail's factor, inverse and ``Q`` (``2 m^3``) and the products with the leading term's columns."""
    cp = dev.cp
    m, q1, qt = float(cp.m), float(cp.q1), float(cp.qt)
    return 5e-5 + (2.0 * m**3 + 3.0 * m * m * q1 + 2.0 * m * qt * max(cp.ks)) / 3e10


def tail_value_and_gradient(dev: ProfiledDeviance, theta: Floats) -> tuple[float, Floats]:
    """Deviance (or REML criterion) and its analytic gradient at ``theta`` (design order)."""
    dev.evaluations += 1
    cp = dev.cp
    theta = np.asarray(theta, dtype=float)
    lams = dev.internal_factors(theta)
    lam1, k1, nl1, m, qt = lams[0], cp.ks[0], cp.nlevels[0], cp.m, cp.qt
    eye1 = np.eye(k1)
    d = np.matmul(np.matmul(lam1.T, cp.a11), lam1) + eye1
    l11 = batched_cholesky(d)
    l11_inv = batched_tril_inverse(l11)
    dinv = np.matmul(np.transpose(l11_inv, (0, 2, 1)), l11_inv)  # D_s^-1
    e = np.matmul(lam1, dinv)  # lambda_1 D_s^-1
    h = np.matmul(e, lam1.T)  # lambda_1 D_s^-1 lambda_1'
    a = cp.dense_at1()  # (m, nl1, k1): A_t1 without lambdas
    ah = np.einsum("rla,lab->rlb", a, h).reshape(m, -1)
    pre = cp.att - ah @ a.reshape(m, -1).T  # A_tt - A_t1 h A_t1'
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
    hinv, info = lapack.dtrtri(l2, lower=1)
    if info != 0:
        return float("inf"), np.zeros(dev.layout.size)
    hs = hinv * np.sqrt(weights)[:, None]
    q = hs.T @ hs  # L2^-T C_t L2^-1
    f = dev.lambda_rows(np.einsum("rla,lab->rlb", a, e).reshape(m, -1), lams, transpose=True)
    ha = np.matmul(h, cp.a11) - eye1
    v = dev.lambda_rows(np.einsum("rla,lab->rlb", a, ha).reshape(m, -1), lams, transpose=True)
    qv = q @ v
    blocks = [
        np.matmul(dinv, np.matmul(lam1.T, cp.a11)).sum(axis=0)
        + np.einsum("rla,rlb->ab", f.reshape(m, nl1, k1), qv.reshape(m, nl1, k1))
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
