"""The analytic gradient for multi-term models equals central differences of the deviance."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.design import Design, ReTerm
from replicate.engine import fit_design, make_deviance
from replicate.engine.gradient_blocked import blocked_value_and_gradient, has_blocked_gradient
from replicate.engine.objective import Objective


def _term(group: str, index: np.ndarray, nlevels: int, x: np.ndarray | None = None) -> ReTerm:
    n = len(index)
    if x is None:
        return ReTerm(group, index, tuple(map(str, range(nlevels))), ("(Intercept)",), np.ones((n, 1)))
    return ReTerm(group, index, tuple(map(str, range(nlevels))), ("(Intercept)", "x"), np.column_stack([np.ones(n), x]))


def _design(kind: str, weighted: bool, seed: int = 5) -> Design:
    """Simulated designs with the structure of the benchmark models."""
    rng = np.random.default_rng(seed)
    if kind == "penicillin":  # 24 plates x 6 samples, fully crossed
        i1, i2 = np.repeat(np.arange(24), 6), np.tile(np.arange(6), 24)
        terms = [_term("plate", i1, 24), _term("sample", i2, 6)]
        x = None
    elif kind == "pastes":  # 30 casks nested in 10 batches, 2 per cask
        i1 = np.repeat(np.arange(30), 2)
        terms = [_term("cask:batch", i1, 30), _term("batch", i1 // 3, 10)]
        x = None
    elif kind == "sleepstudy_g3":  # (Days | Subject) + (1 | g3)
        i1, days = np.repeat(np.arange(18), 10), np.tile(np.arange(10.0), 18)
        terms = [_term("Subject", i1, 18, days), _term("g3", (days.astype(int) % 3), 3)]
        x = days
    else:  # InstEval-like: three crossed factors, the last small
        n = 1500
        i1, i2, i3 = rng.integers(0, 120, n), rng.integers(0, 60, n), rng.integers(0, 5, n)
        terms = [_term("s", i1, 120), _term("d", i2, 60), _term("dept", i3, 5)]
        x = None
    n = len(terms[0].index)
    xcol = rng.normal(size=n) if x is None else x
    y = 1.0 + 0.5 * xcol + rng.normal(size=n)
    for t in terms:
        y = y + (t.Xre @ rng.normal(size=(len(t.levels), t.k)).T)[np.arange(n), t.index]
    return Design(
        y=y,
        X=np.column_stack([np.ones(n), xcol]),
        fixed_names=("(Intercept)", "x"),
        reterms=tuple(terms),
        weights=rng.uniform(0.5, 2.0, n) if weighted else None,
        rows=np.arange(n),
    )


def _thetas(size: int, lower: np.ndarray, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(2):
        th = np.where(np.isfinite(lower), 1.0, 0.0) + 0.4 * rng.normal(size=size)
        out.append(np.where(np.isfinite(lower), np.abs(th) + 0.05, th))
    zero = out[0].copy()
    zero[0] = 0.0  # a diagonal element on its bound: lambda is singular there
    out.append(zero)
    return out


@pytest.mark.parametrize("kind", ["penicillin", "pastes", "sleepstudy_g3", "insteval_like"])
@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_blocked_gradient_matches_central_differences(kind, reml, weighted):
    d = _design(kind, weighted)
    dev = make_deviance(d, "REML" if reml else "ML")
    assert has_blocked_gradient(dev)
    fd_obj = Objective(dev)
    for theta in _thetas(dev.layout.size, dev.layout.lower_bounds(), seed=len(kind)):
        value, grad = blocked_value_and_gradient(dev, theta)
        assert value == pytest.approx(dev(theta), rel=1e-10)
        fd = fd_obj.gradient(theta)
        assert np.linalg.norm(grad - fd) <= 1e-6 * max(np.linalg.norm(fd), 1.0)


@pytest.mark.parametrize("kind", ["penicillin", "pastes", "sleepstudy_g3", "insteval_like"])
def test_gradient_path_reaches_the_derivative_free_optimum_in_fewer_evaluations(kind):
    d = _design(kind, False)
    auto = fit_design(d, "REML")
    assert "analytic gradient" in auto.optinfo.method
    for method in ("cobyqa", "lbfgsb-fd"):
        other = fit_design(d, "REML", optimizer_options={"method": method})
        assert auto.loglik >= other.loglik - 1e-9
        np.testing.assert_allclose(auto.theta, other.theta, atol=1e-4)
        assert auto.optinfo.evaluations < other.optinfo.evaluations
