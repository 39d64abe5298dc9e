"""Exact finite-sample results for the balanced one-way design, to check a study against.

For J groups of n rows, a random intercept (variance tau) and residual variance
sigma^2, with every fixed effect constant within groups (the intercept and
level-2 predictors, p columns in all), the likelihood splits into a
between-group part and a within-group part:

* ``SSB``, the residual sum of squares of the regression of the group means on
  the level-2 columns, times n: ``SSB / lambda ~ chi^2(J - p)`` with
  ``lambda = sigma^2 + n tau``;
* ``SSW``, the pooled within-group sum of squares: ``SSW / sigma^2 ~ chi^2(J(n - 1))``,
  independent of SSB and of the estimates of the fixed effects.

Inside the parameter space the estimates have closed forms: REML
``lambda = SSB / (J - p)``, ML ``lambda = SSB / J``, both ``sigma^2 = SSW / (J(n - 1))``
and ``tau = (lambda - sigma^2) / n``. When that tau would be negative the fit is
on the boundary: ``tau = 0`` and ``sigma^2 = (SSB + SSW) / (N - p)`` (REML) or
``/ N`` (ML). Hence ML's between-group variance is biased downward, by about the
factor ``(J - p) / J`` (exactly ``E[tau_ML] = tau - p (tau + sigma^2 / n) / J``
inside the parameter space), while REML's is unbiased up to the truncation at 0.

Each coefficient's estimate is normal with variance ``lambda c`` and its model
SE is ``sqrt(lambda_hat c)``, so ``t = Z / sqrt(lambda_hat / lambda)``: with REML
inside the space, exactly Student's t with ``J - p`` df. A test that refers t
to the residual df ``N - p`` rejects too often; one that uses ``J - p`` (SAS's
between-within df here) does not. :func:`oneway_theory` integrates these
distributions numerically (including the boundary) to give the exact
expectations and rejection rates a Monte Carlo study should reproduce.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import integrate, special, stats

from .config import Study


@dataclass(frozen=True)
class OnewayTheory:
    """Exact expectations for one estimation method.

    Attributes:
        tau: E of the between-group variance estimate.
        sigma2: E of the residual variance estimate.
        boundary: probability of a boundary (tau = 0) estimate.
        factor: the approximation ``(J - p) / J`` (ML) or 1 (REML).
    """

    method: str
    J: int
    n: int
    p: int
    true_tau: float
    true_sigma2: float
    tau: float
    sigma2: float
    boundary: float
    factor: float

    def rejection(self, df: float, alpha: float = 0.05) -> float:
        """P(|t| > t_{1 - alpha/2, df}) for any coefficient at its true value (model SE)."""
        q = float(stats.t.ppf(1 - alpha / 2, df)) if np.isfinite(df) else float(stats.norm.ppf(1 - alpha / 2))
        return _rejection(self, round(q, 12))


def _consts(method: str, J: int, n: int, p: int) -> tuple[float, float, float, int, int]:
    N = J * n
    a = 1.0 / (J - p) if method == "REML" else 1.0 / J  # lambda_hat = a * SSB (inside)
    b = 1.0 / (J * (n - 1))  # sigma2_hat = b * SSW (inside)
    d = 1.0 / (N - p) if method == "REML" else 1.0 / N  # boundary: (SSB + SSW) * d
    return a, b, d, J - p, J * (n - 1)


def oneway_theory(method: str, J: int, n: int, p: int, tau: float, sigma2: float) -> OnewayTheory:
    """Exact E[tau_hat], E[sigma2_hat] and P(boundary) for REML or ML (see the module text)."""
    if n < 2 or J <= p:
        raise ValueError("needs n >= 2 rows per group and more groups than fixed effects")
    a, b, d, k1, k2 = _consts(method, J, n, p)
    lam = sigma2 + n * tau
    fy = stats.chi2(k2)
    # X = SSB / lambda ~ chi2(k1), Y = SSW / sigma2 ~ chi2(k2); inside iff a lam X >= b sigma2 Y,
    # i.e. X >= t(Y) = b sigma2 Y / (a lam).

    def t_of(y: float) -> float:
        return b * sigma2 * y / (a * lam)

    def tau_given_y(y: float) -> float:  # E[(a lam X - b s2 y)^+] / n
        t = t_of(y)
        return a * lam * (k1 * stats.chi2.sf(t, k1 + 2) - t * stats.chi2.sf(t, k1)) / n

    def s2_given_y(y: float) -> float:
        t = t_of(y)
        inside = b * sigma2 * y * stats.chi2.sf(t, k1)
        edge = d * (lam * k1 * stats.chi2.cdf(t, k1 + 2) + sigma2 * y * stats.chi2.cdf(t, k1))
        return inside + edge

    def edge_given_y(y: float) -> float:
        return stats.chi2.cdf(t_of(y), k1)

    lo, hi = fy.ppf(1e-13), fy.isf(1e-13)
    opts = {"limit": 200, "epsabs": 1e-13, "epsrel": 1e-10}
    e_tau = integrate.quad(lambda y: fy.pdf(y) * tau_given_y(y), lo, hi, **opts)[0]
    e_s2 = integrate.quad(lambda y: fy.pdf(y) * s2_given_y(y), lo, hi, **opts)[0]
    e_edge = integrate.quad(lambda y: fy.pdf(y) * edge_given_y(y), lo, hi, **opts)[0]
    return OnewayTheory(
        method=method,
        J=J,
        n=n,
        p=p,
        true_tau=tau,
        true_sigma2=sigma2,
        tau=e_tau,
        sigma2=e_s2,
        boundary=e_edge,
        factor=(J - p) / J if method == "ML" else 1.0,
    )


@lru_cache(maxsize=256)
def _rejection(th: OnewayTheory, q: float, grid: int = 2000) -> float:
    """E over (SSB, SSW) of P(|Z| > q sqrt(lambda_hat / lambda)), on a grid of quantiles.

    The integrand is bounded and continuous (the boundary and inside solutions
    meet where tau_hat reaches 0), so the midpoint rule in probability space is
    accurate to about 1e-6 with the default grid.
    """
    a, b, d, k1, k2 = _consts(th.method, th.J, th.n, th.p)
    lam = th.true_sigma2 + th.n * th.true_tau
    s2 = th.true_sigma2
    u = (np.arange(grid) + 0.5) / grid
    x = stats.chi2.ppf(u, k1)[:, None]
    y = stats.chi2.ppf(u, k2)[None, :]
    inside = a * lam * x >= b * s2 * y
    ratio = np.where(inside, a * x, d * (x + s2 * y / lam))
    return float(np.mean(2.0 * special.ndtr(-q * np.sqrt(ratio))))


def applicable(study: Study) -> bool:
    """Whether the study's design is the balanced one-way design of this module."""
    d = study.design
    return (
        d.sizes.kind == "fixed"
        and len(set(d.sizes.sizes)) == 1
        and d.sizes.sizes[0] >= 2
        and not d.random_slopes
        and not d.missing
        and not study.misspecified
        and all(p.level == 2 for p in d.predictors)
        and d.groups > len(study.coefficients)
    )


def study_theory(study: Study) -> dict[str, OnewayTheory] | None:
    """Exact results per estimation method, or None when the design is not balanced one-way."""
    if not applicable(study):
        return None
    J, n, p = study.design.groups, study.design.sizes.sizes[0], len(study.coefficients)
    tau, s2 = study.truth.cov_matrix[0, 0], study.truth.sigma2
    return {m: oneway_theory(m, J, n, p, tau, s2) for m in study.methods.estimation}


def residual_df(study: Study) -> int:
    """``N - p`` of a balanced study."""
    return study.design.groups * study.design.sizes.sizes[0] - len(study.coefficients)


def between_df(study: Study) -> int:
    return study.design.groups - len(study.coefficients)


def _check() -> None:  # pragma: no cover - a quick self-check by simulation
    rng = np.random.default_rng(1)
    th = oneway_theory("ML", 12, 10, 2, 0.2, 0.8)
    lam = 0.8 + 10 * 0.2
    X = rng.chisquare(10, 200000) * lam
    Y = rng.chisquare(108, 200000) * 0.8
    inside = X / 12 >= Y / 108
    tau = np.where(inside, (X / 12 - Y / 108) / 10, 0.0)
    print(th.tau, tau.mean(), math.sqrt(tau.var() / len(tau)))
