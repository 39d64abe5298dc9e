"""Residual covariance structures within a subject, indexed by visit position (SAS REPEATED TYPE=).

Each structure maps an unconstrained parameter vector ``theta`` to a *relative* covariance matrix
over all ``k`` visits; the fit multiplies it by a common scale that is profiled out (as nlme does
for ``gls``), so ``theta`` never holds that scale. For the reported parameters the structure turns
``(theta, scale)`` into SAS's natural-scale covariance parameters (with SAS's labels, in SAS's
order) and back from those to the covariance matrix, which is what the observed-information
standard errors differentiate.

The relative matrices are written with arithmetic only (no ``abs``, ``conj`` or ``real``), so that
a complex step through them gives exact derivatives (see :mod:`.criterion`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from ...rside_names import StructureName
from .complexstep import complex_jacobian


def lag_matrix(k: int) -> np.ndarray:
    """|i - j| for visit positions i, j (integers)."""
    i = np.arange(k)
    out: np.ndarray = np.abs(i[:, None] - i[None, :])
    return out


def cs_rho(t: complex, k: int) -> complex:
    """A correlation in (-1/(k-1), 1), so that compound symmetry over k visits is positive definite."""
    a = 1.0 / (k - 1) if k > 1 else 1.0
    e = np.exp(t)
    rho: complex = (e - a) / (e + 1.0)
    return rho


def cs_theta(rho: float, k: int) -> float:
    """Inverse of :func:`cs_rho`."""
    a = 1.0 / (k - 1) if k > 1 else 1.0
    return float(np.log((rho + a) / (1.0 - rho)))


def rel_sd(theta_log: np.ndarray) -> np.ndarray:
    """Standard deviations relative to the first visit's: (1, exp(theta_log))."""
    return np.concatenate(
        [np.ones(1, dtype=np.asarray(theta_log).dtype if len(theta_log) else float), np.exp(theta_log)]
    )


class Structure(ABC):
    """One covariance structure over ``k`` visits (positions 0 .. k-1)."""

    name: StructureName

    def __init__(self, k: int) -> None:
        if k < 1:
            raise ValueError("a residual structure needs at least one visit")
        self.k = int(k)

    @property
    @abstractmethod
    def n_theta(self) -> int:
        """Number of optimizer parameters (the profiled scale not counted)."""

    @abstractmethod
    def relative(self, theta: np.ndarray) -> np.ndarray:
        """k x k covariance divided by the profiled scale."""

    @abstractmethod
    def labels(self) -> tuple[str, ...]:
        """SAS's "Cov Parm" labels, in SAS's order."""

    @abstractmethod
    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        """SAS's natural-scale parameters (in :meth:`labels` order) of ``scale * relative(theta)``."""

    @abstractmethod
    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        """k x k covariance from natural-scale parameters."""

    #: True where :meth:`from_natural` is linear in the natural parameters (its Jacobian is constant).
    natural_linear = False

    def start(self) -> np.ndarray:
        """Starting values: independence with equal variances."""
        return np.zeros(self.n_theta)

    def start_from(self, cov: np.ndarray) -> np.ndarray:
        """Starting values near the k x k covariance ``cov`` (of OLS residuals); :meth:`start` by default."""
        return self.start()

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """d relative(theta) / d theta: k x k x n_theta (complex step unless a structure knows better)."""
        return complex_jacobian(self.relative, theta)

    def natural_jacobian(self, nat: np.ndarray) -> np.ndarray:
        """d from_natural(nat) / d nat: k x k x n_natural."""
        return complex_jacobian(self.from_natural, nat)

    @property
    def n_natural(self) -> int:
        return len(self.labels())

    def variance_labels(self) -> tuple[int, ...]:
        """Positions in :meth:`labels` of parameters that are variances (bounded below by 0)."""
        return tuple(
            i for i, lab in enumerate(self.labels()) if lab == "Residual" or lab.startswith("Var(") or _is_un_diag(lab)
        )

    def correlation_labels(self) -> tuple[int, ...]:
        """Positions in :meth:`labels` of parameters that are correlations (bounded by -1, 1)."""
        return ()


def _is_un_diag(label: str) -> bool:
    if not label.startswith("UN("):
        return False
    i, j = label[3:-1].split(",")
    return i == j


class Unstructured(Structure):
    """UN: every variance and covariance free; theta is a Cholesky factor with L[0,0] = 1, log diagonal."""

    name = StructureName.UN
    natural_linear = True

    @property
    def n_theta(self) -> int:
        return self.k * (self.k + 1) // 2 - 1

    def _cholesky(self, theta: np.ndarray) -> np.ndarray:
        k = self.k
        L = np.zeros((k, k), dtype=np.result_type(theta, float))
        L[0, 0] = 1.0
        pos = 0
        for i in range(1, k):
            for j in range(i + 1):
                L[i, j] = np.exp(theta[pos]) if i == j else theta[pos]
                pos += 1
        return L

    def relative(self, theta: np.ndarray) -> np.ndarray:
        L = self._cholesky(theta)
        out: np.ndarray = L @ L.T
        return out

    def start_from(self, cov: np.ndarray) -> np.ndarray:
        try:
            L = np.linalg.cholesky(cov / cov[0, 0])
        except np.linalg.LinAlgError:
            return self.start()
        rows, cols = np.tril_indices(self.k)
        vals = [np.log(L[i, j]) if i == j else L[i, j] for i, j in zip(rows[1:], cols[1:])]
        return np.array(vals)

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """dC = dL L' + L dL', one lower-triangular entry of L at a time."""
        theta = np.asarray(theta, dtype=float)
        k = self.k
        L = self._cholesky(theta)
        rows, cols = np.tril_indices(k)
        rows, cols = rows[1:], cols[1:]  # L[0, 0] is fixed at 1
        J = np.zeros((k, k, len(rows)))
        for t, (i, j) in enumerate(zip(rows, cols)):
            d = np.exp(theta[t]) if i == j else 1.0
            # C[a, b] = sum_c L[a, c] L[b, c]: entry (i, j) of L enters row/column i
            J[i, :, t] += d * L[:, j]
            J[:, i, t] += d * L[:, j]
        return J

    def labels(self) -> tuple[str, ...]:
        return tuple(f"UN({i + 1},{j + 1})" for i in range(self.k) for j in range(i + 1))

    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        V = scale * self.relative(theta)
        return np.array([V[i, j] for i in range(self.k) for j in range(i + 1)])

    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        k = self.k
        V = np.zeros((k, k), dtype=np.asarray(nat).dtype)
        pos = 0
        for i in range(k):
            for j in range(i + 1):
                V[i, j] = V[j, i] = nat[pos]
                pos += 1
        return V


class CompoundSymmetry(Structure):
    """CS: V = Residual * I + CS * J (SAS's parameters CS and Residual)."""

    name = StructureName.CS
    natural_linear = True

    @property
    def n_theta(self) -> int:
        return 1 if self.k > 1 else 0

    def start(self) -> np.ndarray:
        return np.full(self.n_theta, cs_theta(0.0, self.k)) if self.k > 1 else np.zeros(0)

    def _rho(self, theta: np.ndarray) -> complex:
        return cs_rho(theta[0], self.k) if self.k > 1 else 0.0

    def relative(self, theta: np.ndarray) -> np.ndarray:
        rho = self._rho(theta)
        return (1.0 - rho) * np.eye(self.k) + rho * np.ones((self.k, self.k))

    def labels(self) -> tuple[str, ...]:
        return ("CS", "Residual")

    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        rho = self._rho(theta)
        return np.array([scale * rho, scale * (1.0 - rho)])

    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        out: np.ndarray = nat[1] * np.eye(self.k) + nat[0] * np.ones((self.k, self.k))
        return out


class AutoRegressive(Structure):
    """AR(1) by visit position: V = Residual * rho^|i-j| (SAS's AR(1) and Residual)."""

    name = StructureName.AR1

    @property
    def n_theta(self) -> int:
        return 1

    def relative(self, theta: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.tanh(theta[0]) ** lag_matrix(self.k)
        return out

    def labels(self) -> tuple[str, ...]:
        return ("AR(1)", "Residual")

    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        return np.array([np.tanh(theta[0]), scale])

    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        out: np.ndarray = nat[1] * nat[0] ** lag_matrix(self.k)
        return out

    def correlation_labels(self) -> tuple[int, ...]:
        return (0,)


def levinson(pacf: Sequence[complex]) -> list[complex]:
    """Autocorrelations r_1 .. r_m of the partial autocorrelations pacf_1 .. pacf_m (Durbin-Levinson)."""
    r: list[complex] = [1.0]
    a: list[complex] = []
    for h, phi in enumerate(pacf, start=1):
        num = sum(a[j] * r[h - 1 - j] for j in range(h - 1))
        den = 1.0 - sum(a[j] * r[j + 1] for j in range(h - 1))
        r.append(phi * den + num)
        a = [a[j] - phi * a[h - 2 - j] for j in range(h - 1)] + [phi]
    return r[1:]


class Toeplitz(Structure):
    """TOEP: one covariance per lag; theta are the partial autocorrelations (atanh), so V stays positive definite."""

    name = StructureName.TOEP
    natural_linear = True

    @property
    def n_theta(self) -> int:
        return self.k - 1

    def _acf(self, theta: np.ndarray) -> list[complex]:
        return [1.0] + levinson([np.tanh(t) for t in theta])

    def relative(self, theta: np.ndarray) -> np.ndarray:
        acf = self._acf(theta)
        D = lag_matrix(self.k)
        out = np.zeros((self.k, self.k), dtype=np.result_type(theta, float))
        for i in range(self.k):
            for j in range(self.k):
                out[i, j] = acf[D[i, j]]
        return out

    def labels(self) -> tuple[str, ...]:
        return tuple(f"TOEP({h + 1})" for h in range(1, self.k)) + ("Residual",)

    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        acf = self._acf(theta)
        return np.array([scale * c for c in acf[1:]] + [scale])

    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        cov = np.concatenate([[nat[-1]], nat[:-1]])
        out: np.ndarray = cov[lag_matrix(self.k)]
        return out


class Homogeneous(Structure):
    """VC in a REPEATED statement: independent visits with one variance (SAS's Residual)."""

    name = StructureName.VC
    natural_linear = True

    @property
    def n_theta(self) -> int:
        return 0

    def relative(self, theta: np.ndarray) -> np.ndarray:
        return np.eye(self.k)

    def labels(self) -> tuple[str, ...]:
        return ("Residual",)

    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        return np.array([scale])

    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        out: np.ndarray = nat[0] * np.eye(self.k, dtype=np.asarray(nat).dtype)
        return out
