"""A structure over several GROUP= levels: one parameter vector, its blocks and their derivatives.

Group level 0 carries the profiled scale; each further level has its own structure parameters
and a log scale relative to level 0, so that every level's covariance parameters are free (SAS's
GROUP=). Derivatives of a block with respect to its parameters are taken by complex step, exact
to rounding because the structures are written with arithmetic only.
"""

from __future__ import annotations

import numpy as np

from .structures import Structure

STEP = 1e-30


def complex_jacobian(fun, x: np.ndarray) -> np.ndarray:
    """d fun(x) / dx by complex step: an array of fun's shape plus len(x)."""
    x = np.asarray(x, dtype=float)
    base = np.asarray(fun(x.astype(complex)))
    out = np.zeros(base.shape + (len(x),))
    for t in range(len(x)):
        xc = x.astype(complex)
        xc[t] += 1j * STEP
        out[..., t] = np.imag(np.asarray(fun(xc))) / STEP
    return out


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

    def _block(self, g: int, part):
        if g == 0:
            return self.structure.relative(part)
        return np.exp(part[0]) * self.structure.relative(part[1:])

    def blocks(self, theta: np.ndarray) -> list[np.ndarray]:
        """Relative k x k blocks, one per group level."""
        return [self._block(g, theta[sl]) for g, sl in enumerate(self.slices)]

    def gradient(self, theta: np.ndarray, grads) -> np.ndarray:
        """Chain rule from per-block gradients (k x k each) to the parameter vector."""
        out = np.zeros(self.size)
        for g, sl in enumerate(self.slices):
            if sl.stop == sl.start:
                continue
            J = complex_jacobian(lambda x, g=g: self._block(g, x), theta[sl])
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
