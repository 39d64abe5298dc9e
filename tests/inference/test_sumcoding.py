"""The sum-to-zero re-coding of a fixed part and its map to the fit's coefficients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.design import build_design
from replicate.errors import ModelError
from replicate.fixed_part import FixedPart
from replicate.inference.sumcoding import sum_coding
from replicate.spec import parse_formula


def _part(formula, frame, contrasts="treatment"):
    spec = parse_formula(formula, fixed_only=True)
    design = build_design(spec, frame, contrasts=contrasts)
    return FixedPart(design.spec or spec, frame.iloc[design.rows].reset_index(drop=True), design.X)


def _frame(seed=1, n=40):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "a": rng.choice(["p", "q", "r"], n),
            "b": rng.choice(["u", "v"], n),
            "x": rng.normal(size=n),
        }
    )


@pytest.mark.parametrize("contrasts", ["treatment", "sas"])
def test_sum_coded_matrix_is_the_fit_matrix_times_m(contrasts):
    d = _frame()
    part = _part("y ~ a * b + x + x:a + log(x + 5)", d, contrasts)
    c = sum_coding(part)
    assert c.labels == ("(Intercept)", "a", "b", "x", "log(x + 5)", "a:b", "a:x")
    assert c.classes == {"a": ("p", "q", "r"), "b": ("u", "v")}
    M = np.linalg.inv(c.to_fit)
    assert np.allclose(part.X @ M, c.X_sum, atol=1e-10)
    # contr.sum: the last level of a is -1 in both of a's columns
    rows_r = part.frame["a"].to_numpy() == "r"
    assert np.allclose(c.X_sum[rows_r][:, c.spans[c.labels.index("a")]], -1.0)
    assert c.means["x"] == pytest.approx(d["x"].mean())


def test_a_rank_deficient_fit_is_refused():
    d = _frame()
    d = d[~((d["a"] == "p") & (d["b"] == "u"))]  # an empty cell: a:b loses a column
    with pytest.raises(ModelError, match="full-rank"):
        sum_coding(_part("y ~ a * b", d))
