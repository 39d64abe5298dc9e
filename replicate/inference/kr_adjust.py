"""Kenward-Roger's adjusted covariance of the fixed effects, in any parameterization and variant.

Kenward & Roger (1997) replace ``Phi = (X' Sigma^-1 X)^-1`` by
``Phi_A = Phi + 2 Phi U Phi``, ``U = sum_ij W_ij (Q_ij - P_i Phi P_j)``, with ``W`` the inverse
information of the covariance parameters (pbkrtest: the expected REML information,
``I_ij = tr(P G_i P G_j) / 2``; a generalized inverse when an eigenvalue of I is below 1e-10;
``information="observed"``: ``-tr(P G_i P G_j) / 2 + y'P G_i P G_j P y``, SAS's default for GLIMMIX).

Variants and parameterizations (SAS ``ddfm=kr``, ``kr(firstorder)``, ``kr2``).
The 1997 adjustment has a term in the second derivatives of Sigma,
``R_ij = X'A (d2 Sigma / d psi_i d psi_j) A X``:
``Phi_A = Phi + 2 Phi [sum W_ij (Q_ij - P_i Phi P_j - R_ij / 4)] Phi``.
Whether it is zero depends on how the covariance is parameterized.
``parameterization="linear"`` uses the entries of each term's covariance
matrix (pbkrtest; SAS ``type=vc`` / ``type=un``), where Sigma is linear and
``R_ij = 0``. ``parameterization="cholesky"`` uses the entries of each term's
lower Cholesky factor ``L`` (``G = L L'``; SAS ``type=fa0(k)`` / ``chol``,
lme4's own theta up to the factor sigma), where Sigma is quadratic, ``R_ij``
is not zero and ``variant="kr"`` gives smaller standard errors than the
linear form: the adjustment is not invariant, as SAS's documentation warns.
``variant="firstorder"`` drops ``R_ij``. ``variant="kr2"`` (Kenward & Roger
2009, "An improved approximation to the precision of fixed effects from
restricted maximum likelihood", CSDA 53:2583-2595) keeps ``R_ij`` and adds
the term the 1997 expansion left out, the O(1/n) bias ``b`` of the REML
estimates of the covariance parameters:
``Phi_A2 = Phi_A + Phi (sum_i b_i P_i) Phi``. The bias is Cox & Snell's
(1968) first-order bias; for the REML likelihood it reduces to
``b = -(1/4) I^-1 c``, ``c_r = sum_tu W_tu tr(P Sigma_tu P Sigma_r)``
(``I`` the expected REML information, ``P`` the REML projection). For a
linear parameterization ``b = 0`` and KR2 equals KR; for a parameterization
of a structure that some reparameterization makes linear (every structure
fitted here), the bias term cancels ``R_ij`` exactly and KR2 equals KR in
the linear form, whatever the parameterization -- the invariance the 2009
paper was written to restore. The df formula (A1, A2) is the same in all
variants and invariant under reparameterization. In the Cholesky form the
information is transformed from the linear one, ``J' I J`` with
``J = d(linear)/d(cholesky)``: exact for the expected information, and for
the observed information at the REML optimum, where the score vanishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .kr_derivatives import KRPieces

FloatArray = npt.NDArray[np.float64]


def _generalized_inverse(M: FloatArray) -> npt.NDArray[np.floating[Any]]:
    """``solve`` when well conditioned, else MASS::ginv (as pbkrtest)."""
    ev = np.linalg.eigvalsh(0.5 * (M + M.T))
    if np.min(np.abs(ev)) > 1e-10:
        return np.linalg.inv(M)
    return np.linalg.pinv(M, rcond=np.sqrt(np.finfo(float).eps))


def covariance_of_varpar(pc: KRPieces, information: str, J: FloatArray | None = None) -> FloatArray:
    """W: asymptotic covariance of the covariance parameters (inverse information).

    ``J`` (``d linear / d psi``) gives W in another parameterization: the
    information becomes ``J' I J``.
    """
    if information == "expected":
        Info2 = pc.IE2
    elif pc.Y2 is None:
        raise ValueError("the observed information needs the pieces computed with kr_pieces(..., observed=True)")
    else:
        Info2 = 2.0 * pc.Y2 - pc.IE2
    if J is not None:
        Info2 = J.T @ Info2 @ J
    W = 2.0 * _generalized_inverse(Info2)
    return 0.5 * (W + W.T)


@dataclass(frozen=True)
class Adjustment:
    """Kenward-Roger's adjustment in one parameterization of the covariance parameters.

    Attributes:
        P: (s, p, p) ``P_i = X' (d Sigma^-1 / d psi_i) X``.
        W: (s, s) covariance of the parameters (inverse information).
        U: ``sum_ij W_ij (Q_ij - P_i Phi P_j)`` (invariant under reparameterization).
        R: ``sum_ij W_ij R_ij`` with ``R_ij = X'A (d2 Sigma / d psi_i d psi_j) A X``.
        bias: (s,) first-order bias of the REML estimates of the parameters.
    """

    P: FloatArray
    W: FloatArray
    U: FloatArray
    R: FloatArray
    bias: FloatArray

    def vcov(self, Phi: FloatArray, variant: str) -> FloatArray:
        """``Phi_A`` of ``variant``: ``"firstorder"``, ``"kr"`` (with R) or ``"kr2"`` (with R and the bias)."""
        PhiA = Phi + 2.0 * Phi @ self.U @ Phi
        if variant in ("kr", "kr2"):
            PhiA = PhiA - 0.5 * Phi @ self.R @ Phi
        if variant == "kr2":
            PhiA = PhiA + Phi @ np.einsum("i,ipq->pq", self.bias, self.P) @ Phi
        return 0.5 * (PhiA + PhiA.T)


def adjustment(pc: KRPieces, information: str, J: FloatArray | None = None, H: FloatArray | None = None) -> Adjustment:
    """The adjustment's pieces in the parameterization given by ``J`` and ``H``
    (see :func:`reparameterization`; None, or the identity and zero: the linear
    parameters themselves, whose transforms are skipped)."""
    Phi = pc.Phi
    s = pc.P.shape[0]
    J = np.eye(s) if J is None else J
    H = np.zeros((s, s, s)) if H is None else H
    linear = not H.any() and np.array_equal(J, np.eye(s))
    W = covariance_of_varpar(pc, information, None if linear else J)
    P = pc.P if linear else np.einsum("ai,apq->ipq", J, pc.P)
    Q = pc.Q if linear else np.einsum("ai,bj,abpq->ijpq", J, J, pc.Q, optimize=True)
    U = np.zeros_like(Phi)
    for i in range(s):
        PiPhi = P[i] @ Phi
        for j in range(s):
            U += W[i, j] * (Q[i, j] - PiPhi @ P[j])
    U = 0.5 * (U + U.T)
    # d2 Sigma / d psi_i d psi_j = sum_a H[a, i, j] G_a, so R_ij = -sum_a H[a, i, j] P_a (linear P)
    h = np.einsum("aij,ij->a", H, W)
    R = -np.einsum("a,apq->pq", h, pc.P)
    # Cox-Snell bias of the REML estimates: b = -(1/4) I^-1 c,
    # c_r = sum_tu W_tu tr(P Sigma_tu P Sigma_r) = (J' tr(P G_a P G_b) h)_r
    c = J.T @ pc.IE2 @ h
    bias = -0.25 * (2.0 * _generalized_inverse(J.T @ pc.IE2 @ J)) @ c
    return Adjustment(P=P, W=W, U=U, R=0.5 * (R + R.T), bias=bias)


__all__ = ["Adjustment", "adjustment", "covariance_of_varpar"]
