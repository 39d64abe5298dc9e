"""A structure over several GROUP= levels: one parameter vector, its blocks and their derivatives.

Group level 0 carries the profiled scale; each further level has its own structure parameters
and a log scale relative to level 0, so that every level's covariance parameters are free (SAS's
GROUP=). Derivatives of a block with respect to its parameters are taken by complex step, exact
to rounding because the structures are written with arithmetic only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .complexstep import complex_jacobian
from .structures import Structure

__all__ = ["GroupedParameters", "complex_jacobian"]


class GroupedParameters:
    """The optimizer's parameter vector for ``structure`` repeated over ``n_groups`` levels."""

    def __init__(self, structure: Structure, n_groups: int) -> None:
        self.structure = structure
        self.n_groups = n_groups
        m = structure.n_theta
        self.slices = [slice(0, m)] + [slice(m + (g - 1) * (m + 1), m + g * (m + 1)) for g in range(1, n_groups)]
        self.size = m + (n_groups - 1) * (m + 1)

    def start(self) -> np.ndarray:
        s = self.structure.start()
        return np.concatenate([s] + [np.concatenate([[0.0], s]) for _ in range(1, self.n_groups)])

    def start_from(self, cov: np.ndarray) -> np.ndarray:
        """Starting values from a k x k covariance, the same for every group level."""
        s = self.structure.start_from(cov)
        return np.concatenate([s] + [np.concatenate([[0.0], s]) for _ in range(1, self.n_groups)])

    def _block(self, g: int, part: np.ndarray) -> np.ndarray:
        if g == 0:
            return self.structure.relative(part)
        out: np.ndarray = np.exp(part[0]) * self.structure.relative(part[1:])
        return out

    def blocks(self, theta: np.ndarray) -> list[np.ndarray]:
        """Relative k x k blocks, one per group level."""
        return [self._block(g, theta[sl]) for g, sl in enumerate(self.slices)]

    def gradient(self, theta: np.ndarray, grads: Sequence[np.ndarray]) -> np.ndarray:
        """Chain rule from per-block gradients (k x k each) to the parameter vector."""
        out = np.zeros(self.size)
        for g, sl in enumerate(self.slices):
            if sl.stop == sl.start:
                continue
            part = theta[sl]
            if g == 0:
                J = self.structure.jacobian(part)
            else:
                scale = np.exp(part[0])
                rel = self.structure.relative(part[1:])
                J = np.concatenate([scale * rel[..., None], scale * self.structure.jacobian(part[1:])], axis=2)
            out[sl] = np.tensordot(grads[g], J, axes=([0, 1], [0, 1]))
        return out

    def natural(self, theta: np.ndarray, scale: float) -> list[np.ndarray]:
        """SAS's natural-scale parameters per group level."""
        out = []
        for g, sl in enumerate(self.slices):
            part = theta[sl]
            if g == 0:
                out.append(self.structure.natural(part, scale))
            else:
                out.append(self.structure.natural(part[1:], scale * np.exp(part[0])))
        return out
