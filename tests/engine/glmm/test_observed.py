"""The Laplace approximation with the observed information (issue #17): glmmTMB's and SAS GLIMMIX's, which is not
lme4's for a non-canonical link.

The observed weights are checked against central second differences of each row's log-likelihood (every link);
the fit against glmmTMB live on a probit model of cbpp and a cloglog random slope on mlmRev's Contraception, where
glmer (expected information, also live) reaches another optimum.
"""

from __future__ import annotations

import numpy as np
import pytest

from replicate.engine.glmm import fit_glmm
from replicate.engine.glmm.families import make_family
from replicate.engine.glmm.observed import observed_weights
from replicate.errors import ModelError
from tests.rsupport import from_r, need_r, to_r


@pytest.mark.parametrize(
    ("family", "link"),
    [("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"), ("binomial", "log"), ("poisson", "log")],
)
def test_the_observed_weights_are_the_rows_second_derivatives(family, link):
    fam = make_family(family, link)
    rng = np.random.default_rng(4)
    eta = -np.abs(rng.normal(size=40)) - 0.2 if link == "log" and family == "binomial" else rng.normal(size=40)
    y = rng.integers(0, 2, 40).astype(float) if family == "binomial" else rng.poisson(2.0, 40).astype(float)
    wt = np.ones(40) if family == "binomial" else rng.uniform(0.5, 2.0, 40)  # (binomial: R rounds m y)

    def loglik(e: np.ndarray) -> np.ndarray:
        return -0.5 * fam.minus2_loglik(y, np.ones(40), fam.link.inverse(e), wt)

    h = 1e-4
    numeric = -(loglik(eta + h) - 2 * loglik(eta) + loglik(eta - h)) / h**2
    assert np.allclose(observed_weights(fam, y, wt, eta), numeric, rtol=1e-5, atol=1e-6)
    if (family, link) in (("binomial", "logit"), ("poisson", "log")):  # canonical: the expected weights
        mu = fam.link.inverse(eta)
        assert np.allclose(observed_weights(fam, y, wt, eta), wt * fam.link.mu_eta(eta) ** 2 / fam.variance(mu))


def test_the_observed_information_is_for_the_laplace_approximation_only():
    d = from_r_free()
    with pytest.raises(ModelError, match="information"):
        fit_glmm(d, "y ~ x + (1 | g)", link="probit", method="agq", nagq=5, information="observed")
    with pytest.raises(ModelError, match="information"):
        fit_glmm(d, "y ~ x + (1 | g)", information="hessian")


def from_r_free():
    import pandas as pd

    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(15), 8)
    x = rng.normal(size=g.size)
    y = (rng.random(g.size) < 0.4 + 0.1 * np.tanh(x)).astype(int)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g.astype(str))})


R_BOTH = """
function(d, formula, link) {
  f <- stats::as.formula(formula)
  fam <- binomial(link = link)
  t <- glmmTMB::glmmTMB(f, data = d, family = fam)
  ctl <- lme4::glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(rhobeg = 2e-3, rhoend = 1e-10, maxfun = 1e5))
  g <- lme4::glmer(f, data = d, family = fam, control = ctl)
  list(tmb = c(-2 * as.numeric(logLik(t)), glmmTMB::fixef(t)$cond, sqrt(diag(vcov(t)$cond))),
       glmer = c(-2 * as.numeric(logLik(g)), lme4::fixef(g)))
}
"""


@pytest.mark.r
@pytest.mark.parametrize(
    ("data", "formula", "link"),
    [
        ("lme4::cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "probit"),
        (
            "within(mlmRev::Contraception, {u <- as.integer(use == 'Y'); ur <- as.integer(urban == 'Y')})",
            "u ~ age + ur + (1 + ur | district)",
            "cloglog",
        ),
    ],
)
def test_the_observed_laplace_optimum_is_glmmtmbs_and_the_expected_one_glmers(data, formula, link):
    ro = need_r("glmmTMB", "lme4", "mlmRev")
    d = from_r(ro, data)
    out = ro.r(R_BOTH)(to_r(ro, d), formula, link)
    ref = {k: np.asarray(v, dtype=float) for k, v in zip(out.names, out)}
    obs = fit_glmm(d, formula, link=link, information="observed")
    exp = fit_glmm(d, formula, link=link)
    p = obs.beta.size
    # glmmTMB stops up to 2e-6 short in -2 log L (the engine at least as high in log-likelihood)
    assert obs.minus2loglik == pytest.approx(ref["tmb"][0], abs=1e-5) and obs.minus2loglik <= ref["tmb"][0] + 1e-7
    np.testing.assert_allclose(obs.beta, ref["tmb"][1 : 1 + p], rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(obs.se, ref["tmb"][1 + p :], rtol=2e-4)
    assert exp.minus2loglik == pytest.approx(ref["glmer"][0], abs=1e-5) and exp.minus2loglik <= ref["glmer"][0] + 1e-7
    np.testing.assert_allclose(exp.beta, ref["glmer"][1:], rtol=2e-5, atol=1e-6)
    # two definitions of "Laplace", two optima: measurably apart
    assert abs(obs.minus2loglik - exp.minus2loglik) > 1e-3


def test_the_python_api_takes_the_information_for_the_laplace_approximation_only():
    import replicate

    d = from_r_free()
    direct = fit_glmm(d, "y ~ x + (1 | g)", link="probit", information="observed")
    api = replicate.fit("y ~ x + (1 | g)", d, family="binomial", link="probit", information="observed")
    assert api.minus2loglik == pytest.approx(direct.minus2loglik, rel=1e-12) and api.information == "observed"
    with pytest.raises(ModelError, match="information"):
        replicate.fit("y ~ x + (1 | g)", d, information="observed")
    with pytest.raises(ModelError, match="information"):
        replicate.fit("y ~ x + (1 | g)", d, family="binomial", method="pql", information="observed")


def test_the_python_api_fits_a_negative_binomial_with_its_theta_estimated():
    import pandas as pd

    import replicate
    from replicate.engine.glmm import fit_glmm_nb
    from replicate.errors import NotImplementedOption

    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(12), 10)
    x = rng.normal(size=g.size)
    mu = np.exp(0.5 + 0.3 * x + rng.normal(scale=0.5, size=12)[g])
    y = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))
    d = pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g.astype(str))})
    api = replicate.fit("y ~ x + (1 | g)", d, family="negative.binomial")
    direct = fit_glmm_nb(d, "y ~ x + (1 | g)")
    assert api.nb_theta == pytest.approx(direct.nb_theta, rel=1e-10) and 0.5 < api.nb_theta < 10
    with pytest.raises(NotImplementedOption, match="negative binomial"):
        replicate.fit("y ~ x + (1 | g)", d, family="negative.binomial", method="pql")


def test_the_negative_binomial_fallbacks_reach_the_same_theta(monkeypatch):
    """theta by damped Newton on the joint deviance; where Newton does not settle, the secant method on the
    profile's slope, and where that fails, Brent's bounded search: all three reach one maximum."""
    import pandas as pd

    import replicate.engine.glmm.negbin as nb

    rng = np.random.default_rng(9)
    g = np.repeat(np.arange(15), 8)
    x = rng.normal(size=g.size)
    mu = np.exp(0.8 + 0.4 * x + rng.normal(scale=0.6, size=15)[g])
    d = pd.DataFrame({"y": rng.negative_binomial(1.5, 1.5 / (1.5 + mu)), "x": x, "g": pd.Categorical(g.astype(str))})
    settled = []
    real = nb._newton
    monkeypatch.setattr(nb, "_newton", lambda *a: settled.append(real(*a)) or settled[-1])
    newton = nb.fit_glmm_nb(d, "y ~ x + (1 | g)")
    assert settled and settled[0] is not None  # Newton itself settled (the fallbacks are not what ran)
    monkeypatch.setattr(nb, "_newton", lambda *a, **k: None)
    secant = nb.fit_glmm_nb(d, "y ~ x + (1 | g)")
    monkeypatch.setattr(nb, "_secant", lambda slope: (0.0, False))
    brent = nb.fit_glmm_nb(d, "y ~ x + (1 | g)")
    for other in (secant, brent):
        assert other.nb_theta == pytest.approx(newton.nb_theta, rel=1e-5)
        assert other.minus2loglik == pytest.approx(newton.minus2loglik, abs=1e-7)
    assert newton.converged and secant.converged and brent.converged


def test_a_negative_binomial_without_overdispersion_has_no_theta_and_weights_are_refused():
    """Poisson data: the profile runs to the edge of theta's range, no interior maximum, so the fit is not
    converged (never agreement) and says why; prior weights, which lme4 and MASS read differently for this family,
    are refused."""
    import pandas as pd

    from replicate.engine.glmm import fit_glmm_nb
    from replicate.errors import NotImplementedOption

    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(12), 10)
    x = rng.normal(size=120)
    y = rng.poisson(np.exp(0.5 + 0.3 * x + rng.normal(scale=0.4, size=12)[g]))
    d = pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g.astype(str)), "w": rng.uniform(0.5, 2, 120)})
    fit = fit_glmm_nb(d, "y ~ x + (1 | g)")
    assert not fit.converged and fit.nb_theta > 1e4 and any("no interior maximum" in m for m in fit.messages)
    with pytest.raises(NotImplementedOption, match="weights"):
        fit_glmm_nb(d, "y ~ x + (1 | g)", weights="w")
    with pytest.raises(NotImplementedOption, match="weights"):
        fit_glmm(d, "y ~ x + (1 | g)", family="negative.binomial", theta=2.0, weights="w")
