"""How a Design is named for R (no R needed): plain names as they are, every other name generated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.design import build_design
from replicate.engines.r.frames import OFFSET_COLUMN, is_r_name, model_frame
from replicate.spec import parse_formula


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(8), 6)
    x = rng.normal(size=g.size)
    return pd.DataFrame(
        {"y": rng.normal(size=g.size), "x": x, "z": rng.uniform(1, 2, size=g.size), "g": g, "o": 0.5 * x}
    )


def test_formula_function_columns_get_generated_names(data):
    design = build_design(parse_formula("y ~ x + I(x^2) + log(z) + x:log(z) + (1 + log(z) | g)"), data)
    mf = model_frame(design)
    assert mf.fixed == ("x", ".col1", ".col2", ".col3")
    assert [mf.design_name(c) for c in mf.fixed] == ["x", "I(x^2)", "log(z)", "x:log(z)"]
    assert mf.terms == (("g", (".col2",), True),)
    assert mf.design_name("`x`") == "x"  # back-quotes as R prints them are dropped
    assert np.allclose(mf.frame[".col1"].to_numpy(), data["x"].to_numpy() ** 2, rtol=1e-15, atol=0)
    assert all(is_r_name(c) or c.startswith(".") for c in mf.frame.columns)


def test_joined_plain_names_stay_unless_asked(data):
    design = build_design(parse_formula("y ~ x * z + (1 | g)"), data)
    assert model_frame(design).fixed == ("x", "z", "x:z")
    renamed = model_frame(design, rename_joined=True)
    assert renamed.fixed == ("x", "z", ".col1") and renamed.design_name(".col1") == "x:z"


def test_offset_goes_to_lmer_as_a_column_or_is_subtracted_under_a_generated_name(data):
    design = build_design(parse_formula("y ~ x + offset(o) + (1 | g)"), data)
    with_column = model_frame(design, offset_column=True)
    assert with_column.offset and with_column.response == "y"
    assert np.allclose(with_column.frame["y"], data["y"], rtol=0, atol=1e-12)
    assert np.array_equal(with_column.frame[OFFSET_COLUMN], data["o"].to_numpy())
    subtracted = model_frame(design)
    assert not subtracted.offset and subtracted.response == ".resp1"
    assert OFFSET_COLUMN not in subtracted.frame.columns
    assert np.allclose(subtracted.frame[".resp1"], data["y"] - data["o"], rtol=0, atol=1e-12)


def test_generated_names_are_listed_beside_the_call(data):
    frame = data.rename(columns={"y": "y score", "g": "school id"})
    design = build_design(parse_formula("`y score` ~ log(z) + (1 | `school id`)"), frame)
    mf = model_frame(design)
    assert (mf.response, mf.fixed, mf.terms[0][0]) == (".resp1", (".col1",), ".fac1")
    assert mf.legend() == "; where .resp1 = y score, .col1 = log(z), .fac1 = school id"
    assert model_frame(build_design(parse_formula("y ~ x + (1 | g)"), data)).legend() == ""
