"""HLM's variance-component chi-square and reliability, the ICC, and ranova.

Published HLM2 printouts checked here (REML, HLM's default):

* High School and Beyond, one-way ANOVA (Raudenbush & Bryk 2002, ch. 4; HLM
  output reproduced on UCLA's "Singer (1998)" page): tau_00 = 8.61431,
  sigma^2 = 39.14831, chi-square 1660.23264 on 159 df, reliability 0.901;
  the data are nlme::MathAchieve.
* Kreft & de Leeuw's imm23 (Table 4.2) and imm10 (Table 3.3), HLM output on
  UCLA's textbook-example pages: reliabilities 0.857; 0.920 and 0.928.

``ranova`` is compared with lmerTest live (seed 002's classroom models) and
with seed 002's printed LRTs. R-backed tests skip when R cannot be loaded and
fail under REPLICATE_REQUIRE_R=1. Data go to R as data frames through pandas2ri.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from replicate.design import build_design
from replicate.errors import ModelError, NotImplementedOption
from replicate.inference.vartests import (
    chibar_pvalue,
    hlm_variance_tests,
    icc,
    ranova,
    reductions,
    reliability,
)
from replicate.spec import parse_formula
from tests.rsupport import data_folder
from tests.rsupport import fit_formula as _fit
from tests.rsupport import from_r as _from_r
from tests.rsupport import need_r as _need_r
from tests.rsupport import to_r as _to_r


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return data_folder()


@pytest.fixture(scope="module")
def hsb() -> pd.DataFrame:
    _need_r("nlme")
    from replicate.rbridge import r_dataset

    return r_dataset("nlme", "MathAchieve")


@pytest.fixture(scope="module")
def classroom(data_dir) -> pd.DataFrame:
    return pd.read_csv(data_dir / "classroom.csv")


# ---------------------------------------------------------- HLM published


@pytest.mark.r
def test_hsb_one_way_anova_matches_published_hlm(hsb):
    fit, design = _fit("MathAch ~ 1 + (1 | School)", hsb)
    # HLM stops iterating on a small change in the likelihood: its tau_00 is 3e-5 off the optimum
    np.testing.assert_allclose(fit.varcorr["vcov"], [8.61431, 39.14831], rtol=5e-5)
    tab = hlm_variance_tests(fit, design)
    row = tab.iloc[0]
    assert row["df"] == 159 and row["units_used"] == 160 and row["units"] == 160
    # HLM prints 1660.23264 at its own estimates (sigma^2 = 39.14831, gamma_00 = 12.636972)
    np.testing.assert_allclose(row["chisq"], 1660.23264, rtol=1e-6)
    assert row["p"] < 1e-100
    assert round(float(reliability(fit, design).iloc[0]), 3) == 0.901
    np.testing.assert_allclose(icc(fit), 8.61431 / (8.61431 + 39.14831), rtol=5e-5)
    assert "note" not in tab.attrs


@pytest.mark.r
def test_hsb_chisq_is_the_unit_mean_formula(hsb):
    """Intercept-only: chi2 = sum n_j (ybar_j - gamma_00)^2 / sigma^2, reliability = mean tau / (tau + sigma^2/n_j)."""
    fit, design = _fit("MathAch ~ 1 + (1 | School)", hsb)
    g = hsb.groupby("School", observed=True)["MathAch"]
    ybar, n = g.mean().to_numpy(), g.size().to_numpy()
    tau = float(fit.varcorr["vcov"].iloc[0])
    chisq = np.sum(n * (ybar - fit.fixed.iloc[0]) ** 2) / fit.sigma2
    np.testing.assert_allclose(hlm_variance_tests(fit, design)["chisq"].iloc[0], chisq, rtol=1e-12)
    np.testing.assert_allclose(reliability(fit, design).iloc[0], np.mean(tau / (tau + fit.sigma2 / n)), rtol=1e-12)


@pytest.mark.r
def test_level2_predictor_costs_one_df_unless_entered_at_level1(hsb):
    """Seed 000's pattern: URBAN at level 2 (df J - 2) or, wrongly, at level 1 (df J - 1, same chi-square)."""
    fit, design = _fit("MathAch ~ MEANSES + (1 | School)", hsb)
    at2 = hlm_variance_tests(fit, design).iloc[0]
    at1 = hlm_variance_tests(fit, design, level1_columns=["MEANSES"]).iloc[0]
    assert at2["df"] == 158 and at1["df"] == 159
    np.testing.assert_allclose(at1["chisq"], at2["chisq"], rtol=1e-12)  # same fitted values either way


def test_imm23_and_imm10_reliabilities_match_published_hlm(data_dir):
    imm23 = pd.read_csv(data_dir / "imm23.csv")
    fit, design = _fit("math ~ 1 + (1 | schid)", imm23)
    np.testing.assert_allclose(fit.varcorr["vcov"], [26.12302, 81.24393], rtol=1e-4)
    assert round(float(reliability(fit, design).iloc[0]), 3) == 0.857
    assert hlm_variance_tests(fit, design)["df"].iloc[0] == 22

    imm10 = pd.read_csv(data_dir / "imm10.csv")
    fit, design = _fit("math ~ homework + (homework | schid)", imm10)
    np.testing.assert_allclose(fit.varcorr["vcov"], [69.30426, 22.45254, -31.76171, 43.07100], rtol=1e-4)
    rel = reliability(fit, design)
    assert list(rel.index) == ["(Intercept)", "homework"]
    assert [round(float(v), 3) for v in rel] == [0.920, 0.928]
    tab = hlm_variance_tests(fit, design)
    assert list(tab["df"]) == [9, 9] and list(tab["coefficient"]) == ["(Intercept)", "homework"]


def test_units_without_sufficient_data_are_left_out(data_dir):
    imm10 = pd.read_csv(data_dir / "imm10.csv")
    # make one school's homework constant: its X_j'X_j is singular
    school = imm10["schid"].iloc[0]
    imm10.loc[imm10["schid"] == school, "homework"] = 1.0
    fit, design = _fit("math ~ homework + (homework | schid)", imm10)
    tab = hlm_variance_tests(fit, design)
    assert list(tab["units_used"]) == [9, 9] and list(tab["df"]) == [8, 8]
    assert "based on only 9 of 10 units" in tab.attrs["note"]


def test_three_level_models_are_not_hlm2(classroom):
    fit, design = _fit("mathgain ~ (1 | schoolid/classid)", classroom)
    with pytest.raises(NotImplementedOption):
        hlm_variance_tests(fit, design)
    np.testing.assert_allclose(
        icc(fit, "schoolid"), fit.varcorr["vcov"].iloc[1] / fit.varcorr["vcov"].sum(), rtol=1e-12
    )
    with pytest.raises(ModelError):
        icc(fit)


def test_icc_needs_a_random_intercept_model(data_dir):
    imm10 = pd.read_csv(data_dir / "imm10.csv")
    fit, _ = _fit("math ~ homework + (homework | schid)", imm10)
    with pytest.raises(ModelError):
        icc(fit)


# ------------------------------------------------------------------ ranova


def test_chibar_pvalue():
    assert chibar_pvalue(stats.chi2.isf(0.10, 1), {0: 0.5, 1: 0.5}) == pytest.approx(0.05)
    assert chibar_pvalue(0.0, {0: 0.5, 1: 0.5}) == 1.0
    x = 5.0
    assert chibar_pvalue(x, {1: 0.5, 2: 0.5}) == pytest.approx(0.5 * (stats.chi2.sf(x, 1) + stats.chi2.sf(x, 2)))
    assert np.isnan(chibar_pvalue(x, None))


def test_ranova_matches_seed_002(classroom):
    fit2, d2 = _fit("mathgain ~ (1 | schoolid)", classroom)
    tab2 = ranova(fit2, d2)
    assert list(tab2.index) == ["<none>", "(1 | schoolid)"]
    assert list(tab2["npar"]) == [3, 2]
    assert round(tab2["LRT"].iloc[1], 3) == 32.881 and round(tab2["logLik"].iloc[1], 1) == -5904.8
    fit3, d3 = _fit("mathgain ~ (1 | schoolid/classid)", classroom)
    tab3 = ranova(fit3, d3)
    assert list(tab3.index) == ["<none>", "(1 | classid:schoolid)", "(1 | schoolid)"]
    assert [round(v, 4) for v in tab3["LRT"].iloc[1:]] == [7.9048, 7.8875]
    assert [round(v, 6) for v in tab3["Pr(>Chisq)"].iloc[1:]] == [0.004930, 0.004978]
    np.testing.assert_allclose(tab3["Pr(>Chisq) chi-bar"].iloc[1:], tab3["Pr(>Chisq)"].iloc[1:] / 2, rtol=1e-12)


def _compare_ranova(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert len(ours) == len(theirs)
    np.testing.assert_array_equal(ours["npar"].to_numpy(), theirs["npar"].to_numpy())
    np.testing.assert_allclose(ours["logLik"], theirs["logLik"], rtol=1e-8)
    np.testing.assert_allclose(ours["AIC"], theirs["AIC"], rtol=1e-8)
    np.testing.assert_allclose(ours["LRT"].iloc[1:], theirs["LRT"].iloc[1:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours["Df"].iloc[1:], theirs["Df"].iloc[1:])
    np.testing.assert_allclose(ours["Pr(>Chisq)"].iloc[1:], theirs["Pr(>Chisq)"].iloc[1:], rtol=1e-4)


@pytest.mark.parametrize(
    "formula",
    [
        "mathgain ~ (1 | schoolid)",
        "mathgain ~ (1 | schoolid/classid)",
        "mathgain ~ ses + (1 | schoolid) + (0 + ses | schoolid)",
        "mathgain ~ ses + (1 | schoolid) + (0 + ses | schoolid) + (1 | classid)",
    ],
)
@pytest.mark.r
def test_ranova_matches_lmertest_classroom(formula, classroom):
    ro = _need_r("lme4", "lmerTest")
    _to_r(ro, classroom, ".vt_classroom")
    ro.globalenv[".vt_formula"] = ro.Formula(formula)
    theirs = _from_r(ro, "as.data.frame(lmerTest::ranova(lmerTest::lmer(.vt_formula, data = .vt_classroom)))")
    fit, design = _fit(formula, classroom)
    _compare_ranova(ranova(fit, design), theirs)


@pytest.mark.r
@pytest.mark.parametrize("method", ["REML", "ML"])
def test_ranova_matches_lmertest_random_slope(method):
    ro = _need_r("lme4", "lmerTest")
    from replicate.rbridge import r_dataset

    sleep = r_dataset("lme4", "sleepstudy")
    _to_r(ro, sleep, ".vt_sleep")
    ro.globalenv[".vt_reml"] = method == "REML"
    theirs = _from_r(
        ro,
        "as.data.frame(lmerTest::ranova(lmerTest::lmer(Reaction ~ Days + (Days | Subject), "
        "data = .vt_sleep, REML = .vt_reml)))",
    )
    fit, design = _fit("Reaction ~ Days + (Days | Subject)", sleep, method)
    ours = ranova(fit, design)
    _compare_ranova(ours, theirs)
    assert ours.index[1] == "Days in (1 + Days | Subject)" and ours["Df"].iloc[1] == 2
    # Stram & Lee: dropping the slope's variance and its covariance is 0.5 chi2(1) + 0.5 chi2(2)
    lrt = ours["LRT"].iloc[1]
    np.testing.assert_allclose(
        ours["Pr(>Chisq) chi-bar"].iloc[1], 0.5 * stats.chi2.sf(lrt, 1) + 0.5 * stats.chi2.sf(lrt, 2), rtol=1e-12
    )


def test_reductions_follow_lmertest(classroom):
    design = build_design(parse_formula("mathgain ~ ses + (0 + ses | schoolid) + (1 | classid)"), classroom)
    reds = reductions(design)
    assert [r.label for r in reds] == ["ses in (0 + ses | schoolid)", "(1 | classid)"]
    # lmerTest replaces (0 + ses | g) by (1 | g): not nested, so no chi-bar mixture
    assert reds[0].mixture is None and reds[1].mixture == {0: 0.5, 1: 0.5}
    assert [t.columns for t in reds[0].design.reterms if t.group == "schoolid"] == [("(Intercept)",)]
    full = reductions(design, reduce_terms=False)
    assert [r.label for r in full] == ["(0 + ses | schoolid)", "(1 | classid)"]


def test_reductions_match_terms_after_lme4_reordering(classroom):
    # lme4 puts classid:schoolid (more levels) first and reverses the two tied schoolid terms
    design = build_design(
        parse_formula("mathgain ~ ses + (1 | schoolid) + (0 + ses | schoolid) + (1 | classid)"), classroom
    )
    assert [t.columns for t in design.reterms] == [("(Intercept)",), ("ses",), ("(Intercept)",)]
    assert [t.group for t in design.reterms] == ["classid", "schoolid", "schoolid"]
    reds = reductions(design)
    assert [r.label for r in reds] == ["(1 | schoolid)", "ses in (0 + ses | schoolid)", "(1 | classid)"]
    kept = [[(t.group, t.columns) for t in r.design.reterms] for r in reds]
    assert kept[0] == [("classid", ("(Intercept)",)), ("schoolid", ("ses",))]
    # (0 + ses | schoolid) -> (1 | schoolid) repeats the existing term: R's update merges it, i.e. drops the slope
    assert kept[1] == [("classid", ("(Intercept)",)), ("schoolid", ("(Intercept)",))]
    assert reds[1].mixture == {0: 0.5, 1: 0.5}


@pytest.mark.r
def test_ranova_ml_fit_drops_to_the_ml_linear_model(classroom):
    ro = _need_r("lme4", "lmerTest")
    _to_r(ro, classroom, ".vt_classroom")
    theirs = _from_r(
        ro,
        "as.data.frame(lmerTest::ranova(lmerTest::lmer(mathgain ~ ses + (1 | schoolid), data = .vt_classroom, REML = FALSE)))",
    )
    fit, design = _fit("mathgain ~ ses + (1 | schoolid)", classroom, "ML")
    _compare_ranova(ranova(fit, design), theirs)


def test_uncorrelated_slopes_are_two_coefficients(data_dir):
    imm10 = pd.read_csv(data_dir / "imm10.csv")
    fit, design = _fit("math ~ homework + (homework || schid)", imm10)
    tab = hlm_variance_tests(fit, design)
    assert list(tab["coefficient"]) == ["(Intercept)", "homework"]
    np.testing.assert_allclose(tab["variance"], fit.varcorr["vcov"].iloc[:2], rtol=1e-12)
    assert list(tab["df"]) == [9, 9]
