"""Random slopes per subject beside the residual structure (SAS: RANDOM intercept time / TYPE=UN and REPEATED).

The model ``y_i = X_i beta + Z_i b_i + e_i`` with ``b_i ~ N(0, G)`` (G unstructured over the intercept and
the slope variables) and ``e_i ~ N(0, R_i)`` has ``V_i = Z_i G Z_i' + R_i``. When every slope variable is
a function of the visit (the same value at a given visit for every subject: age 8, 10, 12, 14 on
Orthodont, the day of a weighing on BodyWeight), ``Z_i`` is the rows of one k x q matrix ``Zk`` over
the k visits, and ``Zk G Zk' + R`` is again a covariance over the visits: the engine (visit patterns,
profiled REML/ML, observed information, Satterthwaite and Kenward-Roger df) applies unchanged, as for
:mod:`.intercept`. This is nlme's ``lme(random = ~ time | id, correlation = corAR1(form = ~ idx | id))``.

SAS lists G first: ``UN(1,1)``, ``UN(2,1)``, ``UN(2,2)``, ... (Subject id), then the residual
structure's own parameters. G relative to the profiled scale is ``L L'`` with L lower triangular, its
diagonal on the log scale, so every theta gives a positive definite G.
"""

from __future__ import annotations

import numpy as np

from ...errors import ModelError
from .intercept import IDENTIFIED
from .structures import Structure

START_LOG_SD = float(np.log(0.5))


class WithRandomSlopes(Structure):
    """``Zk G Zk' + base``: theta is the base's, then G's Cholesky factor (log diagonal) relative to the scale.

    Natural parameters: G's lower triangle by rows (SAS's ``UN(i,j)``), then the base's.
    """

    def __init__(self, base: Structure, design: np.ndarray) -> None:
        if base.name not in IDENTIFIED:
            raise ModelError(
                f"random slopes beside TYPE={base.name.value} are not identified",
                field="random_slopes",
                hint="with random slopes use ar1, ar1h, sp_exp, sp_gau or sp_pow",
            )
        design = np.asarray(design, dtype=float)
        if design.ndim != 2 or design.shape[0] != base.k:
            raise ValueError("the random-effects design needs one row per visit")
        super().__init__(base.k)
        self.base = base
        self.design = design
        self.q = int(design.shape[1])
        self.name = base.name
        self.natural_linear = base.natural_linear
        sd = design.std(axis=0)
        self._start_scale = np.where(sd > 0, 1.0 / np.where(sd > 0, sd, 1.0), 1.0)

    @property
    def n_g(self) -> int:
        return self.q * (self.q + 1) // 2

    @property
    def n_theta(self) -> int:
        return self.base.n_theta + self.n_g

    def _g(self, part: np.ndarray) -> np.ndarray:
        q = self.q
        L = np.zeros((q, q), dtype=np.result_type(part, float))
        pos = 0
        for i in range(q):
            for j in range(i + 1):
                L[i, j] = np.exp(part[pos]) if i == j else part[pos]
                pos += 1
        out: np.ndarray = L @ L.T
        return out

    def relative(self, theta: np.ndarray) -> np.ndarray:
        m = self.base.n_theta
        out: np.ndarray = self.base.relative(theta[:m]) + self.design @ self._g(theta[m:]) @ self.design.T
        return out

    def labels(self) -> tuple[str, ...]:
        g = tuple(f"UN({i + 1},{j + 1})" for i in range(self.q) for j in range(i + 1))
        return (*g, *self.base.labels())

    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        m = self.base.n_theta
        G = scale * self._g(theta[m:])
        g = [G[i, j] for i in range(self.q) for j in range(i + 1)]
        return np.concatenate([g, self.base.natural(theta[:m], scale)])

    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        q = self.q
        G = np.zeros((q, q), dtype=np.asarray(nat).dtype)
        pos = 0
        for i in range(q):
            for j in range(i + 1):
                G[i, j] = G[j, i] = nat[pos]
                pos += 1
        out: np.ndarray = self.design @ G @ self.design.T + self.base.from_natural(nat[self.n_g :])
        return out

    def _g_start(self) -> np.ndarray:
        out = []
        for i in range(self.q):
            for j in range(i + 1):
                out.append(START_LOG_SD + float(np.log(self._start_scale[i])) if i == j else 0.0)
        return np.array(out)

    def start(self) -> np.ndarray:
        return np.concatenate([self.base.start(), self._g_start()])

    def start_from(self, cov: np.ndarray) -> np.ndarray:
        return np.concatenate([self.base.start_from(cov), self._g_start()])

    def variance_labels(self) -> tuple[int, ...]:
        g = tuple(i * (i + 1) // 2 + i for i in range(self.q))
        return (*g, *(i + self.n_g for i in self.base.variance_labels()))

    def correlation_labels(self) -> tuple[int, ...]:
        return tuple(i + self.n_g for i in self.base.correlation_labels())


def visit_design(values: np.ndarray, visit: np.ndarray, k: int, names: tuple[str, ...]) -> np.ndarray:
    """The k x q matrix ``[1, slope variables]`` over the visits, from rows' values and visit positions.

    Raises:
        ModelError: a slope variable takes two values at one visit (it is not a function of the visit).
    """
    values = np.asarray(values, dtype=float).reshape(len(visit), -1)
    out = np.ones((k, 1 + values.shape[1]))
    for j, name in enumerate(names):
        col = values[:, j]
        for v in range(k):
            seen = np.unique(col[visit == v])
            if len(seen) != 1:
                raise ModelError(
                    f"the random slope's variable {name!r} takes {len(seen)} values at one visit",
                    field="random_slopes",
                    hint="random slopes beside a structure are implemented for a variable that is a function of "
                    "the visit (the same at a given visit for every subject)",
                )
            out[v, 1 + j] = seen[0]
    return out
