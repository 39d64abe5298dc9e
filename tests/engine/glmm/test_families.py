"""Families and links of the GLMM engine: identities that need no R."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from replicate.engine.glmm.families import make_family
from replicate.errors import ModelError

ETA = np.linspace(-6, 6, 41)


@pytest.mark.parametrize(
    ("family", "link"), [("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"), ("poisson", "log")]
)
def test_link_inverse_and_derivative(family: str, link: str) -> None:
    fam = make_family(family, link)
    eta = ETA if family == "poisson" else np.linspace(-3, 3, 41)
    mu = fam.link.inverse(eta)
    np.testing.assert_allclose(fam.link.link(mu), eta, rtol=1e-9, atol=1e-9)
    h = 1e-6
    numeric = (fam.link.inverse(eta + h) - fam.link.inverse(eta - h)) / (2 * h)
    np.testing.assert_allclose(fam.link.mu_eta(eta), numeric, rtol=1e-6, atol=1e-8)


def test_binomial_loglik_is_dbinom_with_trials() -> None:
    fam = make_family("binomial")
    n = np.array([5.0, 10.0, 3.0])
    k = np.array([2.0, 0.0, 3.0])
    mu = np.array([0.3, 0.2, 0.9])
    got = fam.minus2_loglik(k / n, n, mu, n)
    np.testing.assert_allclose(got, -2 * stats.binom.logpmf(k, n, mu), rtol=1e-12)


def test_binomial_deviance_residuals_are_twice_the_saturated_difference() -> None:
    fam = make_family("binomial")
    n = np.array([5.0, 10.0, 3.0])
    y = np.array([2.0, 0.0, 3.0]) / n
    mu = np.array([0.3, 0.2, 0.9])
    sat = fam.minus2_loglik(y, n, np.clip(y, 1e-300, 1 - 1e-16), n)
    np.testing.assert_allclose(fam.dev_resids(y, mu, n), fam.minus2_loglik(y, n, mu, n) - sat, rtol=1e-9, atol=1e-9)


def test_zero_one_response_with_weights_counts_weights_as_trials() -> None:
    """R's binomial()$aic: when no row has more than one trial, m = wt (weights act as trial counts)."""
    fam = make_family("binomial")
    y, w, mu = np.array([1.0, 0.0]), np.array([2.0, 3.0]), np.array([0.4, 0.25])
    got = fam.minus2_loglik(y, np.ones(2), mu, w)
    np.testing.assert_allclose(got, -2 * stats.binom.logpmf(np.round(w * y), w, mu), rtol=1e-12)


def test_poisson_loglik_and_deviance() -> None:
    fam = make_family("poisson")
    y, mu, w = np.array([0.0, 3.0, 7.0]), np.array([0.5, 2.0, 9.0]), np.ones(3)
    np.testing.assert_allclose(fam.minus2_loglik(y, w, mu, w), -2 * stats.poisson.logpmf(y, mu), rtol=1e-12)
    sat = fam.minus2_loglik(y, w, np.maximum(y, 1e-300), w)
    np.testing.assert_allclose(fam.dev_resids(y, mu, w), fam.minus2_loglik(y, w, mu, w) - sat, rtol=1e-9, atol=1e-9)


def test_inverse_links_stay_inside_the_range() -> None:
    for link in ("logit", "probit", "cloglog"):
        mu = make_family("binomial", link).link.inverse(np.array([-800.0, 800.0]))
        assert np.all((mu > 0) & (mu < 1)), link


def test_unknown_family_and_link_are_model_errors() -> None:
    with pytest.raises(ModelError, match="family 'gamma' unknown"):
        make_family("gamma")
    with pytest.raises(ModelError, match="link 'probit' is not available for the poisson family"):
        make_family("poisson", "probit")
