"""The nlme engine (nlme::lme through rpy2) on nested designs.

nlme's optimizer (nlminb, after EM iterations) stops with looser tolerances
than lme4's or the native engine's, so variance components agree with the
native engine to about 4-6 digits; the likelihood, which is flat at the
optimum, agrees to many more.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import replicate
from replicate.design import build_design
from replicate.engines import Engine
from replicate.engines.r.nlme import NlmeEngine, nesting_chain
from replicate.errors import NotImplementedOption
from replicate.spec import parse_formula
from tests.rsupport import data_file, fit_with, lre, require_engine

# every test here drives R through rpy2
pytestmark = pytest.mark.r


@pytest.fixture(scope="module")
def classroom() -> pd.DataFrame:
    return pd.read_csv(data_file("classroom.csv"))


@pytest.fixture(scope="module")
def nlme():
    return require_engine(NlmeEngine)


@pytest.fixture(scope="module")
def sleepstudy(nlme):
    from replicate.rbridge import r_dataset

    return r_dataset("lme4", "sleepstudy")


@pytest.fixture(scope="module")
def fits(nlme, classroom, sleepstudy):
    cache: dict = {}

    def get(data: str, formula: str, method: str = "REML"):
        key = (data, formula, method)
        if key not in cache:
            cache[key] = fit_with(nlme, formula, classroom if data == "classroom" else sleepstudy, method)
        return cache[key]

    return get


MODELS = [
    ("classroom", "mathkind ~ ses + (1 | schoolid)", "REML"),
    ("classroom", "mathkind ~ ses + (1 | schoolid)", "ML"),
    ("classroom", "mathgain ~ ses + mathknow + (1 | schoolid/classid)", "REML"),
    ("classroom", "mathgain ~ ses + mathknow + (1 | schoolid/classid)", "ML"),
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "REML"),
]


@pytest.mark.parametrize("data,formula,method", MODELS)
def test_agrees_with_native(fits, data, formula, method):
    _, fl, nat = fits(data, formula, method)
    assert fl.engine == "nlme" and fl.method == method
    assert list(fl.fixed.index) == list(nat.fixed.index)
    assert lre(fl.fixed, nat.fixed).min() >= 5
    assert lre(fl.se, nat.se).min() >= 4
    assert lre(fl.loglik, nat.loglik) >= 8
    assert lre(fl.aic, nat.aic) >= 8
    assert fl.npar == nat.npar and fl.nobs == nat.nobs and fl.ngroups == nat.ngroups
    assert fl.varcorr["grp"].tolist() == nat.varcorr["grp"].tolist()
    var = fl.varcorr["var2"].isna()
    assert lre(fl.varcorr["vcov"][var], nat.varcorr["vcov"][var]).min() >= 4
    assert np.allclose(fl.varcorr["sdcor"][~var], nat.varcorr["sdcor"][~var], atol=1e-3)
    assert np.abs(fl.theta - nat.theta).max() < 1e-3
    assert fl.converged and not fl.singular


def test_follows_the_engine_protocol(nlme):
    assert isinstance(nlme, Engine) and nlme.name == "nlme"
    assert nlme.version().startswith("R ") and "nlme 3." in nlme.version()


def test_nlme_df(fits):
    _, two, _ = fits("classroom", "mathkind ~ ses + (1 | schoolid)")
    # innermost-level df: 1190 students - 107 schools - 1 (ses)
    assert two.extra["nlme_df"].to_dict() == {"(Intercept)": 1082.0, "ses": 1082.0}
    _, three, _ = fits("classroom", "mathgain ~ ses + mathknow + (1 | schoolid/classid)")
    # 1081 - 285 classes - 1; mathknow varies between classes: 285 - 105 schools - 1
    assert three.extra["nlme_df"].to_dict() == {"(Intercept)": 795.0, "ses": 795.0, "mathknow": 179.0}
    table = three.extra["coef_table"]
    assert list(table.columns) == ["Value", "Std.Error", "DF", "t-value", "p-value"]


def test_names_and_provenance(fits):
    _, fl, nat = fits("classroom", "mathgain ~ ses + mathknow + (1 | schoolid/classid)")
    prov = fl.extra["provenance"]
    assert prov["call"] == (
        "nlme::lme(fixed = mathgain ~ 1 + ses + mathknow, random = list(schoolid = ~1, "
        'classid = ~1), data = dat, method = "REML")'
    )
    assert prov["packages"]["nlme"].startswith("3.") and prov["r_version"].startswith("4.")
    assert fl.varcorr["grp"].tolist() == ["classid:schoolid", "schoolid", "Residual"]
    assert fl.ngroups == {"classid:schoolid": 285, "schoolid": 105}
    re_ = fl.ranef()
    assert set(re_["classid:schoolid"].index) == set(nat.ranef()["classid:schoolid"].index)
    a = re_["classid:schoolid"]["(Intercept)"]
    b = nat.ranef()["classid:schoolid"]["(Intercept)"]
    assert np.allclose(a.loc[b.index], b, atol=1e-3)


def test_bic_is_nlmes_own(fits):
    """nlme's BIC of a REML fit counts n - p observations."""
    design, fl, _ = fits("classroom", "mathkind ~ ses + (1 | schoolid)")
    assert fl.bic == pytest.approx(-2 * fl.loglik + math.log(design.n - design.p) * fl.npar, rel=1e-12)


def test_random_slopes_correlation(fits):
    _, fl, nat = fits("sleepstudy", "Reaction ~ Days + (Days | Subject)")
    assert fl.varcorr["var2"].tolist()[2] == "Days"
    assert fl.varcorr["sdcor"].iloc[2] == pytest.approx(nat.varcorr["sdcor"].iloc[2], abs=1e-3)


def test_interactions_weights_and_singular_fits(nlme, classroom):
    df = classroom.copy()
    df["w"] = 1 + (np.arange(len(df)) % 3) * 0.5
    df["sexf"] = df["sex"].map({0: "boy", 1: "girl"})
    f = "mathkind ~ ses * sexf + (1 | schoolid)"
    fl = nlme.fit(build_design(parse_formula(f), df, weights="w"), "REML")
    nat = replicate.fit(f, df, weights="w")
    assert list(fl.fixed.index) == ["(Intercept)", "ses", "sexfgirl", "ses:sexfgirl"]
    assert ".col1" in fl.extra["r_call"]  # nlme re-parses names: ':' names get generated ones
    assert "varFixed(~.invweights)" in fl.extra["r_call"]
    assert lre(fl.loglik, nat.loglik) >= 8
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(10), 5)
    y = rng.normal(size=50)
    y -= pd.Series(y).groupby(g).transform("mean").to_numpy()
    sing = nlme.fit(build_design(parse_formula("y ~ 1 + (1 | g)"), pd.DataFrame({"y": y, "g": g})), "REML")
    assert sing.singular and any("singular" in m for m in sing.messages)


# ------------------------------------------------ designs nlme cannot fit (no R needed)


def test_crossed_designs_are_refused(classroom):
    design = build_design(parse_formula("mathkind ~ ses + (1 | schoolid) + (1 | sex)"), classroom)
    with pytest.raises(NotImplementedOption, match="nested"):
        NlmeEngine().fit(design, "REML")


def test_several_terms_on_one_factor_are_refused(classroom):
    design = build_design(parse_formula("mathkind ~ ses + (ses || schoolid)"), classroom)
    with pytest.raises(NotImplementedOption, match="one random term per grouping factor"):
        NlmeEngine().fit(design, "REML")


def test_nesting_chain_orders_outer_first(classroom):
    design = build_design(parse_formula("mathkind ~ ses + (1 | schoolid/classid)"), classroom)
    assert [t.group for t in nesting_chain(design)] == ["schoolid", "classid:schoolid"]
