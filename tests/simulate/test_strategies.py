"""The strategies draw what they promise: structures, sizes, ICC range, levels, fittable data."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from replicate.design import build_design
from replicate.simulate import strategies as S
from replicate.spec import parse_formula

QUICK = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "max_examples": 30,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(**QUICK)
@given(S.hierarchical(max_rows=2000))
def test_every_draw_builds_a_design_that_matches_its_truth(drawn):
    frame, formula, truth = drawn  # a triple
    assert isinstance(frame, type(drawn.frame)) and formula == drawn.formula
    design = build_design(parse_formula(formula), frame)
    assert 0.0 <= truth.icc <= 0.5
    assert set(truth.fixed) == set(design.fixed_names)
    assert {t.group for t in design.reterms} == set(truth.random)
    n_theta = sum(t.k * (t.k + 1) // 2 for t in design.reterms)
    assert truth.varpar(design).shape == (n_theta + 1,)
    for t in design.reterms:
        assert t.nlevels >= 2 and design.n > t.nlevels * t.k
    g = truth.group
    for v, level in truth.levels.items():
        sub = frame[[v, g]].dropna()
        varies = (sub.groupby(g)[v].nunique() > 1).any()
        assert varies == (level == 1), (v, level)


@settings(**QUICK)
@given(S.two_level(balance="singletons", max_groups=300, max_rows=1500))
def test_singleton_groups_and_up_to_hundreds_of_groups(drawn):
    sizes = drawn.frame.groupby("g").size()
    assert (sizes == 1).any() and (sizes >= 2).any()
    assert 3 <= drawn.truth.info["groups"] <= 300


@settings(**QUICK)
@given(S.three_level())
def test_three_level_class_labels_restart_in_every_school(drawn):
    f = drawn.frame
    assert f.groupby("school")["class"].min().eq(1).all()
    assert drawn.formula.endswith("(1 | school/class)")
    design = build_design(parse_formula(drawn.formula), f)
    assert [t.group for t in design.reterms] == ["class:school", "school"]


@settings(**QUICK)
@given(S.two_level(icc=0.0, random_slope=True, level1=(1, 2)))
def test_boundary_truth_has_zero_theta(drawn):
    design = build_design(parse_formula(drawn.formula), drawn.frame)
    vp = drawn.truth.varpar(design)
    assert vp[0] == 0.0 and vp[-1] == 1.0


def test_psd_cholesky_handles_singular_matrices():
    A = np.array([[0.0, 0.0], [0.0, 0.25]])
    L = S.psd_cholesky(A)
    assert np.allclose(L @ L.T, A)
    B = np.array([[0.04, 0.02], [0.02, 0.01]])  # rank 1
    L = S.psd_cholesky(B)
    assert np.allclose(L @ L.T, B)
