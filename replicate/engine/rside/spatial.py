"""SP(EXP)(time): exponential correlation on a continuous time coordinate (SAS; nlme's corExp).

Here the "visits" are the distinct time values, in increasing order, and the correlation between two
of them is exp(-|t_i - t_j| / range). SAS's parameters: ``SP(EXP)`` (the range) and ``Residual``.
"""

from __future__ import annotations

import numpy as np

from .structures import Structure, StructureName


class SpatialExponential(Structure):
    """SP(EXP): V = Residual * exp(-d / range), d the distance between time values; theta = log range."""

    name = StructureName.SP_EXP

    def __init__(self, k: int, coords: np.ndarray | None = None) -> None:
        super().__init__(k)
        if coords is None:
            raise ValueError("SP(EXP) needs the time coordinate of each visit level")
        coords = np.asarray(coords, dtype=float)
        if coords.shape != (k,):
            raise ValueError(f"SP(EXP) needs {k} coordinates, got {coords.shape}")
        self.distance = np.abs(coords[:, None] - coords[None, :])

    @property
    def n_theta(self) -> int:
        return 1

    def start(self) -> np.ndarray:
        d = self.distance[self.distance > 0]
        return np.array([np.log(np.median(d))]) if d.size else np.zeros(1)

    def relative(self, theta: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.exp(-self.distance / np.exp(theta[0]))
        return out

    def labels(self) -> tuple[str, ...]:
        return ("SP(EXP)", "Residual")

    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        return np.array([np.exp(theta[0]), scale])

    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        out: np.ndarray = nat[1] * np.exp(-self.distance / nat[0])
        return out
