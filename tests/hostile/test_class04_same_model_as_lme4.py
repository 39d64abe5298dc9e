"""Issue #14, class 4: the engine fits the model lme4 fits, or says why not.

A numeric variable that is also a grouping factor stays numeric in the fixed
part and in random-effect columns (lme4 makes a factor of it for the grouping
only); the response on the right-hand side is dropped with lme4's warning.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from replicate.design import build_design
from replicate.engine import fit_design
from replicate.spec import parse_formula


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(14)
    year = np.repeat(np.arange(2000, 2010), 12).astype(float)
    g = np.tile(np.arange(12), 10)
    y = (
        5
        - 0.37 * (year - 2000)
        + rng.normal(size=12)[g]
        + rng.normal(size=len(year))
        + rng.normal(size=10)[(year - 2000).astype(int)]
    )
    return pd.DataFrame({"y": y, "year": year, "g": g.astype(str), "x": rng.normal(size=len(year))})


def _design(formula: str, frame: pd.DataFrame):
    return build_design(parse_formula(formula), frame)


def test_numeric_grouping_variable_is_one_slope_in_the_fixed_part(frame: pd.DataFrame) -> None:
    d = _design("y ~ year + (1 | year)", frame)
    assert d.fixed_names == ("(Intercept)", "year")
    np.testing.assert_array_equal(d.X[:, 1], frame["year"].to_numpy())
    assert d.reterms[0].group == "year" and d.reterms[0].nlevels == 10


def test_numeric_grouping_variable_stays_numeric_in_a_random_slope(frame: pd.DataFrame) -> None:
    d = _design("y ~ x + (year | g) + (1 | year)", frame)
    term = next(t for t in d.reterms if t.group == "g")
    assert term.columns == ("(Intercept)", "year")
    np.testing.assert_array_equal(term.Xre[:, 1], frame["year"].to_numpy())


def test_response_on_the_right_hand_side_is_dropped_with_lme4s_warning(frame: pd.DataFrame) -> None:
    d = _design("y ~ y + x + (1 | g)", frame)
    assert d.fixed_names == ("(Intercept)", "x")
    assert any("the response appeared on the right-hand side and was dropped" in m for m in d.messages)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_design(d)
        same = fit_design(_design("y ~ x + (1 | g)", frame))
    assert any("right-hand side" in m for m in fit.messages)
    np.testing.assert_allclose(fit.fixed.to_numpy(), same.fixed.to_numpy())
    # a term that only involves the response is kept, as R's model.matrix keeps it
    assert "y:x" in _design("y ~ y:x + (1 | g)", frame).fixed_names


@pytest.mark.r
@pytest.mark.parametrize("formula", ["y ~ year + (1 | year)", "y ~ y + x + (1 | g)"])
def test_same_fixed_effects_as_lme4(frame: pd.DataFrame, formula: str) -> None:
    """lme4 itself, on the data frame (the test's own constant formula; nothing from a case file goes to R)."""
    from tests.rsupport import need_r, to_r

    ro = need_r("lme4")
    to_r(ro, frame, "dat_h14")
    ro.globalenv["fml_h14"] = ro.Formula(formula)
    r_fixef = ro.r("suppressWarnings(lme4::fixef(lme4::lmer(fml_h14, data = dat_h14, REML = TRUE)))")
    names = list(r_fixef.names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = fit_design(_design(formula, frame))
    assert list(ours.fixed.index) == names
    np.testing.assert_allclose(ours.fixed.to_numpy(), np.asarray(r_fixef), rtol=1e-5)
