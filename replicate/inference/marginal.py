"""The marginal model as a function of the variance parameters.

For inference the variance parameters are ``varpar = (theta, sigma)`` as in
lmerTest. This module evaluates, for any ``varpar``, the (non-profiled) REML or
ML deviance and the covariance of the fixed effects, from cross-products of
[Z X y] formed once. Z is sparse and the work per evaluation is a Cholesky
factor of a q x q matrix (q = number of random effects); nothing n x n is built.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..design import Design
from ..engine import make_deviance
from ..engine.deviance import ProfiledDeviance
from ..engine.theta import ThetaLayout


def sparse_z(design: Design) -> sp.csr_matrix:
    """Sparse Z in lme4's column order (per term: level-major, then column)."""
    blocks = []
    n = design.n
    rows = np.arange(n)
    for t in design.reterms:
        cols = []
        for j in range(t.k):
            cols.append(sp.csr_matrix((t.Xre[:, j], (rows, t.index * t.k + j)), shape=(n, t.nlevels * t.k)))
        blocks.append(sum(cols[1:], cols[0]))
    return sp.hstack(blocks, format="csr")


def lambda_matrix(design: Design, theta: np.ndarray) -> sp.csr_matrix:
    """Block-diagonal relative covariance factor Lambda(theta): each term's factor once per level."""
    factors = ThetaLayout.of(design).factors(np.asarray(theta, dtype=float))
    blocks = [sp.kron(sp.identity(t.nlevels, format="csr"), sp.csr_matrix(L)) for t, L in zip(design.reterms, factors)]
    return sp.block_diag(blocks, format="csr")


@dataclass
class MarginalModel:
    """Cross-products of a design, ready for repeated evaluation at any varpar."""

    design: Design

    def __post_init__(self) -> None:
        d = self.design
        w = d.weights if d.weights is not None else np.ones(d.n)
        Z = sparse_z(d)
        ZW = Z.multiply(w[:, None]).tocsr()
        self.ZtWZ = (ZW.T @ Z).tocsr()
        self.ZtWX = np.asarray(ZW.T @ d.X)
        self.ZtWy = np.asarray(ZW.T @ d.y).ravel()
        self.XtWX = d.X.T @ (d.X * w[:, None])
        self.XtWy = d.X.T @ (d.y * w)
        self.ytWy = float(d.y @ (d.y * w))
        self.sum_log_w = float(np.sum(np.log(w)))
        self.n = d.n
        self.p = d.p
        self.ntheta = ThetaLayout.of(d).size
        self._engine_tried = False
        self._engine_dev: ProfiledDeviance | None = None

    def _pieces(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float]:
        """log|L|^2, X'V^-1X, X'V^-1y and y'V^-1y (each times sigma^2) at theta.

        The native engine's blocked Cholesky factor of the augmented system is
        used where it applies: the bottom (p+1) x (p+1) block of its tail
        factor is the Cholesky factor of [[X'V*X, X'V*y], [y'V*X, y'V*y]]. The
        general sparse route below is the fallback.
        """
        engine_dev = self._engine_deviance()
        if engine_dev is not None:
            try:
                fac = engine_dev.factorize(np.asarray(theta, dtype=float))
            except (ArithmeticError, np.linalg.LinAlgError, ValueError):
                fac = None
            if fac is not None:
                qt, p = engine_dev.cp.qt, self.p
                L = np.tril(fac.tail[qt:, qt:])
                lxx, ly, r = L[:p, :p], L[p, :p], L[p, p]
                return float(fac.ldl2), lxx @ lxx.T, lxx @ ly, float(ly @ ly + r * r)
        return self._sparse_pieces(theta)

    def _engine_deviance(self) -> ProfiledDeviance | None:
        """The native engine's ML deviance of the design, made once; None where the engine declines it."""
        if not self._engine_tried:
            self._engine_tried = True
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    self._engine_dev = make_deviance(self.design, "ML")
            except Exception:  # noqa: BLE001 - any design the engine declines: use the sparse route
                self._engine_dev = None
        return self._engine_dev

    def _sparse_pieces(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float]:
        """The same quantities through a sparse LU of M = Lambda'Z'WZ Lambda + I
        (symmetric mode, no pivoting: M is positive definite)."""
        Lam = lambda_matrix(self.design, theta)
        M = (Lam.T @ self.ZtWZ @ Lam + sp.identity(self.ZtWZ.shape[0], format="csr")).tocsc()
        B = np.asarray(Lam.T @ self.ZtWX)
        c = np.asarray(Lam.T @ self.ZtWy).ravel()
        lu = spla.splu(M, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        diag = lu.U.diagonal()
        if np.any(diag <= 0):  # not positive definite: fall back to a dense factor
            L = sla.cholesky(M.toarray(), lower=True)
            ld_l2 = 2.0 * float(np.sum(np.log(np.diag(L))))
            CX = sla.solve_triangular(L, B, lower=True)
            cu = sla.solve_triangular(L, c, lower=True)
            return ld_l2, self.XtWX - CX.T @ CX, self.XtWy - CX.T @ cu, self.ytWy - cu @ cu
        ld_l2 = float(np.sum(np.log(diag)))
        MiB = lu.solve(B) if B.size else B
        Mic = lu.solve(c)
        A = self.XtWX - B.T @ MiB
        b = self.XtWy - B.T @ Mic
        yy = self.ytWy - c @ Mic
        return ld_l2, A, b, yy

    def deviance(self, varpar: np.ndarray, reml: bool) -> float:
        """-2 log-likelihood (REML or ML) at ``varpar = (theta..., sigma)``."""
        theta = np.asarray(varpar[:-1], dtype=float)
        sigma2 = float(varpar[-1]) ** 2
        ld_l2, A, b, yy = self._pieces(theta)
        RA = sla.cholesky(A, lower=False)
        beta = sla.cho_solve((RA, False), b)
        pwrss = yy - b @ beta
        n, p = self.n, self.p
        if reml:
            ld_rx2 = 2.0 * float(np.sum(np.log(np.diag(RA))))
            return float(ld_l2 + ld_rx2 + (n - p) * np.log(2 * np.pi * sigma2) + pwrss / sigma2 - self.sum_log_w)
        return float(ld_l2 + n * np.log(2 * np.pi * sigma2) + pwrss / sigma2 - self.sum_log_w)

    def vcov_beta(self, varpar: np.ndarray) -> np.ndarray:
        """Covariance of the GLS estimate of beta at ``varpar``."""
        theta = np.asarray(varpar[:-1], dtype=float)
        sigma2 = float(varpar[-1]) ** 2
        _, A, _, _ = self._pieces(theta)
        return sigma2 * np.linalg.inv(A)


def richardson_derivative(
    f: Callable[[np.ndarray], npt.ArrayLike], x: np.ndarray, i: int, *, d: float = 1e-4, r: int = 4
) -> np.ndarray:
    """Central-difference derivative of vector-valued f along coordinate i,
    improved by Richardson extrapolation (as R's numDeriv)."""
    h = d * abs(x[i]) + (d if abs(x[i]) < 1e-8 else 0.0)
    ests: list[np.ndarray] = []
    for k in range(r):
        e = np.zeros_like(x)
        e[i] = h / (2**k)
        ests.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * e[i]))
    for m in range(1, r):
        fac = 4.0**m
        ests = [(fac * ests[j + 1] - ests[j]) / (fac - 1) for j in range(len(ests) - 1)]
    return ests[0]


def hessian(
    f: Callable[[np.ndarray], float], x: np.ndarray, *, d: float = 0.1, r: int = 4, eps: float = 1e-4
) -> np.ndarray:
    """Hessian of scalar f at x by second differences with Richardson extrapolation.

    Steps start at ``d * |x_i|`` (``eps`` where x_i is near 0) and halve ``r``
    times, as numDeriv's ``hessian`` (method "Richardson") does by default; the
    extrapolation removes the truncation error that large steps carry, and the
    large steps keep rounding error small.
    """
    x = np.asarray(x, dtype=float)
    k = len(x)
    h0 = np.where(np.abs(x) < 1.8e-5, eps, d * np.abs(x))
    f0 = f(x)
    est: list[np.ndarray] = []
    for m in range(r):
        h = h0 / 2**m
        H = np.empty((k, k))
        for i in range(k):
            ei = np.zeros(k)
            ei[i] = h[i]
            H[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h[i] ** 2
            for j in range(i):
                ej = np.zeros(k)
                ej[j] = h[j]
                H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                    4 * h[i] * h[j]
                )
        est.append(H)
    for m in range(1, r):
        fac = 4.0**m
        est = [(fac * est[j + 1] - est[j]) / (fac - 1) for j in range(len(est) - 1)]
    return est[0]
