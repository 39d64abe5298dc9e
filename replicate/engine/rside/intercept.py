"""A random intercept per subject beside the residual structure (SAS: RANDOM intercept and REPEATED, same SUBJECT=).

The model ``y = X beta + b_i + e_i`` with ``b_i ~ N(0, tau)`` and ``e_i ~ N(0, R_i)`` has, within a
subject, ``V_i = tau J + R_i``: again a covariance over the subject's visits, so the whole engine
(visit patterns, profiled REML/ML, observed information, Satterthwaite and Kenward-Roger df) applies
unchanged. This is nlme's ``lme(random = ~ 1 | id, correlation = corAR1(form = ~ idx | id))`` and
Diggle's random intercept plus serial correlation. SAS lists the G-side parameter first: the
"Covariance Parameter Estimates" read ``Intercept`` (Subject id), then the residual structure's own.

Only structures that a constant added to every entry does not reproduce can carry it: AR(1),
ARH(1), the spatial ones and TOEP(2) over three visits or more (its covariance beyond lag 1 is the intercept's);
with UN, CS, CSH, TOEP, ... the intercept variance is not identified.
"""

from __future__ import annotations

import numpy as np

from ...errors import ModelError
from ...rside_names import StructureName
from .structures import Structure

IDENTIFIED = (
    StructureName.AR1,
    StructureName.TOEP2,
    StructureName.ARH1,
    StructureName.SP_EXP,
    StructureName.SP_GAU,
    StructureName.SP_POW,
)
START_LOG_RATIO = float(np.log(0.5))


class WithRandomIntercept(Structure):
    """``tau J + base``: theta is the base's, then log(tau / scale); natural parameters ``(tau, base...)``."""

    def __init__(self, base: Structure) -> None:
        if base.name not in IDENTIFIED:
            raise ModelError(
                f"a random intercept beside TYPE={base.name.value} is not identified",
                field="random_intercept",
                hint="with a random intercept use ar1, ar1h, toep2, sp_exp, sp_gau or sp_pow",
            )
        if base.name == StructureName.TOEP2 and base.k < 3:
            raise ModelError(
                "a random intercept beside TYPE=TOEP(2) over two visits is not identified",
                field="random_intercept",
                hint="with two visits TOEP(2) alone already has a free covariance",
            )
        super().__init__(base.k)
        self.base = base
        self.name = base.name
        self.natural_linear = base.natural_linear

    @property
    def n_theta(self) -> int:
        return self.base.n_theta + 1

    def relative(self, theta: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.base.relative(theta[:-1]) + np.exp(theta[-1]) * np.ones((self.k, self.k))
        return out

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        tau = np.exp(theta[-1]) * np.ones((self.k, self.k, 1))
        return np.concatenate([self.base.jacobian(theta[:-1]), tau], axis=2)

    def labels(self) -> tuple[str, ...]:
        return ("Intercept", *self.base.labels())

    def natural(self, theta: np.ndarray, scale: float) -> np.ndarray:
        return np.concatenate([[scale * np.exp(theta[-1])], self.base.natural(theta[:-1], scale)])

    def from_natural(self, nat: np.ndarray) -> np.ndarray:
        out: np.ndarray = nat[0] * np.ones((self.k, self.k)) + self.base.from_natural(nat[1:])
        return out

    def start(self) -> np.ndarray:
        return np.concatenate([self.base.start(), [START_LOG_RATIO]])

    def start_from(self, cov: np.ndarray) -> np.ndarray:
        return np.concatenate([self.base.start_from(cov), [START_LOG_RATIO]])

    def variance_labels(self) -> tuple[int, ...]:
        return (0, *(i + 1 for i in self.base.variance_labels()))

    def correlation_labels(self) -> tuple[int, ...]:
        return tuple(i + 1 for i in self.base.correlation_labels())
