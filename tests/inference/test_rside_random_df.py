"""SAS's containment df and nlme's df for a residual structure with random effects beside it (issue #16).

Containment is counted by hand on Potthoff and Roy's growth data (27 children, 4 visits, Sex constant within a
child); nlme's df are checked against a live ``lme`` with ``corAR1`` in tests/test_rside_slopes_case.py and
tests/test_rside_seed000_case.py, and here on a random intercept alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.errors import ModelError
from replicate.inference.rside_random_df import random_coefficient_df, random_design
from replicate.inference.rside_tests import effect_df, rside_estimate, rside_type3
from replicate.inference.sumcoding import sum_coding
from replicate.quantities.rside import ddfm_of
from replicate.reference_block import ReferenceBlock
from tests.rsupport import need_r

AR1 = {"type": "AR(1)", "repeated": "age", "subject": "Subject"}


@pytest.fixture(scope="module")
def orthodont() -> pd.DataFrame:
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    d["Sex"] = pd.Categorical(d["Sex"].astype(str), categories=["Male", "Female"])
    return d


@pytest.fixture(scope="module")
def slopes(orthodont):
    return fit_residual(orthodont, "distance ~ Sex * age", residual=AR1, random_slopes=("age",))


@pytest.fixture(scope="module")
def intercept(orthodont):
    return fit_residual(orthodont, "distance ~ Sex * age", residual=AR1, random_intercept=True)


def test_the_fit_records_its_random_terms_as_sas_random_effects(slopes, intercept, orthodont):
    assert slopes.random_terms == ("(1 + age | Subject)",)
    assert intercept.random_terms == ("(1 | Subject)",)
    assert fit_residual(orthodont, "distance ~ Sex * age", residual=AR1).random_terms == ()
    design = random_design(slopes)
    assert [t.group for t in design.reterms] == ["Subject"] and design.n == 108


def test_containment_counts_the_random_effects_that_contain_each_fixed_effect(slopes, intercept):
    # RANDOM int age / SUBJECT=Subject: effects Subject and age*Subject, each adding 27 - 2 = 25 columns
    # to rank[X Z] (Intercept and Sex, age and Sex:age are constant / linear within a child). The intercept
    # and age are contained (25); Sex and Sex*age are in no random effect: n - rank[X Z] = 108 - 4 - 50.
    names = list(slopes.fixed_names)
    df = dict(zip(names, random_coefficient_df(slopes, "contain"), strict=True))
    assert df == {"(Intercept)": 25, "SexFemale": 54, "age": 25, "SexFemale:age": 54}
    # a random intercept alone: only the intercept is contained; the rest 108 - 4 - 25 = 79
    df1 = dict(zip(names, random_coefficient_df(intercept, "contain"), strict=True))
    assert df1 == {"(Intercept)": 25, "SexFemale": 79, "age": 79, "SexFemale:age": 79}


def test_type3_and_lsmeans_take_the_terms_containment_df(slopes):
    coding = sum_coding(slopes.fixed_part)
    assert effect_df(slopes, coding, "contain") == {"(Intercept)": 25, "Sex": 54, "age": 25, "Sex:age": 54}
    assert {t.effect: t.den_df for t in rside_type3(slopes, ddfm="contain")} == {"Sex": 54, "age": 25, "Sex:age": 54}


def test_nlme_df_put_each_column_at_its_grouping_level(slopes):
    df = dict(zip(slopes.fixed_names, random_coefficient_df(slopes, "nlme"), strict=True))
    assert df == {"(Intercept)": 79, "SexFemale": 25, "age": 79, "SexFemale:age": 79}
    assert {t.effect: t.den_df for t in rside_type3(slopes, ddfm="nlme")} == {"Sex": 25, "age": 79, "Sex:age": 79}


def test_sas_default_is_containment_with_random_effects_and_between_within_without(slopes, orthodont):
    block = ReferenceBlock(index=0, software="SAS", label="sas")
    assert ddfm_of(block, slopes) == "contain"
    assert ddfm_of(block, fit_residual(orthodont, "distance ~ Sex * age", residual=AR1)) == "betwithin"


def test_rule_df_need_random_effects_and_an_arbitrary_row_needs_its_df(orthodont, slopes):
    plain = fit_residual(orthodont, "distance ~ Sex * age", residual=AR1)
    with pytest.raises(ModelError, match="need random effects beside the structure"):
        random_design(plain)
    # without a RANDOM statement no random effect contains anything: containment is n - rank(X), as gls's df
    assert list(random_coefficient_df(plain, "contain")) == [104.0] * 4
    assert effect_df(plain, sum_coding(plain.fixed_part), "nlme") == dict.fromkeys(
        ["(Intercept)", "Sex", "age", "Sex:age"], 104.0
    )
    with pytest.raises(ModelError, match="containment df of an arbitrary ESTIMATE row"):
        rside_estimate(slopes, np.eye(4)[1], ddfm="contain")
    assert rside_estimate(slopes, np.eye(4)[1], ddfm="contain", df=54).df == 54


@pytest.mark.r
def test_nlme_df_of_a_random_intercept_beside_ar1_are_lmes(intercept):
    ro = need_r("nlme")
    out = ro.r(
        """local({
          d <- nlme::Orthodont; d$idx <- as.integer(factor(d$age))
          f <- nlme::lme(distance ~ Sex * age, random = ~ 1 | Subject,
                         correlation = nlme::corAR1(form = ~ idx | Subject), data = d)
          summary(f)$tTable[, "DF"]
        })"""
    )
    assert list(random_coefficient_df(intercept, "nlme")) == [float(v) for v in out]
