"""Bounded minimization of the profiled deviance over theta.

Stages, recorded in an :class:`~replicate.results.OptSummary`:

1. A bound-respecting search from lme4's starting values (1 on the diagonals,
   0 elsewhere):

   * single-term models, whose deviance has a cheap analytic gradient
     (:mod:`.gradient`): L-BFGS-B on the exact gradient;
   * otherwise derivative-free: SciPy has no BOBYQA; its COBYQA (Ragonneau and
     Zhang's successor to Powell's BOBYQA, a trust-region method on quadratic
     interpolation models) needs few evaluations but costs about a millisecond
     of Python per step, so it is chosen when one deviance evaluation is
     expensive; bounded Powell (conjugate directions, many cheap steps) when
     evaluations are cheap.

2. A polish by projected Newton steps, the Hessian from finite differences
   (of the analytic gradient where there is one, else of the deviance, with
   central differences for the gradient; the profiled deviance is smooth and
   defined for negative diagonal elements too, so central differences are
   valid at the bound), then BFGS updates. Elements at their bound whose
   gradient points outward stay there. The polish converges quadratically, so
   the first stage can stop early; it also gives the final gradient that lme4
   reports as a convergence check.

3. lme4's ``restart_edge``: an element at its bound from which the deviance
   decreases inward (the deviance is even in an isolated diagonal element, so
   its gradient vanishes there and a boundary point can be a saddle) restarts
   stage 1 from inside. Then, as lme4's ``check.boundary``, diagonal elements
   within ``boundary_tol`` of 0 are set to 0 when that does not increase the
   deviance.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import scipy
from scipy.optimize import Bounds, minimize

from ..errors import FitError
from ..results import OptSummary

DEFAULTS: dict[str, float | str | int] = {
    # "auto", "lbfgsb" (needs the analytic gradient), "lbfgsb-fd" (finite-difference
    # gradient), "cobyqa" or "powell"; with suffix "-only" the Newton polish is skipped.
    "method": "auto",
    "maxfev": 100000,
    "xtol": 1e-4,  # first-stage tolerance (the polish does the rest)
    "polish_maxiter": 8,
    "polish_ftol": 0.0,  # stop when the predicted decrease is below this times |f| (0: off)
    "polish_xtol": 1e-8,  # ... or when the step is below this (relative to max(1, |theta|))
    "boundary_tol": 1e-5,
    # Above this estimated time of one evaluation, COBYQA (few calls, ~1 ms of
    # Python each) rather than Powell (about three times as many cheap calls).
    "expensive_eval_seconds": 5e-4,
}

# COBYQA arrived in SciPy 1.14; older SciPy falls back to Powell.
HAVE_COBYQA = tuple(int(v) for v in scipy.__version__.split(".")[:2]) >= (1, 14)

_NAMES = {
    "lbfgsb": "scipy L-BFGS-B (analytic gradient)",
    "lbfgsb-fd": "scipy L-BFGS-B (finite-difference gradient)",
    "cobyqa": "scipy COBYQA",
    "powell": "scipy Powell (bounded)",
}


class Objective:
    """The deviance with call counting, an optional analytic gradient and memory
    of the best point seen.

    Args:
        fun: theta -> deviance.
        value_and_gradient: theta -> (deviance, gradient), or None.
    """

    def __init__(
        self,
        fun: Callable[[np.ndarray], float],
        value_and_gradient: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
    ) -> None:
        self.fun = fun
        self.fg = value_and_gradient
        self.calls = 0
        self.best_f = np.inf
        self.best_x: np.ndarray | None = None

    def _seen(self, x: np.ndarray, f: float) -> None:
        self.calls += 1
        if f < self.best_f:
            self.best_f, self.best_x = f, np.array(x, dtype=float)

    def __call__(self, x: np.ndarray) -> float:
        x = np.asarray(x, dtype=float)
        f = float(self.fun(x))
        self._seen(x, f)
        return f

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Deviance and analytic gradient (requires ``value_and_gradient``)."""
        x = np.asarray(x, dtype=float)
        f, g = self.fg(x)
        self._seen(x, float(f))
        return float(f), np.asarray(g, dtype=float)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Analytic gradient if available, else central differences (2 d calls)."""
        if self.fg is not None:
            return self.value_and_gradient(x)[1]
        h = _steps(x)
        g = np.empty_like(x)
        for i in range(len(x)):
            e = np.zeros_like(x)
            e[i] = h[i]
            g[i] = (self(x + e) - self(x - e)) / (2 * h[i])
        return g

    def derivatives(self, x: np.ndarray, f0: float) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian at ``x`` (value ``f0``).

        With the analytic gradient: forward differences of it (``d + 1``
        calls). Without: central differences for the gradient and the Hessian
        diagonal, forward ones for the mixed partials (``2 d + d (d - 1) / 2``
        calls); the mixed partials are only first-order accurate, which slows
        the Newton iteration a little but does not move its fixed point.
        """
        d = len(x)
        h = _steps(x)
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


def _noise(f: float) -> float:
    """Rounding noise of a deviance value (a few units in its last digits)."""
    return 1e-14 * max(1.0, abs(f))


def _steps(x: np.ndarray) -> np.ndarray:
    return 1e-4 * np.maximum(np.abs(x), 0.1)


def _newton_step(g: np.ndarray, hess: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Newton step on the free elements, with eigenvalues made positive."""
    step = np.zeros_like(g)
    if not free.any():
        return step
    w, v = np.linalg.eigh(hess[np.ix_(free, free)])
    w = np.maximum(np.abs(w), max(1e-8 * float(np.max(np.abs(w))), 1e-12))
    step[free] = -(v @ ((v.T @ g[free]) / w))
    return step


def _gscale(f: float) -> float:
    """Gradient size below which it counts as zero (well above finite-difference noise)."""
    return 1e-8 * max(1.0, abs(f))


def _fixed_at_bound(x: np.ndarray, lower: np.ndarray, g: np.ndarray, hess: np.ndarray, f: float) -> np.ndarray:
    """Elements at their bound that stay there: gradient outward, or zero with
    non-negative curvature."""
    gscale = _gscale(f)
    return (x <= lower) & ((g > gscale) | ((np.abs(g) <= gscale) & (np.diag(hess) >= 0)))


def edge_saddles(x: np.ndarray, lower: np.ndarray, g: np.ndarray, hess: np.ndarray, f: float) -> np.ndarray:
    """Elements at or near their bound from which the deviance decreases inward.

    At the bound: a gradient pointing inward. At or near it (within 1e-3):
    negative curvature, the signature of the saddle that an even function has
    at 0 (an optimizer may stop on it or a hair away from it); the minimum
    along that element then lies further inside.
    """
    curv = np.diag(hess)
    htol = 1e-6 * max(float(np.max(np.abs(curv), initial=0.0)), 1e-12)
    near = np.isfinite(lower) & (x - lower <= 1e-3)
    return near & ((curv < -htol) | ((x <= lower) & (g < -_gscale(f))))


def negative_curvature_direction(x: np.ndarray, lower: np.ndarray, hess: np.ndarray) -> np.ndarray | None:
    """A feasible direction of negative curvature at ``x``, or None.

    :func:`edge_saddles` looks along one element at a time; a point on the
    boundary can also be a saddle along a combination of elements (with a
    correlated random slope whose variances are all 0, the deviance falls
    along (theta_11, theta_21) together while each alone rises). An eigenvector
    of the Hessian with a negative eigenvalue is a direction of descent if it
    can be signed to move every element that sits at its bound inward.
    """
    w, v = np.linalg.eigh(0.5 * (hess + hess.T))
    htol = 1e-6 * max(float(np.max(np.abs(w), initial=0.0)), 1e-12)
    at = np.isfinite(lower) & (x <= lower)
    for k in np.argsort(w):
        if w[k] >= -htol:
            break
        d = v[:, k]
        if np.all(d[at] >= -1e-12):
            return d
        if np.all(d[at] <= 1e-12):
            return -d
    return None


def _probe_along(obj: Objective, x: np.ndarray, f: float, lower: np.ndarray, d: np.ndarray
                 ) -> tuple[np.ndarray, float] | None:
    """The best of a few points along ``d`` from ``x`` (inside the bounds), if lower than ``f``."""
    best: tuple[np.ndarray, float] | None = None
    scale = max(1.0, float(np.max(np.abs(x), initial=0.0)))
    for t in (1e-3, 3e-3, 1e-2, 3e-2, 0.1):
        xp = np.maximum(x + t * scale * d, lower)
        fp = obj(xp)
        if fp < f - 10 * _noise(f) and (best is None or fp < best[1]):
            best = (xp, fp)
    return best


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
    g, hess = obj.derivatives(x, f)
    it = 0
    for it in range(1, maxiter + 1):
        step = _newton_step(g, hess, ~_fixed_at_bound(x, lower, g, hess, f))
        step = np.maximum(x + step, lower) - x
        pred = -(g @ step) - 0.5 * step @ hess @ step
        small = np.max(np.abs(step) / np.maximum(np.abs(x), 1.0), initial=0.0) < xtol
        if small or pred < ftol * max(1.0, abs(f)):
            break
        # Accept within rounding noise: near the optimum a Newton step's gain
        # can be smaller than the deviance's last digits.
        noise = _noise(f)
        t, improved = 1.0, False
        for _ in range(12):
            xn = x + t * step
            fn = obj(xn)
            if fn <= f + noise:
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


def _first_stage(
    obj: Objective, x0: np.ndarray, lower: np.ndarray, method: str, opts: dict
) -> tuple[np.ndarray, float, str, bool]:
    """Bounded search from ``x0`` (L-BFGS-B, COBYQA or Powell).

    Returns the point (clipped to the bounds), its value, the optimizer's
    message and its success flag.
    """
    bounds = Bounds(lower, np.full_like(lower, np.inf))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "lbfgsb":
            res = minimize(
                obj.value_and_gradient,
                x0,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                # The gradient's rounding error grows with the deviance's size;
                # asking for less sends the line search into noise. The polish
                # then converges further.
                options={"ftol": 1e-12, "gtol": 1e-7 * max(1.0, abs(obj(x0))), "maxfun": int(opts["maxfev"])},
            )
        elif method == "lbfgsb-fd":
            # L-BFGS-B on forward differences (d + 1 calls a gradient, one-sided at a bound).
            # The difference steps' rounding noise is about 1e-8 |f| in the gradient, so
            # it stops at a gradient well above that; the polish converges further.
            scale = max(1.0, abs(obj(x0)))
            res = minimize(
                obj,
                x0,
                method="L-BFGS-B",
                bounds=bounds,
                options={"ftol": 1e-12, "gtol": 1e-6 * scale, "eps": 1e-7, "maxfun": int(opts["maxfev"])},
            )
        elif method == "cobyqa":
            res = minimize(
                obj,
                x0,
                method="COBYQA",
                bounds=bounds,
                options={
                    "initial_tr_radius": 0.5,
                    "final_tr_radius": float(opts["xtol"]),
                    "maxfev": int(opts["maxfev"]),
                },
            )
        else:
            res = minimize(
                obj,
                x0,
                method="Powell",
                bounds=bounds,
                options={"xtol": float(opts["xtol"]), "ftol": 1e-10, "maxfev": int(opts["maxfev"])},
            )
    x = np.maximum(np.asarray(res.x, dtype=float), lower)
    f = obj(x) if obj.best_x is None or not np.array_equal(x, obj.best_x) else obj.best_f
    return x, f, str(res.message), bool(res.success)


def _options(options: dict | None) -> dict:
    opts = dict(DEFAULTS)
    unknown = set(options or {}) - set(DEFAULTS)
    if unknown:
        raise FitError(
            f"unknown optimizer option(s): {', '.join(sorted(unknown))}", hint=f"allowed: {', '.join(DEFAULTS)}"
        )
    opts.update(options or {})
    method = str(opts["method"]).lower()
    if method.removesuffix("-only") not in ("auto", *_NAMES):
        raise FitError(
            f"optimizer method {opts['method']!r} unknown",
            hint="use auto, lbfgsb, lbfgsb-fd, cobyqa or powell, optionally with suffix -only",
        )
    opts["method"] = method
    return opts


def _lower_inside(obj: "Objective", x: np.ndarray, f: float, lower: np.ndarray, near: np.ndarray) -> bool:
    """Is the deviance lower a little inside the bound along some near-bound element?

    A few probes per element (a handful of evaluations): on a genuine boundary
    optimum (Dyestuff2) they all lie higher, and no second start is paid for.
    """
    idx = np.flatnonzero(near)
    groups = [np.array([i]) for i in idx] + ([idx] if len(idx) > 1 else [])  # each alone, then all together
    for g in groups:
        for h in (1e-3, 1e-2, 3e-2, 0.1, 0.3):
            xp = x.copy()
            xp[g] = lower[g] + h
            if obj(xp) < f - _noise(f):
                return True
    return False


def optimize_theta(
    fun: Callable[[np.ndarray], float],
    x0: np.ndarray,
    lower: np.ndarray,
    options: dict | None = None,
    *,
    value_and_gradient: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
    eval_seconds: float = 0.0,
) -> tuple[np.ndarray, float, OptSummary, bool]:
    """Minimize ``fun`` over theta with ``theta >= lower``.

    Args:
        fun: profiled deviance.
        x0: starting value.
        lower: lower bounds (0 or -inf).
        options: overrides of :data:`DEFAULTS`.
        value_and_gradient: analytic ``(value, gradient)``, if there is one.
        eval_seconds: estimated time of one evaluation (chooses COBYQA over
            L-BFGS-B on finite differences when there is no analytic gradient).

    Returns:
        The optimum, its value, the optimizer record and whether it converged.
    """
    opts = _options(options)
    obj = Objective(fun, value_and_gradient)
    x0 = np.array(x0, dtype=float)
    method = str(opts["method"])
    polish = not method.endswith("-only")
    base = method.removesuffix("-only")
    if base == "auto":
        if value_and_gradient is not None:
            base = "lbfgsb"
        else:
            # cheap evaluations: L-BFGS-B on differences needs 2-5x fewer calls than
            # Powell on the multi-term models of the benchmark catalogue; expensive
            # ones (InstEval): COBYQA needs fewer still
            base = "cobyqa" if eval_seconds > float(opts["expensive_eval_seconds"]) else "lbfgsb-fd"
    if base == "cobyqa" and not HAVE_COBYQA:
        base = "powell"
    if base == "lbfgsb" and value_and_gradient is None:
        raise FitError("optimizer method 'lbfgsb' needs the analytic gradient (single-term models only)")
    if not polish:
        opts["xtol"] = 1e-8
    x, f, message, ok = _first_stage(obj, x0, lower, base, opts)
    name = _NAMES[base]
    grad: np.ndarray | None = None
    iters = 0
    for restart in range(3):
        if polish:
            x, f, grad, hess, it = newton_polish(
                obj,
                x,
                f,
                lower,
                maxiter=int(opts["polish_maxiter"]),
                ftol=float(opts["polish_ftol"]),
                xtol=float(opts["polish_xtol"]),
            )
            iters += it
        else:
            grad, hess = obj.derivatives(x, f)
        edge = edge_saddles(x, lower, grad, hess, f)
        if restart == 2:
            break
        if edge.any():
            xr = x.copy()
            xr[edge] = 0.1
        else:
            d = negative_curvature_direction(x, lower, hess)
            probe = _probe_along(obj, x, f, lower, d) if d is not None else None
            if probe is None:
                break
            xr = probe[0]
        message += "; boundary point is not a minimum: restarted"
        x, f, _msg, ok = _first_stage(obj, xr, lower, base, opts)
        grad = None
    # A fit that ends on (or next to) the boundary, with a lower deviance a little
    # inside it, gets a second opinion: a
    # gradient method can stop on a flat boundary whose gradient vanishes
    # (found by the property tests: one-way fits with a small ICC), and a
    # line-search method can stop just outside the saddle check's window.
    near_bound = np.isfinite(lower) & (x - lower < 1e-2)
    if polish and near_bound.any() and _lower_inside(obj, x, f, lower, near_bound):
        for alt in ("powell", "cobyqa") if base != "powell" else ("cobyqa",):
            if alt == "cobyqa" and not HAVE_COBYQA:
                continue
            xa, fa, _msg, _ok = _first_stage(obj, x0, lower, alt, opts)
            xa, fa, ga, _ha, ita = newton_polish(obj, xa, fa, lower, maxiter=int(opts["polish_maxiter"]),
                                                 ftol=float(opts["polish_ftol"]), xtol=float(opts["polish_xtol"]))
            iters += ita
            if fa < f - _noise(f):
                x, f, grad = xa, fa, ga
                message += f"; a second start ({_NAMES[alt]}) found a lower deviance near the boundary"
                break
    if polish:
        name += " + projected Newton polish"
        message += f"; polish: {iters} Newton iteration(s)"
    # lme4's check.boundary: snap near-zero diagonal elements to the bound.
    btol = float(opts["boundary_tol"])
    near = np.isfinite(lower) & (x > lower) & (x - lower < btol)
    if near.any():
        xb = x.copy()
        xb[near] = lower[near]
        fb = obj(xb)
        if fb <= f:
            x, f, grad = xb, fb, None
            message += "; near-boundary elements set to the boundary"
    if obj.best_f < f - _noise(f):  # never return a point clearly worse than one seen
        x, f, grad = obj.best_x, obj.best_f, None
    if grad is None:
        grad = obj.gradient(x)
    converged = bool(np.all(np.isfinite(x))) and bool(np.isfinite(f)) and (ok or polish)
    summary = OptSummary(
        method=name,
        initial=tuple(float(v) for v in x0),
        final=tuple(float(v) for v in x),
        fmin=float(f),
        evaluations=obj.calls,
        gradient=tuple(float(v) for v in grad),
        message=message,
        tolerances={
            "xtol": float(opts["xtol"]),
            "polish_ftol": float(opts["polish_ftol"]),
            "polish_xtol": float(opts["polish_xtol"]),
            "boundary_tol": btol,
        },
    )
    return x, float(f), summary, converged
