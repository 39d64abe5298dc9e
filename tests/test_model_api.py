"""The Python API: a fit that carries its design (replicate.fit -> FittedModel).

The native tests check that each method is the free function it names, computed from the same fit,
and that the printouts carry the computed numbers; the live tests check the methods against
lmerTest, pbkrtest and clubSandwich on the WWG classroom data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import replicate
from replicate.errors import ModelError, NotImplementedOption
from replicate.inference import fixed_df, fixed_se
from replicate.inference.robust import cluster_robust_vcov
from replicate.model import FittedModel
from tests.rsupport import data_file, need_r, to_r

FORMULA = "mathkind ~ ses + sex + (1 | schoolid)"


@pytest.fixture(scope="module")
def classroom() -> pd.DataFrame:
    return pd.read_csv(data_file("classroom.csv"))


@pytest.fixture(scope="module")
def fit(classroom: pd.DataFrame) -> FittedModel:
    return replicate.fit(FORMULA, classroom)


def test_fit_carries_its_design_and_reads_through(fit: FittedModel) -> None:
    assert isinstance(fit, FittedModel)
    assert fit.design.fixed_names == tuple(fit.fixed.index)
    assert fit.nobs == fit.design.n == 1190 and fit.converged and fit.method == "REML"
    np.testing.assert_allclose(fit.se(), np.sqrt(np.diag(fit.vcov)), rtol=1e-14)
    assert "mathkind" in repr(fit)


def test_methods_are_the_free_functions_of_the_same_fit(fit: FittedModel) -> None:
    for method in ("residual", "containment", "between-within", "hlm", "nlme", "satterthwaite", "kenward-roger"):
        pd.testing.assert_series_equal(fit.df(method), fixed_df(fit.result, fit.design, method))
    pd.testing.assert_series_equal(fit.se("cr2"), fixed_se(fit.result, fit.design, "cr2"))
    pd.testing.assert_frame_equal(fit.vcov_of("cr2"), cluster_robust_vcov(fit.result, fit.design, "CR2"))
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov_of("kenward-roger"))), fit.se("kenward-roger"), rtol=1e-12)
    sas = fit.df("kenward-roger", information="observed")
    assert sas.index.equals(fit.fixed.index) and np.all(np.isfinite(sas))
    assert fit.df("residual").iloc[0] == 1190 - 3


def test_coef_table_is_internally_consistent(fit: FittedModel) -> None:
    tab = fit.coef_table(df="kenward-roger", se="kenward-roger", level=0.9)
    np.testing.assert_allclose(tab["t value"], tab["Estimate"] / tab["Std. Error"], rtol=1e-14)
    from scipy import stats

    half = stats.t.ppf(0.95, tab["df"]) * tab["Std. Error"]
    np.testing.assert_allclose(tab["upper 90%"] - tab["Estimate"], half, rtol=1e-12)
    np.testing.assert_allclose(tab["Pr(>|t|)"], 2 * stats.t.sf(abs(tab["t value"]), tab["df"]), rtol=1e-12)
    with pytest.raises(ModelError):
        fit.coef_table(level=1.5)


def test_covariance_parameters_tests_icc(fit: FittedModel) -> None:
    cp = fit.covparms()
    assert list(cp["group"]) == ["schoolid", "Residual"]
    tau, sigma2 = cp["estimate"]
    assert fit.icc() == pytest.approx(tau / (tau + sigma2), rel=1e-12)
    vt = fit.hlm_tests()
    assert vt["df"].iloc[0] == 107 - 1 and vt["chisq"].iloc[0] > 0
    assert 0 < fit.reliability().iloc[0] < 1
    an = fit.anova()
    assert list(an.index) == ["ses", "sex"]
    np.testing.assert_allclose(an["F value"], fit.coef_table()["t value"].iloc[1:] ** 2, rtol=1e-10)
    with pytest.raises(NotImplementedOption):
        fit.anova(type=2)


def test_lrt_of_two_api_fits_refits_by_ml_without_designs(classroom: pd.DataFrame) -> None:
    small = replicate.fit("mathkind ~ ses + (1 | schoolid)", classroom)
    big = replicate.fit(FORMULA, classroom)
    tab = replicate.lrt(small, big)
    ml_small = replicate.fit("mathkind ~ ses + (1 | schoolid)", classroom, method="ML")
    ml_big = replicate.fit(FORMULA, classroom, method="ML")
    assert tab["Chisq"].iloc[1] == pytest.approx(2 * (ml_big.loglik - ml_small.loglik), rel=1e-6)


def test_summaries_print_the_computed_numbers(fit: FittedModel) -> None:
    lmer = fit.summary()
    assert "Satterthwaite" in lmer and f"{fit.df('satterthwaite')['ses']:.2f}" in lmer
    assert f"{-2 * fit.loglik:.1f}" in lmer and "Number of obs: 1190" in lmer
    plain = fit.summary(like="lme4")
    assert " df " not in plain.split("Fixed effects:")[1].splitlines()[1]
    sas = fit.summary(like="SAS")
    assert "Covariance Parameter Estimates" in sas and "Solution for Fixed Effects" in sas
    assert f"{fit.fit_statistics('sas')['aicc']:.1f}" in sas
    assert f"{fit.df('containment')['ses']:.0f}" in sas
    intercept = sas.split("Solution for Fixed Effects")[1].splitlines()[2]
    assert f"{fit.fixed['(Intercept)']:.4f}" in intercept and f"{fit.df('containment').iloc[0]:.0f}" in intercept
    hlm = fit.summary(like="hlm")
    assert f"{fit.fixed['(Intercept)']:.6f}" in hlm
    assert f"{fit.df('hlm')['ses']:.0f}" in hlm and f"{fit.hlm_tests()['chisq'].iloc[0]:.5f}" in hlm
    with pytest.raises(NotImplementedOption):
        fit.summary(like="stata")


def test_linear_model_refuses_random_effect_quantities(classroom: pd.DataFrame) -> None:
    from replicate.design import build_design
    from replicate.engines import get_engine
    from replicate.spec import parse_formula

    spec = parse_formula("mathkind ~ ses", fixed_only=True)
    design = build_design(spec, classroom)
    lm = FittedModel(get_engine("native").fit(design, "REML"), design)
    with pytest.raises(ModelError):
        lm.icc()
    assert lm.df("residual").iloc[0] == 1190 - 2


R_CHECK = """
function(d, formula) {
  f <- as.formula(formula)
  m <- lmerTest::lmer(f, data = d)
  s <- summary(m)$coefficients
  kr <- pbkrtest::get_Lb_ddf(m, c(0, 1, 0))
  v <- clubSandwich::vcovCR(m, type = "CR2")
  list(satt_df = unname(s[, "df"]), se = unname(s[, "Std. Error"]), kr_df_ses = kr,
       cr2_se = unname(sqrt(diag(as.matrix(v)))))
}
"""


@pytest.mark.r
def test_api_agrees_with_lmertest_pbkrtest_clubsandwich(fit: FittedModel, classroom: pd.DataFrame) -> None:
    ro = need_r("lmerTest", "pbkrtest", "clubSandwich")
    out = ro.r(R_CHECK)(to_r(ro, classroom[["mathkind", "ses", "sex", "schoolid"]]), FORMULA)
    got = {k: np.asarray(out.rx2(k), float) for k in ("satt_df", "se", "kr_df_ses", "cr2_se")}
    table = fit.coef_table(df="satterthwaite")
    np.testing.assert_allclose(table["df"], got["satt_df"], rtol=1e-5)
    np.testing.assert_allclose(table["Std. Error"], got["se"], rtol=1e-6)
    assert fit.df("kenward-roger")["ses"] == pytest.approx(float(got["kr_df_ses"][0]), rel=1e-5)
    np.testing.assert_allclose(fit.se("cr2"), got["cr2_se"], rtol=1e-5)


def test_fit_with_a_family_is_glmers_model_and_wrong_methods_are_refused():
    from replicate.data import load_r_dataset
    from replicate.engine.glmm import fit_glmm, fit_glmm_pql

    cbpp, _, _ = load_r_dataset("lme4", "cbpp")
    cbpp = cbpp.assign(period=cbpp["period"].astype(str))
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    laplace = replicate.fit(formula, cbpp, family="binomial")
    assert laplace.objective == pytest.approx(fit_glmm(cbpp, formula).objective, rel=1e-12)
    agq = replicate.fit(formula, cbpp, family="binomial", method="agq", nagq=9)
    assert agq.nagq == 9 and agq.objective != pytest.approx(laplace.objective)
    pql = replicate.fit(formula, cbpp, family="binomial", method="pql")
    assert pql.sigma == pytest.approx(fit_glmm_pql(cbpp, formula).sigma, rel=1e-12)
    for kwargs in ({"family": "binomial", "method": "REML"}, {"method": "laplace"}, {"nagq": 9}):
        with pytest.raises(replicate.ModelError):
            replicate.fit(formula, cbpp, **kwargs)
    with pytest.raises(replicate.ReplicateError, match="not implemented|engine="):
        replicate.fit(formula, cbpp, family="binomial", engine="statsmodels")
