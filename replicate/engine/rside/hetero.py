"""Structures with a variance per visit: CSH, ARH(1), TOEPH, UN(1) (diagonal), ANTE(1); and mmrm's ``ad``.

theta starts with the log standard deviations of visits 2 .. k relative to visit 1 (whose variance
is the profiled scale), then the structure's correlation parameters. SAS labels the variances
``Var(1)`` .. ``Var(k)`` (``UN(j,j)`` for TYPE=UN(1)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...rside_names import StructureName
from .structures import Structure, cs_rho, cs_theta, lag_matrix, levinson, rel_sd


def ante_chain(k: int, rhos: Sequence[complex]) -> np.ndarray:
    """First-order ante-dependence correlations: corr(i, j) = rho_i * ... * rho_(j-1) for i < j."""
    out = np.zeros((k, k), dtype=np.result_type(*rhos, float) if len(rhos) else float)
    for i in range(k):
        out[i, i] = 1.0
        prod: complex = 1.0
        for j in range(i + 1, k):
            prod = prod * rhos[j - 1]
            out[i, j] = out[j, i] = prod
    return out


class _Heterogeneous(Structure):
    """Shared part: relative standard deviations and a correlation matrix."""

    @property
    def n_corr(self) -> int:
        """Number of correlation parameters after the k - 1 log standard deviations."""
        return 0

    @property
    def n_theta(self) -> int:
        return self.k - 1 + self.n_corr

    def _corr(self, tc: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def start_from(self, cov: np.ndarray) -> np.ndarray:
        out = self.start()
        d = np.diag(cov)
        if np.all(d > 0):
            out[: self.k - 1] = 0.5 * np.log(d[1:] / d[0])
        return out

    def relative(self, theta: np.ndarray) -> np.ndarray:
        sd = rel_sd(theta[: self.k - 1])
        out: np.ndarray = sd[:, None] * self._corr(theta[self.k - 1 :]) * sd[None, :]
        return out

    def _corr_natural(self, tc: np.ndarray) -> list[complex]:
        return []

    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        sd = rel_sd(theta[: self.k - 1])
        return np.array(list(scale * sd * sd) + self._corr_natural(theta[self.k - 1 :]))

    def _corr_from_natural(self, cn: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        sd = np.sqrt(nat[: self.k])
        out: np.ndarray = sd[:, None] * self._corr_from_natural(nat[self.k :]) * sd[None, :]
        return out

    def labels(self) -> tuple[str, ...]:
        return tuple(f"Var({j + 1})" for j in range(self.k)) + self._corr_labels()

    def _corr_labels(self) -> tuple[str, ...]:
        return ()

    def correlation_labels(self) -> tuple[int, ...]:
        return tuple(range(self.k, self.k + self.n_corr))


class HeteroCompoundSymmetry(_Heterogeneous):
    """CSH: variances per visit and one common correlation."""

    name = StructureName.CSH

    @property
    def n_corr(self) -> int:
        return 1 if self.k > 1 else 0

    def start(self) -> np.ndarray:
        out = np.zeros(self.n_theta)
        if self.k > 1:
            out[-1] = cs_theta(0.0, self.k)
        return out

    def _corr(self, tc: np.ndarray) -> np.ndarray:
        rho = cs_rho(tc[0], self.k) if self.k > 1 else 0.0
        return (1.0 - rho) * np.eye(self.k) + rho * np.ones((self.k, self.k))

    def _corr_natural(self, tc: np.ndarray) -> list[complex]:
        return [cs_rho(tc[0], self.k)] if self.k > 1 else []

    def _corr_from_natural(self, cn: np.ndarray) -> np.ndarray:
        rho = cn[0] if self.k > 1 else 0.0
        return (1.0 - rho) * np.eye(self.k) + rho * np.ones((self.k, self.k))

    def _corr_labels(self) -> tuple[str, ...]:
        return ("CSH",) if self.k > 1 else ()


class HeteroAutoRegressive(_Heterogeneous):
    """ARH(1): variances per visit, correlation rho^|i-j| by position."""

    name = StructureName.ARH1

    @property
    def n_corr(self) -> int:
        return 1

    def _corr(self, tc: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.tanh(tc[0]) ** lag_matrix(self.k)
        return out

    def _corr_natural(self, tc: np.ndarray) -> list[complex]:
        return [np.tanh(tc[0])]

    def _corr_from_natural(self, cn: np.ndarray) -> np.ndarray:
        out: np.ndarray = cn[0] ** lag_matrix(self.k)
        return out

    def _corr_labels(self) -> tuple[str, ...]:
        return ("ARH(1)",)


class Diagonal(_Heterogeneous):
    """UN(1): independent visits, one variance per visit (nlme: varIdent alone)."""

    name = StructureName.DIAG

    def _corr(self, tc: np.ndarray) -> np.ndarray:
        return np.eye(self.k)

    def _corr_from_natural(self, cn: np.ndarray) -> np.ndarray:
        return np.eye(self.k, dtype=np.asarray(cn).dtype if len(cn) else float)

    def labels(self) -> tuple[str, ...]:
        return tuple(f"UN({j + 1},{j + 1})" for j in range(self.k))


class AnteDependence(_Heterogeneous):
    """ANTE(1): variances per visit; corr(i, j) = product of the lag-one correlations rho_i .. rho_(j-1)."""

    name = StructureName.ANTE1

    @property
    def n_corr(self) -> int:
        return self.k - 1

    def _corr(self, tc: np.ndarray) -> np.ndarray:
        return ante_chain(self.k, [np.tanh(t) for t in tc])

    def _corr_natural(self, tc: np.ndarray) -> list[complex]:
        return [np.tanh(t) for t in tc]

    def _corr_from_natural(self, cn: np.ndarray) -> np.ndarray:
        return ante_chain(self.k, list(cn))

    def _corr_labels(self) -> tuple[str, ...]:
        return tuple(f"Rho({j + 1})" for j in range(self.k - 1))


class HeteroToeplitz(_Heterogeneous):
    """TOEPH: variances per visit, one correlation per lag (partial autocorrelations as parameters)."""

    name = StructureName.TOEPH

    @property
    def n_corr(self) -> int:
        return self.k - 1

    def _acf(self, tc: np.ndarray) -> list[complex]:
        return [1.0] + levinson([np.tanh(t) for t in tc])

    def _toeplitz(self, acf: Sequence[complex]) -> np.ndarray:
        D = lag_matrix(self.k)
        out = np.zeros((self.k, self.k), dtype=np.result_type(*acf, float))
        for i in range(self.k):
            for j in range(self.k):
                out[i, j] = acf[D[i, j]]
        return out

    def _corr(self, tc: np.ndarray) -> np.ndarray:
        return self._toeplitz(self._acf(tc))

    def _corr_natural(self, tc: np.ndarray) -> list[complex]:
        return self._acf(tc)[1:]

    def _corr_from_natural(self, cn: np.ndarray) -> np.ndarray:
        return self._toeplitz([1.0] + list(cn))

    def _corr_labels(self) -> tuple[str, ...]:
        return tuple(f"TOEPH({h})" for h in range(1, self.k))


class HomogeneousAnteDependence(Structure):
    """mmrm's ``ad``: one variance, corr(i, j) the product of the lag-one correlations (SAS has no such TYPE=).

    Parameters: ``Rho(1)`` .. ``Rho(k-1)`` (theta = atanh) and ``Residual``.
    """

    name = StructureName.AD

    @property
    def n_theta(self) -> int:
        return self.k - 1

    def relative(self, theta: np.ndarray) -> np.ndarray:
        return ante_chain(self.k, [np.tanh(t) for t in theta])

    def labels(self) -> tuple[str, ...]:
        return tuple(f"Rho({j + 1})" for j in range(self.k - 1)) + ("Residual",)

    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        return np.array([np.tanh(t) for t in theta] + [scale])

    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        out: np.ndarray = nat[-1] * ante_chain(self.k, list(nat[:-1]))
        return out

    def correlation_labels(self) -> tuple[int, ...]:
        return tuple(range(self.k - 1))
