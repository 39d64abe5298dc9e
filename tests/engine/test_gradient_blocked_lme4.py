"""The multi-term analytic gradient on lme4's own data sets (through rpy2)."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.engine import fit_design, make_deviance
from replicate.engine.gradient_blocked import blocked_value_and_gradient, use_blocked_gradient
from replicate.engine.objective import Objective
from tests.engine.lme4_models import MODELS

pytestmark = pytest.mark.r

NAMES = ["penicillin", "pastes", "sleepstudy_vector_lead", "sleepstudy_vector_tail"]


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_central_differences_on_lme4_data(ro, name):
    model = MODELS[name]
    design = model.build(model.load(ro))
    for method in ("REML", "ML"):
        dev = make_deviance(design, method)
        rng = np.random.default_rng(7)
        lower = dev.layout.lower_bounds()
        for zero in (False, True):
            theta = np.where(np.isfinite(lower), 0.2 + rng.uniform(size=lower.size), rng.normal(size=lower.size))
            if zero:
                theta[-1 if np.isfinite(lower[-1]) else 0] = 0.0
            _, grad = blocked_value_and_gradient(dev, theta)
            fd = Objective(dev).gradient(theta)
            assert np.linalg.norm(grad - fd) <= 1e-6 * max(np.linalg.norm(fd), 1.0)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_path_is_at_least_as_high_as_the_derivative_free_optimum(ro, name):
    model = MODELS[name]
    design = model.build(model.load(ro))
    for method in model.methods:
        assert use_blocked_gradient(make_deviance(design, method))
        auto = fit_design(design, method)
        assert "analytic gradient" in auto.optinfo.method
        for other_method in ("cobyqa", "lbfgsb-fd"):
            other = fit_design(design, method, optimizer_options={"method": other_method})
            assert auto.loglik >= other.loglik - 1e-9
            assert auto.optinfo.evaluations < other.optinfo.evaluations
