"""Response families and link functions of a generalized linear mixed model, as R's ``family`` objects define them.

A :class:`Link` maps the mean to the linear predictor; a :class:`Family` gives the variance function, the
deviance residuals and the log-likelihood of each observation. The clamps on the inverse links are R's (stats'
``C_logit_linkinv``, ``binomial("probit")``, ``binomial("cloglog")``, ``poisson()``), so that a mean never reaches
0 or 1 exactly, as in lme4's ``glmFamily``.

Binomial observations follow R's convention: ``y`` is the proportion of successes, ``n`` the number of trials and
``wt`` the prior weight times ``n``; a 0/1 response has ``n = 1``. The log-likelihood is the one ``family$aic``
adds up (lme4's Laplace deviance includes it): with ``m = n`` when any trial count exceeds 1, else ``m = wt``, each
row contributes ``wt / m * log dbinom(round(m y), round(m), mu)``; Poisson rows ``wt * log dpois(y, mu)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import erfinv, expit, gammaln, ndtr, xlogy

from ...errors import ModelError

Vector = NDArray[np.float64]
FamilyName = Literal["binomial", "poisson", "negative.binomial"]
LinkName = Literal["logit", "probit", "cloglog", "log"]

EPS = float(np.finfo(float).eps)
_LOGIT_THRESH = 30.0
_PROBIT_THRESH = float(-np.sqrt(2.0) * erfinv(2 * EPS - 1))  # -qnorm(DBL_EPSILON)


@dataclass(frozen=True)
class Link:
    """A link function: ``eta = link(mu)``, ``mu = inverse(eta)``, ``mu_eta = dmu/deta``."""

    name: LinkName
    link: Callable[[Vector], Vector]
    inverse: Callable[[Vector], Vector]
    mu_eta: Callable[[Vector], Vector]


def _logit_inverse(eta: Vector) -> Vector:
    e = np.clip(eta, -_LOGIT_THRESH, _LOGIT_THRESH)
    out: Vector = expit(e)
    return np.where(eta < -_LOGIT_THRESH, EPS / (1 + EPS), np.where(eta > _LOGIT_THRESH, 1 / (1 + EPS), out))


def _logit_mu_eta(eta: Vector) -> Vector:
    e = np.exp(-np.abs(eta))
    out: Vector = np.where(np.abs(eta) > _LOGIT_THRESH, EPS, e / (1 + e) ** 2)
    return out


def _probit_inverse(eta: Vector) -> Vector:
    out: Vector = ndtr(np.clip(eta, -_PROBIT_THRESH, _PROBIT_THRESH))
    return out


def _probit_mu_eta(eta: Vector) -> Vector:
    out: Vector = np.maximum(np.exp(-0.5 * eta**2) / np.sqrt(2 * np.pi), EPS)
    return out


def _cloglog_inverse(eta: Vector) -> Vector:
    out: Vector = np.clip(-np.expm1(-np.exp(np.minimum(eta, 700.0))), EPS, 1 - EPS)
    return out


def _cloglog_mu_eta(eta: Vector) -> Vector:
    e = np.minimum(eta, 700.0)
    out: Vector = np.maximum(np.exp(e) * np.exp(-np.exp(e)), EPS)
    return out


def _log_inverse(eta: Vector) -> Vector:
    with np.errstate(over="ignore"):  # a mean that overflows is an infinite deviance, the optimizer's step too far
        out: Vector = np.maximum(np.exp(eta), EPS)
    return out


LINKS: dict[str, Link] = {
    "logit": Link("logit", lambda mu: np.log(mu / (1 - mu)), _logit_inverse, _logit_mu_eta),
    "probit": Link("probit", lambda mu: np.sqrt(2.0) * erfinv(2 * mu - 1), _probit_inverse, _probit_mu_eta),
    "cloglog": Link("cloglog", lambda mu: np.log(-np.log1p(-mu)), _cloglog_inverse, _cloglog_mu_eta),
    "log": Link("log", np.log, _log_inverse, _log_inverse),
}


@dataclass(frozen=True)
class Family:
    """A response distribution with its link (R's ``family`` object, the parts a GLMM fit needs); ``theta``: the
    negative binomial's size (``MASS::negative.binomial(theta)``, variance ``mu + mu^2 / theta``)."""

    name: FamilyName
    link: Link
    theta: float = 0.0

    def variance(self, mu: Vector) -> Vector:
        """The variance function: ``mu (1 - mu)`` (binomial), ``mu`` (Poisson), ``mu + mu^2 / theta``."""
        if self.name == "negative.binomial":
            nb: Vector = mu + mu**2 / self.theta
            return nb
        out: Vector = mu * (1 - mu) if self.name == "binomial" else np.asarray(mu, dtype=float)
        return out

    def variance_derivative(self, mu: Vector) -> Vector:
        """``dV / dmu``."""
        if self.name == "binomial":
            out: Vector = 1 - 2 * mu
        elif self.name == "negative.binomial":
            out = 1 + 2 * mu / self.theta
        else:
            out = np.ones_like(mu)
        return out

    def dev_resids(self, y: Vector, mu: Vector, wt: Vector) -> Vector:
        """The squared deviance residuals ``2 wt (l(y; y) - l(mu; y))`` of each row (R's ``dev.resids``)."""
        if self.name == "binomial":
            out: Vector = 2 * wt * (xlogy(y, y / mu) + xlogy(1 - y, (1 - y) / (1 - mu)))
            return out
        if self.name == "negative.binomial":
            th = self.theta
            with np.errstate(divide="ignore", invalid="ignore"):  # an infinite mean: an infinite deviance
                out = 2 * wt * (xlogy(y, y / mu) - (y + th) * np.log((y + th) / (mu + th)))
            return out
        out = 2 * wt * (xlogy(y, y / mu) - (y - mu))
        return out

    def minus2_loglik(self, y: Vector, n: Vector, mu: Vector, wt: Vector) -> Vector:
        """-2 times each row's log-likelihood as ``family$aic`` sums it (see the module's docstring)."""
        if self.name == "poisson":
            out: Vector = -2 * wt * (xlogy(y, mu) - mu - gammaln(y + 1))
            return out
        if self.name == "negative.binomial":  # MASS::negative.binomial's aic
            th = self.theta
            ll = (
                gammaln(th + y)
                - gammaln(th)
                - gammaln(y + 1)
                + th * np.log(th)
                + xlogy(y, mu)
                - (th + y) * np.log(th + mu)
            )
            out = -2 * wt * ll
            return out
        m = n if np.any(n > 1) else wt
        k, size = np.round(m * y), np.round(m)
        logd = gammaln(size + 1) - gammaln(k + 1) - gammaln(size - k + 1) + xlogy(k, mu) + xlogy(size - k, 1 - mu)
        out = -2 * np.where(m > 0, wt / np.where(m > 0, m, 1), 0.0) * logd
        return out

    def valid_mean(self, mu: Vector) -> bool:
        """Whether every mean is inside the family's range."""
        if self.name == "binomial":
            return bool(np.all((mu > 0) & (mu < 1)))
        return bool(np.all(mu > 0))

    def start_mean(self, y: Vector, wt: Vector) -> Vector:
        """R's ``mustart`` (``family$initialize``): ``(wt y + 0.5) / (wt + 1)`` (binomial), ``y + 0.1`` (Poisson)."""
        if self.name == "negative.binomial":  # MASS::negative.binomial's initialize
            nb: Vector = y + (y == 0) / 6
            return nb
        out: Vector = (wt * y + 0.5) / (wt + 1) if self.name == "binomial" else y + 0.1
        return out


DEFAULT_LINK: dict[str, LinkName] = {"binomial": "logit", "poisson": "log", "negative.binomial": "log"}
#: (family, link) pairs whose link is canonical: the working weights are the observed information.
CANONICAL = {("binomial", "logit"), ("poisson", "log")}
ALLOWED_LINKS: dict[str, tuple[LinkName, ...]] = {
    "binomial": ("logit", "probit", "cloglog", "log"),
    "poisson": ("log",),
    "negative.binomial": ("log",),
}


def make_family(family: str, link: str | None = None, theta: float | None = None) -> Family:
    """The family ``family`` (``binomial``, ``poisson`` or ``negative.binomial`` with its size ``theta``) with
    ``link`` (default: the canonical one; the log link for the negative binomial).

    Raises:
        ModelError: for an unknown family, a link the family does not take, or a negative binomial without a
            positive finite theta, naming what is allowed.
    """
    name = str(family).lower()
    if name not in DEFAULT_LINK:
        raise ModelError(
            f"family {family!r} unknown", field="family", hint="use 'binomial', 'poisson' or 'negative.binomial'"
        )
    chosen = DEFAULT_LINK[name] if link is None else str(link).lower()
    if chosen not in ALLOWED_LINKS[name]:
        raise ModelError(
            f"link {link!r} is not available for the {name} family",
            field="link",
            hint=f"use one of {', '.join(ALLOWED_LINKS[name])}",
        )
    if name == "negative.binomial":
        if theta is None or not np.isfinite(theta) or theta <= 0:
            raise ModelError(
                f"the negative binomial's theta must be positive and finite, not {theta!r}",
                field="theta",
                hint="give theta=, or leave it out of fit_glmm_nb to estimate it",
            )
        return Family("negative.binomial", LINKS[chosen], float(theta))
    if theta is not None:
        raise ModelError("theta is the negative binomial's", field="theta", hint="use family='negative.binomial'")
    fam: FamilyName = "binomial" if name == "binomial" else "poisson"
    return Family(fam, LINKS[chosen])
