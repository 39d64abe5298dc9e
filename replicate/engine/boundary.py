"""The boundary of theta: which elements stay at their bound, and saddles to leave.

A diagonal element of a relative covariance factor is bounded below by 0, where the profiled deviance
is even in it: its gradient vanishes there, so a point on the boundary can be a saddle (lme4's
``restart_edge``), along one element (:func:`edge_saddles`) or a combination
(:func:`negative_curvature_direction`). :func:`lower_inside` asks whether a fit that ended near the
bound has a lower deviance a little inside it.
"""

from __future__ import annotations

import numpy as np

from .arrays import Bools, Floats
from .objective import Objective, noise


def gscale(f: float) -> float:
    """Gradient size below which it counts as zero (well above finite-difference noise)."""
    return 1e-8 * max(1.0, abs(f))


def fixed_at_bound(x: Floats, lower: Floats, g: Floats, hess: Floats, f: float) -> Bools:
    """Elements at their bound that stay there: gradient outward, or zero with
    non-negative curvature."""
    gs = gscale(f)
    return (x <= lower) & ((g > gs) | ((np.abs(g) <= gs) & (np.diag(hess) >= 0)))


def edge_saddles(x: Floats, lower: Floats, g: Floats, hess: Floats, f: float) -> Bools:
    """Elements at or near their bound from which the deviance decreases inward.

    At the bound: a gradient pointing inward. At or near it (within 1e-3):
    negative curvature, the signature of the saddle that an even function has
    at 0 (an optimizer may stop on it or a hair away from it); the minimum
    along that element then lies further inside.
    """
    curv = np.diag(hess)
    htol = 1e-6 * max(float(np.max(np.abs(curv), initial=0.0)), 1e-12)
    near = np.isfinite(lower) & (x - lower <= 1e-3)
    return near & ((curv < -htol) | ((x <= lower) & (g < -gscale(f))))


def negative_curvature_direction(x: Floats, lower: Floats, hess: Floats) -> Floats | None:
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


def probe_along(obj: Objective, x: Floats, f: float, lower: Floats, d: Floats) -> tuple[Floats, float] | None:
    """The best of a few points along ``d`` from ``x`` (inside the bounds), if lower than ``f``."""
    best: tuple[Floats, float] | None = None
    scale = max(1.0, float(np.max(np.abs(x), initial=0.0)))
    for t in (1e-3, 3e-3, 1e-2, 3e-2, 0.1):
        xp = np.maximum(x + t * scale * d, lower)
        fp = obj(xp)
        if fp < f - 10 * noise(f) and (best is None or fp < best[1]):
            best = (xp, fp)
    return best


def lower_inside(obj: Objective, x: Floats, f: float, lower: Floats, near: Bools) -> bool:
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
            if obj(xp) < f - noise(f):
                return True
    return False
