"""SAS's ESTIMATE and CONTRAST statements read from text (``replicate.sas_statement``) and turned into L rows on
the fit's coefficients (``replicate.inference.sas_rows``), for repeated-measures fits (issue #16).

Checked against: the L vectors SAS's documentation writes out for ``model y = A B A*B`` (PROC GLM,
"Specification of ESTIMATE Expressions": ``A -1 0 1`` and the LS-mean of A's first level); the engine's own
LS-means and Type III tests, computed by other code (an ESTIMATE of an LS-mean must be that LS-mean, a
CONTRAST of an effect's levels its Type III test, under each df method); and hand computation from the
coefficients. The live nlme/emmeans check is in ``tests/test_rside_nlme_case.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.errors import ModelError, NotImplementedOption
from replicate.inference.rside_tests import effect_df, rside_lsmeans, rside_type3
from replicate.inference.sas_rows import glm_row, statement_rows
from replicate.inference.sumcoding import sum_coding
from replicate.quantities.rside_statements import statement_contrast, statement_estimate
from replicate.sas_statement import parse_statement


def _orthodont() -> pd.DataFrame:
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    return d.assign(
        idx=((d["age"] - 6) // 2).astype(int),
        Sex=pd.Categorical(d["Sex"].astype(str), categories=["Male", "Female"]),
        agef=pd.Categorical(d["age"].astype(int).map(lambda a: f"a{a:02d}")),
    )


@pytest.fixture(scope="module")
def un_fit():
    """distance ~ Sex * agef with TYPE=UN over the four ages: two CLASS effects and their interaction."""
    return fit_residual(_orthodont(), "distance ~ Sex * agef", "us", visit="idx", subject="Subject")


@pytest.fixture(scope="module")
def ancova_fit():
    """distance ~ Sex * age with TYPE=AR(1): a CLASS effect, a covariate and their interaction."""
    return fit_residual(_orthodont(), "distance ~ Sex * age", "ar1", visit="idx", subject="Subject")


def _abab() -> pd.DataFrame:
    """A (3 levels) by B (2 levels), every cell twice, a subject per row pair: SAS's ``model y = A B A*B``."""
    rng = np.random.default_rng(5)
    rows = [(a, b, s) for s in range(4) for a in ("a1", "a2", "a3") for b in ("b1", "b2")]
    d = pd.DataFrame(rows, columns=["A", "B", "rep"])
    d["subject"] = [f"{a}{r}" for a, _, r in rows]
    d["visit"] = d["B"].map({"b1": 1, "b2": 2})
    d["y"] = rng.normal(size=len(d))
    return d


def test_parse_reads_effects_coefficients_rows_and_divisor():
    st = parse_statement("Intercept 1 A 1 -1 A*B .5 -0.5 1e-1, A 0 1 / divisor=3", "contrast")
    assert len(st.rows) == 2 and st.divisor == 3.0
    assert [(t.effect, t.coefficients) for t in st.rows[0]] == [
        ("intercept", (1.0,)),
        ("A", (1.0, -1.0)),
        ("A*B", (0.5, -0.5, 0.1)),
    ]
    assert st.last_effect == "A"


@pytest.mark.parametrize(
    ("text", "kind", "error", "words"),
    [
        ("1 A 1", "estimate", ModelError, "before any effect"),
        ("A 1 -1, A 1 0 -1", "estimate", ModelError, "one row"),
        ("A 1 B", "estimate", ModelError, "no coefficients"),
        ("A 1 A 2", "estimate", ModelError, "named twice"),
        ("A 1 (2)", "estimate", ModelError, "neither an effect"),
        ("A 1; drop table", "estimate", ModelError, "neither an effect"),
        ("", "contrast", ModelError, "empty"),
        ("A 1 -1 | subject 1", "estimate", NotImplementedOption, "random-effect"),
        ("A 1 -1 / e", "estimate", NotImplementedOption, "option 'e'"),
        ("A 1 -1 / divisor=0", "estimate", ModelError, "nonzero"),
        ("A 1 -1 / divisor=1e999", "estimate", ModelError, "finite nonzero"),
        ("A 1e999 -1", "estimate", ModelError, "'1e999' is not a finite number"),
        ("A 1, A -1e400", "contrast", ModelError, "'-1e400' is not a finite number"),
    ],
)
def test_bad_statement_text_is_refused_saying_what_is_wrong(text, kind, error, words):
    with pytest.raises(error) as info:
        parse_statement(text, kind)
    assert words in info.value.message
    assert info.value.hint


def test_the_fill_in_gives_the_l_vectors_sas_documents():
    # SAS's documentation, model y = A B A*B, parameters (mu | a1 a2 a3 | b1 b2 | ab11 ab12 ab21 ab22 ab31 ab32)
    d = _abab()
    fit = fit_residual(d, "y ~ A * B", "cs", visit="visit", subject="subject")
    coding = sum_coding(fit.fixed_part)
    linear = glm_row(coding, parse_statement("A -1 0 1", "estimate").rows[0])
    np.testing.assert_allclose(linear, [0, -1, 0, 1, 0, 0, -0.5, -0.5, 0, 0, 0.5, 0.5])
    short = glm_row(coding, parse_statement("intercept 1 A 1", "estimate").rows[0])
    full = glm_row(coding, parse_statement("intercept 1 A 1 B 0.5 0.5 A*B 0.5 0.5", "estimate").rows[0])
    np.testing.assert_allclose(short, [1, 1, 0, 0, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0])
    np.testing.assert_allclose(short, full)
    # the intercept alone is the grand mean over all cells
    grand = glm_row(coding, parse_statement("intercept 1", "estimate").rows[0])
    np.testing.assert_allclose(grand, [1, 1 / 3, 1 / 3, 1 / 3, 0.5, 0.5, *([1 / 6] * 6)])


def test_an_estimate_of_an_lsmean_is_that_lsmean_under_each_df_method(un_fit):
    # Sex's levels are Male, Female: "Sex 0 1" is Female's LS-mean once SAS fills in the rest
    statement = parse_statement("intercept 1 Sex 0 1", "estimate")
    for ddfm in ("betwithin", "residual", "satterthwaite", "kr"):
        lsm = {e.levels: e for e in rside_lsmeans(un_fit, "Sex", ddfm=ddfm)}[("Female",)]
        est = statement_estimate(un_fit, statement, ddfm)
        assert est.estimate == pytest.approx(lsm.estimate, rel=1e-10)
        assert est.se == pytest.approx(lsm.se, rel=1e-10)
        assert est.df == pytest.approx(lsm.df, rel=1e-8)
        assert est.p_value == pytest.approx(lsm.p_value, rel=1e-8)


def test_a_contrast_of_an_effects_levels_is_its_type3_test(un_fit):
    rows = {
        "Sex": "Sex 1 -1",
        "agef": "agef 1 -1, agef 1 0 -1, agef 1 0 0 -1",
        "Sex:agef": "Sex*agef 1 -1 0 0 -1 1, Sex*agef 1 0 -1 0 -1 0 1, Sex*agef 1 0 0 -1 -1 0 0 1",
    }
    for ddfm in ("betwithin", "satterthwaite", "kr"):
        tests = {t.effect: t for t in rside_type3(un_fit, ddfm=ddfm)}
        for effect, text in rows.items():
            c = statement_contrast(un_fit, parse_statement(text, "contrast"), ddfm)
            assert c.num_df == tests[effect].num_df
            assert c.f_value == pytest.approx(tests[effect].f_value, rel=1e-8), (ddfm, effect)
            assert c.den_df == pytest.approx(tests[effect].den_df, rel=1e-6), (ddfm, effect)


def test_between_within_df_are_the_final_listed_effects(ancova_fit):
    coding = sum_coding(ancova_fit.fixed_part)
    dfs = effect_df(ancova_fit, coding, "betwithin")
    assert dfs["Sex"] != dfs["age"]  # between-subject Sex, within-subject age
    a = statement_estimate(ancova_fit, parse_statement("Sex 1 -1 age 0 Sex*age 1 -1", "estimate"), "betwithin")
    b = statement_estimate(ancova_fit, parse_statement("age 1 Sex*age 0.5 0.5 Sex 1 -1", "estimate"), "betwithin")
    assert a.df == dfs["Sex:age"] and b.df == dfs["Sex"]


def test_an_estimate_is_l_beta_by_hand(ancova_fit):
    # Female - Male at age 8 on the fit's coefficients (Intercept, SexFemale, age, SexFemale:age)
    est = statement_estimate(ancova_fit, parse_statement("Sex -1 1 Sex*age -8 8", "estimate"), "residual")
    names = list(ancova_fit.fixed_names)
    row = np.zeros(len(names))
    row[names.index("SexFemale")], row[names.index("SexFemale:age")] = 1, 8
    assert est.estimate == pytest.approx(float(row @ ancova_fit.beta), rel=1e-12)
    assert est.se == pytest.approx(float(np.sqrt(row @ ancova_fit.vcov_beta @ row)), rel=1e-12)
    assert est.df == ancova_fit.fixed_part.X.shape[0] - len(names)
    halved = statement_estimate(ancova_fit, parse_statement("Sex -2 2 Sex*age -16 16 / divisor=2", "estimate"), "kr")
    assert halved.estimate == pytest.approx(est.estimate, rel=1e-12)


def test_effects_with_a_covariate_are_not_filled_in(ancova_fit):
    # "intercept 1 Sex 0 1" is Female at age 0: Sex*age stays zero (filling it would make the row non-estimable)
    est = statement_estimate(ancova_fit, parse_statement("intercept 1 Sex 0 1", "estimate"), "residual")
    b = dict(zip(ancova_fit.fixed_names, ancova_fit.beta, strict=True))
    assert est.estimate == pytest.approx(b["(Intercept)"] + b["SexFemale"], rel=1e-12)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Sex 1", "not estimable"),
        ("agef*Sex 1 -1", "written Sex*agef"),
        ("Sex 1 -1 0", "has 3 coefficients"),
        ("Race 1 -1", "not a term"),
    ],
)
def test_a_row_the_model_cannot_take_is_refused(un_fit, text, words):
    with pytest.raises(ModelError) as info:
        statement_rows(sum_coding(un_fit.fixed_part), parse_statement(text, "estimate"))
    assert words in info.value.message


def test_dependent_contrast_rows_are_refused(un_fit):
    with pytest.raises(NotImplementedOption):
        statement_contrast(un_fit, parse_statement("Sex 1 -1, Sex -1 1", "contrast"), "betwithin")


def test_the_fill_in_of_a_three_way_model_gives_each_lsmean():
    # model y = A B C A*B A*C B*C A*B*C: "intercept 1 A 1" is A's first LS-mean once SAS fills in B, C (intercept),
    # A*B, A*C, A*B*C (A's coefficients spread) and B*C (intercept): the engine's LS-means come by other code
    rng = np.random.default_rng(11)
    rows = [
        (a, b, c, f"{a}{r}") for a in ("a1", "a2", "a3") for r in range(5) for b in ("b1", "b2") for c in ("c1", "c2")
    ]
    d = pd.DataFrame(rows, columns=["A", "B", "C", "subject"])
    d["visit"] = (d["B"] == "b2") * 2 + (d["C"] == "c2") * 1
    d["y"] = rng.normal(size=len(d)) + (d["A"] == "a2") * 0.7
    fit = fit_residual(d, "y ~ A * B * C", "cs", visit="visit", subject="subject")
    means = {e.levels: e for e in rside_lsmeans(fit, "A", ddfm="residual")}
    for k, level in enumerate(("a1", "a2", "a3")):
        coefs = " ".join("1" if i == k else "0" for i in range(3))
        est = statement_estimate(fit, parse_statement(f"intercept 1 A {coefs}", "estimate"), "residual")
        assert est.estimate == pytest.approx(means[(level,)].estimate, rel=1e-10)
        assert est.se == pytest.approx(means[(level,)].se, rel=1e-10)
    # and B's levels through B*C and A*B*C, with A spread by the intercept
    bmeans = {e.levels: e for e in rside_lsmeans(fit, "B", ddfm="residual")}
    est = statement_estimate(fit, parse_statement("intercept 1 B 0 1", "estimate"), "residual")
    assert est.estimate == pytest.approx(bmeans[("b2",)].estimate, rel=1e-10)
