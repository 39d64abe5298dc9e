"""Banded Toeplitz structures: SAS's TOEP(2), one covariance at lag 1 and none beyond (issue #16).

Over ``k`` visits the tridiagonal correlation matrix with ``rho`` beside the diagonal is positive definite exactly
when ``|rho| < 1 / (2 cos(pi / (k + 1)))`` (its eigenvalues are ``1 + 2 rho cos(j pi / (k + 1))``), so the
parameter is ``rho = b tanh(theta)`` with that bound ``b``: every theta gives a positive definite matrix and every
admissible rho is reached. SAS labels the parameters ``TOEP(2)`` (the lag-1 covariance) and ``Residual``; both enter
the covariance linearly. Within ``|rho| <= 1/2`` it is nlme's ``corARMA(q = 1)`` (MA(1): ``rho = t / (1 + t^2)``),
whose range stops at 1/2; a wider band (TOEP(q), q > 2) has no such simple bound and is not implemented.
"""

from __future__ import annotations

import numpy as np

from ...rside_names import StructureName
from .structures import Structure, lag_matrix


def pd_bound(k: int) -> float:
    """The largest |rho| of a positive definite k x k tridiagonal Toeplitz correlation matrix (1 for k < 2)."""
    return 1.0 / (2.0 * np.cos(np.pi / (k + 1))) if k >= 2 else 1.0


class BandedToeplitz(Structure):
    """TOEP(2): a variance and the lag-1 covariance; nothing beyond lag 1."""

    name = StructureName.TOEP2
    natural_linear = True

    @property
    def n_theta(self) -> int:
        return 1 if self.k >= 2 else 0

    def _rho(self, theta: np.ndarray) -> complex:
        return pd_bound(self.k) * np.tanh(theta[0]) if self.k >= 2 else 0.0

    def relative(self, theta: np.ndarray) -> np.ndarray:
        band = (lag_matrix(self.k) == 1).astype(float)
        out: np.ndarray = np.eye(self.k) + self._rho(theta) * band
        return out

    def labels(self) -> tuple[str, ...]:
        return ("TOEP(2)", "Residual")

    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        return np.array([scale * self._rho(theta), scale])

    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        band = (lag_matrix(self.k) == 1).astype(float)
        out: np.ndarray = nat[1] * np.eye(self.k) + nat[0] * band
        return out
