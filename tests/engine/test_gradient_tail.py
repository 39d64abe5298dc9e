"""The multi-term gradient through the blocked factor (leading term's blocks, dense tail) equals central differences
of the deviance and the dense augmented gradient, on and off the boundary, weighted or not, by REML and ML; and
the fit chooses it where it is the cheaper one (subjects x items with random slopes)."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.bench.models import CATALOGUE
from replicate.engine import fit_design, make_deviance
from replicate.engine.crossprod import compute_crossproducts
from replicate.engine.deviance import ProfiledDeviance
from replicate.engine.fit import _analytic_gradient
from replicate.engine.gradient_blocked import blocked_value_and_gradient
from replicate.engine.gradient_tail import has_tail_gradient, tail_gradient_cost, tail_value_and_gradient
from replicate.engine.objective import Objective
from replicate.engine.theta import ThetaLayout
from tests.engine.test_gradient_blocked import _design, _thetas


@pytest.mark.parametrize("kind", ["penicillin", "pastes", "sleepstudy_g3", "insteval_like"])
@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("storage", ["dense", "sparse"])
def test_tail_gradient_matches_central_differences_and_the_dense_one(kind, reml, weighted, storage):
    d = _design(kind, weighted)
    dev = ProfiledDeviance(compute_crossproducts(d, storage=storage), ThetaLayout.of(d), reml)
    assert (dev.cp.at1_dense is None) == (storage == "sparse")
    assert has_tail_gradient(dev)
    fd_obj = Objective(dev)
    for theta in _thetas(dev.layout.size, dev.layout.lower_bounds(), seed=len(kind) + 1):
        value, grad = tail_value_and_gradient(dev, theta)
        assert value == pytest.approx(dev(theta), rel=1e-10)
        dense_value, dense = blocked_value_and_gradient(dev, theta)
        assert value == pytest.approx(dense_value, rel=1e-10)
        np.testing.assert_allclose(grad, dense, rtol=1e-8, atol=1e-8 * max(np.abs(dense).max(), 1.0))
        fd = fd_obj.gradient(theta)
        assert np.linalg.norm(grad - fd) <= 1e-6 * max(np.linalg.norm(fd), 1.0)


@pytest.mark.parametrize("name", ["kb07_like", "crossed_slopes_large"])
def test_crossed_slopes_take_the_tail_gradient_and_reach_the_derivative_free_optimum(name):
    model = CATALOGUE[name]
    design = model.design()
    dev = make_deviance(design, "ML")
    chosen = _analytic_gradient(dev)
    # kb07's dense augmented matrix (357) is small enough for either multi-term gradient; the larger design's
    # (904) is not
    expected = (
        (blocked_value_and_gradient, tail_value_and_gradient) if name == "kb07_like" else (tail_value_and_gradient,)
    )
    assert chosen is not None and chosen.func in expected  # type: ignore[attr-defined]
    assert tail_gradient_cost(dev) < (dev.layout.size + 1) * dev.cost_estimate()
    auto = fit_design(design, "ML")
    assert "analytic gradient" in auto.optinfo.method
    other = fit_design(design, "ML", optimizer_options={"method": "cobyqa"})
    assert auto.loglik >= other.loglik - 1e-9
    assert auto.optinfo.evaluations < other.optinfo.evaluations
