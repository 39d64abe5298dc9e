"""The Laplace approximation with the observed information (glmmTMB's, and SAS GLIMMIX's METHOD=LAPLACE).

lme4's Laplace deviance takes ``log det(Lambda'Z'W Z Lambda + I)`` with PIRLS's working weights
``W = wt mu'^2 / V(mu)``: the *expected* information of each row about its linear predictor. glmmTMB (by automatic
differentiation) and GLIMMIX (its ``f''``, the second derivative of the log joint density in the random effects)
take the *observed* information, ``-d^2 log f(y | eta) / d eta^2``:

    W_obs = wt [mu'^2 / V - (y - mu) (mu'' / V - mu'^2 V' / V^2)]

The two agree for a canonical link (logit binomial, log Poisson: ``mu' / V`` is 1) and differ otherwise (probit,
cloglog, a log-binomial), so the same model fitted "by Laplace" has two optima. The conditional modes are the same
(both maximize the same penalized log-likelihood); only the determinant differs.
"""

from __future__ import annotations

import numpy as np

from .families import CANONICAL, Family, Vector

#: The name a case run gives a fit by the Laplace approximation with the observed information.
OBSERVED_LAPLACE = "laplace-observed"


def is_canonical(family: Family) -> bool:
    """The link is the family's canonical one: observed and expected information coincide."""
    return (family.name, family.link.name) in CANONICAL


def second_derivative(family: Family, eta: Vector) -> Vector:
    """``d^2 mu / d eta^2`` of the link's inverse."""
    link = family.link.name
    mu_eta = family.link.mu_eta(eta)
    if link == "logit":
        out: Vector = mu_eta * (1 - 2 * family.link.inverse(eta))
    elif link == "probit":
        out = -eta * mu_eta
    elif link == "cloglog":
        out = mu_eta * (1 - np.exp(np.minimum(eta, 700.0)))
    else:  # log
        out = family.link.inverse(eta)
    return out


def observed_weights(family: Family, y: Vector, wt: Vector, eta: Vector) -> Vector:
    """``-d^2 log f(y | eta) / d eta^2`` of each row (prior weights included)."""
    mu = family.link.inverse(eta)
    m1, m2 = family.link.mu_eta(eta), second_derivative(family, eta)
    v = family.variance(mu)
    dv = family.variance_derivative(mu)
    out: Vector = wt * (m1**2 / v - (y - mu) * (m2 / v - m1**2 * dv / v**2))
    return out
