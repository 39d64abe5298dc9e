"""Analytic gradient of the profiled deviance for single-term models.

With one random-effect term the penalized system ``M = Lambda' Z'WZ Lambda + I``
is block diagonal (one ``k x k`` block per level), and the gradient costs about
as much as the deviance. Writing ``A = Z'WZ``, ``C = Z'WX``, ``B = Lambda' C``,
``P = M^-1 B``, ``S = R_X' R_X`` and ``e`` the weighted residual of the penalized
least squares solution ``(beta, u)``, the differentials are

    d log|M|  = tr(K_M' dLambda),  K_M = 2 A Lambda M^-1
    d r^2     = tr(K_r' dLambda),  K_r = -2 (Z'W e) u'
    d log|S|  = tr(K_S' dLambda),  K_S = -2 (C - A Lambda P) S^-1 P'

(envelope theorem for ``r^2``; Jacobi's formula for the determinants). The
deviance is ``log|M| + n log r^2`` (ML) or ``log|M| + log|S| + (n - p) log r^2``
(REML) plus constants, and the derivative with respect to a theta element is
the sum, over levels, of the ``K`` entries at that element's position in
``lambda``.
"""

from __future__ import annotations

import numpy as np

from .arrays import Floats
from .deviance import Factorization, NotPositiveDefinite, ProfiledDeviance
from .solution import solve


def has_analytic_gradient(dev: ProfiledDeviance) -> bool:
    """True when the model has a single random-effect term (no tail terms)."""
    return dev.cp.qt == 0 and dev.cp.at1_dense is not None


def deviance_gradient(dev: ProfiledDeviance, fac: Factorization) -> Floats:
    """Gradient of the objective with respect to theta (design order).

    Args:
        dev: profiled deviance of a single-term model.
        fac: its factorization at the point of interest.
    """
    cp = dev.cp
    p = cp.p
    sol = solve(dev, fac)
    lam = fac.lams[0]
    a = cp.a11  # (n1, k, k)
    at = cp.dense_at1()  # (p + 1, n1, k): rows X, y
    c = np.transpose(at[:p], (1, 2, 0))  # (n1, k, p)  C_l = Z_l'WX
    zy = at[p]  # (n1, k)     Z_l'Wy
    b = sol.b[0]  # (n1, k)     b = lambda u
    linv = fac.l11_inv  # (n1, k, k)
    # u_l = lambda^-1 b_l is not available when lambda is singular; recompute
    # from the factor: u_l = L_l^-T L_l^-1 lambda' (Z_l'W(y - X beta)).
    r = zy - np.einsum("lkp,p->lk", c, sol.beta)
    u = np.einsum("lba,lb->la", linv, np.einsum("lab,lb->la", linv, r @ lam))
    e = r - np.einsum("lab,lb->la", a, b)  # Z_l'W e
    minv = np.matmul(np.transpose(linv, (0, 2, 1)), linv)
    a_lam = np.matmul(a, lam)  # A_l lambda
    k_m = 2.0 * np.matmul(a_lam, minv)
    k_r = -2.0 * np.einsum("la,lc->lac", e, u)
    n = cp.n
    if dev.reml:
        pmat = np.matmul(minv, np.matmul(lam.T, c))  # (n1, k, p)
        emat = c - np.matmul(a_lam, pmat)
        k_s = -2.0 * np.matmul(np.matmul(emat, sol.vcov_unscaled), np.transpose(pmat, (0, 2, 1)))
        total = k_m + k_s + (n - p) / fac.pwrss * k_r
    else:
        total = k_m + n / fac.pwrss * k_r
    ksum = total.sum(axis=0)
    layout = dev.layout
    grad: Floats = ksum[layout.rows[0], layout.cols[0]]
    return grad


def value_and_gradient(dev: ProfiledDeviance, theta: Floats) -> tuple[float, Floats]:
    """Deviance and its analytic gradient at ``theta`` (single-term models only: :func:`has_analytic_gradient`)."""
    dev.evaluations += 1
    try:
        fac = dev.factorize(theta)
    except (NotPositiveDefinite, np.linalg.LinAlgError):
        return float("inf"), np.zeros(dev.layout.size)
    return float(dev.objective(fac)), deviance_gradient(dev, fac)
