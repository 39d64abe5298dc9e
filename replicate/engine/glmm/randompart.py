"""The random-effects part of the linear predictor as a dense ``Z Lambda(theta)`` (engine preview).

The columns are ordered as lme4's ``u``: term by term, within a term level by level and within a level the
term's columns. ``Z Lambda`` is sparse (k nonzeros per row and term), so the cross-products PIRLS needs cost
O(n) rather than O(n q^2); the q x q system itself is solved densely, which suits models with up to a few
thousand random-effect levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from ...design import Design
from ..theta import ThetaLayout
from .rowsparse import RowSparse

Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class RandomPart:
    """The random-effect terms of a design, ready to form ``Z Lambda`` at any theta.

    Attributes:
        layout: where each term's factor elements sit in theta (lme4's order).
        index: per term, the level code of each row.
        xre: per term, the n x k matrix of the term's columns.
        nlevels: per term, the number of levels.
        offsets: per term, the first column of its block in ``u``.
        q: the length of ``u``.
    """

    layout: ThetaLayout
    index: tuple[NDArray[np.int64], ...]
    xre: tuple[Matrix, ...]
    nlevels: tuple[int, ...]
    offsets: tuple[int, ...]
    q: int

    @classmethod
    def of(cls, design: Design) -> RandomPart:
        offsets, pos = [], 0
        for t in design.reterms:
            offsets.append(pos)
            pos += t.nlevels * t.k
        return cls(
            ThetaLayout.of(design),
            tuple(np.asarray(t.index, dtype=np.int64) for t in design.reterms),
            tuple(np.asarray(t.Xre, dtype=float) for t in design.reterms),
            tuple(t.nlevels for t in design.reterms),
            tuple(offsets),
            pos,
        )

    def z_lambda(self, theta: NDArray[np.float64]) -> sp.csr_matrix:
        """``Z Lambda(theta)``, n x q, sparse (each row has k nonzeros per term)."""
        return self.z_lambda_rows(theta).tocsr()

    def z_lambda_rows(self, theta: NDArray[np.float64]) -> RowSparse:
        """``Z Lambda(theta)`` stored by rows (:class:`.rowsparse.RowSparse`): the form PIRLS works with; a row's
        entries are term by term, within a term column by column."""
        cols, vals = [], []
        for t, lam in enumerate(self.layout.factors(np.asarray(theta, dtype=float))):
            k = lam.shape[0]
            block = self.xre[t] @ lam  # row r of Z's block times lambda
            for c in range(k):
                cols.append(self.offsets[t] + self.index[t] * k + c)
                vals.append(block[:, c])
        n = self.xre[0].shape[0] if self.xre else 0
        if not cols:
            return RowSparse(np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0)), self.q)
        return RowSparse(np.stack(cols, axis=1), np.stack(vals, axis=1), self.q)

    def b_blocks(self, theta: NDArray[np.float64], u: NDArray[np.float64]) -> tuple[Matrix, ...]:
        """The conditional modes ``b = Lambda u`` per term, arrays (nlevels, k)."""
        out = []
        for t, lam in enumerate(self.layout.factors(np.asarray(theta, dtype=float))):
            k = lam.shape[0]
            ut = u[self.offsets[t] : self.offsets[t] + self.nlevels[t] * k].reshape(self.nlevels[t], k)
            out.append(ut @ lam.T)
        return tuple(out)

    def b_variances(self, theta: NDArray[np.float64], cov_u: Matrix) -> tuple[Matrix, ...]:
        """Conditional variances of ``b`` per term, arrays (nlevels, k, k), from those of ``u``."""
        out = []
        for t, lam in enumerate(self.layout.factors(np.asarray(theta, dtype=float))):
            k, lv = lam.shape[0], self.nlevels[t]
            var = np.empty((lv, k, k))
            for j in range(lv):
                s = self.offsets[t] + j * k
                var[j] = lam @ cov_u[s : s + k, s : s + k] @ lam.T
            out.append(var)
        return tuple(out)

    def diagonal_block(self) -> slice | None:
        """The columns of ``u`` whose block of ``(Z Lambda)' W (Z Lambda)`` is diagonal: those of the scalar term
        with the most levels (each row meets one of its levels), or None when no term is scalar."""
        scalar = [t for t, k in enumerate(self.layout.sizes) if k == 1 and self.nlevels[t] > 1]
        if not scalar:
            return None
        t = max(scalar, key=lambda i: self.nlevels[i])
        return slice(self.offsets[t], self.offsets[t] + self.nlevels[t])

    def single_scalar_term(self) -> bool:
        """One random-effect term with one column: the models adaptive quadrature handles (lme4's rule)."""
        return len(self.nlevels) == 1 and self.layout.sizes[0] == 1
