"""Likelihood-ratio tests as lme4's ``anova``, on seed 002's classroom models.

Seed 002 prints ``anova(lmer.fit2, lmer.fit3, refit = F)`` (Chisq 7.9048 on 1 df,
p 0.00493), lme4's refusal "models were not all fitted to the same size of
dataset", and the common-sample ML refit (Chisq 3.5921 on 2 df, p 0.166). Every
table is also compared with lme4 live. R-backed tests skip when R cannot be
loaded and fail under REPLICATE_REQUIRE_R=1; data go to R as data frames
through pandas2ri.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from replicate.engine import fit_design
from replicate.errors import ModelError
from replicate.inference.lrt import common_sample, lrt, lrt_table
from tests.rsupport import data_file
from tests.rsupport import fit_formula as _fit
from tests.rsupport import from_r as _from_r
from tests.rsupport import need_r as _need_r
from tests.rsupport import to_r as _to_r

F2 = "mathgain ~ (1 | schoolid)"
F3 = "mathgain ~ (1 | schoolid/classid)"
F4 = "mathgain ~ ses + mathknow + (1 | schoolid/classid)"
F7 = "mathgain ~ 1 + (1 | schoolid/classid)"


@pytest.fixture(scope="module")
def classroom() -> pd.DataFrame:
    return pd.read_csv(data_file("classroom.csv"))


@pytest.fixture(scope="module")
def fits23(classroom):
    return _fit(F2, classroom), _fit(F3, classroom)


def _compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    cols = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"]
    assert list(ours.columns) == cols
    np.testing.assert_array_equal(ours["npar"].to_numpy(), theirs["npar"].to_numpy())
    for c in ["AIC", "BIC", "logLik", "deviance"]:
        np.testing.assert_allclose(ours[c], theirs[c], rtol=1e-9)
    np.testing.assert_allclose(ours["Chisq"].iloc[1:], theirs["Chisq"].iloc[1:], rtol=1e-5)
    np.testing.assert_allclose(ours["Df"].iloc[1:], theirs["Df"].iloc[1:])
    np.testing.assert_allclose(ours["Pr(>Chisq)"].iloc[1:], theirs["Pr(>Chisq)"].iloc[1:], rtol=1e-4)
    assert np.isnan(ours["Chisq"].iloc[0]) and np.isnan(ours["Pr(>Chisq)"].iloc[0])


def test_reml_comparison_matches_seed_002(fits23):
    (f2, d2), (f3, d3) = fits23
    tab = lrt(f2, f3, d2, d3, refit=False, names=("lmer.fit2", "lmer.fit3"))
    assert list(tab.index) == ["lmer.fit2", "lmer.fit3"]
    assert list(tab["npar"]) == [3, 4]
    assert round(tab["Chisq"].iloc[1], 4) == 7.9048 and tab["Df"].iloc[1] == 1
    assert round(tab["Pr(>Chisq)"].iloc[1], 5) == 0.00493
    assert [round(v) for v in tab["AIC"]] == [11783, 11777] and [round(v) for v in tab["BIC"]] == [11798, 11797]
    assert tab.attrs["method"] == "REML" and tab.attrs["messages"] == ()


def test_models_are_ordered_by_npar(fits23):
    (f2, d2), (f3, d3) = fits23
    tab = lrt(f3, f2, d3, d2, refit=False)
    assert list(tab.index) == ["fit1", "fit0"]


def test_refit_by_ml_is_lme4_default(fits23):
    (f2, d2), (f3, d3) = fits23
    tab = lrt(f2, f3, d2, d3)
    assert tab.attrs["method"] == "ML"
    assert tab.attrs["messages"] == ("refitting model(s) with ML (instead of REML)",)
    ml2 = fit_design(d2, "ML")
    np.testing.assert_allclose(tab["logLik"].iloc[0], ml2.loglik, rtol=1e-12)
    # "auto" refits only when the fixed effects differ: here they do not
    auto = lrt(f2, f3, d2, d3, refit="auto")
    np.testing.assert_allclose(auto["Chisq"], lrt(f2, f3, d2, d3, refit=False)["Chisq"])


def test_refit_needs_the_designs(fits23):
    (f2, _), (f3, _) = fits23
    with pytest.raises(ModelError, match="design"):
        lrt(f2, f3)
    with pytest.raises(ModelError):
        lrt(f2, f3, refit="sometimes")


def test_different_datasets_are_refused_with_a_hint(classroom, fits23):
    (_, _), (f3, d3) = fits23
    f4, d4 = _fit(F4, classroom)
    assert (f3.nobs, f4.nobs) == (1190, 1081)
    with pytest.raises(ModelError, match="models were not all fitted to the same size of dataset") as err:
        lrt(f3, f4, d3, d4, refit=False)
    assert "common_sample" in str(err.value)
    # same number of rows but not the same rows: refused too
    shifted = replace(f3, rows=np.asarray(f3.rows) + 1)
    with pytest.raises(ModelError, match="different rows"):
        lrt(f3, shifted, refit=False)


def test_common_sample_reproduces_seed_002(classroom):
    sample = common_sample(classroom, [F7, F4])
    assert len(sample) == 1081 and sample.index.isin(classroom.index).all()
    assert sample[["mathgain", "ses", "mathknow", "schoolid", "classid"]].notna().all().all()
    f7, d7 = _fit(F7, sample)
    f8, d8 = _fit(F4, sample)
    tab = lrt(f7, f8, d7, d8, names=("fit7", "fit8"))
    assert list(tab["npar"]) == [4, 6]
    assert round(tab["Chisq"].iloc[1], 4) == 3.5921 and tab["Df"].iloc[1] == 2
    assert round(tab["Pr(>Chisq)"].iloc[1], 3) == 0.166
    assert [round(v, 1) for v in tab["logLik"]] == [-5347.9, -5346.1]
    with pytest.raises(ModelError):
        common_sample(classroom, ["mathgain ~ nosuchvar + (1 | schoolid)"])


def test_more_than_two_models(classroom, fits23):
    (f2, d2), (f3, d3) = fits23
    f5, d5 = _fit("mathgain ~ ses + (1 | schoolid/classid)", classroom)
    tab = lrt_table([f2, f3, f5], [d2, d3, d5], names=["a", "b", "c"])
    assert list(tab.index) == ["a", "b", "c"] and list(tab["Df"].iloc[1:]) == [1, 1]


@pytest.mark.r
@pytest.mark.parametrize("refit", [False, True])
def test_matches_lme4_anova(refit, classroom, fits23):
    ro = _need_r("lme4")
    (f2, d2), (f3, d3) = fits23
    _to_r(ro, classroom, ".lrt_classroom")
    ro.globalenv[".lrt_refit"] = refit
    theirs = _from_r(
        ro,
        "as.data.frame(anova(lme4::lmer(mathgain ~ (1 | schoolid), data = .lrt_classroom), "
        "lme4::lmer(mathgain ~ (1 | schoolid/classid), data = .lrt_classroom), refit = .lrt_refit))",
    )
    _compare(lrt(f2, f3, d2, d3, refit=refit), theirs)


@pytest.mark.r
def test_matches_lme4_anova_on_common_sample(classroom):
    ro = _need_r("lme4")
    sample = common_sample(classroom, [F7, F4]).reset_index(drop=True)
    _to_r(ro, sample, ".lrt_sample")
    theirs = _from_r(
        ro,
        "as.data.frame(anova(lme4::lmer(mathgain ~ 1 + (1 | schoolid/classid), data = .lrt_sample), "
        "lme4::lmer(mathgain ~ ses + mathknow + (1 | schoolid/classid), data = .lrt_sample)))",
    )
    f7, d7 = _fit(F7, sample)
    f8, d8 = _fit(F4, sample)
    _compare(lrt(f7, f8, d7, d8), theirs)
    assert round(theirs["Chisq"].iloc[1], 4) == 3.5921
