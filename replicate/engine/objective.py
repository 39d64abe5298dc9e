"""The profiled deviance as the optimizer sees it: call counting, the best point seen, derivatives.

:class:`Objective` wraps theta -> deviance (and the analytic gradient where there is one) for every
stage of :mod:`.optimize`; its finite-difference gradient and Hessian feed the Newton polish.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .arrays import Floats


def noise(f: float) -> float:
    """Rounding noise of a deviance value (a few units in its last digits)."""
    return 1e-14 * max(1.0, abs(f))


def steps(x: Floats) -> Floats:
    return 1e-4 * np.maximum(np.abs(x), 0.1)


class Objective:
    """The deviance with call counting, an optional analytic gradient and memory
    of the best point seen.

    Args:
        fun: theta -> deviance.
        value_and_gradient: theta -> (deviance, gradient), or None.
    """

    def __init__(
        self,
        fun: Callable[[Floats], float],
        value_and_gradient: Callable[[Floats], tuple[float, Floats]] | None = None,
    ) -> None:
        self.fun = fun
        self.fg = value_and_gradient
        self.calls = 0
        self.best_f = np.inf
        self.best_x: Floats | None = None

    def _seen(self, x: Floats, f: float) -> None:
        self.calls += 1
        if f < self.best_f:
            self.best_f, self.best_x = f, np.array(x, dtype=float)

    def __call__(self, x: Floats) -> float:
        x = np.asarray(x, dtype=float)
        f = float(self.fun(x))
        self._seen(x, f)
        return f

    def value_and_gradient(self, x: Floats) -> tuple[float, Floats]:
        """Deviance and analytic gradient (requires ``value_and_gradient``)."""
        if self.fg is None:
            raise TypeError("this objective has no analytic gradient (value_and_gradient was not given)")
        x = np.asarray(x, dtype=float)
        f, g = self.fg(x)
        self._seen(x, float(f))
        return float(f), np.asarray(g, dtype=float)

    def gradient(self, x: Floats) -> Floats:
        """Analytic gradient if available, else central differences (2 d calls)."""
        if self.fg is not None:
            return self.value_and_gradient(x)[1]
        h = steps(x)
        g = np.empty_like(x)
        for i in range(len(x)):
            e = np.zeros_like(x)
            e[i] = h[i]
            g[i] = (self(x + e) - self(x - e)) / (2 * h[i])
        return g

    def derivatives(self, x: Floats, f0: float) -> tuple[Floats, Floats]:
        """Gradient and Hessian at ``x`` (value ``f0``).

        With the analytic gradient: forward differences of it (``d + 1``
        calls). Without: central differences for the gradient and the Hessian
        diagonal, forward ones for the mixed partials (``2 d + d (d - 1) / 2``
        calls); the mixed partials are only first-order accurate, which slows
        the Newton iteration a little but does not move its fixed point.
        """
        d = len(x)
        h = steps(x)
        if self.fg is not None:
            g = self.value_and_gradient(x)[1]
            hess = np.empty((d, d))
            for i in range(d):
                e = np.zeros(d)
                e[i] = h[i]
                hess[:, i] = (self.value_and_gradient(x + e)[1] - g) / h[i]
            return g, 0.5 * (hess + hess.T)
        g = np.empty(d)
        hess = np.empty((d, d))
        fp = np.empty(d)
        for i in range(d):
            e = np.zeros(d)
            e[i] = h[i]
            fp[i], fm = self(x + e), self(x - e)
            g[i] = (fp[i] - fm) / (2 * h[i])
            hess[i, i] = (fp[i] - 2 * f0 + fm) / h[i] ** 2
        for i in range(d):
            for j in range(i):
                e = np.zeros(d)
                e[i], e[j] = h[i], h[j]
                hess[i, j] = hess[j, i] = (self(x + e) - fp[i] - fp[j] + f0) / (h[i] * h[j])
        return g, hess
