"""Kernels and invariants of the native engine that need no R."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.design import Design, ReTerm
from replicate.engine import fit_design, make_deviance
from replicate.engine.crossprod import compute_crossproducts
from replicate.engine.deviance import ProfiledDeviance
from replicate.engine.gradient import value_and_gradient
from replicate.engine.objective import Objective
from replicate.engine.smallblocks import batched_cholesky, batched_tril_inverse
from replicate.engine.theta import ThetaLayout
from replicate.engine.varcorr import unique_group_names


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_batched_cholesky_and_inverse(k):
    rng = np.random.default_rng(k)
    a = rng.normal(size=(50, k, k))
    spd = a @ np.transpose(a, (0, 2, 1)) + np.eye(k)
    low = batched_cholesky(spd)
    assert np.allclose(low, np.linalg.cholesky(spd))
    assert np.allclose(batched_tril_inverse(low), np.linalg.inv(low))


def test_theta_layout_is_column_major_lower_triangle():
    lay = ThetaLayout.from_sizes((3, 1))
    theta = np.arange(1.0, 8.0)
    assert np.array_equal(lay.factor(theta, 0), [[1, 0, 0], [2, 4, 0], [3, 5, 6]])
    assert np.array_equal(lay.factor(theta, 1), [[7]])
    assert np.array_equal(lay.initial(), [1, 0, 0, 1, 0, 1, 1])
    assert np.array_equal(lay.lower_bounds() == 0, lay.is_diagonal())


def test_make_unique_group_names():
    assert unique_group_names(["Subject", "Subject", "Subject"]) == ["Subject", "Subject.1", "Subject.2"]


def _crossed(seed: int = 3, k1: int = 2) -> Design:
    """Crossed design with a vector-valued leading term and two tail terms."""
    rng = np.random.default_rng(seed)
    n, n1, n2, n3 = 600, 40, 25, 4
    i1, i2, i3 = rng.integers(0, n1, n), rng.integers(0, n2, n), rng.integers(0, n3, n)
    x = rng.normal(size=n)
    y = (
        1
        + x
        + rng.normal(size=n1)[i1]
        + rng.normal(size=n1)[i1] * x
        + rng.normal(size=n2)[i2]
        + rng.normal(size=n3)[i3]
        + rng.normal(size=n)
    )
    cols1 = ("(Intercept)", "x")[:k1]
    terms = (
        ReTerm("a", i1, tuple(map(str, range(n1))), cols1, np.column_stack([np.ones(n), x])[:, :k1]),
        ReTerm("b", i2, tuple(map(str, range(n2))), ("(Intercept)", "x"), np.column_stack([np.ones(n), x])),
        ReTerm("c", i3, tuple(map(str, range(n3))), ("(Intercept)",), np.ones((n, 1))),
    )
    return Design(
        y=y,
        X=np.column_stack([np.ones(n), x]),
        fixed_names=("(Intercept)", "x"),
        reterms=terms,
        weights=rng.uniform(0.5, 2, n),
        rows=np.arange(n),
    )


def _dense_z_lambda(d: Design, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense Z and the block-diagonal relative covariance factor Lambda at ``theta`` (small n only)."""
    from scipy.linalg import block_diag

    lay = ThetaLayout.from_sizes(tuple(t.k for t in d.reterms))
    zs, lams = [], []
    for i, t in enumerate(d.reterms):
        z = np.zeros((d.n, t.nlevels * t.k))
        for a in range(t.k):
            z[np.arange(d.n), t.index * t.k + a] = t.Xre[:, a]
        zs.append(z)
        lams.append(np.kron(np.eye(t.nlevels), lay.factor(theta, i)))
    return np.hstack(zs), block_diag(*lams)


def _dense_deviance(d: Design, theta: np.ndarray, reml: bool) -> float:
    """Textbook profiled deviance with dense Z (small n only)."""
    Z, Lam = _dense_z_lambda(d, theta)
    w = np.ones(d.n) if d.weights is None else d.weights
    V = (Z @ Lam) @ (Z @ Lam).T + np.diag(1 / w)  # / sigma^2
    Vi = np.linalg.inv(V)
    XtViX = d.X.T @ Vi @ d.X
    beta = np.linalg.solve(XtViX, d.X.T @ Vi @ d.y)
    r = d.y - d.X @ beta
    rss = r @ Vi @ r
    n, p = d.n, d.p
    _, ldv = np.linalg.slogdet(V)
    if reml:
        _, ldx = np.linalg.slogdet(XtViX)
        return ldv + ldx + (n - p) * (1 + np.log(2 * np.pi * rss / (n - p)))
    return ldv + n * (1 + np.log(2 * np.pi * rss / n))


@pytest.mark.parametrize("k1", [1, 2])
@pytest.mark.parametrize("storage", ["dense", "sparse"])
@pytest.mark.parametrize("reml", [True, False])
def test_blocked_deviance_matches_dense_formula(k1, storage, reml):
    d = _crossed(k1=k1)
    lay = ThetaLayout.from_sizes(tuple(t.k for t in d.reterms))
    dev = ProfiledDeviance(compute_crossproducts(d, storage=storage), lay, reml)
    rng = np.random.default_rng(0)
    for _ in range(3):
        theta = lay.initial() + 0.3 * rng.normal(size=lay.size)
        theta = np.where(lay.is_diagonal(), np.abs(theta), theta)
        assert dev(theta) == pytest.approx(_dense_deviance(d, theta, reml), rel=1e-11)


def test_dense_and_sparse_storage_give_the_same_fit():
    d = _crossed()
    res = fit_design(d, "ML")
    dev_sparse = ProfiledDeviance(compute_crossproducts(d, storage="sparse"), ThetaLayout.from_sizes((2, 2, 1)), False)
    assert dev_sparse(res.theta) == pytest.approx(res.deviance, rel=1e-12)


def test_conditional_variances_match_dense_formula():
    d = _crossed(k1=2)
    res = fit_design(d, "REML")
    Z, Lam = _dense_z_lambda(d, res.theta)
    ZL = Z @ Lam
    M = ZL.T @ (d.weights[:, None] * ZL) + np.eye(ZL.shape[1])
    cov_b = res.sigma2 * Lam @ np.linalg.inv(M) @ Lam.T
    cv = res.extra["condvar"]()
    pos = 0
    for t, blocks in zip(d.reterms, cv):
        for lev in range(t.nlevels):
            sl = slice(pos + lev * t.k, pos + (lev + 1) * t.k)
            assert np.allclose(blocks[lev], cov_b[sl, sl], rtol=1e-8, atol=1e-12)
        pos += t.nlevels * t.k
    # Conditional modes solve the penalized least squares problem.
    b = np.concatenate(
        [bb.ravel() for bb in res.ranef()["a"].to_numpy()[None]]
        and [x.ravel() for x in [np.asarray(res.ranef()[g]) for g in ("a", "b", "c")]]
    )
    W = d.weights
    r = d.y - d.X @ res.fixed.to_numpy()
    u = np.linalg.solve(M, ZL.T @ (W * r))
    assert np.allclose(b, Lam @ u, rtol=1e-7, atol=1e-9)


def test_deviance_function_is_exposed():
    d = _crossed()
    dev = make_deviance(d, "ML")
    res = fit_design(d, "ML")
    assert dev(res.theta) == pytest.approx(res.deviance, rel=1e-12)
    assert res.optinfo.evaluations > 0 and res.optinfo.fmin == pytest.approx(res.deviance)
    assert res.extra["internal_term_order"] == (0, 1, 2)


@pytest.mark.parametrize("k1", [1, 2, 3])
@pytest.mark.parametrize("reml", [True, False])
def test_analytic_gradient_matches_finite_differences(k1, reml):
    from replicate.engine.optimize import Objective

    d = _crossed(k1=min(k1, 2))
    term = d.reterms[0]
    if k1 == 3:
        xre = np.column_stack([term.Xre, term.Xre[:, 1] ** 2])
        term = ReTerm(term.group, term.index, term.levels, ("(Intercept)", "x", "x2"), xre)
    d = Design(**{**d.__dict__, "reterms": (term,)})
    dev = make_deviance(d, "REML" if reml else "ML")
    rng = np.random.default_rng(k1)
    for _ in range(3):
        theta = dev.layout.initial() + 0.3 * rng.normal(size=dev.layout.size)
        _, g = value_and_gradient(dev, theta)
        fd = Objective(dev).gradient(theta)
        assert np.allclose(g, fd, rtol=1e-5, atol=1e-5 * np.max(np.abs(fd)))


def test_edge_saddles_flag_boundary_points_that_are_not_minima():
    from replicate.engine.optimize import edge_saddles

    lower = np.array([-np.inf, 0.0, 0.0])
    hess = np.diag([2.0, -4.0, 3.0])
    g = np.zeros(3)
    for x1 in (0.0, 1e-6):
        flags = edge_saddles(np.array([1.0, x1, 0.0]), lower, g, hess, 10.0)
        assert flags.tolist() == [False, True, False]
    # An inward-pointing gradient at the bound is not a minimum either.
    flags = edge_saddles(np.array([1.0, 0.5, 0.0]), lower, np.array([0.0, 0.0, -1.0]), np.eye(3), 10.0)
    assert flags.tolist() == [False, False, True]


def test_optimizer_escapes_a_boundary_saddle():
    from replicate.engine.optimize import optimize_theta

    # Even in x1 (like the deviance in an isolated diagonal theta): x1 = 0 is a saddle.
    def fun(x):
        return (x[0] - 1.0) ** 2 + (x[1] ** 2 - 1.0) ** 2

    def fg(x):
        return fun(x), np.array([2 * (x[0] - 1.0), 4 * x[1] * (x[1] ** 2 - 1.0)])

    lower = np.array([-np.inf, 0.0])
    for kwargs in ({"value_and_gradient": fg}, {}):
        x, f, _summary, converged = optimize_theta(fun, np.array([1.0, 0.0]), lower, **kwargs)
        assert converged
        assert np.allclose(x, [1.0, 1.0], atol=1e-6)
        assert f == pytest.approx(0.0, abs=1e-10)


def test_first_stages_reach_the_same_optimum_on_a_singular_multi_term_fit():
    """Crossed terms: L-BFGS-B on the multi-term analytic gradient (auto) and bounded Powell
    end at the same boundary optimum; the former with far fewer evaluations."""
    rng = np.random.default_rng(4)
    n = 240
    a = rng.integers(0, 12, n)
    b = rng.integers(0, 3, n)
    x = rng.normal(size=n)
    y = 1 + x + rng.normal(size=12)[a] + 0.5 * rng.normal(size=12)[a] * x + rng.normal(size=n)  # no b effect
    import pandas as pd

    from replicate.design import build_design
    from replicate.spec import parse_formula

    df = pd.DataFrame({"y": y, "x": x, "a": a.astype(str), "b": b.astype(str)})
    design = build_design(parse_formula("y ~ x + (x | a) + (1 | b)"), df)
    auto = fit_design(design, "REML")
    powell = fit_design(design, "REML", optimizer_options={"method": "powell"})
    assert "analytic gradient" in auto.optinfo.method
    assert auto.loglik == pytest.approx(powell.loglik, abs=1e-7)
    np.testing.assert_allclose(auto.theta, powell.theta, atol=1e-3)
    assert auto.optinfo.evaluations < powell.optinfo.evaluations


def test_optimizer_escapes_a_saddle_along_a_combination_of_elements():
    """At (0, 0) each element alone rises, but the two together fall (as theta_11 and theta_21 of a
    correlated slope whose variances are all 0): the negative eigenvalue of the Hessian is found."""
    from replicate.engine.optimize import edge_saddles, negative_curvature_direction, optimize_theta

    def fun(x):
        return x[0] ** 2 + x[1] ** 2 - 3 * x[0] * x[1] + (x[0] ** 2 + x[1] ** 2) ** 2

    lower = np.array([0.0, -np.inf])
    hess = np.array([[2.0, -3.0], [-3.0, 2.0]])
    x0 = np.zeros(2)
    assert not edge_saddles(x0, lower, np.zeros(2), hess, 0.0).any()
    d = negative_curvature_direction(x0, lower, hess)
    assert d is not None and d[0] > 0 and d[1] > 0
    # the direction must move a bounded element inward: at (0, 0) with lower bounds on both and
    # curvature only along (1, -1), there is no feasible descent direction
    assert negative_curvature_direction(x0, np.zeros(2), np.array([[2.0, 3.0], [3.0, 2.0]])) is None
    x, f, summary, converged = optimize_theta(fun, x0, lower)
    assert converged and "restarted" in summary.message
    np.testing.assert_allclose(x, [np.sqrt(1 / 8)] * 2, atol=1e-5)
    assert f == pytest.approx(-1 / 16, abs=1e-10)


def test_dense_at1_is_there_exactly_when_a_t1_is_not_stored_sparse():
    d = _crossed()
    dense = compute_crossproducts(d, storage="dense")
    assert dense.schur_map is None and dense.dense_at1().shape == (dense.m, d.reterms[0].nlevels, 2)
    sparse = compute_crossproducts(d, storage="sparse")
    assert sparse.schur_map is not None
    with pytest.raises(ValueError, match="stored sparse"):
        sparse.dense_at1()


def test_objective_without_an_analytic_gradient_says_so():
    obj = Objective(lambda x: float(np.sum(x**2)))
    with pytest.raises(TypeError, match="no analytic gradient"):
        obj.value_and_gradient(np.ones(2))
    assert np.allclose(obj.gradient(np.array([1.0, -2.0])), [2.0, -4.0], atol=1e-6)
