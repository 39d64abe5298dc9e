"""Bounded minimization of the profiled deviance over theta.

Stages, recorded in an :class:`~replicate.results.OptSummary`:

1. A bound-respecting search from lme4's starting values (1 on the diagonals,
   0 elsewhere):

   * models with an analytic gradient (single-term: :mod:`.gradient`; multi-term
     where the dense one pays: :mod:`.gradient_blocked`): L-BFGS-B on it;
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy
from scipy.optimize import Bounds, minimize

from ..errors import FitError
from ..results import OptSummary
from .arrays import Floats
from .boundary import edge_saddles, lower_inside, negative_curvature_direction, probe_along
from .objective import Objective, noise
from .polish import newton_polish

__all__ = [
    "DEFAULTS",
    "STAGES",
    "Objective",
    "OptionValue",
    "edge_saddles",
    "negative_curvature_direction",
    "newton_polish",
    "optimize_theta",
]

# An optimizer option's value: a method name, a tolerance or a count.
OptionValue = float | str | int

DEFAULTS: dict[str, OptionValue] = {
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


def _first_stage(
    obj: Objective, x0: Floats, lower: Floats, method: str, opts: dict[str, OptionValue]
) -> tuple[Floats, float, str, bool]:
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


def _options(options: Mapping[str, OptionValue] | None) -> dict[str, OptionValue]:
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


@dataclass
class _Search:
    """The optimizer's state, passed from stage to stage."""

    obj: Objective
    x0: Floats
    lower: Floats
    base: str
    opts: dict[str, OptionValue]
    polish: bool
    x: Floats
    f: float
    ok: bool
    message: str
    grad: Floats | None = None
    iters: int = 0

    def polish_from(self, x: Floats, f: float) -> tuple[Floats, float, Floats, Floats]:
        x, f, g, hess, it = newton_polish(
            self.obj,
            x,
            f,
            self.lower,
            maxiter=int(self.opts["polish_maxiter"]),
            ftol=float(self.opts["polish_ftol"]),
            xtol=float(self.opts["polish_xtol"]),
        )
        self.iters += it
        return x, f, g, hess


def choose_method(opts: Mapping[str, OptionValue], analytic: bool, eval_seconds: float) -> tuple[str, bool]:
    """The first stage's method and whether the Newton polish follows."""
    method = str(opts["method"])
    polish = not method.endswith("-only")
    base = method.removesuffix("-only")
    if base == "auto":
        # cheap evaluations: L-BFGS-B on differences needs 2-5x fewer calls than Powell on the
        # multi-term models of the benchmark catalogue; expensive ones (InstEval): COBYQA fewer still
        base = (
            "lbfgsb" if analytic else "cobyqa" if eval_seconds > float(opts["expensive_eval_seconds"]) else "lbfgsb-fd"
        )
    if base == "cobyqa" and not HAVE_COBYQA:
        base = "powell"
    if base == "lbfgsb" and not analytic:
        raise FitError("optimizer method 'lbfgsb' needs an analytic gradient, which this model lacks")
    return base, polish


def polish_and_leave_saddles(s: _Search) -> None:
    """Stages 2 and 3: polish; a boundary point that is a saddle restarts stage 1 from inside (twice at most)."""
    for restart in range(3):
        if s.polish:
            s.x, s.f, s.grad, hess = s.polish_from(s.x, s.f)
        else:
            s.grad, hess = s.obj.derivatives(s.x, s.f)
        edge = edge_saddles(s.x, s.lower, s.grad, hess, s.f)
        if restart == 2:
            return
        if edge.any():
            xr = s.x.copy()
            xr[edge] = 0.1
        else:
            d = negative_curvature_direction(s.x, s.lower, hess)
            probe = probe_along(s.obj, s.x, s.f, s.lower, d) if d is not None else None
            if probe is None:
                return
            xr = probe[0]
        s.message += "; boundary point is not a minimum: restarted"
        s.x, s.f, _msg, s.ok = _first_stage(s.obj, xr, s.lower, s.base, s.opts)
        s.grad = None


def second_start_near_boundary(s: _Search) -> None:
    """A fit that ends on (or next to) the boundary, with a lower deviance a little inside it, gets a
    second opinion: a gradient method can stop on a flat boundary whose gradient vanishes (found by
    the property tests: one-way fits with a small ICC), and a line-search method can stop just outside
    the saddle check's window."""
    near_bound = np.isfinite(s.lower) & (s.x - s.lower < 1e-2)
    if not (s.polish and near_bound.any() and lower_inside(s.obj, s.x, s.f, s.lower, near_bound)):
        return
    for alt in ("powell", "cobyqa") if s.base != "powell" else ("cobyqa",):
        if alt == "cobyqa" and not HAVE_COBYQA:
            continue
        xa, fa, _msg, _ok = _first_stage(s.obj, s.x0, s.lower, alt, s.opts)
        xa, fa, ga, _ha = s.polish_from(xa, fa)
        if fa < s.f - noise(s.f):
            s.x, s.f, s.grad = xa, fa, ga
            s.message += f"; a second start ({_NAMES[alt]}) found a lower deviance near the boundary"
            return


def snap_to_boundary(s: _Search) -> None:
    """lme4's check.boundary: diagonal elements within boundary_tol of 0 are set to 0 if that is no worse."""
    if s.polish:
        s.message += f"; polish: {s.iters} Newton iteration(s)"
    btol = float(s.opts["boundary_tol"])
    near = np.isfinite(s.lower) & (s.x > s.lower) & (s.x - s.lower < btol)
    if near.any():
        xb = s.x.copy()
        xb[near] = s.lower[near]
        fb = s.obj(xb)
        if fb <= s.f:
            s.x, s.f, s.grad = xb, fb, None
            s.message += "; near-boundary elements set to the boundary"


def keep_best_seen(s: _Search) -> None:
    """Never return a point clearly worse than one the search evaluated."""
    best = s.obj.best_x
    if best is not None and s.obj.best_f < s.f - noise(s.f):
        s.x, s.f, s.grad = best, s.obj.best_f, None


STAGES = (polish_and_leave_saddles, second_start_near_boundary, snap_to_boundary, keep_best_seen)


def optimize_theta(
    fun: Callable[[Floats], float],
    x0: Floats,
    lower: Floats,
    options: Mapping[str, OptionValue] | None = None,
    *,
    value_and_gradient: Callable[[Floats], tuple[float, Floats]] | None = None,
    eval_seconds: float = 0.0,
) -> tuple[Floats, float, OptSummary, bool]:
    """Minimize ``fun`` over theta with ``theta >= lower``: stage 1, then :data:`STAGES` in order.

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
    base, polish = choose_method(opts, value_and_gradient is not None, eval_seconds)
    if not polish:
        opts["xtol"] = 1e-8
    x, f, message, ok = _first_stage(obj, x0, lower, base, opts)
    search = _Search(obj, x0, lower, base, opts, polish, x, f, ok, message)
    for stage in STAGES:
        stage(search)
    return _summary(search)


def _summary(s: _Search) -> tuple[Floats, float, OptSummary, bool]:
    grad = s.grad if s.grad is not None else s.obj.gradient(s.x)
    converged = bool(np.all(np.isfinite(s.x))) and bool(np.isfinite(s.f)) and (s.ok or s.polish)
    summary = OptSummary(
        method=_NAMES[s.base] + (" + projected Newton polish" if s.polish else ""),
        initial=tuple(float(v) for v in s.x0),
        final=tuple(float(v) for v in s.x),
        fmin=float(s.f),
        evaluations=s.obj.calls,
        gradient=tuple(float(v) for v in grad),
        message=s.message,
        tolerances={
            "xtol": float(s.opts["xtol"]),
            "polish_ftol": float(s.opts["polish_ftol"]),
            "polish_xtol": float(s.opts["polish_xtol"]),
            "boundary_tol": float(s.opts["boundary_tol"]),
        },
    )
    return s.x, float(s.f), summary, converged
