"""Engine adapters behind one protocol, on the classroom data."""

import os

import numpy as np
import pandas as pd
import pytest

import replicate
from replicate.design import build_design
from replicate.engines import ENGINES, Engine, get_engine
from replicate.errors import EngineUnavailable
from replicate.inference.marginal import MarginalModel
from replicate.spec import parse_formula


@pytest.fixture
def classroom(data_dir) -> pd.DataFrame:
    return pd.read_csv(data_dir / "classroom.csv")


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_every_engine_follows_the_protocol(name, classroom):
    try:
        eng = get_engine(name)
    except EngineUnavailable as exc:  # the R engines need R and rpy2
        if os.environ.get("REPLICATE_REQUIRE_R") == "1":
            raise
        pytest.skip(str(exc))
    assert isinstance(eng, Engine) and eng.name == name and eng.version()
    d = build_design(parse_formula("mathkind ~ ses + (1 | schoolid)"), classroom)
    fit = eng.fit(d, "REML")
    assert list(fit.fixed.index) == ["(Intercept)", "ses"]
    assert fit.nobs == 1190 and fit.ngroups == {"schoolid": 107}
    assert list(fit.varcorr.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    assert fit.varcorr["grp"].tolist() == ["schoolid", "Residual"]
    # both agree with lme4's printed REML criterion (12038.7) on this simple model
    assert fit.reml_criterion == pytest.approx(12038.7, abs=0.05)


def test_unknown_engine():
    with pytest.raises(EngineUnavailable, match="choose one of"):
        get_engine("spss")


def test_statsmodels_likelihood_is_its_own(classroom):
    """The likelihood statsmodels reports is the REML criterion at its own estimates,
    so a gap to lme4 is a different optimum, not a different definition."""
    d = build_design(parse_formula("mathkind ~ ses + (1 | schoolid/classid)"), classroom)
    sm = get_engine("statsmodels").fit(d, "REML")
    nat = get_engine("native").fit(d, "REML")
    mm = MarginalModel(d)
    at_sm = mm.deviance(np.r_[sm.theta, np.sqrt(sm.sigma2)], True)
    assert at_sm == pytest.approx(sm.reml_criterion, rel=1e-9)
    assert nat.reml_criterion <= sm.reml_criterion + 1e-6


def test_fit_api(classroom):
    fit = replicate.fit("mathgain ~ ses + mathknow + (1 | schoolid/classid)", classroom, method="ML")
    assert fit.method == "ML" and fit.deviance == pytest.approx(-2 * fit.loglik)
    assert fit.n_dropped == 109 and fit.nobs == 1081
    with pytest.raises(replicate.ModelError):
        replicate.fit("mathgain ~ ses + (1 | schoolid)", classroom, method="GLS")


def test_linear_model_without_random_effects_matches_statsmodels_ols(classroom):
    """model.fixed_only: least squares, with R's lm conventions (checked against statsmodels OLS)."""
    import statsmodels.api as sm

    from replicate.engines import get_engine as _get

    d = build_design(parse_formula("mathkind ~ ses", fixed_only=True), classroom)
    fit = _get("native").fit(d, "REML")
    ols = sm.OLS(d.y, d.X).fit()
    np.testing.assert_allclose(fit.fixed.to_numpy(), ols.params, rtol=1e-10)
    np.testing.assert_allclose(fit.se.to_numpy(), ols.bse, rtol=1e-10)
    np.testing.assert_allclose(fit.loglik, ols.llf, rtol=1e-12)
    np.testing.assert_allclose(fit.sigma2, ols.scale, rtol=1e-12)
    assert fit.npar == 3 and fit.aic == pytest.approx(-2 * ols.llf + 6)


def test_fixed_only_must_be_said():
    from replicate.errors import ModelError

    with pytest.raises(ModelError, match="fixed_only"):
        parse_formula("y ~ x")
    with pytest.raises(ModelError, match="fixed_only is true"):
        parse_formula("y ~ x + (1 | g)", fixed_only=True)
