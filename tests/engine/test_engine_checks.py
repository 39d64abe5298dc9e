"""Input checks of the native engine: errors and warnings that name the variable."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.design import Design, ReTerm
from replicate.engine import EngineWarning, fit_design
from replicate.errors import FitError, ModelError


def _design(n_groups: int = 10, per: int = 5, *, seed: int = 1, slope_within: bool = True, **changes) -> Design:
    rng = np.random.default_rng(seed)
    n = n_groups * per
    g = np.repeat(np.arange(n_groups), per)
    x = rng.normal(size=n) if slope_within else rng.normal(size=n_groups)[g]
    u = rng.normal(size=n_groups)[g]
    y = 1.0 + 0.5 * x + u + rng.normal(size=n)
    term = ReTerm(
        "g", g, tuple(f"G{i}" for i in range(n_groups)), ("(Intercept)", "x"), np.column_stack([np.ones(n), x])
    )
    fields = {
        "y": y,
        "X": np.column_stack([np.ones(n), x]),
        "fixed_names": ("(Intercept)", "x"),
        "reterms": (term,),
        "rows": np.arange(n),
        "response": "y",
    }
    fields.update(changes)
    return Design(**fields)


def test_grouping_factor_with_as_many_levels_as_rows():
    d = _design()
    n = d.n
    term = ReTerm("id", np.arange(n), tuple(map(str, range(n))), ("(Intercept)",), np.ones((n, 1)))
    with pytest.raises(ModelError, match=r"must be < number of observations \(problems: id\)"):
        fit_design(Design(**{**d.__dict__, "reterms": (term,)}))


def test_more_random_effects_than_rows():
    d = _design(n_groups=20, per=2)
    with pytest.raises(ModelError, match=r"number of random effects \(=40\) for term \(\(Intercept\) \+ x \| g\)"):
        fit_design(d)


def test_single_level_grouping_factor():
    d = _design()
    term = ReTerm("school", np.zeros(d.n, dtype=int), ("A",), ("(Intercept)",), np.ones((d.n, 1)))
    with pytest.raises(ModelError, match="'school' has 1 sampled level"):
        fit_design(Design(**{**d.__dict__, "reterms": (term,)}))


def test_constant_response():
    d = _design()
    with pytest.raises(FitError, match="response 'y' is constant"):
        fit_design(Design(**{**d.__dict__, "y": np.full(d.n, 3.0)}))


@pytest.mark.parametrize(
    "what,match",
    [
        ("y", "response 'y'"),
        ("X", "fixed-effect column 'x'"),
        ("Xre", "random-effect column 'x' of term"),
        ("weights", "weights"),
    ],
)
def test_non_finite_values_name_the_variable(what, match):
    d = _design()
    if what == "y":
        y = d.y.copy()
        y[3] = np.nan
        d = Design(**{**d.__dict__, "y": y})
    elif what == "X":
        X = d.X.copy()
        X[4, 1] = np.inf
        d = Design(**{**d.__dict__, "X": X})
    elif what == "Xre":
        t = d.reterms[0]
        xre = t.Xre.copy()
        xre[2, 1] = np.nan
        d = Design(**{**d.__dict__, "reterms": (ReTerm(t.group, t.index, t.levels, t.columns, xre),)})
    else:
        w = np.ones(d.n)
        w[0] = np.nan
        d = Design(**{**d.__dict__, "weights": w})
    with pytest.raises(FitError, match=match):
        fit_design(d)


def test_non_positive_weights():
    d = _design()
    w = np.ones(d.n)
    w[1] = 0.0
    with pytest.raises(FitError, match="weights must be positive"):
        fit_design(Design(**{**d.__dict__, "weights": w}))


def test_no_random_effects():
    d = _design()
    with pytest.raises(ModelError, match="no random-effects terms"):
        fit_design(Design(**{**d.__dict__, "reterms": ()}))


def test_unknown_method():
    with pytest.raises(FitError, match="method 'REM' unknown"):
        fit_design(_design(), "REM")


def test_slope_constant_within_groups_warns_naming_the_variable():
    d = _design(slope_within=False)
    with pytest.warns(EngineWarning, match="'x' does not vary within any level of 'g'"):
        res = fit_design(d)
    assert any("'x' does not vary within any level of 'g'" in m for m in res.messages)


def test_singular_fit_is_reported():
    # No group effect at all and few groups: the optimum is on the boundary.
    rng = np.random.default_rng(7)
    n_groups, per = 6, 5
    n = n_groups * per
    g = np.repeat(np.arange(n_groups), per)
    y = rng.normal(size=n)
    y = y - np.bincount(g, y)[g] / per  # group means exactly 0
    term = ReTerm("g", g, tuple(map(str, range(n_groups))), ("(Intercept)",), np.ones((n, 1)))
    d = Design(y=y, X=np.ones((n, 1)), fixed_names=("(Intercept)",), reterms=(term,), rows=np.arange(n))
    res = fit_design(d)
    assert res.singular
    assert res.theta[0] == 0.0
    assert any("boundary (singular) fit" in m for m in res.messages)
    assert res.varcorr["vcov"].iloc[0] == 0.0


def test_too_large_dense_tail_is_a_clear_error(monkeypatch):
    from replicate.engine import crossprod

    monkeypatch.setattr(crossprod, "MAX_TAIL", 10)
    rng = np.random.default_rng(0)
    n = 200
    a, b = rng.integers(0, 20, n), rng.integers(0, 15, n)
    terms = (
        ReTerm("a", a, tuple(map(str, range(20))), ("(Intercept)",), np.ones((n, 1))),
        ReTerm("b", b, tuple(map(str, range(15))), ("(Intercept)",), np.ones((n, 1))),
    )
    d = Design(y=rng.normal(size=n), X=np.ones((n, 1)), fixed_names=("(Intercept)",), reterms=terms)
    with pytest.raises(FitError, match=r"terms after 'a': b \(15\)"):
        fit_design(d)


def test_unknown_optimizer_option():
    with pytest.raises(FitError, match="unknown optimizer option"):
        fit_design(_design(), optimizer_options={"tolerance": 1})
    with pytest.raises(FitError, match="optimizer method 'bobyqa' unknown"):
        fit_design(_design(), optimizer_options={"method": "bobyqa"})
