"""The negative binomial GLMM (issue #17; the issue's optional family): lme4's glmer.nb and glmmTMB's nbinom2.

The family's deviance residuals and log-likelihood against R's ``MASS::negative.binomial`` (live); at a fixed
theta the fit is glmer's with ``family = negative.binomial(theta)`` (tight settings); with theta estimated, the
engine reaches glmmTMB's optimum with the observed information and glmer.nb's (at least as high) with the
expected one, on glmmTMB's Salamanders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.engine.glmm import fit_glmm, fit_glmm_nb
from replicate.engine.glmm.families import make_family
from replicate.errors import ModelError
from tests.rsupport import from_r, need_r, to_r

pytestmark = pytest.mark.r

FORMULA = "count ~ spp + mined + (1 | site)"

R_NB = """
function(d, theta) {
  suppressPackageStartupMessages({requireNamespace("lme4"); requireNamespace("glmmTMB")})
  f <- count ~ spp + mined + (1 | site)
  fam <- MASS::negative.binomial(theta)
  mu <- c(0.3, 1.7, 4.2); y <- c(0, 2, 9)
  ctl <- lme4::glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12, optCtrl = list(rhobeg = 2e-3, rhoend = 1e-10, maxfun = 1e5))
  g <- lme4::glmer(f, data = d, family = fam, control = ctl)
  nb <- lme4::glmer.nb(f, data = d)
  t <- glmmTMB::glmmTMB(f, data = d, family = glmmTMB::nbinom2)
  list(dev = fam$dev.resids(y, mu, rep(1, 3)), aic = fam$aic(y, rep(1, 3), mu, rep(1, 3), 0),
       fixed = c(-2 * as.numeric(logLik(g)), lme4::fixef(g), lme4::VarCorr(g)$site[1]),
       glmer_nb = c(lme4::getME(nb, "glmer.nb.theta"), as.numeric(logLik(nb))),
       tmb = c(sigma(t), as.numeric(logLik(t)), glmmTMB::fixef(t)$cond))
}
"""


@pytest.fixture(scope="module")
def salamanders():
    ro = need_r("lme4", "glmmTMB", "MASS")
    d = from_r(ro, "glmmTMB::Salamanders")
    d["spp"] = pd.Categorical(d["spp"].astype(str), categories=["GP", "PR", "DM", "EC-A", "EC-L", "DES-L", "DF"])
    d["mined"] = pd.Categorical(d["mined"].astype(str), categories=["yes", "no"])
    out = ro.r(R_NB)(to_r(ro, d), 0.94)
    return d, {k: np.asarray(v, dtype=float) for k, v in zip(out.names, out)}


def test_the_family_is_mass_negative_binomial(salamanders):
    _, ref = salamanders
    fam = make_family("negative.binomial", None, 0.94)
    y, mu, wt = np.array([0.0, 2.0, 9.0]), np.array([0.3, 1.7, 4.2]), np.ones(3)
    np.testing.assert_allclose(fam.dev_resids(y, mu, wt), ref["dev"], rtol=1e-12)
    assert float(np.sum(fam.minus2_loglik(y, np.ones(3), mu, wt))) == pytest.approx(float(ref["aic"][0]), rel=1e-12)
    with pytest.raises(ModelError, match="theta"):
        make_family("negative.binomial")
    with pytest.raises(ModelError, match="theta"):
        make_family("poisson", None, 2.0)


def test_at_a_fixed_theta_the_fit_is_glmers(salamanders):
    d, ref = salamanders
    fit = fit_glmm(d, FORMULA, family="negative.binomial", theta=0.94)
    # glmer (bobyqa to 1e-10) stops ~1e-6 short in -2 log L: the engine at least as high in log-likelihood
    assert (
        fit.minus2loglik == pytest.approx(float(ref["fixed"][0]), abs=1e-5)
        and fit.minus2loglik <= ref["fixed"][0] + 1e-8
    )
    np.testing.assert_allclose(fit.beta, ref["fixed"][1:-1], rtol=1e-5, atol=1e-7)
    assert float(fit.varcomps[0].cov[0, 0]) == pytest.approx(float(ref["fixed"][-1]), rel=1e-5)
    with pytest.raises(ModelError, match="nagq"):
        fit_glmm(d, FORMULA, family="negative.binomial", theta=0.94, method="agq", nagq=5)


def test_theta_estimated_is_glmer_nbs_and_glmmtmbs_by_their_two_laplace_approximations(salamanders):
    d, ref = salamanders
    expected = fit_glmm_nb(d, FORMULA)
    observed = fit_glmm_nb(d, FORMULA, information="observed")
    theta_nb, ll_nb = ref["glmer_nb"]
    assert expected.nb_theta == pytest.approx(float(theta_nb), rel=1e-4)
    assert -expected.minus2loglik / 2 >= float(ll_nb) - 1e-6 and -expected.minus2loglik / 2 == pytest.approx(
        ll_nb, abs=1e-3
    )
    theta_tmb, ll_tmb = ref["tmb"][:2]
    assert observed.nb_theta == pytest.approx(float(theta_tmb), rel=1e-4)
    assert -observed.minus2loglik / 2 == pytest.approx(float(ll_tmb), abs=1e-5)
    np.testing.assert_allclose(observed.beta, ref["tmb"][2:], rtol=1e-4, atol=1e-6)
    assert expected.npar == expected.beta.size + 2  # the variance and theta
    assert abs(expected.minus2loglik - observed.minus2loglik) > 0.05  # two approximations, two optima
