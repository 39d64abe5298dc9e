"""A linear mixed model whose residual variance is known to be 1 (nlme's ``lmeControl(sigma = 1)``).

The working model of a pseudo-likelihood GLMM fit for a binomial or Poisson outcome has no free scale (SAS
GLIMMIX's RSPL and MSPL; glmmPQL with ``control = lmeControl(sigma = 1)``). With ``sigma = 1`` the deviance is not
profiled: for the relative factor ``theta`` (the random effects' covariance is ``Lambda Lambda'`` itself),

    -2 log L   = log|L|^2 - log|W| + r' V^-1 r + n log(2 pi)                       (ML)
    -2 log L_R = log|L|^2 - log|W| + log|R_X|^2 + r' V^-1 r + (n - p) log(2 pi)   (REML)

with ``r' V^-1 r`` the penalized weighted residual sum of squares, all from the engine's blocked factor. The
fixed effects and the conditional modes at ``theta`` do not depend on the scale, so the result is the engine's fit
at the optimum with its covariance and variance components put on the unit scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from ..design import Design
from ..errors import FitError
from ..results import FitResult
from .arrays import Floats
from .deviance import NotPositiveDefinite, ProfiledDeviance
from .fit import fit_at, make_deviance
from .objective import Objective
from .polish import newton_polish
from .threads import fit_thread_limit

LOG2PI = float(np.log(2.0 * np.pi))


def unit_scale_objective(design: Design, method: str) -> tuple[Callable[[Floats], float], ProfiledDeviance]:
    """``(objective, deviance)``: ``theta -> -2 log L`` (or REML's) with ``sigma = 1``."""
    dev = make_deviance(design, method)
    cp = dev.cp

    def objective(theta: Floats) -> float:
        try:
            fac = dev.factorize(theta)
        except (NotPositiveDefinite, np.linalg.LinAlgError):
            return float("inf")
        if dev.reml:
            return float(fac.ldl2 - cp.ldw + fac.ldrx2 + fac.pwrss + (cp.n - cp.p) * LOG2PI)
        return float(fac.ldl2 - cp.ldw + fac.pwrss + cp.n * LOG2PI)

    return objective, dev


def fit_unit_scale(design: Design, method: str = "REML") -> FitResult:
    """Fit ``design`` with the residual variance fixed at 1 (see the module's docstring).

    Raises:
        FitError: the optimizer failed, or the system is singular at the start.
    """
    with fit_thread_limit():
        objective, dev = unit_scale_objective(design, method)
        layout = dev.layout
        start = layout.initial()
        if not np.isfinite(objective(start)):
            raise FitError("the working linear model is singular at the starting value", hint="check the design")
        bounds = [(lo if np.isfinite(lo) else None, None) for lo in layout.lower_bounds()]
        res = minimize(objective, start, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-15, "gtol": 1e-10})
        # the engine's projected Newton polish (finite-difference derivatives) finishes what L-BFGS-B leaves
        theta, value, grad, _, _ = newton_polish(
            Objective(objective),
            np.asarray(res.x, dtype=float),
            float(res.fun),
            layout.lower_bounds(),
            maxiter=50,
            ftol=0.0,
            xtol=1e-10,
        )
        theta = np.asarray(theta, dtype=float)
        fit = fit_at(design, method, theta)
    scale = 1.0 / fit.sigma2  # the engine's fit profiles sigma^2; put everything on sigma^2 = 1
    varcorr = fit.varcorr.copy()
    resid = varcorr["grp"] == "Residual"
    is_var = varcorr["var2"].isna() if "var2" in varcorr else pd.Series(True, index=varcorr.index)
    varcorr.loc[~resid, "vcov"] = varcorr.loc[~resid, "vcov"] * scale
    varcorr.loc[~resid & is_var, "sdcor"] = np.sqrt(varcorr.loc[~resid & is_var, "vcov"].astype(float))
    varcorr.loc[resid, ["vcov", "sdcor"]] = 1.0
    value = float(value)
    messages = [m for m in fit.messages if "evaluated at given variance parameters" not in m]
    free = (theta > layout.lower_bounds()) | (np.asarray(grad) < 0)
    converged = bool(np.isfinite(value) and np.all(np.abs(np.asarray(grad)[free]) < 1e-3))
    if not converged:
        messages.append(f"the unit-scale optimizer did not reach a zero gradient ({res.message})")
    return replace(
        fit,
        vcov=fit.vcov * scale,
        varcorr=varcorr,
        sigma2=1.0,
        loglik=-0.5 * value,
        converged=converged,
        messages=tuple(messages),
    )
