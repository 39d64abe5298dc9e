"""Penalized iteratively reweighted least squares (PIRLS): the conditional modes given theta (and beta).

lme4's ``pwrssUpdate``: minimize the penalized deviance ``sum dev.resids(y, mu, wt) + ||u||^2`` over the
spherical random effects ``u`` (beta fixed: the ``nAGQ >= 1`` stages) or over ``u`` and ``beta`` together (the
``nAGQ = 0`` stage), where ``mu = linkinv(offset + X beta + Z Lambda u)``. Each iteration solves the weighted
least-squares problem of Fisher scoring, with R's working weights ``wt mu_eta^2 / V(mu)``, and halves the step
until the penalized deviance decreases. The Cholesky factor ``L`` (``L L' = Lambda'Z'W Z Lambda + I``) at the
mode, with the weights at the mode, gives ``ldL2 = log det(L)^2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

from ...errors import FitError
from .families import Vector
from .pirls_system import PirlsSystem
from .response import GlmmResponse

Matrix = NDArray[np.float64]
#: ``Z Lambda``: sparse from :mod:`.randompart`, dense where a caller builds it by hand.
SparseOrDense = Any

TOL = 1e-11  # relative change of the penalized deviance (lme4's tolPwrss is 1e-7; tighter, for exact Hessians)
MAXIT = 500
STEP_TOL = 1e-10  # largest change of u or beta in the last step
MAX_HALVINGS = 40
#: A last PIRLS step below this keeps the system it was solved with as the mode's (its weights are those of a
#: point 1e-12 away: a change below the deviance's own rounding).
REUSE_STEP = 1e-12


@dataclass(frozen=True)
class Mode:
    """The PIRLS solution.

    Attributes:
        u: spherical conditional modes.
        beta: fixed effects (given, or estimated with ``u`` in the joint stage).
        eta, mu: linear predictor (offset included) and mean at the mode.
        weights: the working weights at the mode.
        system: ``Lambda'Z'W Z Lambda + I`` at the mode, eliminated (:class:`.pirls_system.PirlsSystem`); its
            Cholesky factor ``L`` is :attr:`chol`, made when asked.
        ldl2: ``log det(L)^2``.
        pdev: the penalized deviance at the mode.
        iterations: PIRLS iterations.
    """

    u: Vector
    beta: Vector
    eta: Vector
    mu: Vector
    weights: Vector
    system: PirlsSystem
    ldl2: float
    pdev: float
    iterations: int

    @cached_property
    def chol(self) -> Matrix:
        """The lower Cholesky factor ``L`` of ``Lambda'Z'W Z Lambda + I`` (dense, q x q)."""
        return self.system.chol_u()

    def laplace(self, resp: GlmmResponse) -> float:
        """lme4's Laplace deviance at this mode: ``-2 sum log f(y | u) + ||u||^2 + log det(L)^2``."""
        return resp.minus2_loglik(self.mu) + float(self.u @ self.u) + self.ldl2


def _pdev(resp: GlmmResponse, eta: Vector, u: Vector) -> tuple[float, Vector]:
    fam = resp.family
    mu = fam.link.inverse(eta)
    return resp.deviance(mu) + float(u @ u), mu


def _working(resp: GlmmResponse, eta: Vector, mu: Vector) -> tuple[Vector, Vector]:
    """Working weights and working residuals ``(y - mu) / mu_eta``."""
    fam = resp.family
    me = fam.link.mu_eta(eta)
    w: Vector = resp.wt * me**2 / fam.variance(mu)
    r: Vector = (resp.y - mu) / me
    return w, r


def _solve_step(
    A: SparseOrDense, X: Matrix, w: Vector, target: Vector, diagonal: slice | None = None
) -> tuple[Vector, Vector, PirlsSystem]:
    """The penalized weighted least-squares solution ``(u, beta)`` for the working response ``target``, and
    the system it solved."""
    try:
        system = PirlsSystem(A, X, w, diagonal)
        u, b = system.solve(np.asarray(A.T @ (w * target)).ravel(), X.T @ (w * target))
        return u, b, system
    except (np.linalg.LinAlgError, linalg.LinAlgError) as exc:
        raise FitError(
            "the PIRLS system is singular", hint="the fixed-effects model matrix may be rank deficient"
        ) from exc


def pirls(
    resp: GlmmResponse,
    A: SparseOrDense,
    X: Matrix,
    beta: Vector | None,
    u0: Vector | None = None,
    diagonal: slice | None = None,
    b0: Vector | None = None,
) -> Mode:
    """The conditional modes at ``Z Lambda = A``.

    Args:
        resp: the response.
        A: ``Z Lambda(theta)``, n x q.
        X: the fixed-effects model matrix.
        beta: fixed effects held fixed, or None to estimate them with ``u`` (lme4's ``nAGQ = 0``).
        u0: starting value of ``u`` (default 0).
        diagonal: columns of ``u`` whose block of the system is diagonal (eliminated first; see :func:`solve_spd`).
        b0: with ``u0``, where the joint stage starts (a nearby joint mode); without it, that stage begins at R's
            starting means.
    """
    q = A.shape[1]
    joint = beta is None
    Xf = X if joint else np.zeros((X.shape[0], 0))
    base = resp.offset + (X @ beta if beta is not None else 0.0)
    u = np.zeros(q) if u0 is None else np.asarray(u0, dtype=float).copy()
    b = np.zeros(Xf.shape[1])  # the free fixed effects (none when beta is given)
    if joint and u0 is not None and b0 is not None and b0.size == Xf.shape[1]:
        b = np.asarray(b0, dtype=float).copy()
    elif joint:  # the first step from R's starting means, as glm.fit begins
        mu = resp.family.start_mean(resp.y, resp.wt)
        eta = resp.family.link.link(mu)
        w, r = _working(resp, eta, mu)
        u, b, _ = _solve_step(A, Xf, w, eta - resp.offset + r, diagonal)
    eta = base + A @ u + Xf @ b
    pdev, mu = _pdev(resp, eta, u)
    it = 0
    for it in range(1, MAXIT + 1):
        w, r = _working(resp, eta, mu)
        u_new, b_new, system = _solve_step(A, Xf, w, eta - base + r, diagonal)
        du, db = u_new - u, b_new - b
        step = 1.0
        for _ in range(MAX_HALVINGS):
            u_try, b_try = u + step * du, b + step * db
            eta_try = base + A @ u_try + Xf @ b_try
            pdev_try, mu_try = _pdev(resp, eta_try, u_try)
            if np.isfinite(pdev_try) and pdev_try <= pdev + 1e-12 * (1 + abs(pdev)):
                break
            step /= 2
        else:
            small = 0.0
            break  # no decrease along the Newton direction: at the mode to machine precision
        change = pdev - pdev_try
        u, b, eta, mu, pdev = u_try, b_try, eta_try, mu_try, pdev_try
        small = max(np.max(np.abs(step * du), initial=0.0), np.max(np.abs(step * db), initial=0.0))
        if small < STEP_TOL or (change <= TOL * (1 + abs(pdev)) and small < 1e-3 * STEP_TOL):
            break
    else:
        raise FitError(f"PIRLS did not converge in {MAXIT} iterations", hint="the model may be too complex")
    reuse = not joint and small <= REUSE_STEP  # the last step's system is the mode's (its weights moved < 1e-12)
    if not reuse:
        w, _ = _working(resp, eta, mu)
    try:
        if not reuse:
            system = PirlsSystem(A, np.zeros((A.shape[0], 0)), w, diagonal)
        ldl2 = system.logdet_u()
    except (np.linalg.LinAlgError, linalg.LinAlgError) as exc:
        raise FitError("the PIRLS system is not positive definite at the mode", hint="the means overflowed") from exc
    return Mode(u, b if beta is None else np.asarray(beta, dtype=float), eta, mu, w, system, ldl2, pdev, it)
