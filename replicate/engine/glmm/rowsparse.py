"""``Z Lambda`` stored by rows: each row's few nonzero columns and their values.

Every row of ``Z Lambda`` has the same number ``m`` of nonzeros (the summed widths of the random-effect terms:
one level of each term), so two ``n x m`` arrays hold it. Products with vectors and the weighted cross-products
PIRLS needs are then ``bincount`` sums over the rows, without the per-call overhead of a general sparse format,
which dominated a GLMM fit's time when PIRLS systems are formed thousands of times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

Matrix = NDArray[np.float64]


def sums(index: NDArray[np.int64], weights: NDArray[np.float64], size: int) -> NDArray[np.float64]:
    """``weights`` summed by ``index`` into ``size`` bins (``np.bincount`` with float weights)."""
    out: NDArray[np.float64] = np.bincount(index, weights, minlength=size).astype(float, copy=False)
    return out


@dataclass(frozen=True)
class RowSparse:
    """An ``n x q`` matrix with ``m`` stored entries per row.

    Attributes:
        cols: ``n x m`` column of each stored entry.
        vals: ``n x m`` its value.
        q: number of columns.
    """

    cols: NDArray[np.int64]
    vals: Matrix
    q: int
    _positions: dict[tuple[int, int], tuple[int | None, NDArray[np.int64]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.cols.shape[0]), self.q

    @property
    def T(self) -> _Transposed:
        return _Transposed(self)

    def __matmul__(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """``A x`` for a vector (length q) or a matrix (q x k)."""
        x = np.asarray(x, dtype=float)
        spec = "nm,nm->n" if x.ndim == 1 else "nm,nmk->nk"
        out: NDArray[np.float64] = np.einsum(spec, self.vals, x[self.cols])
        return out

    def positions(self, start: int, stop: int) -> tuple[int | None, NDArray[np.int64]]:
        """Where a row's entry in the columns ``start:stop`` (one term's block) sits among its ``m`` entries
        (None when the block is empty), and the positions of the other entries. Every row has its terms'
        entries in the same order, so the first row decides."""
        key = (start, stop)
        if key not in self._positions:
            inside = (self.cols[0] >= start) & (self.cols[0] < stop) if self.cols.shape[0] else np.zeros(0, bool)
            hit = np.flatnonzero(inside)
            at = int(hit[0]) if stop > start and hit.size else None
            self._positions[key] = (at, np.flatnonzero(~inside))
        return self._positions[key]

    def tocsr(self) -> sp.csr_matrix:
        n, m = self.cols.shape
        rows = np.repeat(np.arange(n), m)
        return sp.csr_matrix((self.vals.ravel(), (rows, self.cols.ravel())), shape=(n, self.q))

    def toarray(self) -> Matrix:
        out: Matrix = self.tocsr().toarray()
        return out

    def weighted_gram(self, w: NDArray[np.float64]) -> sp.csr_matrix:
        """``A' diag(w) A``, sparse q x q."""
        m = self.cols.shape[1]
        ci = np.repeat(self.cols, m, axis=1).ravel()
        cj = np.tile(self.cols, (1, m)).ravel()
        v = (np.repeat(self.vals, m, axis=1) * np.tile(self.vals, (1, m)) * w[:, None]).ravel()
        return sp.csr_matrix((v, (ci, cj)), shape=(self.q, self.q))


@dataclass(frozen=True)
class _Transposed:
    of: RowSparse

    def __matmul__(self, r: NDArray[np.float64]) -> NDArray[np.float64]:
        """``A' r`` for a vector (length n) or a matrix (n x k)."""
        a = self.of
        r = np.asarray(r, dtype=float)
        flat = a.cols.ravel()
        if r.ndim == 1:
            return sums(flat, (a.vals * r[:, None]).ravel(), a.q)
        k = r.shape[1]
        if not k:
            return np.zeros((a.q, 0))
        index = (flat[:, None] * k + np.arange(k)).ravel()
        return sums(index, (a.vals[:, :, None] * r[:, None, :]).ravel(), a.q * k).reshape(a.q, k)
