"""The GLMM deviance checked by brute force on tiny problems (no R): the Laplace approximation from a scalar
minimization and a numerical second derivative per group, and adaptive quadrature against 1-D numerical
integration of each group's likelihood."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize

from replicate.design import build_design
from replicate.engine.glmm import fit_glmm, fit_glmm_pql, split_cbind
from replicate.engine.glmm.deviance import GlmmDeviance
from replicate.engine.glmm.families import make_family
from replicate.engine.glmm.pql import glm_start
from replicate.engine.glmm.quadrature import agq_deviance, gh_rule
from replicate.engine.glmm.randompart import RandomPart
from replicate.engine.glmm.response import make_response
from replicate.errors import DataError, ModelError
from replicate.spec import parse_formula


def _tiny(family: str) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(4), 5)
    x = rng.normal(size=g.size)
    eta = -0.3 + 0.8 * x + np.array([0.9, -0.6, 0.2, -1.1])[g]
    if family == "binomial":
        n = rng.integers(1, 6, size=g.size).astype(float)
        y = rng.binomial(n.astype(int), 1 / (1 + np.exp(-eta))).astype(float)
        return pd.DataFrame({"y": y, "n": n, "x": x, "g": [f"g{i}" for i in g]})
    y = rng.poisson(np.exp(eta)).astype(float)
    return pd.DataFrame({"y": y, "n": 1.0, "x": x, "g": [f"g{i}" for i in g]})


def _setup(family: str, nagq: int = 1) -> tuple[GlmmDeviance, pd.DataFrame]:
    frame = _tiny(family)
    design = build_design(parse_formula("y ~ x + (1 | g)"), frame)
    trials = frame["n"].to_numpy(float) if family == "binomial" else None
    resp = make_response(make_family(family), design.y, trials=trials)
    return GlmmDeviance(resp, design.X, RandomPart.of(design), nagq=nagq), frame


def _group_h(dev: GlmmDeviance, theta: float, beta: np.ndarray, j: int):
    """u -> -2 log f(y_j | u) + u^2 for group j (the integrand's exponent times -2)."""
    rows = dev.random.index[0] == j
    resp, fam = dev.resp, dev.resp.family
    fixed = dev.X[rows] @ beta

    def h(u: float) -> float:
        mu = fam.link.inverse(fixed + theta * u)
        return float(np.sum(fam.minus2_loglik(resp.y[rows], resp.n[rows], mu, resp.wt[rows])) + u * u)

    return h


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_laplace_is_the_brute_force_laplace_approximation(family: str) -> None:
    dev, _ = _setup(family)
    theta, beta = 0.9, np.array([-0.2, 0.7])
    total = 0.0
    for j in range(dev.random.nlevels[0]):
        h = _group_h(dev, theta, beta, j)
        u = optimize.minimize_scalar(h, bracket=(-3, 3), tol=1e-12).x
        e = 1e-4
        curvature = (h(u + e) - 2 * h(u) + h(u - e)) / e**2  # = 2 l_j^2 at the mode (canonical links)
        total += h(u) + np.log(curvature / 2)
    assert dev(np.r_[theta, beta]) == pytest.approx(total, rel=1e-7)


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_quadrature_with_many_nodes_is_the_integral(family: str) -> None:
    dev, _ = _setup(family, nagq=25)
    theta, beta = 1.3, np.array([-0.2, 0.7])
    exact = 0.0
    for j in range(dev.random.nlevels[0]):
        h = _group_h(dev, theta, beta, j)
        top = optimize.minimize_scalar(h, bracket=(-3, 3)).fun
        val, _ = integrate.quad(lambda u, h=h, top=top: np.exp(-(h(u) - top) / 2), -12, 12, epsabs=1e-13, epsrel=1e-12)
        exact += top - 2 * np.log(val / np.sqrt(2 * np.pi))
    assert dev(np.r_[theta, beta]) == pytest.approx(exact, rel=1e-7)
    laplace, _ = _setup(family, nagq=1)
    assert abs(laplace(np.r_[theta, beta]) - exact) > 1e-3  # the check can tell the approximations apart


def test_one_node_is_the_laplace_deviance() -> None:
    dev, _ = _setup("binomial")
    params = np.array([0.7, -0.1, 0.5])
    mode = dev.mode(params[:1], params[1:])
    a = agq_deviance(dev.resp, dev.random.z_lambda(params[:1]), dev.random.index[0], mode, 1)
    assert a == pytest.approx(dev(params), rel=1e-12)
    z, w = gh_rule(9)
    assert w.sum() == pytest.approx(1.0) and (w * z**2).sum() == pytest.approx(1.0)


def test_fit_is_a_minimum_and_reports_its_parts() -> None:
    frame = _tiny("binomial")
    fit = fit_glmm(frame, "cbind(y, n - y) ~ x + (1 | g)")
    dev = fit.deviance_function
    x0 = np.r_[fit.theta, fit.beta]
    for i in range(x0.size):
        for step in (-1e-3, 1e-3):
            moved = x0.copy()
            moved[i] = max(moved[i] + step, 0.0) if i == 0 else moved[i] + step
            assert dev(moved) >= fit.objective - 1e-9
    assert fit.converged
    assert fit.fixed_names == ("(Intercept)", "x")
    assert fit.ranef[0].shape == (4, 1) and fit.condvar[0].shape == (4, 1, 1)
    assert fit.varcorr()["vcov"].iloc[0] == pytest.approx(fit.theta[0] ** 2)
    assert fit.aic == pytest.approx(fit.objective + 2 * 3)
    same = fit_glmm(frame, "y ~ x + (1 | g)", trials="n")
    np.testing.assert_allclose(same.beta, fit.beta, rtol=1e-10)


def test_cbind_responses_are_read_and_odd_ones_refused() -> None:
    assert split_cbind("cbind(s, n - s) ~ x + (1 | g)") == ("s ~ x + (1 | g)", "s", "n", None)
    assert split_cbind("cbind(s, f) ~ x") == ("s ~ x", "s", None, "f")
    assert split_cbind("y ~ x") == ("y ~ x", None, None, None)
    with pytest.raises(ModelError, match="cannot read the binomial response"):
        split_cbind("cbind(s, n - t) ~ x")
    with pytest.raises(ModelError, match="cannot read the binomial response"):
        split_cbind("cbind(s, system('x')) ~ x")


def test_bad_input_is_named() -> None:
    frame = _tiny("binomial")
    frame2 = frame.assign(h=np.repeat(["a", "b"], 10))
    with pytest.raises(ModelError, match="single scalar random-effect term"):
        fit_glmm(frame2, "cbind(y, n - y) ~ x + (1 | g) + (1 | h)", nagq=5)
    with pytest.raises(ModelError, match="method 'pql' unknown"):
        fit_glmm(frame, "cbind(y, n - y) ~ x + (1 | g)", method="pql")
    with pytest.raises(DataError, match="at least the successes"):
        fit_glmm(frame.assign(n=0.0), "y ~ x + (1 | g)", trials="n")
    with pytest.raises(DataError, match="0 <= y <= 1"):
        fit_glmm(frame, "y ~ x + (1 | g)")
    with pytest.raises(DataError, match="trials column 'm' is not in the data"):
        fit_glmm(frame, "y ~ x + (1 | g)", trials="m")


def test_glm_start_solves_the_score_equations() -> None:
    dev, _ = _setup("binomial")
    eta, residuals, _ = glm_start(dev.resp, dev.X)
    fam, resp = dev.resp.family, dev.resp
    mu = fam.link.inverse(eta)
    score = dev.X.T @ (resp.wt * (resp.y - mu) * fam.link.mu_eta(eta) / fam.variance(mu))
    np.testing.assert_allclose(score, 0.0, atol=1e-6)
    np.testing.assert_allclose(residuals, (resp.y - mu) / fam.link.mu_eta(eta))


def test_pql_without_r_converges_and_keeps_the_dispersion() -> None:
    frame = _tiny("poisson")
    fit = fit_glmm_pql(frame, "y ~ x + (1 | g)", family="poisson")
    assert fit.converged and 1 <= fit.iterations <= 10
    assert fit.fixed_names == ("(Intercept)", "x")
    assert fit.sigma > 0 and fit.varcorr["grp"].tolist() == ["g", "Residual"]
