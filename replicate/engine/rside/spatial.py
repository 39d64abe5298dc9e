"""Spatial structures on one or more continuous coordinates: SP(EXP), SP(GAU), SP(POW) (SAS; mmrm's sp_*).

Here the "visits" are the distinct coordinate points (a time value, or a point in several
coordinates), and the correlation of two of them depends on their Euclidean distance d only:

* SP(EXP): exp(-d / rho) (nlme: corExp with range rho);
* SP(GAU): exp(-d^2 / rho^2) (nlme: corGaus with range rho);
* SP(POW): rho^d, 0 < rho < 1 (nlme: corCAR1 with phi = rho).

SAS's parameters: the structure's ``rho`` (labelled ``SP(EXP)``, ``SP(GAU)``, ``SP(POW)``) and
``Residual``. Each is written with arithmetic only, so a complex step through it is exact.
"""

from __future__ import annotations

import numpy as np

from ...rside_names import StructureName
from .structures import Structure


class Spatial(Structure):
    """Shared part: the distance matrix of the coordinate points; one correlation parameter."""

    label = "SP"

    def __init__(self, k: int, coords: np.ndarray | None = None) -> None:
        super().__init__(k)
        if coords is None:
            raise ValueError(f"{self.label} needs the coordinates of each visit level")
        pts = np.asarray(coords, dtype=float)
        if pts.ndim == 1:
            pts = pts[:, None]
        if pts.ndim != 2 or pts.shape[0] != k:
            raise ValueError(f"{self.label} needs {k} coordinate points, got an array of shape {pts.shape}")
        diff = pts[:, None, :] - pts[None, :, :]
        self.distance: np.ndarray = np.sqrt(np.sum(diff * diff, axis=2))

    @property
    def n_theta(self) -> int:
        return 1

    def labels(self) -> tuple[str, ...]:
        return (self.label, "Residual")

    def _median_distance(self) -> float:
        d = self.distance[self.distance > 0]
        return float(np.median(d)) if d.size else 1.0

    def correlation(self, rho: np.ndarray | complex) -> np.ndarray:
        """Correlation matrix at the natural parameter ``rho``."""
        raise NotImplementedError

    def rho(self, theta: np.ndarray) -> complex:
        """Natural parameter from the optimizer's ``theta[0]``."""
        out: complex = np.exp(theta[0])
        return out

    def relative(self, theta: np.ndarray) -> np.ndarray:
        return self.correlation(self.rho(theta))

    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        return np.array([self.rho(theta), scale])

    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        out: np.ndarray = nat[1] * self.correlation(nat[0])
        return out


class SpatialExponential(Spatial):
    """SP(EXP): exp(-d / rho); theta = log rho."""

    name = StructureName.SP_EXP
    label = "SP(EXP)"

    def start(self) -> np.ndarray:
        return np.array([np.log(self._median_distance())])

    def correlation(self, rho: np.ndarray | complex) -> np.ndarray:
        out: np.ndarray = np.exp(-self.distance / rho)
        return out


class SpatialGaussian(Spatial):
    """SP(GAU): exp(-d^2 / rho^2); theta = log rho."""

    name = StructureName.SP_GAU
    label = "SP(GAU)"

    def start(self) -> np.ndarray:
        return np.array([np.log(self._median_distance())])

    def correlation(self, rho: np.ndarray | complex) -> np.ndarray:
        out: np.ndarray = np.exp(-(self.distance * self.distance) / (rho * rho))
        return out


class SpatialPower(Spatial):
    """SP(POW): rho^d with 0 < rho < 1; theta = logit rho (rho^d written as exp(d log rho))."""

    name = StructureName.SP_POW
    label = "SP(POW)"

    def start(self) -> np.ndarray:
        return np.zeros(1)  # rho = 1/2

    def rho(self, theta: np.ndarray) -> complex:
        out: complex = 1.0 / (1.0 + np.exp(-theta[0]))
        return out

    def correlation(self, rho: np.ndarray | complex) -> np.ndarray:
        out: np.ndarray = np.exp(self.distance * np.log(rho))
        return out

    def correlation_labels(self) -> tuple[int, ...]:
        return (0,)
