"""R's formula functions, R's interaction names and lme4's bare '|', against R itself where R is here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import replicate
from replicate.errors import ModelError
from replicate.formula_calls import FORMULA_FUNCTIONS, parse_call
from replicate.spec import parse_formula
from tests.rsupport import data_file, lre, need_r, to_r

CALLS = [
    ("I", "x^2"),
    ("I", "(x+1)^2"),
    ("I", "1/(x*2)"),
    ("I", "x > 2 & z<=1"),
    ("I", "-x^2"),
    ("I", "2^-x"),
    ("log", "x+1"),
    ("log", "x, 10"),
    ("poly", "x, 2"),
    ("poly", "x,degree=3, raw=TRUE"),
    ("scale", "x"),
    ("scale", "x, scale = FALSE"),
    ("factor", "g"),
    ("as.numeric", "g"),
    ("sqrt", "abs(x)"),
    ("exp", "x/100"),
    ("log1p", "x*0.0001"),
    ("I", "x == 1e5"),
]


@pytest.fixture(scope="module")
def classroom() -> pd.DataFrame:
    df = pd.read_csv(data_file("classroom.csv"))
    df["w"] = 1.0 + (np.arange(len(df)) % 3)
    return df


def test_unknown_functions_are_refused_with_the_list() -> None:
    with pytest.raises(ModelError) as err:
        parse_formula("y ~ system('x') + (1 | g)")
    assert "system() is not allowed" in err.value.message
    assert all(f"{name}()" in err.value.hint for name in FORMULA_FUNCTIONS)
    with pytest.raises(ModelError, match="GLMM|generalized"):
        parse_formula("cbind(s, f) ~ x + (1 | g)")
    with pytest.raises(ModelError, match="other arguments"):
        parse_formula("y ~ log(x, base = 2, 3) + (1 | g)")
    with pytest.raises(ModelError, match="unknown function '__import__'"):
        parse_formula("y ~ I(__import__('os')) + (1 | g)")


def test_interaction_names_follow_first_appearance_and_bare_bar_is_a_random_term() -> None:
    spec = parse_formula("mAch ~ meanses * cses + sector01 * cses + (1 | School)")
    assert spec.fixed == (("meanses",), ("cses",), ("sector01",), ("meanses", "cses"), ("cses", "sector01"))
    assert parse_formula("y ~ b:a + a + (1 | g)").fixed == (("a",), ("b", "a"))
    assert parse_formula("y ~ a + b:a + (1 | g)").fixed == (("a",), ("a", "b"))
    bare = parse_formula("Yield ~ 1 | Batch")
    paren = parse_formula("Yield ~ 1 + (1 | Batch)")
    assert (bare.fixed, bare.intercept, bare.random) == (paren.fixed, paren.intercept, paren.random)
    assert bare.fixed == () and bare.intercept and [r.text() for r in bare.random] == ["(1 | Batch)"]
    assert [r.text() for r in parse_formula("y ~ x || g").random] == ["(1 | g)", "(0 + x | g)"]


def test_poly_is_orthonormal_and_scale_is_r_s(classroom: pd.DataFrame) -> None:
    fit = replicate.fit("mathkind ~ poly(ses, 3) + scale(housepov) + (1 | schoolid)", classroom)
    cols = [c for c in fit.design.fixed_names if c.startswith("poly(")]
    assert cols == ["poly(ses, 3)1", "poly(ses, 3)2", "poly(ses, 3)3"]
    P = fit.design.X[:, 1:4]
    np.testing.assert_allclose(P.T @ P, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(P.sum(axis=0), 0, atol=1e-10)
    s = fit.design.X[:, 4]
    np.testing.assert_allclose([s.mean(), s.std(ddof=1)], [0, 1], atol=1e-12)


def test_offset_is_a_coefficient_of_one(classroom: pd.DataFrame) -> None:
    with_offset = replicate.fit("mathkind ~ ses + offset(log(w)) + (1 | schoolid)", classroom)
    d = classroom.assign(y=classroom["mathkind"] - np.log(classroom["w"]))
    by_hand = replicate.fit("y ~ ses + (1 | schoolid)", d)
    np.testing.assert_allclose(with_offset.fixed, by_hand.fixed, rtol=1e-10)
    np.testing.assert_allclose(with_offset.fitted - by_hand.fitted, np.log(d["w"]), rtol=1e-10)


def test_factor_of_numbers_has_r_s_levels() -> None:
    df = pd.DataFrame({"y": np.arange(12.0), "k": [10, 2, 2, 10, 3, 3] * 2, "g": np.repeat([1, 2, 3], 4)})
    fit = replicate.fit("y ~ factor(k) + (1 | g)", df)
    assert list(fit.fixed.index) == ["(Intercept)", "factor(k)3", "factor(k)10"]


R_DEPARSE = "function(calls) vapply(calls, function(s) deparse(str2lang(s)), character(1))"


@pytest.mark.r
def test_labels_are_what_r_deparses() -> None:
    ro = need_r()
    texts = [f"{name}({inner})" for name, inner in CALLS]
    r_labels = list(ro.r(R_DEPARSE)(ro.StrVector(texts)))
    assert [parse_call(name, inner).label for name, inner in CALLS] == r_labels


FORMULAS = [
    "mathkind ~ I(ses^2) + log(w) + poly(ses, 2) + factor(sex) + offset(log(w)) + (1 | schoolid)",
    "mathkind ~ scale(housepov) + I(ses > 0) + log(w, 2) + sqrt(w) + as.numeric(sex) + (1 | schoolid)",
    "log(mathkind) ~ poly(ses, 2, raw = TRUE) + exp(ses) + log1p(w) + abs(ses) + (1 | schoolid)",
    "mathkind ~ ses * sex + housepov * sex + (1 | schoolid)",
    "mathkind ~ 1 | schoolid",
]

R_FIT = """
function(d, f) {
  m <- lme4::lmer(as.formula(f), data = d, REML = TRUE,
                  control = lme4::lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10)))
  list(names = names(lme4::fixef(m)), fixef = unname(lme4::fixef(m)), loglik = as.numeric(logLik(m)))
}
"""


@pytest.mark.r
@pytest.mark.parametrize("formula", FORMULAS)
def test_formulas_agree_with_lme4_names_and_numbers(classroom: pd.DataFrame, formula: str) -> None:
    ro = need_r("lme4")
    data = classroom[["mathkind", "ses", "sex", "housepov", "w", "schoolid"]].dropna()
    out = ro.r(R_FIT)(to_r(ro, data), formula)  # the formula is this test's own text, not a case's
    fit = replicate.fit(formula, data)
    assert list(fit.fixed.index) == [str(n) for n in out.rx2("names")]
    assert lre(fit.fixed.to_numpy(), np.asarray(out.rx2("fixef"))).min() >= 6
    assert lre(fit.loglik, float(out.rx2("loglik")[0])) >= 8


@pytest.mark.parametrize("base", ["0", "1", "-2", "1e999"])
def test_an_impossible_log_base_is_refused_by_name(base):
    with pytest.raises(ModelError, match="log's base"):
        parse_formula(f"y ~ log(x, base = {base}) + (1 | g)")
