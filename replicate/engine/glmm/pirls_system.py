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

from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy import linalg

from .rowsparse import RowSparse, sums

Matrix = NDArray[np.float64]
Vector = NDArray[np.float64]


#: Below this many random-effect columns dense products beat sparse ones' overhead.
DENSE_BELOW = 200
#: Up to this many entries the coupling block is formed dense directly (cheaper than building a sparse matrix).
DENSE_COUPLING = 20_000
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


def _pieces_by_rows(A: RowSparse, w: Vector, diagonal: slice | None) -> tuple[Vector, Any, Matrix]:
    """:meth:`PirlsSystem._pieces_general` by sums over the rows of a :class:`.rowsparse.RowSparse` ``A``.

    The diagonal term occupies one position of every row's entries; the others' columns are renumbered into
    ``R`` (the columns after the diagonal block move down by its width).
    """
    cols, vals = A.cols, A.vals
    s0, s1 = (0, 0) if diagonal is None else (diagonal.start, diagonal.stop)
    at, rest = A.positions(s0, s1)
    q_s, q_r = s1 - s0, A.q - (s1 - s0)
    if rest.size:
        r_cols = cols[:, rest]
        r_loc = np.where(r_cols >= s1, r_cols - q_s, r_cols)
        r_vals = vals[:, rest]
        wr = w[:, None] * r_vals
        pair = (r_loc[:, :, None] * q_r + r_loc[:, None, :]).ravel()
        E_A = sums(pair, (wr[:, :, None] * r_vals[:, None, :]).ravel(), q_r * q_r).reshape(q_r, q_r)
    else:
        E_A = np.zeros((0, 0))
    if at is None:
        return np.zeros(0), np.zeros((0, q_r)), E_A
    s_loc = cols[:, at] - s0
    ws = w * vals[:, at]
    d = sums(s_loc, ws * vals[:, at], q_s)
    if not rest.size:
        return d, np.zeros((q_s, 0)), E_A
    entries = (ws[:, None] * r_vals).ravel()
    if q_s * q_r <= DENSE_COUPLING:
        return d, sums((s_loc[:, None] * q_r + r_loc).ravel(), entries, q_s * q_r).reshape(q_s, q_r), E_A
    coupling = sp.csr_matrix((entries, (np.repeat(s_loc, rest.size), r_loc.ravel())), shape=(q_s, q_r))
    B_A: Any = coupling if coupling.nnz <= SPARSE_SHARE * max(q_s * q_r, 1) else coupling.toarray()
    return d, B_A, E_A


@lru_cache(maxsize=64)
def _split(q: int, start: int, stop: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The columns of the diagonal block (``start:stop``; none when ``stop - start < 2``) and the rest."""
    if stop - start < 2:
        S, R = np.zeros(0, dtype=np.int64), np.arange(q, dtype=np.int64)
    else:
        S = np.arange(start, stop, dtype=np.int64)
        R = np.r_[np.arange(0, start), np.arange(stop, q)].astype(np.int64)
    S.flags.writeable = R.flags.writeable = False  # shared between systems through the cache
    return S, R


def _dense(M: Any) -> Matrix:
    out: Matrix = np.asarray(M.toarray() if sp.issparse(M) else M, dtype=float)
    return out


class PirlsSystem:
    """``[A X]' W [A X]`` plus the identity on ``u``'s columns, for ``A`` (n x q: :class:`.rowsparse.RowSparse`,
    scipy sparse or dense) and ``X`` (n x p; no columns when beta is held fixed).

    Raises:
        np.linalg.LinAlgError: on :meth:`solve` or :meth:`logdet_u`, when the system is not positive definite.
    """

    def __init__(self, A: Any, X: Matrix, w: Vector, diagonal: slice | None) -> None:
        q, p = A.shape[1], X.shape[1]
        self.q, self.p = q, p
        self._A, self._w = A, w
        self.S, self.R = _split(q, 0, 0) if diagonal is None else _split(q, diagonal.start, diagonal.stop)
        S, R = self.S, self.R
        if isinstance(A, RowSparse):
            d, self.B_A, E_A = _pieces_by_rows(A, w, diagonal if S.size else None)
        else:
            d, self.B_A, E_A = self._pieces_general(A, w)
        self.d = d + 1.0
        if S.size and np.any(self.d <= 0):
            raise np.linalg.LinAlgError("the PIRLS system is not positive definite")
        AtWX = np.asarray(A.T @ (w[:, None] * X)).reshape(q, p)
        XtWX = X.T @ (w[:, None] * X)
        # the coupling of the diagonal block to u's other columns (kept sparse when it is sparse) and to beta
        self.B_X = AtWX[S]
        E_A = E_A + np.eye(R.size)
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
        k = R.size
        self.schur = np.empty((k + p, k + p))
        self.schur[:k, :k] = top_left
        self.schur[:k, k:] = top_right
        self.schur[k:, :k] = top_right.T
        self.schur[k:, k:] = bottom

    def _pieces_general(self, A: Any, w: Vector) -> tuple[Vector, Any, Matrix]:
        """The diagonal of ``A'WA`` on ``S``, its ``S x R`` coupling and its ``R x R`` block, by matrix products."""
        S, R = self.S, self.R
        AtWA = self.gram
        d = np.asarray(AtWA.diagonal(), dtype=float)[S]
        E_A = _dense(AtWA[R][:, R] if sp.issparse(AtWA) else AtWA[np.ix_(R, R)])
        return d, _coupling(AtWA, S, R), E_A

    @cached_property
    def gram(self) -> Any:
        """``A'WA`` (sparse when ``A`` is, dense below :data:`DENSE_BELOW` columns)."""
        A, w = self._A, self._w
        if isinstance(A, RowSparse):
            return A.weighted_gram(w)
        if sp.issparse(A) and self.q <= DENSE_BELOW:
            A = A.toarray()
        AtWA = A.T @ (A.multiply(w[:, None]) if sp.issparse(A) else w[:, None] * A)
        return sp.csr_matrix(AtWA) if sp.issparse(AtWA) else np.asarray(AtWA)

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
        M = _dense(self.gram) + np.eye(self.q)
        out: Matrix = np.asarray(np.linalg.cholesky(M), dtype=float)
        return out

    def chol_u_diagonal(self) -> Vector:
        """The diagonal of :meth:`chol_u`: ``sqrt(D)`` when ``A'WA`` is diagonal (one scalar term), without the
        dense factor."""
        if self.R.size == 0:
            out: Vector = np.sqrt(self.d)
            return out
        return np.asarray(np.diag(self.chol_u()), dtype=float)
