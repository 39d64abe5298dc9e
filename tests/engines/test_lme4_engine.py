"""The lme4 engine (lmerTest's lmer through rpy2) against the native engine.

On the WWG classroom data and lme4's sleepstudy, both engines fit the same
Design; their numbers must agree to at least 6 significant digits. Where
lme4's default optimizer stops early in a flat direction (three-level and
random-slope models), the lme4 engine runs with tight tolerances
(``Lme4Engine(tight=True)``); the two-level model agrees at lme4's defaults.
Correlations and covariances are compared on their natural scale (a
correlation's error against 1, a covariance's against the product of the SDs),
since a correlation near zero has no meaningful relative error.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

import replicate
from replicate.design import build_design
from replicate.engines import Engine
from replicate.engines.r.lme4 import Lme4Engine
from replicate.errors import NotImplementedOption
from replicate.inference import fixed_df
from replicate.spec import parse_formula
from tests.rsupport import data_file, fit_with, lre, require_engine

# every test here drives R through rpy2
pytestmark = pytest.mark.r


@pytest.fixture(scope="module")
def lme4():
    return require_engine(Lme4Engine)


@pytest.fixture(scope="module")
def lme4_tight():
    return require_engine(Lme4Engine, tight=True)


@pytest.fixture(scope="module")
def datasets(lme4):
    from replicate.rbridge import r_dataset

    return {
        "classroom": pd.read_csv(data_file("classroom.csv")),
        "sleepstudy": r_dataset("lme4", "sleepstudy"),
    }


@pytest.fixture(scope="module")
def fits(datasets, lme4, lme4_tight):
    """(design, lme4 fit, native fit) per (data, formula, method, tight), cached."""
    cache: dict = {}

    def get(data: str, formula: str, method: str = "REML", tight: bool = False):
        key = (data, formula, method, tight)
        if key not in cache:
            cache[key] = fit_with(lme4_tight if tight else lme4, formula, datasets[data], method)
        return cache[key]

    return get


def vc_key(row) -> tuple:
    def s(v):
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)

    return (str(row["grp"]), s(row["var1"]), s(row["var2"]))


AGREEMENT = [
    ("classroom", "mathkind ~ ses + (1 | schoolid)", "REML", False),
    ("classroom", "mathkind ~ ses + (1 | schoolid)", "ML", False),
    ("classroom", "mathkind ~ ses + (1 | schoolid/classid)", "ML", True),
    ("classroom", "mathgain ~ ses + mathknow + (1 | schoolid/classid)", "REML", True),
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "REML", True),
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "ML", True),
    ("sleepstudy", "Reaction ~ Days + (Days || Subject)", "REML", True),
]


@pytest.mark.parametrize("data,formula,method,tight", AGREEMENT)
def test_agrees_with_native(fits, data, formula, method, tight):
    _, fl, nat = fits(data, formula, method, tight)
    assert fl.engine == "lme4" and fl.method == method
    assert list(fl.fixed.index) == list(nat.fixed.index)
    assert lre(fl.fixed, nat.fixed).min() >= 6
    assert lre(fl.se, nat.se).min() >= 6
    assert lre(fl.vcov.to_numpy(), nat.vcov.to_numpy()).min() >= 6
    assert lre(fl.sigma2, nat.sigma2) >= 6
    assert lre(fl.loglik, nat.loglik) >= 6
    for q in ("aic", "bic", "reml_criterion", "deviance"):
        a, b = getattr(fl, q), getattr(nat, q)
        assert (a is None) == (b is None), q
        if a is not None:
            assert lre(a, b) >= 6, q
    assert fl.npar == nat.npar and fl.nobs == nat.nobs and fl.ngroups == nat.ngroups
    assert [vc_key(r) for _, r in fl.varcorr.iterrows()] == [vc_key(r) for _, r in nat.varcorr.iterrows()]
    sd = {}
    for (_, a), (_, b) in zip(fl.varcorr.iterrows(), nat.varcorr.iterrows()):
        key = vc_key(a)
        if key[2] is None:
            # 5 digits on variance components, as the engine issue asks: a small component
            # in a flat direction of the likelihood moves in the 6th digit between two
            # optimizers that agree on the log-likelihood to 1e-11
            assert lre(a["vcov"], b["vcov"]) >= 5, key
            assert lre(a["sdcor"], b["sdcor"]) >= 5, key
            sd[key[:2]] = b["sdcor"]
        else:
            scale = sd[(key[0], key[1])] * sd[(key[0], key[2])]
            assert abs(a["vcov"] - b["vcov"]) <= 1e-6 * scale, key
            assert abs(a["sdcor"] - b["sdcor"]) <= 1e-6, key
    assert np.abs(fl.theta - nat.theta).max() <= 1e-5 * max(1.0, np.abs(nat.theta).max())
    assert lre(fl.fitted, nat.fitted).min() >= 6
    assert fl.converged and not fl.singular


def test_follows_the_engine_protocol(lme4):
    assert isinstance(lme4, Engine) and lme4.name == "lme4"
    v = lme4.version()
    assert v.startswith("R ") and "lme4 " in v and "lmerTest " in v and "pbkrtest " in v
    assert lme4.available() == (True, "")


def test_varcorr_layout(fits):
    _, fl, _ = fits("sleepstudy", "Reaction ~ Days + (Days | Subject)", "REML", True)
    vc = fl.varcorr
    assert list(vc.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    assert vc["grp"].tolist() == ["Subject", "Subject", "Subject", "Residual"]
    assert vc["var1"].tolist()[:3] == ["(Intercept)", "Days", "(Intercept)"]
    assert vc["var2"].iloc[2] == "Days"
    assert vc["var2"].iloc[:2].isna().all() and vc[["var1", "var2"]].iloc[3].isna().all()
    assert vc["sdcor"].iloc[3] == pytest.approx(math.sqrt(fl.sigma2))
    _, nested, _ = fits("classroom", "mathgain ~ ses + mathknow + (1 | schoolid/classid)", "REML", True)
    assert nested.varcorr["grp"].tolist() == ["classid:schoolid", "schoolid", "Residual"]
    assert nested.ngroups == {"classid:schoolid": 285, "schoolid": 105}
    _, split, _ = fits("sleepstudy", "Reaction ~ Days + (Days || Subject)", "REML", True)
    assert split.varcorr["grp"].tolist() == ["Subject", "Subject.1", "Residual"]


def test_satterthwaite_df_are_lmertests(fits):
    design, fl, nat = fits("classroom", "mathkind ~ ses + (1 | schoolid)")
    df = fl.extra["satterthwaite_df"]
    assert isinstance(df, pd.Series) and list(df.index) == ["(Intercept)", "ses"]
    # as printed by lmerTest in the seed (reference_outputs/lmerTest/classroom-mathkind-ses-school.txt)
    assert round(df["(Intercept)"], 3) == 98.752 and round(df["ses"], 3) == 1187.995
    native = fixed_df(nat, design, "satterthwaite")
    assert np.allclose(df, native, rtol=1e-4)
    table = fl.extra["coef_table"]
    assert list(table.columns) == ["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"]


def test_listwise_deletion_rows_and_counts(fits):
    design, fl, _ = fits("classroom", "mathgain ~ ses + mathknow + (1 | schoolid/classid)", "REML", True)
    assert fl.nobs == 1081 and fl.n_dropped == 109
    assert np.array_equal(fl.rows, design.rows)
    assert fl.extra["satterthwaite_df"]["mathknow"] == pytest.approx(211, abs=1)


def test_ranef_agree_with_native(fits):
    _, fl, nat = fits("sleepstudy", "Reaction ~ Days + (Days | Subject)", "REML", True)
    a, b = fl.ranef()["Subject"], nat.ranef()["Subject"]
    assert list(a.columns) == list(b.columns) == ["(Intercept)", "Days"]
    a = a.loc[b.index]
    assert np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-5, atol=1e-5)


def test_provenance(fits):
    _, fl, _ = fits("classroom", "mathkind ~ ses + (1 | schoolid)")
    prov = fl.extra["provenance"]
    assert prov["call"] == "lmerTest::lmer(formula = mathkind ~ 1 + ses + (1 | schoolid), data = dat, REML = TRUE)"
    assert prov["r_version"].startswith("4.") and set(prov["packages"]) == {"lme4", "lmerTest", "pbkrtest"}
    assert all(prov["packages"].values())
    assert dt.datetime.fromisoformat(prov["date"]).tzinfo is not None
    _, tight, _ = fits("classroom", "mathkind ~ ses + (1 | schoolid/classid)", "ML", True)
    assert "control = lme4::lmerControl(" in tight.extra["provenance"]["call"]
    assert "REML = FALSE" in tight.extra["provenance"]["call"]


def test_kenward_roger_is_computed_only_when_asked(fits, lme4):
    _, fl, _ = fits("sleepstudy", "Reaction ~ Days + (Days | Subject)", "REML", True)
    assert "kr_df" not in fl.extra and "kr_se" not in fl.extra
    kr = lme4.kenward_roger(fl)
    # balanced design: KR df are the between-subject df, 18 - 1, and the SEs are unadjusted
    assert np.allclose(kr["df"], 17.0, atol=1e-6)
    assert np.allclose(kr["se"], fl.se, rtol=1e-6)
    assert fl.extra["kr_df"] is not None and fl.extra["kr_se"].index.tolist() == ["(Intercept)", "Days"]
    assert lme4.kenward_roger(fl) is not None  # cached


def test_kenward_roger_matches_get_lb_ddf(datasets):
    import rpy2.robjects as ro

    eng = require_engine(Lme4Engine, kenward_roger=True)
    design = build_design(parse_formula("mathkind ~ ses + (1 | schoolid)"), datasets["classroom"])
    fl = eng.fit(design, "REML")
    assert "kr_df" in fl.extra  # eager with kenward_roger=True
    per_coef = ro.r("function(m, L) pbkrtest::get_Lb_ddf(m, L)")
    for j, name in enumerate(fl.fixed.index):
        L = ro.FloatVector([1.0 if k == j else 0.0 for k in range(len(fl.fixed))])
        assert fl.extra["kr_df"][name] == pytest.approx(float(per_coef(fl.extra["r_model"], L)[0]), rel=1e-10)
    assert fl.extra["kr_df"]["(Intercept)"] == pytest.approx(102.648, abs=1e-3)
    assert fl.extra["kr_se"]["ses"] > fl.se["ses"]


def test_kenward_roger_needs_reml(fits, lme4):
    _, fl, _ = fits("classroom", "mathkind ~ ses + (1 | schoolid)", "ML")
    with pytest.raises(NotImplementedOption, match="REML"):
        lme4.kenward_roger(fl)


def test_singular_fit_is_flagged_not_unconverged(lme4):
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(10), 5)
    y = rng.normal(size=50)
    y -= pd.Series(y).groupby(g).transform("mean").to_numpy()  # no between-group variation at all
    df = pd.DataFrame({"y": y, "g": g})
    fl = lme4.fit(build_design(parse_formula("y ~ 1 + (1 | g)"), df), "REML")
    assert fl.singular and fl.converged
    assert any("singular" in m for m in fl.messages)
    assert fl.varcorr["vcov"].iloc[0] == pytest.approx(0.0, abs=1e-8)


def test_weights_and_factor_interactions_agree_with_native(lme4, datasets):
    df = datasets["classroom"].copy()
    df["w"] = 1 + (np.arange(len(df)) % 3) * 0.5
    df["sexf"] = df["sex"].map({0: "boy", 1: "girl"})
    f = "mathkind ~ ses * sexf + (1 | schoolid)"
    design = build_design(parse_formula(f), df, weights="w")
    fl = lme4.fit(design, "REML")
    nat = replicate.fit(f, df, weights="w")
    assert list(fl.fixed.index) == ["(Intercept)", "ses", "sexfgirl", "ses:sexfgirl"]
    assert "weights = .weights" in fl.extra["r_call"] and "`ses:sexfgirl`" in fl.extra["r_call"]
    assert lre(fl.fixed, nat.fixed).min() >= 6
    assert lre(fl.loglik, nat.loglik) >= 8


def test_runs_a_case_through_the_runner(case_dir, lme4):
    from replicate.outcome import OK
    from replicate.runner import run_case

    res = run_case(case_dir / "classroom-mathkind-ses-school.yaml", lme4)
    assert res.status == OK, [
        (b.label, b.error, [(v.name, v.quantity, v.verdict) for v in b.values]) for b in res.blocks
    ]
    assert res.engine_version.startswith("R ")
