"""Finite-difference gradient and Hessian of the GLMM deviance (as lme4's ``deriv12`` at the optimum).

Central differences throughout: the deviance is defined for negative diagonal elements of theta too (a
scalar term's sign only flips ``u``), so central differences are valid at the bound as lme4 takes them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .families import Vector
from .pirls import Matrix

GRAD_STEP = 1e-6
HESS_STEP = 1e-4  # lme4's deriv12 delta


def _steps(x: Vector, rel: float) -> Vector:
    out: Vector = rel * np.maximum(1.0, np.abs(x))
    return out


def gradient(f: Callable[[Vector], float], x: Vector, step: float = GRAD_STEP) -> Vector:
    """Central-difference gradient of ``f`` at ``x``."""
    h = _steps(x, step)
    g = np.empty(x.size)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h[i]
        g[i] = (f(x + e) - f(x - e)) / (2 * h[i])
    return g


def hessian(f: Callable[[Vector], float], x: Vector, step: float = HESS_STEP) -> tuple[Vector, Matrix]:
    """Central-difference gradient and Hessian of ``f`` at ``x`` (from the same evaluations, as deriv12)."""
    n = x.size
    h = _steps(x, step)
    f0 = f(x)
    g = np.empty(n)
    H = np.empty((n, n))
    plus, minus = np.empty(n), np.empty(n)
    for i in range(n):
        e = np.zeros(n)
        e[i] = h[i]
        plus[i], minus[i] = f(x + e), f(x - e)
        g[i] = (plus[i] - minus[i]) / (2 * h[i])
        H[i, i] = (plus[i] - 2 * f0 + minus[i]) / h[i] ** 2
    for i in range(n):
        for j in range(i):
            ei, ej = np.zeros(n), np.zeros(n)
            ei[i], ej[j] = h[i], h[j]
            val = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
            H[i, j] = H[j, i] = val
    return g, H


def scaled_gradient(g: Vector, H: Matrix) -> Vector | None:
    """lme4's ``check.conv.grad`` statistic: ``solve(chol(H), g)`` (None when H is not positive definite)."""
    try:
        R = np.linalg.cholesky(H).T
    except np.linalg.LinAlgError:
        return None
    out: Vector = np.linalg.solve(R, g)
    return out


def hessian_of_gradient(grad: Callable[[Vector], Vector], x: Vector, step: float = HESS_STEP) -> tuple[Vector, Matrix]:
    """The gradient at ``x`` and the Hessian from central differences of an exact gradient (symmetrized)."""
    n = x.size
    h = _steps(x, step)
    H = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h[i]
        H[:, i] = (grad(x + e) - grad(x - e)) / (2 * h[i])
    return grad(x), (H + H.T) / 2
