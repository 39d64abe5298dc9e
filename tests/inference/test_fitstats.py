"""Fit statistics as lme4, SAS and HLM define them, from one fit; and the fit at given variance parameters."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from replicate.design import build_design
from replicate.engine.fit import fit_at
from replicate.engines import get_engine
from replicate.errors import FitError, NotImplementedOption
from replicate.inference.fitstats import convention_of, fit_statistics, statistic
from replicate.spec import parse_formula


def _data(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(15), rng.integers(3, 12, 15))
    h = rng.integers(0, 4, g.shape[0])
    x = rng.normal(size=g.shape[0])
    y = 1 + 0.5 * x + rng.normal(size=15)[g] + 0.4 * rng.normal(size=15)[g] * x + rng.normal(size=g.shape[0])
    return pd.DataFrame({"y": y, "x": x, "g": g.astype(str), "h": h.astype(str)})


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_conventions_count_parameters_as_each_program(method):
    df = _data()
    design = build_design(parse_formula("y ~ x + (x | g)"), df)
    fit = get_engine("native").fit(design, method)
    m2ll = -2 * fit.loglik
    n, p, J = design.n, design.p, 15
    lme4 = fit_statistics(fit, design, "lme4")
    assert lme4["npar"] == 6 and lme4["aic"] == pytest.approx(fit.aic) and lme4["bic"] == pytest.approx(fit.bic)
    sas = fit_statistics(fit, design, "sas")
    d = 4 if method == "REML" else 6  # 3 G-side parameters + residual (+ 2 fixed effects under ML)
    nstar = n - p if method == "REML" else n
    assert sas["npar"] == d
    assert sas["aic"] == pytest.approx(m2ll + 2 * d)
    assert sas["aicc"] == pytest.approx(m2ll + 2 * d * nstar / (nstar - d - 1))
    assert sas["bic"] == pytest.approx(m2ll + d * math.log(J))
    nlme = fit_statistics(fit, design, "nlme")
    assert nlme["aic"] == pytest.approx(lme4["aic"])
    assert nlme["bic"] == pytest.approx(m2ll + 6 * math.log(n - p if method == "REML" else n))
    hlm = fit_statistics(fit, design, "hlm")
    assert hlm["npar"] == d and hlm["deviance"] == pytest.approx(m2ll) and "aic" not in hlm
    assert ("reml_criterion" in sas) == (method == "REML")


def test_sas_bic_needs_one_subject_effect():
    df = _data()
    design = build_design(parse_formula("y ~ x + (1 | g) + (1 | h)"), df)
    fit = get_engine("native").fit(design, "REML")
    stats = fit_statistics(fit, design, "sas")
    assert stats["aic"] == pytest.approx(-2 * fit.loglik + 2 * 3)
    with pytest.raises(NotImplementedOption, match="SUBJECT="):
        statistic(stats, "bic")
    # a linear model: one covariance parameter, and SAS's BIC uses the number of observations
    lm = build_design(parse_formula("y ~ x", fixed_only=True), df)
    f = get_engine("native").fit(lm, "REML")
    s = fit_statistics(f, lm, "sas")
    assert s["npar"] == 1
    # SAS fits it by REML: -2 log L_R from its definition, with Sigma = s^2 I
    X, y, n, p = lm.X, lm.y, lm.n, lm.p
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    s2 = float(np.sum((y - X @ beta) ** 2) / (n - p))
    m2 = (n - p) * math.log(2 * math.pi) + n * math.log(s2) + np.linalg.slogdet(X.T @ X / s2)[1] + (n - p)
    assert s["reml_criterion"] == pytest.approx(m2, rel=1e-12)
    assert s["bic"] == pytest.approx(m2 + math.log(n))
    assert fit_statistics(f, lm, "lme4")["loglik"] == pytest.approx(f.loglik)  # R's logLik(lm): ML


def test_convention_of_software():
    assert convention_of("sas") == "sas" and convention_of("SAS") == "sas"
    assert convention_of("hlm") == "hlm"
    assert convention_of("lme4") == convention_of("pbkrtest") == convention_of(None) == "lme4"
    assert convention_of("nlme") == "nlme"
    with pytest.raises(NotImplementedOption):
        fit_statistics(None, None, "spss")  # type: ignore[arg-type]


def test_fit_at_reproduces_the_optimum_and_moves_off_it():
    df = _data(2)
    design = build_design(parse_formula("y ~ x + (x | g)"), df)
    fit = get_engine("native").fit(design, "REML")
    same = fit_at(design, "REML", fit.theta)
    assert same.loglik == pytest.approx(fit.loglik, abs=1e-10)
    np.testing.assert_allclose(same.fixed.to_numpy(), fit.fixed.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(same.se.to_numpy(), fit.se.to_numpy(), rtol=1e-10)
    assert same.sigma2 == pytest.approx(fit.sigma2, rel=1e-12)
    off = fit_at(design, "REML", fit.theta * 1.2)
    assert off.loglik < fit.loglik
    # reusing the fit's deviance function (cross-products formed once) gives the same fit
    again = fit_at(design, "REML", fit.theta * 1.2, like=fit)
    assert again.loglik == pytest.approx(off.loglik, abs=1e-10)
    np.testing.assert_allclose(again.se.to_numpy(), off.se.to_numpy(), rtol=1e-12)
    assert "not optimized" in off.optinfo.message
    with pytest.raises(FitError, match="theta has"):
        fit_at(design, "REML", fit.theta[:2])
    with pytest.raises(FitError, match="bounds"):
        fit_at(design, "REML", -np.abs(fit.theta) - 0.1)


def test_a_linear_model_keeps_rs_ml_loglik_under_lme4s_convention():
    df = _data()
    lm = build_design(parse_formula("y ~ x", fixed_only=True), df)
    f = get_engine("native").fit(lm, "REML")
    for method in ("REML", "ML", None):
        assert fit_statistics(f, lm, "lme4", method=method)["loglik"] == pytest.approx(f.loglik)
    assert fit_statistics(f, lm, "sas", method="ML")["loglik"] == pytest.approx(f.loglik)
    assert fit_statistics(f, lm, "sas", method="REML")["loglik"] != pytest.approx(f.loglik)
