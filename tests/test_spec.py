import pytest

from replicate.errors import ModelError
from replicate.spec import parse_formula, parse_levels


@pytest.mark.parametrize(
    "text, fixed, random",
    [
        ("y ~ x + (1 | g)", [("x",)], ["(1 | g)"]),
        ("y ~ x * w + (1 + x | g)", [("x",), ("w",), ("x", "w")], ["(1 + x | g)"]),
        ("y ~ 1 + (1 | a/b)", [], ["(1 | b:a)", "(1 | a)"]),
        ("y ~ (x || g)", [], ["(1 | g)", "(0 + x | g)"]),
        ("y ~ 0 + x + (0 + x | g)", [("x",)], ["(0 + x | g)"]),
        ("y ~ x - 1 + (1 | g1) + (1 | g2)", [("x",)], ["(1 | g1)", "(1 | g2)"]),
        ("y ~ a:b + a + (1 | g)", [("a",), ("a", "b")], ["(1 | g)"]),
        ("y ~ `odd name` + (1 | g)", [("odd name",)], ["(1 | g)"]),
    ],
)
def test_formulas_expand_like_lme4(text, fixed, random):
    spec = parse_formula(text)
    assert list(spec.fixed) == fixed
    assert [r.text() for r in spec.random] == random


def test_intercept_flags():
    assert parse_formula("y ~ x + (1|g)").intercept
    assert not parse_formula("y ~ 0 + x + (1|g)").intercept
    assert not parse_formula("y ~ x - 1 + (1|g)").intercept


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("y ~ x + (1 | g", "expected ')'"),
        ("y ~ x + (1 | g))", "unexpected text"),
        ("y ~ x", "no random-effect term"),
        ("y ~ foo(x) + (1|g)", "function foo() is not allowed"),
        ('y ~ x + (1|g) + system("rm -rf /")', "function system() is not allowed"),
        ("y ~ x + 2 + (1|g)", "only the numbers 0 and 1"),
        ("~ x + (1|g)", "starts with the response"),
        ("y ~ x + (1 | g) * z", "cannot be multiplied"),
        ("y ~ x + ((1|g) + z)", "top level"),
        ("y ~ x; print(1) + (1|g)", "unexpected character"),
    ],
)
def test_bad_formulas_name_the_problem(text, fragment):
    with pytest.raises(ModelError) as err:
        parse_formula(text)
    assert fragment in str(err.value)
    assert err.value.field == "model.formula"


def test_hlm_levels_match_formula():
    spec = parse_levels(
        {1: "math = b0 + b1*ses + r", 2: ["b0 = g00 + g01*urban01 + u0", "b1 = g10 + g11*urban01 + u1"]},
        {2: "schid"},
    )
    same = parse_formula("math ~ urban01 + ses + ses:urban01 + (1 + ses | schid)")
    assert spec.fixed == same.fixed and spec.random == same.random and spec.intercept
    assert spec.levels == {"ses": 1, "urban01": 2}


def test_hlm_level2_predictor_of_intercept():
    spec = parse_levels({1: "posttest = b0 + r", 2: "b0 = g00 + g01*urban + u0"}, {2: "school"})
    assert spec.formula() == "posttest ~ 1 + urban + (1 | school)"


def test_hlm_fixed_slope_without_random_part():
    spec = parse_levels({1: "y = b0 + b1*x + r", 2: ["b0 = g00 + u0", "b1 = g10"]}, {2: "g"})
    assert spec.formula() == "y ~ 1 + x + (1 | g)"


@pytest.mark.parametrize(
    "levels, fragment",
    [
        ({1: "y = b0 + b1*x + r", 2: "b0 = g00 + u0"}, "no level-2 equation"),
        ({1: "y = b0 + r", 2: "b0 = g00"}, "not a mixed model"),
        ({1: "y b0 + r", 2: "b0 = g00 + u0"}, "must read"),
        ({1: "y = b0 + r", 2: "b0 = g00 + u0", 3: "x = 1"}, "only two-level"),
    ],
)
def test_hlm_errors(levels, fragment):
    with pytest.raises(ModelError) as err:
        parse_levels(levels, {2: "g"})
    assert fragment in str(err.value)
