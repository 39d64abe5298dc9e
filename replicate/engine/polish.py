"""Stage 2 of the optimizer: projected Newton steps from a point near the optimum.

The Hessian comes from finite differences (:meth:`Objective.derivatives`) once and is then updated by
BFGS from new gradients; elements at their bound whose gradient points outward stay there. The
polish converges quadratically, so the first stage may stop early.
"""

from __future__ import annotations

import numpy as np

from .boundary import fixed_at_bound
from .objective import Objective, noise


def newton_step(g: np.ndarray, hess: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Newton step on the free elements, with eigenvalues made positive."""
    step = np.zeros_like(g)
    if not free.any():
        return step
    w, v = np.linalg.eigh(hess[np.ix_(free, free)])
    w = np.maximum(np.abs(w), max(1e-8 * float(np.max(np.abs(w))), 1e-12))
    step[free] = -(v @ ((v.T @ g[free]) / w))
    return step


def newton_polish(
    obj: Objective, x: np.ndarray, f: float, lower: np.ndarray, *, maxiter: int, ftol: float, xtol: float
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, int]:
    """Projected Newton iterations with backtracking, from a point near the optimum.

    The Hessian is estimated once (:meth:`Objective.derivatives`) and then
    updated by BFGS from new gradients.

    Returns:
        The point, its value, the gradient there, the Hessian estimate and the
        number of iterations.
    """
    if obj.fg is not None:
        # The first stage's value may come from the analytic-gradient path, which computes the deviance another
        # way (last digits differ by ~1e-12 relative); the line search compares with the deviance itself.
        f = obj(x)
    g, hess = obj.derivatives(x, f)
    it = 0
    for it in range(1, maxiter + 1):
        step = newton_step(g, hess, ~fixed_at_bound(x, lower, g, hess, f))
        step = np.maximum(x + step, lower) - x
        pred = -(g @ step) - 0.5 * step @ hess @ step
        small = np.max(np.abs(step) / np.maximum(np.abs(x), 1.0), initial=0.0) < xtol
        if small or pred < ftol * max(1.0, abs(f)):
            break
        # Accept within rounding noise: near the optimum a Newton step's gain
        # can be smaller than the deviance's last digits, which on some models
        # (Penicillin) wander by 1e-12 of the deviance between neighbouring thetas.
        tol = 100.0 * noise(f)
        t, improved = 1.0, False
        for _ in range(12):
            xn = x + t * step
            fn = obj(xn)
            if fn <= f + tol:
                improved = True
                break
            t *= 0.5
        if not improved:
            break
        gn = obj.gradient(xn)
        s_, y_ = xn - x, gn - g
        if s_ @ y_ > 1e-12 * np.linalg.norm(s_) * np.linalg.norm(y_):
            hs = hess @ s_
            hess = hess - np.outer(hs, hs) / (s_ @ hs) + np.outer(y_, y_) / (s_ @ y_)
        x, f, g = xn, fn, gn
    return x, f, g, hess, it
