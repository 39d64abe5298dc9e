"""Layout of the covariance parameter vector theta, as lme4 orders it.

Each random-effect term with ``k`` columns has a lower-triangular relative
covariance factor ``lambda`` (``k x k``); its ``k (k + 1) / 2`` free elements
are stored column by column (column-major lower triangle), and the terms follow
each other in formula order. Diagonal elements are bounded below by 0, the
others are free (Bates et al. 2015, section 2.2 and 3.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..design import Design


@dataclass(frozen=True)
class ThetaLayout:
    """Where each term's factor elements sit in theta.

    Attributes:
        sizes: number of columns ``k`` of each term.
        offsets: start of each term's slice in theta.
        rows: per term, row index of each stored element in ``lambda``.
        cols: per term, column index of each stored element in ``lambda``.
    """

    sizes: tuple[int, ...]
    offsets: tuple[int, ...]
    rows: tuple[np.ndarray, ...]
    cols: tuple[np.ndarray, ...]

    @classmethod
    def from_sizes(cls, sizes: tuple[int, ...]) -> ThetaLayout:
        offsets, rows, cols = [], [], []
        pos = 0
        for k in sizes:
            r, c = [], []
            for j in range(k):
                for i in range(j, k):
                    r.append(i)
                    c.append(j)
            offsets.append(pos)
            rows.append(np.array(r, dtype=int))
            cols.append(np.array(c, dtype=int))
            pos += len(r)
        return cls(tuple(sizes), tuple(offsets), tuple(rows), tuple(cols))

    @classmethod
    def of(cls, design: Design) -> ThetaLayout:
        """The layout of ``design``'s random-effect terms (one factor per term, in term order)."""
        return cls.from_sizes(tuple(t.k for t in design.reterms))

    @property
    def size(self) -> int:
        """Length of theta."""
        return sum(len(r) for r in self.rows)

    def term_slice(self, term: int) -> slice:
        """Slice of theta holding term ``term``'s elements."""
        start = self.offsets[term]
        return slice(start, start + len(self.rows[term]))

    def lower_bounds(self) -> np.ndarray:
        """0 for diagonal elements, -inf for off-diagonal ones (lme4's ``lower``)."""
        return np.concatenate([np.where(r == c, 0.0, -np.inf) for r, c in zip(self.rows, self.cols)])

    def is_diagonal(self) -> np.ndarray:
        """Boolean mask of theta elements that are diagonal elements of a factor."""
        return np.concatenate([r == c for r, c in zip(self.rows, self.cols)])

    def initial(self) -> np.ndarray:
        """lme4's starting value: 1 on the diagonals, 0 elsewhere."""
        return self.is_diagonal().astype(float)

    def factor(self, theta: np.ndarray, term: int) -> np.ndarray:
        """The ``k x k`` lower-triangular factor ``lambda`` of term ``term``."""
        k = self.sizes[term]
        lam = np.zeros((k, k))
        lam[self.rows[term], self.cols[term]] = theta[self.term_slice(term)]
        return lam

    def factors(self, theta: np.ndarray) -> list[np.ndarray]:
        """All terms' factors, in term order."""
        return [self.factor(theta, t) for t in range(len(self.sizes))]


def theta_from_covariance(relative_cov: np.ndarray) -> list[float] | None:
    """lme4's theta for one term from its covariance matrix divided by sigma^2.

    The lower Cholesky factor, column by column (lme4's order); a tiny ridge
    lets a variance at 0 through. None when the matrix is not positive
    semi-definite (a printed correlation beyond +-1, say).
    """
    g = np.asarray(relative_cov, dtype=float)
    k = g.shape[0]
    try:
        low = np.linalg.cholesky(g + 1e-12 * max(1.0, float(np.trace(g))) * np.eye(k))
    except np.linalg.LinAlgError:
        return None
    out: list[float] = []
    for j in range(k):
        out.extend(low[j:, j].tolist())
    return out
