"""The GLMM deviance functions (lme4's ``mkGlmerDevfun`` and ``updateGlmerDevfun``).

Two objectives, as glmer optimizes them in turn:

* ``profiled(theta)``: PIRLS over ``u`` and ``beta`` together, then the Laplace formula at that mode
  (lme4's ``nAGQ = 0`` stage, which gives the starting values of the next);
* ``__call__(theta, beta)``: PIRLS over ``u`` with ``beta`` fixed, then the Laplace deviance (``nagq = 1``) or
  adaptive Gauss-Hermite quadrature (``nagq > 1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import linalg

from ...errors import FitError, ModelError
from .families import Vector
from .observed import is_canonical, observed_weights
from .pirls import Matrix, Mode, pirls
from .pirls_system import PirlsSystem
from .quadrature import agq_deviance, gh_rule
from .randompart import RandomPart
from .response import GlmmResponse


@dataclass
class GlmmDeviance:
    """The deviance of a GLMM as a function of theta and beta.

    Attributes:
        resp: the response.
        X: the fixed-effects model matrix.
        random: the random-effect terms.
        nagq: quadrature nodes (1: Laplace).
        information: the Laplace determinant's weights: ``expected`` (lme4's working weights) or ``observed``
            (glmmTMB's and GLIMMIX's; :mod:`.observed`); the same for a canonical link.
    """

    resp: GlmmResponse
    X: Matrix
    random: RandomPart
    nagq: int = 1
    information: str = "expected"
    _u: Vector | None = field(default=None, repr=False)
    _b: Vector | None = field(default=None, repr=False)
    _diagonal: slice | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        gh_rule(self.nagq)
        if self.information not in ("expected", "observed") or (self.information == "observed" and self.nagq > 1):
            raise ModelError(
                f"information {self.information!r} with nagq = {self.nagq}",
                field="information",
                hint="the Laplace approximation (nagq = 1) takes 'expected' (lme4) or 'observed' (glmmTMB, GLIMMIX)",
            )
        self._diagonal = self.random.diagonal_block()
        if self.nagq > 1 and not self.random.single_scalar_term():
            raise ModelError(
                f"nagq = {self.nagq} needs a single scalar random-effect term, (1 | g)",
                field="nagq",
                hint="adaptive quadrature is restricted to one scalar term, as in lme4; use nagq = 1 (Laplace)",
            )

    @property
    def ntheta(self) -> int:
        return self.random.layout.size

    @property
    def p(self) -> int:
        return int(self.X.shape[1])

    def split(self, params: Vector) -> tuple[Vector, Vector]:
        """``(theta, beta)`` from the joint parameter vector (theta first, as lme4's ``c(theta, beta)``)."""
        params = np.asarray(params, dtype=float)
        return params[: self.ntheta], params[self.ntheta :]

    def mode(self, theta: Vector, beta: Vector | None) -> Mode:
        """PIRLS at theta (and beta, or over beta too when None), warm-started from the last mode."""
        A = self.random.z_lambda_rows(theta)
        try:
            m = pirls(self.resp, A, self.X, beta, self._u, self._diagonal, self._b if beta is None else None)
        except (FitError, np.linalg.LinAlgError):  # a bad warm start: from 0 again
            m = pirls(self.resp, A, self.X, beta, None, self._diagonal)
        self._u = m.u
        if beta is None:
            self._b = m.beta
        return m

    def warm_start(self, u: Vector) -> None:
        """Start the next PIRLS from ``u`` (a prediction of its mode) instead of the last mode."""
        self._u = np.asarray(u, dtype=float)

    def profiled(self, theta: Vector) -> float:
        """The ``nAGQ = 0`` objective: the Laplace formula at the joint mode of ``u`` and ``beta``."""
        return self.mode(theta, None).laplace(self.resp)

    def at(self, theta: Vector, beta: Vector) -> float:
        """The deviance (Laplace or AGQ) at ``theta`` and ``beta``."""
        m = self.mode(theta, beta)
        if self.nagq == 1:
            if self.information == "observed" and not is_canonical(self.resp.family):
                return m.laplace(self.resp) - m.ldl2 + self._observed_logdet(theta, m)
            return m.laplace(self.resp)
        A = self.random.z_lambda(theta)
        return agq_deviance(self.resp, A, self.random.index[0], m, self.nagq)

    def determinant_system(self, theta: Vector, m: Mode) -> PirlsSystem:
        """The system whose ``log det`` the Laplace deviance takes at the mode ``m``: PIRLS's (expected weights),
        or with the observed information's weights (:mod:`.observed`) for a non-canonical link.

        Raises:
            numpy.linalg.LinAlgError, scipy.linalg.LinAlgError: not positive definite.
        """
        if self.information != "observed" or is_canonical(self.resp.family):
            return m.system
        resp = self.resp
        w = observed_weights(resp.family, resp.y, resp.wt, m.eta)
        return PirlsSystem(self.random.z_lambda_rows(theta), np.zeros((resp.nobs, 0)), w, self._diagonal)

    def _observed_logdet(self, theta: Vector, m: Mode) -> float:
        """``log det(Lambda'Z'W_obs Z Lambda + I)`` at the mode (inf where it is not positive definite)."""
        try:
            return self.determinant_system(theta, m).logdet_u()
        except (np.linalg.LinAlgError, linalg.LinAlgError):
            return float("inf")

    def __call__(self, params: Vector) -> float:
        theta, beta = self.split(params)
        return self.at(theta, beta)

    def lower_bounds(self) -> Vector:
        """0 for theta's diagonal elements, -inf for the rest and for beta."""
        return np.concatenate([self.random.layout.lower_bounds(), np.full(self.p, -np.inf)])
