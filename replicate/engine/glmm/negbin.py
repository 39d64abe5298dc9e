"""A negative binomial GLMM with its size ``theta`` estimated (lme4's ``glmer.nb``; glmmTMB's ``nbinom2``).

At a fixed ``theta`` the model is a GLMM of the family ``MASS::negative.binomial(theta)`` (variance
``mu + mu^2 / theta``, log link), fitted by the Laplace approximation as any other. ``theta`` itself is the maximum
of the profiled log-likelihood, found by damped Newton steps on the joint deviance in the covariance parameters, the fixed
effects and ``log theta`` from the fit at ``theta = 1`` (the secant method on the profile's slope, which the
envelope theorem gives as the deviance's partial derivative at each inner optimum, where Newton does not settle;
Brent's bounded search where that does not converge either). glmer.nb alternates glmer fits and a one-dimensional optimization of the same profile with looser
tolerances; glmmTMB optimizes ``theta`` jointly with the rest, with the observed information's determinant
(``information="observed"``: the log link is not the negative binomial's canonical one, so glmer.nb and glmmTMB
maximize two different Laplace approximations). The SEs are those at the fixed final ``theta``, as glmer.nb's
summary prints them (glmmTMB's, from its joint Hessian with ``log theta``, differ in the third digit); the parameter
count includes ``theta``. A ``theta`` at the edge of its range (no interior maximum) is no estimate: the fit is
marked not converged. Prior weights are refused (lme4 and MASS / glmmTMB read them differently for this family).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from ...errors import FitError, NotImplementedOption
from ..threads import fit_thread_limit
from .api import fit_glmm, prepare
from .derivatives import hessian
from .deviance import GlmmDeviance
from .families import make_family
from .optimize import optimize_glmm
from .randompart import RandomPart
from .result import GlmmFit
from .summary import make_result

#: log(theta) is searched in [exp(-7), exp(12)]: a size beyond is a Poisson model for every purpose here.
LOG_THETA_BOUNDS = (-7.0, 12.0)
#: log(theta) this close to a bound is the bound: the profile still slopes toward it (no interior maximum).
EDGE = 0.5
NB = "negative.binomial"
SLOPE_STEP = 1e-5  # of log(theta), for the profile's slope
XTOL = 1e-9  # the secant's last step in log(theta)


def _newton(f: Callable[[np.ndarray], float], x: np.ndarray, lower: np.ndarray) -> np.ndarray | None:
    """Damped Newton steps on the joint deviance in ``(theta, beta, log theta_nb)`` from ``x`` (central-difference
    derivatives, halving into the bounds and downhill); the point where the Newton step is below 1e-7, or None
    when the Hessian is not positive definite or 30 steps do not settle."""
    for _ in range(30):
        g, H = hessian(f, x)
        try:
            step = -np.linalg.solve(0.5 * (H + H.T), g)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(step)) or g @ step >= 0:
            return None
        if float(np.max(np.abs(step))) < 1e-7:  # at the optimum: a step the line search cannot tell from rounding
            return x if x[-1] < LOG_THETA_BOUNDS[1] else None
        f0, t = f(x), 1.0
        for _ in range(40):
            y = np.maximum(x + t * step, lower)
            if f(y) <= f0 + 1e-4 * t * float(g @ step):
                break
            t /= 2
        else:
            return None
        done = float(np.max(np.abs(y - x))) < 1e-9
        x = y
        if done or (f0 - f(x)) < 1e-12 * (1 + abs(f0)) and float(np.max(np.abs(t * step))) < 1e-7:
            return x if x[-1] < LOG_THETA_BOUNDS[1] else None
    return None


def _secant(slope: Callable[[float], float]) -> tuple[float, bool]:
    """The root of the profile's slope in log(theta) by the secant method from 0 and 0.5, each step at most 2
    and kept inside :data:`LOG_THETA_BOUNDS`; (the root, whether it converged in 40 steps)."""
    x0, x1 = 0.0, 0.5
    s0, s1 = slope(x0), slope(x1)
    for _ in range(40):
        if not (np.isfinite(s0) and np.isfinite(s1)) or s1 == s0:
            return x1, False
        step = float(np.clip(-s1 * (x1 - x0) / (s1 - s0), -2.0, 2.0))
        x2 = float(np.clip(x1 + step, *LOG_THETA_BOUNDS))
        if abs(x2 - x1) < XTOL:
            return x2, abs(x2 - LOG_THETA_BOUNDS[0]) > 1e-3 and abs(x2 - LOG_THETA_BOUNDS[1]) > 1e-3
        x0, s0, x1, s1 = x1, s1, x2, slope(x2)
    return x1, False


def fit_glmm_nb(
    data: pd.DataFrame,
    formula: str,
    *,
    weights: str | None = None,
    offset: str | None = None,
    information: str = "expected",
    theta: float | None = None,
) -> GlmmFit:
    """Fit a negative binomial GLMM by the Laplace approximation, estimating ``theta`` unless it is given: the
    profile over ``log theta`` maximized (see the module's docstring), each fit starting from the last one's
    optimum; the SEs are those at the final ``theta`` held fixed (glmer.nb's).

    Raises:
        ModelError, DataError, FitError: bad input or a fit that failed, naming the field.
    """
    if weights is not None:
        raise NotImplementedOption(
            "prior weights with the negative binomial",
            field="weights",
            hint="lme4's glmer and MASS / glmmTMB give them different meanings for this family; fit without weights",
        )
    if theta is not None:
        fixed = fit_glmm(data, formula, family=NB, weights=weights, offset=offset, information=information, theta=theta)
        return replace(fixed, nb_theta=float(theta))
    design, resp, messages = prepare(data, formula, NB, None, weights, offset, None, 1.0)
    dev = GlmmDeviance(resp, np.asarray(design.X, dtype=float), RandomPart.of(design), information=information)

    def at(log_theta: float) -> None:
        dev.resp = replace(resp, family=make_family(NB, None, float(np.exp(log_theta))))

    with fit_thread_limit():
        best = {"x": optimize_glmm(dev).params}  # at theta = 1: the next fits start where the last one ended

        def profile(log_theta: float) -> float:
            at(log_theta)
            try:
                opt = optimize_glmm(dev, start=best["x"])
            except FitError:
                return float("inf")
            if np.isfinite(opt.value):
                best["x"] = opt.params
            return float(opt.value)

        def slope(log_theta: float) -> float:
            """d profile / d log(theta): by the envelope theorem the partial derivative at the inner optimum."""
            if not np.isfinite(profile(log_theta)):
                return float("nan")
            x, h = best["x"], SLOPE_STEP
            at(log_theta + h)
            up = float(dev(x))
            at(log_theta - h)
            down = float(dev(x))
            return (up - down) / (2 * h)

        def joint(x: np.ndarray) -> float:
            at(float(x[-1]))
            try:
                return float(dev(x[:-1]))
            except FitError:
                return float("inf")

        found = _newton(joint, np.append(best["x"], 0.0), np.append(dev.lower_bounds(), LOG_THETA_BOUNDS[0]))
        if found is not None:
            best["x"], log_theta, ok = found[:-1], float(found[-1]), True
        else:  # Newton did not settle: the profile's slope by the secant method
            log_theta, ok = _secant(slope)
        if not ok:  # no sign change found quickly: the bounded search over the whole range
            res = minimize_scalar(profile, bounds=LOG_THETA_BOUNDS, method="bounded", options={"xatol": 1e-7})
            log_theta, ok = float(res.x), bool(res.success) and bool(np.isfinite(res.fun))
        at(log_theta)
        opt = optimize_glmm(dev, start=best["x"])
        fit = make_result(design, dev, opt, list(messages))
    notes = list(fit.messages)
    if min(abs(log_theta - b) for b in LOG_THETA_BOUNDS) < EDGE:
        ok = False  # no estimate: never agreement
        notes.append(
            f"theta at the edge of its range ({np.exp(log_theta):.4g}): the likelihood has no interior maximum in "
            "theta (a response without overdispersion is a Poisson model)"
        )
    npar = fit.npar + 1  # theta
    return replace(
        fit,
        nb_theta=float(np.exp(log_theta)),
        npar=npar,
        aic=fit.objective + 2 * npar,
        bic=fit.objective + np.log(fit.nobs) * npar,
        converged=fit.converged and ok,
        messages=tuple(dict.fromkeys(notes)),
    )
