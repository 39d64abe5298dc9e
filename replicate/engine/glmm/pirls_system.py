"""The linear system of one PIRLS step, ``[A X]' W [A X] + diag(1 on u)``, solved by eliminating a diagonal block.

With ``A = Z Lambda`` sparse, the block of ``A'WA`` that belongs to a scalar random-effect term is diagonal (each
row meets one level). That block (the largest such term's, ``diagonal``) is eliminated first: with ``D`` the
diagonal, ``B`` its coupling to the other columns ``R`` (the other terms' and, in the joint stage, the fixed
effects') and ``E`` their own block, ``x_R`` solves the Schur complement ``E - B' D^-1 B`` and
``x_S = D^-1 (r_S - B x_R)``. ``log det(A'WA + I)`` is ``sum log D + log det`` of the Schur complement's ``u``
part. Only these small dense pieces are formed; the full q x q matrix and its Cholesky factor are made only when
a caller asks (the fixed effects' fallback covariance and the conditional variances), once per fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy import linalg

Matrix = NDArray[np.float64]
Vector = NDArray[np.float64]


#: Below this many random-effect columns dense products beat sparse ones' overhead.
DENSE_BELOW = 200
#: Largest share of nonzeros for which the coupling block is kept sparse (denser, dense products are faster).
SPARSE_SHARE = 0.1


def _coupling(AtWA: Any, S: NDArray[np.int64], R: NDArray[np.int64]) -> Any:
    """The block ``S`` x ``R`` of ``A'WA``: sparse when few of its entries are nonzero, else dense."""
    if not S.size:
        return np.zeros((0, R.size))
    if not sp.issparse(AtWA):
        return np.asarray(AtWA)[np.ix_(S, R)]
    block = sp.csr_matrix(AtWA[S][:, R])
    return block if block.nnz <= SPARSE_SHARE * max(block.shape[0] * block.shape[1], 1) else block.toarray()


def _dense(M: Any) -> Matrix:
    out: Matrix = np.asarray(M.toarray() if sp.issparse(M) else M, dtype=float)
    return out


class PirlsSystem:
    """``[A X]' W [A X]`` plus the identity on ``u``'s columns, for ``A`` (n x q, sparse or dense) and ``X``
    (n x p; no columns when beta is held fixed).

    Raises:
        np.linalg.LinAlgError: on :meth:`solve` or :meth:`logdet_u`, when the system is not positive definite.
    """

    def __init__(self, A: Any, X: Matrix, w: Vector, diagonal: slice | None) -> None:
        q, p = A.shape[1], X.shape[1]
        if sp.issparse(A) and q <= DENSE_BELOW:
            A = A.toarray()
        self.q, self.p = q, p
        AtWA = A.T @ (A.multiply(w[:, None]) if sp.issparse(A) else w[:, None] * A)
        self._AtWA = sp.csr_matrix(AtWA) if sp.issparse(AtWA) else np.asarray(AtWA)
        AtWX = np.asarray(A.T @ (w[:, None] * X)).reshape(q, p)
        XtWX = X.T @ (w[:, None] * X)
        if diagonal is None or diagonal.stop - diagonal.start < 2:
            self.S = np.zeros(0, dtype=np.int64)
            self.R = np.arange(q)
        else:
            self.S = np.arange(diagonal.start, diagonal.stop)
            self.R = np.r_[np.arange(0, diagonal.start), np.arange(diagonal.stop, q)].astype(np.int64)
        S, R = self.S, self.R
        self.d = np.asarray(self._AtWA.diagonal(), dtype=float)[S] + 1.0
        if S.size and np.any(self.d <= 0):
            raise np.linalg.LinAlgError("the PIRLS system is not positive definite")
        # the coupling of the diagonal block to u's other columns (kept sparse when it is sparse) and to beta
        self.B_A: Any = _coupling(self._AtWA, S, R)
        self.B_X = AtWX[S]
        E_A = _dense(self._AtWA[R][:, R] if sp.issparse(self._AtWA) else self._AtWA[np.ix_(R, R)]) + np.eye(R.size)
        inv_d = 1.0 / self.d
        BdA = (
            (self.B_A.multiply(inv_d[:, None]).tocsr() if sp.issparse(self.B_A) else self.B_A * inv_d[:, None])
            if S.size
            else self.B_A
        )
        BdX = self.B_X * inv_d[:, None] if S.size else self.B_X
        top_left = E_A - _dense(self.B_A.T @ BdA) if S.size else E_A
        top_right = AtWX[R] - np.asarray(self.B_A.T @ BdX) if S.size else AtWX[R]
        bottom = XtWX - self.B_X.T @ BdX if S.size else XtWX
        self.schur = np.block([[top_left, top_right], [top_right.T, bottom]])

    def solve(self, rhs_u: Vector, rhs_x: Vector) -> tuple[Vector, Vector]:
        """``(x_u, x_beta)`` solving the system for the right-hand side ``(rhs_u, rhs_x)``."""
        S, R = self.S, self.R
        r1 = rhs_u[S] / self.d
        r2 = np.concatenate([rhs_u[R] - self.B_A.T @ r1, rhs_x - self.B_X.T @ r1])
        x2 = linalg.solve(self.schur, r2, assume_a="pos", check_finite=False) if r2.size else np.zeros(0)
        xr, xb = x2[: R.size], x2[R.size :]
        u = np.empty(self.q)
        u[S] = r1 - (self.B_A @ xr + self.B_X @ xb) / self.d
        u[R] = xr
        return u, np.asarray(xb, dtype=float)

    def logdet_u(self) -> float:
        """``log det(A'WA + I)`` (lme4's ``ldL2``)."""
        top = self.schur[: self.R.size, : self.R.size]
        L = np.linalg.cholesky(top) if top.size else np.zeros((0, 0))
        return float(np.sum(np.log(self.d)) + 2.0 * np.sum(np.log(np.diag(L))))

    def chol_u(self) -> Matrix:
        """The lower Cholesky factor of ``A'WA + I`` (dense q x q)."""
        M = _dense(self._AtWA) + np.eye(self.q)
        out: Matrix = np.asarray(np.linalg.cholesky(M), dtype=float)
        return out

    def chol_u_diagonal(self) -> Vector:
        """The diagonal of :meth:`chol_u`: ``sqrt(D)`` when ``A'WA`` is diagonal (one scalar term), without the
        dense factor."""
        if self.R.size == 0:
            out: Vector = np.sqrt(self.d)
            return out
        return np.asarray(np.diag(self.chol_u()), dtype=float)
