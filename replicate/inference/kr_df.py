"""Kenward-Roger's denominator df and F scaling for a contrast (pbkrtest's ``get_Lb_ddf`` / ``KRmodcomp``).

For a contrast L of rank q: ``Theta = L'(L Phi L')^-1 L``,
``A1 = sum W_ij tr(Theta Phi P_i Phi) tr(Theta Phi P_j Phi)``,
``A2 = sum W_ij tr(Theta Phi P_i Phi Theta Phi P_j Phi)``, then B, g, c1..c3,
``E* = 1/(1 - A2/q)``, ``V* = (2/q)(1 + c1 B)/((1 - c2 B)^2 (1 - c3 B))``,
``rho = V*/(2 E*^2)``, ``m = 4 + (q + 2)/(q rho - 1)`` and the F scaling
``lambda = m (1 - A2/q)/(m - 2)``. For one coefficient m reduces to
``2 / (a'Wa)`` with ``a_i = (Phi P_i Phi)_kk / Phi_kk``. The formula is the same in every variant and
invariant under reparameterization of the covariance parameters.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class KRMoments(TypedDict):
    """Kenward-Roger's A1, A2, rho, denominator df ``ddf`` and F scaling ``scale`` for one contrast."""

    A1: float
    A2: float
    rho: float
    ddf: float
    scale: float


def _div_zero(x: float, y: float, tol: float = 1e-14) -> float:
    return 1.0 if abs(x) < tol and abs(y) < tol else x / y


def kr_moments(L: FloatArray, Phi: FloatArray, P: FloatArray, W: FloatArray, q: int | None = None) -> KRMoments:
    """A1, A2 and the df / scaling of Kenward & Roger for contrast L (pbkrtest's formulas)."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    if q is None:
        q = L.shape[0]
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    TP = Theta @ Phi
    us = [TP @ P[i] @ Phi for i in range(P.shape[0])]
    tr = np.array([np.trace(u) for u in us])
    A1 = float(tr @ W @ tr)
    A2 = 0.0
    s = len(us)
    for i in range(s):
        for j in range(s):
            A2 += W[i, j] * float(np.sum(us[i] * us[j].T))
    B = (A1 + 6.0 * A2) / (2.0 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    den = 3.0 * q + 2.0 * (1.0 - g)
    c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
    V0 = 1.0 + c1 * B
    V1 = 1.0 - c2 * B
    V2 = 1.0 - c3 * B
    if abs(V0) < 1e-10:
        V0 = 0.0
    rho = (1.0 / q) * _div_zero(1.0 - A2 / q, V1) ** 2 * V0 / V2
    ddf = 4.0 + (q + 2.0) / (q * rho - 1.0)
    scale = 1.0 if abs(ddf - 2.0) < 0.01 else ddf * (1.0 - A2 / q) / (ddf - 2.0)
    return {"A1": A1, "A2": A2, "rho": rho, "ddf": ddf, "scale": scale}


def full_rank(L: FloatArray) -> FloatArray:
    """pbkrtest's force_full_rank: an orthonormal basis of the row space if L is rank deficient."""
    rank = np.linalg.matrix_rank(L)
    if rank < L.shape[0]:
        Qm, _ = np.linalg.qr(L.T)
        return Qm[:, :rank].T
    return L


__all__ = ["KRMoments", "full_rank", "kr_moments"]
