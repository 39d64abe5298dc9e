"""SAS GLIMMIX's pseudo-likelihood (RSPL, MSPL; the marginal RMPL, MMPL) and the unit-scale linear model under it (#17).

The working linear model with its residual variance fixed at 1 is checked against glmmTMB with the dispersion
mapped to 1 (REML and ML) and nlme's ML with ``lmeControl(sigma = 1)`` (nlme's fixed-sigma REML is not REML's
optimum: the brute-force restricted likelihood agrees with glmmTMB and the engine, 4.73442 on Orthodont, nlme gives
4.68201). RSPL and MSPL are checked against the same linearization iterated in R to its fixed point on MASS's
bacteria data (glmmTMB working models; for RMPL and MMPL the next expansion point is the working model's
population-level prediction ``X beta``, computed from the model matrix: glmmTMB 1.1.5's ``predict(re.form = NA)``
returned the first linear predictor again here), MSPL also against glmmPQL with ``lmeControl(sigma = 1)``, and the SEs
against their definition ``(X' V^-1 X)^-1`` at the final working model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.data import load_r_dataset
from replicate.design import build_design
from replicate.engine.glmm import fit_glmm_pl
from replicate.engine.unit_scale import fit_unit_scale
from replicate.errors import ModelError
from replicate.spec import parse_formula
from tests.rsupport import need_r

FORMULA = "yy ~ trt + wk2 + (1 | ID)"

LOOP = """
local({
  suppressMessages(library(glmmTMB))
  d <- MASS::bacteria; d$yy <- as.numeric(d$y == "y"); d$wk2 <- as.numeric(d$week > 2)
  pl <- function(reml, marginal = FALSE) {
    fam <- binomial(); m <- glm(yy ~ trt + wk2, family = fam, data = d)
    eta <- m$linear.predictors; zz <- eta + m$residuals; wz <- m$weights
    for (i in 1:50) {
      d$zz <- zz; d$wz <- wz
      f <- glmmTMB(zz ~ trt + wk2 + (1 | ID), data = d, weights = wz, REML = reml,
                   start = list(betad = 0), map = list(betad = factor(NA)))
      etaold <- eta; eta <- if (marginal) drop(model.matrix(m) %*% fixef(f)$cond) else predict(f)
      if (sum((eta - etaold)^2) < 1e-16 * sum(eta^2)) break
      mu <- fam$linkinv(eta); me <- fam$mu.eta(eta); zz <- eta + (d$yy - mu) / me; wz <- me^2 / fam$variance(mu)
    }
    th <- summary(f$sdr, "fixed"); th <- th[rownames(th) == "theta", ]
    v <- VarCorr(f)$cond$ID[1]
    c(fixef(f)$cond, v, 2 * v * th[[2]])  # the variance's SE from sdreport's SE of log(sd), by the delta method
  }
  g <- MASS::glmmPQL(yy ~ trt + wk2, random = ~ 1 | ID, family = binomial, data = d, verbose = FALSE,
                     control = nlme::lmeControl(sigma = 1))
  list(rspl = pl(TRUE), mspl = pl(FALSE), rmpl = pl(TRUE, TRUE), mmpl = pl(FALSE, TRUE),
       pql1 = c(nlme::fixef(g), sqrt(diag(vcov(g))), as.numeric(nlme::getVarCov(g))))
})
"""

UNIT = """
local({
  suppressMessages(library(glmmTMB))
  d <- nlme::Orthodont
  one <- function(reml) {
    f <- glmmTMB(distance ~ age + (age | Subject), data = d, REML = reml,
                 start = list(betad = 0), map = list(betad = factor(NA)))
    c(fixef(f)$cond, as.numeric(VarCorr(f)$cond$Subject)[c(1, 2, 4)], as.numeric(logLik(f)))
  }
  n <- nlme::lme(distance ~ age, random = ~ age | Subject, data = d, method = "ML",
                 control = nlme::lmeControl(sigma = 1))
  list(reml = one(TRUE), ml = one(FALSE), nlme_se = sqrt(diag(vcov(n))))
})
"""


def _bacteria() -> pd.DataFrame:
    d, _, _ = load_r_dataset("MASS", "bacteria")
    d["yy"] = (d["y"].astype(str) == "y").astype(float)
    d["wk2"] = (d["week"] > 2).astype(float)
    d["trt"] = pd.Categorical(d["trt"].astype(str), categories=["placebo", "drug", "drug+"])
    return d


@pytest.fixture(scope="module")
def bacteria() -> pd.DataFrame:
    return _bacteria()


def _summary(fit) -> np.ndarray:
    var = float(fit.varcorr.loc[fit.varcorr["grp"] == "ID", "vcov"].iloc[0])
    return np.array([*fit.beta, var])


def test_the_unit_scale_fit_is_at_the_restricted_likelihoods_optimum():
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    fit = fit_unit_scale(build_design(parse_formula("distance ~ age + (1 | Subject)"), d), "REML")
    assert fit.converged and fit.sigma2 == 1.0
    tau2 = float(fit.varcorr["vcov"].iloc[0])
    # the restricted likelihood with sigma = 1, by its definition, is lower on both sides of the estimate
    X = np.column_stack([np.ones(len(d)), d["age"].to_numpy(float)])
    y = d["distance"].to_numpy(float)
    Z = pd.get_dummies(d["Subject"].astype(str)).to_numpy(float)

    def restricted(t2: float) -> float:
        V = np.eye(len(y)) + t2 * Z @ Z.T
        Vi = np.linalg.inv(V)
        xvx = X.T @ Vi @ X
        r = y - X @ np.linalg.solve(xvx, X.T @ Vi @ y)
        return float(np.linalg.slogdet(V)[1] + np.linalg.slogdet(xvx)[1] + r @ Vi @ r)

    at = restricted(tau2)
    assert at <= restricted(tau2 * 1.001) and at <= restricted(tau2 / 1.001)
    assert -0.5 * (at + (len(y) - 2) * np.log(2 * np.pi)) == pytest.approx(fit.loglik, abs=1e-8)


def test_pseudo_likelihood_refuses_what_it_does_not_do(bacteria):
    with pytest.raises(ModelError, match="unknown"):
        fit_glmm_pl(bacteria, FORMULA, "binomial", method="rspl2")
    with pytest.raises(ModelError, match="gaussian"):  # the GLMM families are binomial and Poisson
        fit_glmm_pl(bacteria, FORMULA, "gaussian", method="rspl")


def test_the_ses_are_the_working_models_model_based_covariance(bacteria):
    fit = fit_glmm_pl(bacteria, FORMULA, "binomial", method="rspl")
    assert fit.converged and fit.sigma == 1.0
    lmm = fit.lmm
    tau2 = float(fit.varcorr.loc[fit.varcorr["grp"] == "ID", "vcov"].iloc[0])
    # (X' V^-1 X)^-1 with V = diag(1 / w) + tau2 Z Z' at the last working weights
    eta = np.asarray(lmm.fitted, dtype=float)
    mu = 1.0 / (1.0 + np.exp(-eta))
    w = mu * (1.0 - mu)
    X = np.column_stack(
        [
            np.ones(len(bacteria)),
            (bacteria["trt"] == "drug").to_numpy(float),
            (bacteria["trt"] == "drug+").to_numpy(float),
            bacteria["wk2"].to_numpy(float),
        ]
    )
    Z = pd.get_dummies(bacteria["ID"].astype(str)).to_numpy(float)
    V = np.diag(1.0 / w) + tau2 * Z @ Z.T
    se = np.sqrt(np.diag(np.linalg.inv(X.T @ np.linalg.solve(V, X))))
    np.testing.assert_allclose(fit.se, se, rtol=1e-5)


@pytest.mark.r
def test_rspl_and_mspl_are_the_linearizations_fixed_point_in_r(bacteria):
    ro = need_r("glmmTMB", "MASS", "nlme")
    out = ro.r(LOOP)
    for method in ("rspl", "mspl", "rmpl", "mmpl"):
        fit = fit_glmm_pl(bacteria, FORMULA, "binomial", method=method)
        ref = np.asarray(out.rx2(method), dtype=float)
        np.testing.assert_allclose(_summary(fit), ref[:5], rtol=1e-5)
        # GLIMMIX's SE of the variance: the observed information of the last working model (glmmTMB's Hessian)
        assert fit.covparm_se is not None and fit.covparm_se[("ID", "(Intercept)", "(Intercept)")] == pytest.approx(
            ref[5], rel=1e-4
        )
    # glmmPQL with sigma fixed at 1 stops its iteration early (1e-6 on eta); it agrees with MSPL to its precision
    pql1 = np.asarray(out.rx2("pql1"), dtype=float)
    mspl = fit_glmm_pl(bacteria, FORMULA, "binomial", method="mspl")
    np.testing.assert_allclose(mspl.beta, pql1[:4], rtol=5e-4)
    np.testing.assert_allclose(mspl.se, pql1[4:8], rtol=5e-4)


@pytest.mark.r
def test_the_unit_scale_linear_model_is_glmmtmbs_with_the_dispersion_fixed():
    ro = need_r("glmmTMB", "nlme")
    out = ro.r(UNIT)
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    design = build_design(parse_formula("distance ~ age + (age | Subject)"), d)
    for method, key in (("REML", "reml"), ("ML", "ml")):
        fit = fit_unit_scale(design, method)
        ref = np.asarray(out.rx2(key), dtype=float)
        vc = fit.varcorr
        ours = [*fit.fixed.to_numpy(float), *vc["vcov"].iloc[[0, 1, 2]].to_numpy(float)]
        order = [0, 1, 2, 4, 3]  # glmmTMB: var(Intercept), cov, var(age); the engine: var, var, cov
        # a flat restricted likelihood: the same value to 1e-9, the covariances to 5 digits, ours at least as high
        np.testing.assert_allclose(np.asarray(ours)[order[:5]], ref[:5], rtol=5e-5)
        assert fit.loglik == pytest.approx(ref[5], abs=1e-6) and fit.loglik >= ref[5] - 1e-8
        if method == "ML":  # nlme's ML with sigma = 1: the model-based SEs
            se = np.sqrt(np.diag(fit.vcov.to_numpy(float)))
            np.testing.assert_allclose(se, np.asarray(out.rx2("nlme_se"), dtype=float), rtol=1e-5)


def test_the_marginal_expansion_is_its_own_fixed_point_and_differs_from_the_conditional_one(bacteria):
    from dataclasses import replace as dc_replace

    from replicate.engine.glmm.api import prepare

    design, resp, _ = prepare(bacteria, FORMULA, "binomial")
    X = np.asarray(design.X, dtype=float)
    for marginal, conditional in (("rmpl", "rspl"), ("mmpl", "mspl")):
        fit = fit_glmm_pl(bacteria, FORMULA, "binomial", method=marginal)
        assert fit.converged
        # one more linearization about X beta (the random effects at 0) gives the same beta back
        eta = X @ fit.beta
        mu = 1 / (1 + np.exp(-eta))
        w = mu * (1 - mu)
        z = eta + (resp.y - mu) / w
        again = fit_unit_scale(dc_replace(design, y=z, weights=w, offset=None), "REML" if marginal == "rmpl" else "ML")
        np.testing.assert_allclose(np.asarray(again.fixed, dtype=float), fit.beta, rtol=1e-7, atol=1e-9)
        # the subject-specific expansion's fixed point is another: MQL's attenuated effects, a smaller variance
        other = fit_glmm_pl(bacteria, FORMULA, "binomial", method=conditional)
        assert np.all(np.abs(fit.beta[1:]) < np.abs(other.beta[1:]))
        assert float(fit.varcorr["vcov"].iloc[0]) < float(other.varcorr["vcov"].iloc[0])


#: RSPL of a correlated random slope iterated in R with glmmTMB working models (dispersion fixed at 1); the SEs of
#: the variances and the covariance from sdreport's (log-SDs and glmmTMB's correlation parameter) by the delta method.
SLOPE = """
function(d) {
  suppressMessages(library(glmmTMB))
  fam <- binomial(); m <- glm(use01 ~ age + urban01, family = fam, data = d)
  eta <- m$linear.predictors; zz <- eta + m$residuals; wz <- m$weights
  for (i in 1:100) {
    d$zz <- zz; d$wz <- wz
    f <- glmmTMB(zz ~ age + urban01 + (1 + urban01 | district), data = d, weights = wz, REML = TRUE,
                 start = list(betad = 0), map = list(betad = factor(NA)))
    etaold <- eta; eta <- predict(f)
    if (sum((eta - etaold)^2) < 1e-16 * sum(eta^2)) break
    mu <- fam$linkinv(eta); me <- fam$mu.eta(eta); zz <- eta + (d$use01 - mu) / me; wz <- me^2 / fam$variance(mu)
  }
  V <- vcov(f, full = TRUE); k <- ncol(V); i <- (k - 2):k
  p <- f$fit$par; th <- p[names(p) == "theta"]; a <- th[1]; b <- th[2]; t3 <- th[3]
  cv <- t3 / sqrt(1 + t3^2) * exp(a + b)
  J <- rbind(c(2 * exp(2 * a), 0, 0), c(cv, cv, exp(a + b) * (1 + t3^2)^(-1.5)), c(0, 2 * exp(2 * b), 0))
  c(exp(2 * a), cv, exp(2 * b), sqrt(diag(J %*% V[i, i] %*% t(J))))
}
"""


@pytest.mark.r
def test_covariance_parameter_ses_of_a_correlated_slope_are_glmmtmbs_working_models():
    ro = need_r("glmmTMB", "mlmRev")
    from tests.rsupport import from_r, to_r

    d = from_r(
        ro, "within(mlmRev::Contraception, {use01 <- as.integer(use == 'Y'); urban01 <- as.integer(urban == 'Y')})"
    )
    ref = np.asarray(ro.r(SLOPE)(to_r(ro, d)), dtype=float)
    fit = fit_glmm_pl(d, "use01 ~ age + urban01 + (1 + urban01 | district)", "binomial", method="rspl")
    vc = fit.varcorr
    got = [float(vc["vcov"].iloc[0]), float(vc["vcov"].iloc[2]), float(vc["vcov"].iloc[1])]
    np.testing.assert_allclose(got, ref[:3], rtol=1e-5)
    assert fit.covparm_se is not None
    keys = [
        ("district", "(Intercept)", "(Intercept)"),
        ("district", "urban01", "(Intercept)"),
        ("district", "urban01", "urban01"),
    ]
    np.testing.assert_allclose([fit.covparm_se[k] for k in keys], ref[3:], rtol=2e-5)
