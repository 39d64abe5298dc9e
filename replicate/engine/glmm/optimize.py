"""Optimizing the GLMM deviance in glmer's two stages (lme4's ``optimizeGlmer`` twice).

1. ``nAGQ = 0``: theta alone, beta (and u) from PIRLS at each theta; bounded L-BFGS-B. Its optimum gives the
   starting values of stage 2.
2. ``nAGQ >= 1``: theta and beta together (u from PIRLS at each point), bounded L-BFGS-B, then projected Newton
   steps on the Hessian (the Hessian lme4 also computes at the end, for the standard errors and the
   convergence check). A diagonal element of theta at 0 whose gradient points outward stays there.

The gradient is exact (:mod:`.laplace_gradient`) for the Laplace deviance with a canonical link, and the Hessian
then differences it (2 gradients per parameter); otherwise both are central differences of the deviance, as
lme4's ``deriv12``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, minimize

from ...errors import FitError
from .derivatives import gradient, hessian, hessian_of_gradient
from .deviance import GlmmDeviance
from .families import Vector
from .laplace_gradient import has_exact_gradient, laplace_gradient, mode_jacobian
from .pirls import Matrix

NEWTON_STEPS = 8
REUSE_BELOW = 1e-7  # a Newton step smaller than this keeps the Hessian it was taken with
RESTARTS = 3
PROBES = (0.05, 0.2, 0.5, 1.0)  # theta values tried inside a boundary


@dataclass(frozen=True)
class GlmmOptimum:
    """Where the optimizer stopped.

    Attributes:
        params: ``(theta, beta)`` at the optimum (lme4's ``c(theta, beta)``).
        value: the deviance there.
        gradient, hessian: central-difference derivatives there (for the SEs and the convergence check).
        stage0: theta and value at the ``nAGQ = 0`` optimum.
        evaluations: deviance evaluations in both stages (derivatives included).
        converged: both stages reported success.
        message: the optimizers' messages.
    """

    params: Vector
    value: float
    gradient: Vector
    hessian: Matrix
    stage0: tuple[Vector, float]
    evaluations: int
    converged: bool
    message: str


class _Counted:
    """One stage's objective, counting evaluations; with its exact gradient where there is one."""

    def __init__(self, dev: GlmmDeviance, joint: bool) -> None:
        self.dev, self.joint, self.count = dev, joint, 0
        self.exact = has_exact_gradient(dev)

    def __call__(self, x: Vector) -> float:
        self.count += 1
        try:
            return self.dev(x) if self.joint else self.dev.profiled(x)
        except FitError:  # PIRLS broke down far from the optimum (overflowing means): a step too far
            return float("inf")

    def with_gradient(self, x: Vector) -> tuple[float, Vector]:
        """The objective and its gradient (exact, or central differences)."""
        if not self.exact:
            return self(x), gradient(self, x)
        self.count += 1
        try:
            if self.joint:
                theta, beta = self.dev.split(x)
                return laplace_gradient(self.dev, theta, beta)
            return laplace_gradient(self.dev, x, None)
        except FitError:
            return float("inf"), np.zeros(x.size)

    def derivatives(self, x: Vector) -> tuple[Vector, Matrix]:
        """Gradient and Hessian at ``x`` (the Newton steps' and the SEs'; stage 2 only). With the exact gradient,
        PIRLS at each shifted point starts from the mode's first-order extrapolation, a step or two from its own
        mode; a point where PIRLS fails gives NaN, so that the Hessian is not used (the SEs then come from RX)."""
        if not (self.exact and self.joint):
            return hessian(self, x)
        theta, beta = self.dev.split(x)
        try:
            u, J = mode_jacobian(self.dev, theta, beta)
        except FitError:
            u, J = None, None

        def grad(y: Vector) -> Vector:
            if u is not None and J is not None:
                self.dev.warm_start(u + J @ (y - x))
            self.count += 1
            try:
                return laplace_gradient(self.dev, *self.dev.split(y))[1]
            except FitError:
                return np.full(y.size, np.nan)

        return hessian_of_gradient(grad, x)


def _lbfgsb(f: _Counted, x0: Vector, lower: Vector) -> tuple[Vector, bool, str]:
    """Bounded L-BFGS-B to a relative change of 1e-10 in the deviance; the Newton steps that follow polish."""
    res = minimize(
        f.with_gradient,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=Bounds(lower, np.full(lower.size, np.inf)),
        options={"ftol": 1e-10, "gtol": 1e-9, "maxiter": 1000},
    )
    return np.asarray(res.x, dtype=float), bool(res.success), str(res.message)


def _from_edges(f: _Counted, x: Vector, lower: Vector) -> tuple[Vector, bool, str]:
    """lme4's ``restart_edge``: a diagonal element of theta at 0 is a stationary point of the deviance (which is
    even in it), so a quasi-Newton run that lands there stops; probe inside and restart from a lower point."""
    ok, msg = True, ""
    for _ in range(RESTARTS):
        base, best, at = f(x), None, np.flatnonzero(np.isfinite(lower) & (x <= lower))
        for i in at:
            for t in PROBES:
                trial = x.copy()
                trial[i] = t
                value = f(trial)
                if value < base - 1e-10 and (best is None or value < best[0]):
                    best = (value, trial)
        if best is None:
            break
        x, ok, msg = _lbfgsb(f, best[1], lower)
        msg = f"{msg} (restarted from inside the boundary)"
    return x, ok, msg


def _newton(f: _Counted, x: Vector, lower: Vector) -> tuple[Vector, Vector, Matrix]:
    """Projected Newton steps from ``x``; returns the point and the derivatives there."""
    g, H = f.derivatives(x)
    for _ in range(NEWTON_STEPS):
        free = ~((x <= lower) & (g > 0))
        try:
            step = np.zeros(x.size)
            step[free] = -np.linalg.solve(H[np.ix_(free, free)], g[free])
        except np.linalg.LinAlgError:
            break
        f0, t, moved = f(x), 1.0, False
        for _ in range(20):
            trial = np.maximum(x + t * step, lower)
            if f(trial) < f0:
                x, moved = trial, True
                break
            t /= 2
        if not moved:
            break
        if np.max(np.abs(t * step)) < REUSE_BELOW:
            # a step this small changes the Hessian below the precision it is known to: keep it, and take
            # the gradient at the new point (for the convergence check)
            g = f.with_gradient(x)[1]
            break
        g, H = f.derivatives(x)
    return x, g, H


def optimize_glmm(dev: GlmmDeviance, start: Vector | None = None) -> GlmmOptimum:
    """Minimize ``dev`` as glmer does (see the module's docstring).

    Args:
        dev: the deviance.
        start: ``(theta, beta)`` to begin stage 2 from, skipping stage 1 (None: run stage 1).
    """
    layout = dev.random.layout
    f0 = _Counted(dev, joint=False)
    messages = []
    if start is None:
        theta0, _, msg0 = _lbfgsb(f0, layout.initial(), layout.lower_bounds())
        theta0, _, msg_edge = _from_edges(f0, theta0, layout.lower_bounds())
        msg0 = msg_edge or msg0
        messages.append(f"nAGQ=0 stage: {msg0}")
        beta0 = dev.mode(theta0, None).beta
        x0 = np.concatenate([theta0, beta0])
    else:
        x0 = np.asarray(start, dtype=float)
        theta0 = x0[: dev.ntheta]
    value0 = dev.profiled(theta0)
    f1 = _Counted(dev, joint=True)
    lower = dev.lower_bounds()
    x, ok1, msg1 = _lbfgsb(f1, x0, lower)
    x, ok_edge, msg_edge = _from_edges(f1, x, lower)
    ok1, msg1 = (ok_edge, msg_edge) if msg_edge else (ok1, msg1)
    messages.append(f"nAGQ={dev.nagq} stage: {msg1}")
    x, g, H = _newton(f1, x, lower)
    return GlmmOptimum(
        params=x,
        value=dev(x),
        gradient=g,
        hessian=H,
        stage0=(theta0, value0),
        evaluations=f0.count + f1.count,
        # the nAGQ = 0 stage only gives stage 2 its start, as in glmer, whose convergence checks are those of the
        # final optimizer: a line search that ends abnormally there (its objective flat to rounding near theta's
        # optimum) does not make the fit fail; stage 2 and the gradient check decide
        converged=bool(ok1 and np.all(np.isfinite(x))),
        message="; ".join(messages),
    )
