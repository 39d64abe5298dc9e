"""Traces and quadratic forms of the marginal model in the space of [Z X], for the covariance parameters.

The marginal covariance is linear in the SAS parameters ``psi``, ``V = sum_i psi_i V_i`` with
``V_i = Z E_i Z'`` for a G element and ``V_i = W^-1`` for the residual. With ``A = W^1/2 [Z X]``, its
cross-product ``Q = A'A`` (``q + p`` square) and ``Gamma = diag(Lambda, I_p)``,
``sigma^2 P = I - A K A'`` with ``K = Gamma (Gamma'Q Gamma + diag(I_q, 0))^-1 Gamma'`` (Henderson's mixed
model equations in lme4's scaling), and every trace ``tr(P V_i P V_j)`` and quadratic form
``y'P V_i P V_j P y`` reduces to products of ``q + p`` square matrices: nothing n x n is formed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.linalg as sla

from ..design import Design
from .covparm_values import CovParm, parameter_layout
from .marginal import MarginalModel, lambda_matrix

FloatArray = npt.NDArray[np.float64]


class QSpace:
    """Traces and quadratic forms of the marginal model in the space of [Z X].

    Args:
        design: model matrices.
        varpar: ``(theta..., sigma)`` at which to evaluate.
        mm: a :class:`MarginalModel` of ``design`` to reuse its cross-products.
    """

    def __init__(self, design: Design, varpar: FloatArray, mm: MarginalModel | None = None) -> None:
        mm = mm or MarginalModel(design)
        self.design = design
        self.layout = parameter_layout(design)
        theta = np.asarray(varpar[:-1], dtype=float)
        self.sigma2 = float(varpar[-1]) ** 2
        q = mm.ZtWZ.shape[0]
        p = mm.p
        self.q, self.p, self.n = q, p, mm.n
        Q = np.zeros((q + p, q + p))
        Q[:q, :q] = mm.ZtWZ.toarray()
        Q[:q, q:] = mm.ZtWX
        Q[q:, :q] = mm.ZtWX.T
        Q[q:, q:] = mm.XtWX
        self.Q = Q
        self.c = np.concatenate([mm.ZtWy, mm.XtWy])
        self.yy = mm.ytWy
        lam = lambda_matrix(design, theta).toarray()
        self.offsets = np.cumsum([0] + [t.nlevels * t.k for t in design.reterms])[:-1]
        Gam = np.zeros((q + p, q + p))
        Gam[:q, :q] = lam
        Gam[q:, q:] = np.eye(p)
        S = Gam.T @ Q @ Gam
        S[np.arange(q), np.arange(q)] += 1.0
        self.K = Gam @ sla.cho_solve(sla.cho_factor(S, lower=True), Gam.T)
        Szz = lam.T @ Q[:q, :q] @ lam + np.eye(q)
        self.K_ml = np.zeros((q + p, q + p))
        self.K_ml[:q, :q] = lam @ sla.cho_solve(sla.cho_factor(Szz, lower=True), lam.T)

    # E_i Q: rows of Q rearranged for the G element (a, b) of term t
    def _EQ(self, par: CovParm, M: FloatArray) -> FloatArray:
        t = self.design.reterms[par.term]
        base = self.offsets[par.term] + np.arange(t.nlevels) * t.k
        out = np.zeros_like(M)
        out[base + par.a] += M[base + par.b]
        if par.a != par.b:
            out[base + par.b] += M[base + par.a]
        return out

    def _Ev(self, par: CovParm, v: FloatArray) -> FloatArray:
        return self._EQ(par, v[:, None])[:, 0]

    def traces(self, ml: bool = False) -> FloatArray:
        """``T_ij = tr(P V_i P V_j)`` (REML) or ``tr(V^-1 V_i V^-1 V_j)`` (ML)."""
        K = self.K_ml if ml else self.K
        Q = self.Q
        N = np.eye(Q.shape[0]) - K @ Q
        s4 = self.sigma2**2
        pars = self.layout
        M: list[FloatArray | None] = [N @ self._EQ(p, Q) if p.term >= 0 else None for p in pars]  # None: residual
        m = len(pars)
        T = np.empty((m, m))
        KQ = K @ Q
        for i in range(m):
            for j in range(i + 1):
                Mi, Mj = M[i], M[j]
                if Mi is not None and Mj is not None:
                    v = float(np.sum(Mi * Mj.T))
                elif Mi is not None:
                    v = float(np.sum(Mi * N.T))
                elif Mj is not None:
                    v = float(np.sum(Mj * N.T))
                else:
                    v = self.n - 2.0 * float(np.trace(KQ)) + float(np.sum(KQ * KQ.T))
                T[i, j] = T[j, i] = v / s4
        return T

    def quadratic_forms(self) -> FloatArray:
        """``y'P V_i P V_j P y`` for every pair of parameters."""
        K, Q = self.K, self.Q
        N = np.eye(Q.shape[0]) - K @ Q
        s2 = self.sigma2
        s = (self.c - Q @ (K @ self.c)) / s2
        rr = (self.yy - 2.0 * self.c @ K @ self.c + self.c @ K @ Q @ K @ self.c) / s2**2
        QN = Q @ N
        pars = self.layout
        Es: list[FloatArray | None] = [self._Ev(p, s) if p.term >= 0 else None for p in pars]  # None: residual
        m = len(pars)
        F = np.empty((m, m))
        for i in range(m):
            for j in range(i + 1):
                Ei, Ej = Es[i], Es[j]
                if Ei is not None and Ej is not None:
                    v = float(Ei @ QN @ Ej)
                elif Ei is not None:
                    v = float(Ei @ (N.T @ s))
                elif Ej is not None:
                    v = float(Ej @ (N.T @ s))
                else:
                    v = rr - float(s @ K @ s)
                F[i, j] = F[j, i] = v / s2
        return F

    def hessian_m2ll(self, reml: bool) -> FloatArray:
        """Analytic Hessian of -2 log L (REML or beta-profiled ML) in ``psi``."""
        return -self.traces(ml=not reml) + 2.0 * self.quadratic_forms()

    def expected_information(self, reml: bool) -> FloatArray:
        """Fisher information ``tr(P V_i P V_j) / 2`` (``V^-1`` for ML)."""
        return 0.5 * self.traces(ml=not reml)


__all__ = ["QSpace"]
