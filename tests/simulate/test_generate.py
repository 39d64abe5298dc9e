"""Data generation for studies: seeded per replicate, and Designs identical to the formula path's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replicate.design import build_design
from replicate.simulate.config import load_study
from replicate.simulate.generate import DesignFactory, design_rng, draw_design, draw_response, replicate_rng, to_frame
from replicate.simulate.worker import run_chunk, run_replicate
from replicate.spec import parse_formula


def rich_study(sizes, slopes: bool, seed: int) -> dict:
    truth = {"fixed": {"(Intercept)": 1.0, "x": 0.5, "w": 0.0, "z": 0.3, "x:w": 0.2}, "icc": 0.25}
    design = {
        "groups": 9,
        "group_size": sizes,
        "group": "school",
        "predictors": {
            "w": {"level": 2},
            "x": {"level": 1, "between_sd": 0.5},
            "z": {"level": 2, "distribution": "binary", "p": 0.4},
        },
    }
    if slopes:
        design["random_slopes"] = ["x"]
        truth["slope_variances"] = {"x": 0.1}
        truth["correlations"] = {"(Intercept),x": -0.3}
    return {
        "id": "rich",
        "seed": seed,
        "replicates": 5,
        "design": design,
        "truth": truth,
        "methods": {"estimation": ["REML"], "df": ["residual"], "se": ["model"]},
    }


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        [
            8,
            [3, 1, 7, 2, 9, 4, 4, 6, 5],
            {"distribution": "poisson", "mean": 6, "min": 1},
            {"distribution": "uniform", "min": 2, "max": 9},
        ]
    ),
    st.booleans(),
    st.integers(0, 2**31),
    st.integers(0, 50),
)
def test_direct_design_equals_formula_design(sizes, slopes, seed, r):
    study = load_study(rich_study(sizes, slopes, seed))
    factory = DesignFactory(study)
    rng = replicate_rng(study, r)
    drawn = draw_design(study, rng)
    y = draw_response(study, drawn, rng)
    a = factory.build(drawn, y)
    b = build_design(parse_formula(study.formula), to_frame(study, drawn, y))
    assert a.fixed_names == b.fixed_names and a.column_term == b.column_term and a.fixed_terms == b.fixed_terms
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert a.formula == b.formula and a.spec == b.spec and a.response == b.response
    assert len(a.reterms) == len(b.reterms) == 1
    ta, tb = a.reterms[0], b.reterms[0]
    assert (ta.group, ta.levels, ta.columns) == (tb.group, tb.levels, tb.columns)
    assert np.array_equal(ta.index, tb.index) and np.array_equal(ta.Xre, tb.Xre)
    assert np.array_equal(a.rows, b.rows) and a.n_dropped == b.n_dropped == 0


def test_missing_values_take_the_formula_path():
    doc = rich_study(12, False, 3)
    doc["design"]["missing"] = {"x": 0.2, "w": 0.2, "y": 0.1}
    study = load_study(doc)
    rng = replicate_rng(study, 0)
    drawn = draw_design(study, rng)
    design = DesignFactory(study).build(drawn, draw_response(study, drawn, rng))
    assert design.n_dropped > 0 and design.n == 9 * 12 - design.n_dropped
    frame = to_frame(study, drawn, draw_response(study, drawn, replicate_rng(study, 0)))
    # a level-2 value is missing for whole groups
    w_missing = frame.groupby("school")["w"].apply(lambda s: s.isna().mean())
    assert set(w_missing.unique()) <= {0.0, 1.0}


def test_replicates_do_not_depend_on_order_or_chunking():
    study = load_study(rich_study({"distribution": "poisson", "mean": 5, "min": 2}, True, 11))
    one = [run_replicate(study, r) for r in range(6)]
    backwards = [run_replicate(study, r) for r in reversed(range(6))][::-1]
    assert one == backwards
    chunked = run_chunk(study.to_dict(), 0, 3)["records"] + run_chunk(study.to_dict(), 3, 6)["records"]
    assert chunked == one


def test_seed_changes_the_data_and_hold_fixed_keeps_the_design():
    a = load_study(rich_study(6, False, 1))
    b = load_study(rich_study(6, False, 2))
    ya = draw_response(a, draw_design(a, replicate_rng(a, 0)), replicate_rng(a, 0))
    yb = draw_response(b, draw_design(b, replicate_rng(b, 0)), replicate_rng(b, 0))
    assert not np.allclose(ya, yb)

    doc = rich_study({"distribution": "poisson", "mean": 5, "min": 2}, False, 1)
    doc["design"]["hold_fixed"] = True
    held = load_study(doc)
    r0 = run_replicate(held, 0, fixed_design=draw_design(held, design_rng(held)))
    r1 = run_replicate(held, 1, fixed_design=draw_design(held, design_rng(held)))
    assert r0["n"] == r1["n"]
    assert r0["REML"]["estimate"] != r1["REML"]["estimate"]


def test_true_parameters_are_recovered_on_average():
    """A large sample: the means of the simulated data match the truth (a check of the generator)."""
    doc = rich_study(400, True, 5)
    doc["design"]["groups"] = 200
    study = load_study(doc)
    rng = replicate_rng(study, 0)
    drawn = draw_design(study, rng)
    y = draw_response(study, drawn, rng)
    frame = to_frame(study, drawn, y)
    assert frame.groupby("school")["w"].nunique().max() == 1  # level 2 is constant within groups
    assert frame.groupby("school")["x"].std().min() > 0.5  # level 1 varies within groups
    fit_x = np.polyfit(
        frame["x"] - frame.groupby("school")["x"].transform("mean"),
        y - pd.Series(y).groupby(frame["school"]).transform("mean"),
        1,
    )[0]
    # within-group slope at w = 0 is 0.5 on average (the x:w term averages out over w ~ N(0, 1))
    assert fit_x == pytest.approx(0.5, abs=0.08)
