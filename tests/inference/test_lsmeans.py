"""LS-means without R: on a balanced design with independent errors they are the data's marginal means."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from replicate.engine.rside import fit_residual
from replicate.inference.rside_tests import rside_lsmeans


def _balanced(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(24):
        arm = ("A", "B", "C")[s % 3]
        for v in range(3):
            rows.append((s, arm, f"V{v}", rng.normal(10 + v + (arm == "B"))))
    return pd.DataFrame(rows, columns=["id", "arm", "visit", "y"])


def test_balanced_lsmeans_are_marginal_means_and_differences_pair_up_in_level_order():
    d = _balanced()
    fit = fit_residual(d, "y ~ arm * visit + vc(visit | id)")
    means = rside_lsmeans(fit, "arm", ddfm="residual")
    assert [e.levels for e in means] == [("A",), ("B",), ("C",)]
    for e in means:
        assert e.estimate == pytest.approx(d.loc[d["arm"] == e.levels[0], "y"].mean(), rel=1e-10)
        # independent errors with one variance: SE = sigma / sqrt(rows of the level)
        assert e.se == pytest.approx(np.sqrt(fit.scale / 24), rel=1e-8)
        assert e.df == len(d) - 9
    diffs = rside_lsmeans(fit, "arm", ddfm="residual", diff=True)
    assert [(e.levels[0], e.other[0]) for e in diffs] == [("A", "B"), ("A", "C"), ("B", "C")]
    assert diffs[0].estimate == pytest.approx(means[0].estimate - means[1].estimate, rel=1e-10)
    assert diffs[0].p_value == pytest.approx(2 * stats.t.sf(abs(diffs[0].t), len(d) - 9))


def test_at_moves_a_covariate_and_lsmeans_follow_the_slope():
    d = _balanced().assign(x=lambda f: np.arange(len(f)) % 5 * 1.0)
    fit = fit_residual(d, "y ~ arm + x + cs(visit | id)")
    at0 = rside_lsmeans(fit, "arm", at={"x": 0.0}, ddfm="residual")
    at2 = rside_lsmeans(fit, "arm", at={"x": 2.0}, ddfm="residual")
    slope = float(fit.beta[fit.fixed_names.index("x")])
    for a, b in zip(at0, at2, strict=True):
        assert b.estimate - a.estimate == pytest.approx(2 * slope, rel=1e-10)


def test_a_number_made_a_factor_in_the_formula_is_a_class_effect():
    """Regression: the fit kept only the formula's variable names, so factor(g) could not be rebuilt from g."""
    d = _balanced().assign(g=lambda f: f["id"] % 2 + 1)
    fit = fit_residual(d, "y ~ factor(g) + arm + ar1(visit | id)")
    means = rside_lsmeans(fit, "factor(g)", ddfm="residual")
    assert [e.levels for e in means] == [("1",), ("2",)]
    b = dict(zip(fit.fixed_names, fit.beta, strict=True))
    assert means[1].estimate - means[0].estimate == pytest.approx(b["factor(g)2"], rel=1e-10)
