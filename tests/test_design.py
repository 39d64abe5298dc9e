import numpy as np
import pandas as pd
import pytest

from replicate.design import build_design
from replicate.errors import DataError, ModelError
from replicate.spec import parse_formula


def frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(8), n // 8)
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "g": g,
            "h": np.tile(np.arange(5), n // 5),
            "f": pd.Categorical(rng.choice(["lo", "mid", "hi"], size=n), categories=["mid", "lo", "hi"]),
            "s": rng.choice(["b", "a", "c"], size=n),
        }
    )


def test_r_names_and_honours_categorical_order():
    d = build_design(parse_formula("y ~ x * f + s + (1 | g)"), frame())
    assert d.fixed_names == ("(Intercept)", "x", "flo", "fhi", "sb", "sc", "x:flo", "x:fhi")
    assert d.column_term[:3] == ("(Intercept)", "x", "f")


def test_sas_contrasts_make_last_level_the_reference():
    d = build_design(parse_formula("y ~ f + (1 | g)"), frame(), contrasts="sas")
    assert d.fixed_names == ("(Intercept)", "fmid", "flo")


def test_no_intercept_codes_every_level():
    d = build_design(parse_formula("y ~ 0 + f + (1 | g)"), frame())
    assert d.fixed_names == ("fmid", "flo", "fhi")


def test_listwise_deletion_is_counted():
    df = frame()
    df.loc[[1, 5, 9], "x"] = np.nan
    df.loc[9, "y"] = np.nan
    d = build_design(parse_formula("y ~ x + (1 | g)"), df)
    assert d.n == 37 and d.n_dropped == 3
    assert list(d.rows[:3]) == [0, 2, 3]
    assert "3 row(s) with missing values dropped" in d.messages[0]


def test_rank_deficient_columns_are_dropped_with_a_message():
    df = frame()
    df["x2"] = 2 * df["x"]
    d = build_design(parse_formula("y ~ x + x2 + (1 | g)"), df)
    assert d.fixed_names == ("(Intercept)", "x") and d.dropped_fixed == ("x2",)
    assert "rank deficient" in d.messages[0]


def test_grouping_variable_with_missing_values_is_an_error():
    df = frame().astype({"g": float})
    df.loc[3, "g"] = np.nan
    with pytest.raises(DataError, match="grouping variable 'g' has 1 missing"):
        build_design(parse_formula("y ~ x + (1 | g)"), df)


def test_unknown_variable_is_named_with_a_suggestion():
    with pytest.raises(ModelError) as err:
        build_design(parse_formula("y ~ xx + (1 | g)"), frame())
    assert "'xx'" in str(err.value) and "did you mean x" in str(err.value)


def test_nested_and_crossed_terms():
    d = build_design(parse_formula("y ~ x + (1 | g/h)"), frame())
    assert [t.group for t in d.reterms] == ["h:g", "g"]
    assert d.reterms[0].nlevels == 40 and d.reterms[1].nlevels == 8
    d2 = build_design(parse_formula("y ~ x + (1 | h) + (x | g)"), frame())
    # lme4 orders terms by decreasing number of levels
    assert [t.group for t in d2.reterms] == ["g", "h"]
    assert d2.reterms[0].columns == ("(Intercept)", "x")
    np.testing.assert_allclose(d2.reterms[0].Xre[:, 1], frame()["x"])


def test_infinite_values_are_refused():
    df = frame()
    df.loc[0, "x"] = np.inf
    with pytest.raises(DataError, match="infinite"):
        build_design(parse_formula("y ~ x + (1 | g)"), df)


def test_bool_columns_become_zero_one():
    df = frame()
    df["b"] = df["x"] > 0
    d = build_design(parse_formula("y ~ b + (1 | g)"), df)
    assert set(np.unique(d.X[:, 1])) <= {0.0, 1.0}


def test_column_names_are_data_not_code(tmp_path):
    """A column named like Python code is looked up as a name, never evaluated."""
    marker = tmp_path / "pwned"
    name = f"__import__('os').system('touch {marker}')"
    df = frame()
    df[name] = df["x"]
    d = build_design(parse_formula(f"y ~ `{name}` + (1 | g)"), df)
    assert d.fixed_names == ("(Intercept)", name)
    assert not marker.exists()
