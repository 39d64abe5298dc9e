"""The exact gradient of the Laplace deviance and the row-stored ``Z Lambda`` behind the faster GLMM fit (issue #17,
speed): the gradient equals central differences of the deviance on every structure the engine fits (one term,
crossed, nested, correlated slopes with no diagonal block, offset and prior weights), in both stages; the
row-stored products, cross-products and PIRLS systems equal the scipy-sparse ones; the cached deviance sums equal
the family's per-row definitions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from replicate.data import load_r_dataset
from replicate.engine.glmm import fit_glmm
from replicate.engine.glmm.api import prepare
from replicate.engine.glmm.derivatives import gradient
from replicate.engine.glmm.deviance import GlmmDeviance
from replicate.engine.glmm.laplace_gradient import has_exact_gradient, laplace_gradient, mode_jacobian
from replicate.engine.glmm.pirls_system import PirlsSystem
from replicate.engine.glmm.randompart import RandomPart


def _cbpp() -> pd.DataFrame:
    d, _, _ = load_r_dataset("lme4", "cbpp")
    d = d.assign(period=pd.Categorical(d["period"].astype(str), categories=["1", "2", "3", "4"]))
    return d.assign(t=np.arange(len(d)) % 4 - 1.5, obs=np.arange(len(d)) % 7, w=1 + np.arange(len(d)) % 3)


def _counts() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n, g, h = 240, 20, 6
    school, cls = rng.integers(0, g, n), rng.integers(0, h, n)
    x = rng.normal(size=n)
    eta = 0.3 + 0.4 * x + rng.normal(0, 0.5, g)[school] + rng.normal(0, 0.4, (g, h))[school, cls]
    return pd.DataFrame(
        {"y": rng.poisson(np.exp(eta + np.log(2.0))), "x": x, "school": school, "cls": cls, "expo": np.full(n, 2.0)}
    ).assign(logexpo=lambda d: np.log(d["expo"]))


def _big_crossed() -> pd.DataFrame:
    """3,000 rows with 250 x 120 crossed levels: the coupling block of the PIRLS system is kept sparse."""
    rng = np.random.default_rng(11)
    n, g, h = 3000, 250, 120
    a, b = rng.integers(0, g, n), rng.integers(0, h, n)
    x = rng.normal(size=n)
    eta = -0.3 + 0.5 * x + rng.normal(0, 0.7, g)[a] + rng.normal(0, 0.5, h)[b]
    return pd.DataFrame({"y": rng.binomial(1, 1 / (1 + np.exp(-eta))), "x": x, "a": a.astype(str), "b": b.astype(str)})


CASES = {
    "one term": (_cbpp, "cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial", None, None),
    "crossed, weights": (
        _cbpp,
        "cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)",
        "binomial",
        "w",
        None,
    ),
    "correlated slopes": (
        _cbpp,
        "cbind(incidence, size - incidence) ~ period + (1 + t | herd)",
        "binomial",
        None,
        None,
    ),
    "slopes beside a scalar term": (
        _cbpp,
        "cbind(incidence, size - incidence) ~ t + (1 + t | herd) + (1 | obs)",
        "binomial",
        None,
        None,
    ),
    "nested Poisson, offset": (_counts, "y ~ x + (1 | school) + (1 | school:cls)", "poisson", None, "logexpo"),
    "slope only": (
        _cbpp,
        "cbind(incidence, size - incidence) ~ t + (0 + t | herd) + (1 | obs)",
        "binomial",
        None,
        None,
    ),
    "sparse coupling": (_big_crossed, "y ~ x + (1 | a) + (1 | b)", "binomial", None, None),
}


def _deviance(name: str) -> GlmmDeviance:
    make, formula, family, weights, offset = CASES[name]
    design, resp, _ = prepare(make(), formula, family, weights=weights, offset=offset)
    return GlmmDeviance(resp, np.asarray(design.X, dtype=float), RandomPart.of(design))


@pytest.mark.parametrize("name", list(CASES))
def test_the_exact_gradient_is_the_derivative_of_the_laplace_deviance(name):
    dev = _deviance(name)
    assert has_exact_gradient(dev)
    rng = np.random.default_rng(3)
    layout = dev.random.layout
    theta = np.where(layout.is_diagonal(), rng.uniform(0.4, 1.2, layout.size), rng.uniform(-0.3, 0.3, layout.size))
    beta = dev.mode(theta, None).beta + rng.normal(0, 0.1, dev.p)
    # joint stage: theta and beta, u at its conditional mode
    value, g = laplace_gradient(dev, theta, beta)
    x = np.concatenate([theta, beta])
    assert value == pytest.approx(dev(x), rel=1e-13)
    fd = gradient(dev, x, step=1e-5)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6 * max(1.0, float(np.max(np.abs(fd)))))
    # nAGQ = 0 stage: theta alone, beta and u at their joint mode
    value0, g0 = laplace_gradient(dev, theta, None)
    assert value0 == pytest.approx(dev.profiled(theta), rel=1e-13)
    fd0 = gradient(dev.profiled, theta, step=1e-5)
    np.testing.assert_allclose(g0, fd0, rtol=1e-6, atol=1e-6 * max(1.0, float(np.max(np.abs(fd0)))))


def test_only_canonical_laplace_deviances_have_the_exact_gradient():
    make, formula, family, _, _ = CASES["one term"]
    design, resp, _ = prepare(make(), formula, family, link="probit")
    X, part = np.asarray(design.X, dtype=float), RandomPart.of(design)
    assert not has_exact_gradient(GlmmDeviance(resp, X, part))  # probit: the optimizer differences the deviance
    design, resp, _ = prepare(make(), formula, family)
    assert not has_exact_gradient(GlmmDeviance(resp, X, part, nagq=5))  # quadrature: likewise
    assert has_exact_gradient(GlmmDeviance(resp, X, part))


def test_a_probit_fit_still_reaches_its_optimum_without_the_exact_gradient():
    make, formula, family, _, _ = CASES["one term"]
    fit = fit_glmm(make(), formula, family=family, link="probit")
    assert fit.converged
    x = np.concatenate([fit.theta, fit.beta])
    assert np.max(np.abs(gradient(fit.deviance_function, x))) < 1e-3


@pytest.mark.parametrize("name", ["crossed, weights", "correlated slopes", "nested Poisson, offset"])
def test_the_row_stored_z_lambda_equals_the_sparse_one(name):
    dev = _deviance(name)
    rng = np.random.default_rng(5)
    theta = dev.random.layout.initial() * 0.7 + np.where(dev.random.layout.is_diagonal(), 0.0, 0.2)
    rows, csr = dev.random.z_lambda_rows(theta), dev.random.z_lambda(theta)
    np.testing.assert_allclose(rows.toarray(), csr.toarray(), rtol=0, atol=1e-15)
    n, q = csr.shape
    u, r, R = rng.normal(size=q), rng.normal(size=n), rng.normal(size=(n, 3))
    np.testing.assert_allclose(rows @ u, csr @ u, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(rows.T @ r, csr.T @ r, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(rows.T @ R, csr.T @ R, rtol=1e-13, atol=1e-13)
    w = rng.uniform(0.1, 2.0, n)
    np.testing.assert_allclose(rows.weighted_gram(w).toarray(), (csr.T @ sp.diags(w) @ csr).toarray(), atol=1e-12)
    X = dev.X
    for diagonal in (dev.random.diagonal_block(), None):
        for Xs in (X, X[:, :0]):
            fast, slow = PirlsSystem(rows, Xs, w, diagonal), PirlsSystem(csr, Xs, w, diagonal)
            np.testing.assert_allclose(fast.schur, slow.schur, rtol=1e-12, atol=1e-12)
            ru, rx = rng.normal(size=q), rng.normal(size=Xs.shape[1])
            np.testing.assert_allclose(np.r_[fast.solve(ru, rx)], np.r_[slow.solve(ru, rx)], rtol=1e-10, atol=1e-12)
        assert fast.logdet_u() == pytest.approx(slow.logdet_u(), rel=1e-12)


@pytest.mark.parametrize("name", ["crossed, weights", "nested Poisson, offset"])
def test_the_cached_deviance_sums_are_the_familys(name):
    dev = _deviance(name)
    resp = dev.resp
    mu = resp.family.link.inverse(np.random.default_rng(1).normal(-0.5, 0.8, resp.nobs))
    fam = resp.family
    assert resp.deviance(mu) == pytest.approx(float(np.sum(fam.dev_resids(resp.y, mu, resp.wt))), rel=1e-12)
    assert resp.minus2_loglik(mu) == pytest.approx(
        float(np.sum(fam.minus2_loglik(resp.y, resp.n, mu, resp.wt))), rel=1e-12
    )


@pytest.mark.parametrize("name", ["crossed, weights", "correlated slopes", "nested Poisson, offset"])
def test_the_mode_jacobian_is_the_derivative_of_the_conditional_mode(name):
    dev = _deviance(name)
    layout = dev.random.layout
    theta = np.where(layout.is_diagonal(), 0.8, 0.1)
    beta = dev.mode(theta, None).beta
    x = np.concatenate([theta, beta])
    u, J = mode_jacobian(dev, theta, beta)
    h = 1e-6
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        up = dev.mode(*dev.split(x + e)).u
        down = dev.mode(*dev.split(x - e)).u
        np.testing.assert_allclose(J[:, j], (up - down) / (2 * h), rtol=1e-5, atol=1e-6)
    # a warm start at the first-order prediction reaches the same mode in one or two PIRLS iterations
    e = np.zeros(x.size)
    e[0] = 1e-4
    cold = dev.mode(*dev.split(x + e))
    dev.warm_start(u + J @ e)
    warm = dev.mode(*dev.split(x + e))
    assert warm.iterations <= 2
    np.testing.assert_allclose(warm.u, cold.u, rtol=0, atol=1e-10)
    assert warm.laplace(dev.resp) == pytest.approx(cold.laplace(dev.resp), rel=1e-13)


def test_the_joint_mode_from_a_warm_start_is_the_one_from_rs_starting_means():
    dev = _deviance("crossed, weights")
    theta = np.array([0.9, 0.4])
    first = dev.profiled(theta)  # from R's starting means (no joint mode yet)
    assert dev._b is not None
    warm = dev.profiled(theta * 1.01)  # warm: the last joint mode
    fresh = _deviance("crossed, weights").profiled(theta * 1.01)  # cold
    assert warm == pytest.approx(fresh, rel=1e-13) and warm != first


@pytest.mark.parametrize("zero", [0, 1])
def test_the_exact_gradient_holds_with_a_variance_on_its_boundary(zero):
    dev = _deviance("crossed, weights")
    theta = np.array([0.9, 0.4])
    theta[zero] = 0.0
    beta = dev.mode(theta, None).beta
    x = np.concatenate([theta, beta])
    _, g = laplace_gradient(dev, theta, beta)
    fd = gradient(dev, x, step=1e-5)  # central differences: the deviance is even in a scalar term's theta
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6 * max(1.0, float(np.max(np.abs(fd)))))


def test_the_sparse_coupling_branch_is_taken():
    dev = _deviance("sparse coupling")
    A = dev.random.z_lambda_rows(np.array([0.7, 0.5]))
    system = PirlsSystem(A, np.zeros((A.shape[0], 0)), np.ones(A.shape[0]), dev.random.diagonal_block())
    assert sp.issparse(system.B_A)


def test_fractional_binomial_weights_fall_back_to_differences_and_still_converge():
    # R's aic rounds m y and m (m = the trials when any exceeds 1, else the prior weights): on a 0/1 response with
    # fractional prior weights the Laplace deviance's log-likelihood is not the function PIRLS minimizes, so no
    # exact gradient; the fit differences the deviance and reaches its optimum. With trials (cbind), the rounding
    # leaves whole counts alone and a fractional prior weight only scales a row: the gradient stays exact.
    d = _cbpp().assign(wf=lambda x: np.linspace(0.3, 2.5, len(x)))
    d = d.assign(any01=(d["incidence"] > 0).astype(int))
    trials = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    design, resp, _ = prepare(d, trials, "binomial", weights="wf")
    assert has_exact_gradient(GlmmDeviance(resp, np.asarray(design.X, dtype=float), RandomPart.of(design)))
    binary = "any01 ~ period + (1 | herd)"
    design, resp, _ = prepare(d, binary, "binomial", weights="wf")
    dev = GlmmDeviance(resp, np.asarray(design.X, dtype=float), RandomPart.of(design))
    assert not has_exact_gradient(dev)
    theta = np.array([0.8])
    beta = dev.mode(theta, None).beta
    _, g = laplace_gradient(dev, theta, beta)  # what the envelope argument would give: not the derivative here
    assert np.max(np.abs(g - gradient(dev, np.r_[theta, beta], step=1e-5))) > 1e-3
    fit = fit_glmm(d, binary, family="binomial", weights="wf")
    assert fit.converged
    assert np.max(np.abs(gradient(fit.deviance_function, np.concatenate([fit.theta, fit.beta])))) < 1e-3


def test_a_mode_that_keeps_its_last_system_has_the_fresh_systems_log_determinant():
    from replicate.engine.glmm.pirls import pirls

    dev = _deviance("crossed, weights")
    theta = np.array([0.9, 0.4])
    beta = dev.mode(theta, None).beta
    A = dev.random.z_lambda_rows(theta)
    m = pirls(dev.resp, A, dev.X, beta, None, dev.random.diagonal_block())
    fam = dev.resp.family
    w = dev.resp.wt * fam.link.mu_eta(m.eta) ** 2 / fam.variance(m.mu)
    fresh = PirlsSystem(A, np.zeros((A.shape[0], 0)), w, dev.random.diagonal_block())
    assert m.ldl2 == pytest.approx(fresh.logdet_u(), rel=1e-12)
