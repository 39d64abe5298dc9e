"""Fixed effects, conditional modes and conditional variances at the optimum.

All read from the blocked Cholesky factor (:class:`.deviance.Factorization`)
by triangular solves, as lme4's ``solve()`` and ``condVar`` do (Bates et al.
2015, eqs. 13-18): with ``L`` the full lower factor of the augmented system
``[Z Lambda, X, y]``, its last row holds ``c = L^-1 [Lambda'Z'Wy; X'Wy]`` and
``L' [u; beta] = c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from .arrays import Floats
from .deviance import Factorization, ProfiledDeviance


@dataclass(frozen=True)
class Solution:
    """Penalized least squares solution at one theta.

    Attributes:
        beta: fixed effects.
        b: conditional modes per design term, shape ``(nlevels, k)``.
        vcov_unscaled: ``(R_X' R_X)^-1``; times sigma^2 it is lme4's ``vcov``.
    """

    beta: Floats
    b: tuple[Floats, ...]
    vcov_unscaled: Floats


def _leading_transpose_product(dev: ProfiledDeviance, z: Floats) -> Floats:
    """``A_t1' z`` reshaped to ``(nlevels_1, k_1)``."""
    cp = dev.cp
    if cp.at1 is not None:
        return np.asarray(cp.at1.T @ z).reshape(cp.nlevels[0], cp.ks[0])
    out: Floats = np.einsum("r,rla->la", z, cp.dense_at1())
    return out


def solve(dev: ProfiledDeviance, fac: Factorization) -> Solution:
    """Fixed effects, conditional modes and unscaled vcov from a factorization."""
    cp = dev.cp
    lt = fac.tail
    qt, p = cp.qt, cp.p
    top = lt[:-1, :-1]
    v = solve_triangular(top, lt[-1, :-1], lower=True, trans="T", check_finite=False)
    u_tail, beta = v[:qt], v[qt:]
    w = np.concatenate([-v, [1.0]])
    z = dev.lambda_rows(w, fac.lams, transpose=False)
    y1 = _leading_transpose_product(dev, z)
    lam1 = fac.lams[0]
    k1 = cp.ks[0]
    if k1 == 1:
        u1 = (fac.l11_inv[:, 0, 0] * fac.g[:, 0, 0] * y1[:, 0])[:, None]
    else:
        rhs = np.einsum("lab,la->lb", fac.g, y1)
        u1 = np.einsum("lab,la->lb", fac.l11_inv, rhs)
    b_internal = [u1 @ lam1.T]
    for t, off in enumerate(cp.tail_offsets, start=1):
        nl, k = cp.nlevels[t], cp.ks[t]
        b_internal.append(u_tail[off : off + nl * k].reshape(nl, k) @ fac.lams[t].T)
    b = [np.empty(0)] * len(cp.order)
    for i, d in enumerate(cp.order):
        b[d] = b_internal[i]
    rx = lt[qt : qt + p, qt : qt + p]
    rx_inv = solve_triangular(rx, np.eye(p), lower=True, check_finite=False)
    return Solution(beta=beta, b=tuple(b), vcov_unscaled=rx_inv.T @ rx_inv)


def conditional_variances(
    dev: ProfiledDeviance, fac: Factorization, sigma2: float, chunk_elements: int = 10_000_000
) -> tuple[Floats, ...]:
    """lme4's ``condVar``: ``sigma^2 lambda [(Lambda'Z'WZ Lambda + I)^-1]_ll lambda'``.

    The blocks of the inverse for the leading term are
    ``L11^-T L11^-1 + W' W`` with ``W = Lzz^-1 T_z L11^-1`` (``T_z`` the tail
    random-effect rows of the factor, ``Lzz`` their diagonal factor); for a
    tail term they are blocks of ``Lzz^-T Lzz^-1``. Work is done in chunks of
    levels so that no more than ``chunk_elements`` numbers are held at once.

    Returns:
        Per design term, an array ``(nlevels, k, k)``.
    """
    cp = dev.cp
    qt = cp.qt
    n1, k1 = cp.nlevels[0], cp.ks[0]
    linv = fac.l11_inv
    blocks1 = np.matmul(np.transpose(linv, (0, 2, 1)), linv)
    out_internal: list[Floats] = []
    if qt:
        lzz = fac.tail[:qt, :qt]
        step = max(1, chunk_elements // max(1, qt * k1))
        gl = np.matmul(fac.g, linv)  # G_l L11_l^-1
        for start in range(0, n1, step):
            stop = min(n1, start + step)
            cols = slice(start * k1, stop * k1)
            if cp.at1 is not None:
                a = cp.at1[:qt, cols].toarray().reshape(qt, stop - start, k1)
            else:
                a = cp.dense_at1()[:qt, start:stop, :]
            x1 = np.einsum("rla,lab->rlb", a, gl[start:stop]).reshape(qt, -1)
            dev.lambda_rows(x1, fac.lams, transpose=True)
            wmat = solve_triangular(lzz, x1, lower=True).reshape(qt, stop - start, k1)
            blocks1[start:stop] += np.einsum("rla,rlb->lab", wmat, wmat)
        lzz_inv = solve_triangular(lzz, np.eye(qt), lower=True)
    out_internal.append(blocks1)
    for t, off in enumerate(cp.tail_offsets, start=1):
        nl, k = cp.nlevels[t], cp.ks[t]
        cols = lzz_inv[:, off : off + nl * k].reshape(qt, nl, k)
        out_internal.append(np.einsum("rla,rlb->lab", cols, cols))
    result: list[Floats] = [np.empty(0)] * len(cp.order)
    for i, d in enumerate(cp.order):
        lam = fac.lams[i]
        result[d] = sigma2 * np.matmul(np.matmul(lam, out_internal[i]), lam.T)
    return tuple(result)
