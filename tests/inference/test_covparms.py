"""SAS-style covariance parameter estimates and their asymptotic standard errors.

Seed 000's SAS printout (schoolID 14.2150 SE 3.4610, Residual 70.3913 SE 3.7455)
comes from private NELS data, so it cannot be replayed. The SEs are checked
instead against independent computations of the same quantities:

* the analytic q-space traces against the dense n x n formulas on small data;
* the analytic observed information against a Richardson-extrapolated numerical
  Hessian of the deviance;
* against lmerTest's ``vcov_varpar`` (numerical Hessian in (theta, sigma)) and
  nlme's ``apVar`` (finite differences in log-sd / log-sigma), transformed to
  SAS's parameters by the delta method (exact at the optimum for the observed
  information).

R-backed tests skip when R cannot be loaded, and fail under REPLICATE_REQUIRE_R=1.
Data go to R as data frames through pandas2ri.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.design import build_design
from replicate.engine import fit_design
from replicate.errors import ModelError, NotImplementedOption
from replicate.inference.covparms import (
    QSpace,
    asymptotic_covariance,
    covariance_parameters,
    information_matrix,
    parameter_layout,
    psi_from_varpar,
    varpar_from_psi,
)
from replicate.inference.marginal import sparse_z
from replicate.spec import parse_formula
from tests.rsupport import data_folder
from tests.rsupport import fit_formula as _fit
from tests.rsupport import need_r as _need_r
from tests.rsupport import to_r as _to_r


def _varpar(fit) -> np.ndarray:
    return np.r_[fit.theta, np.sqrt(fit.sigma2)]


def _dense(design, psi, reml):
    """-2 log L Hessian and the trace matrix by brute force with n x n matrices."""
    Z = sparse_z(design).toarray()
    X, y, n = design.X, design.y, design.n
    offsets = np.cumsum([0] + [t.nlevels * t.k for t in design.reterms])
    Vs = []
    for p in parameter_layout(design):
        if p.term < 0:
            Vs.append(np.eye(n) if design.weights is None else np.diag(1.0 / design.weights))
            continue
        t = design.reterms[p.term]
        Zt = Z[:, offsets[p.term] : offsets[p.term + 1]]
        E = np.zeros((t.k, t.k))
        E[p.a, p.b] = E[p.b, p.a] = 1.0
        Vs.append(Zt @ np.kron(np.eye(t.nlevels), E) @ Zt.T)
    V = sum(v * s for v, s in zip(Vs, psi))
    Vi = np.linalg.inv(V)
    P = Vi - Vi @ X @ np.linalg.solve(X.T @ Vi @ X, X.T @ Vi)
    W = P if reml else Vi
    WV = [W @ v for v in Vs]
    T = np.array([[np.sum(a * b.T) for b in WV] for a in WV])  # tr(W V_i W V_j)
    Py = P @ y
    PVPy = [P @ (v @ Py) for v in Vs]
    Qf = np.array([[Py @ (a @ pb) for pb in PVPy] for a in Vs])  # y'P V_i P V_j P y
    return -T + 2 * Qf, T


def _r_dataset(package: str, name: str) -> pd.DataFrame:
    _need_r(package)
    from replicate.rbridge import r_dataset

    return r_dataset(package, name)


@pytest.fixture(scope="module")
def imm10(data_dir) -> pd.DataFrame:
    return pd.read_csv(data_dir / "imm10.csv")


@pytest.fixture(scope="module")
def classroom_small(data_dir) -> pd.DataFrame:
    frame = pd.read_csv(data_dir / "classroom.csv")
    return frame[frame["schoolid"] <= 30].reset_index(drop=True)


@pytest.fixture(scope="module")
def data_dir():
    return data_folder()


# ------------------------------------------------------------------ algebra


@pytest.mark.parametrize("method", ["REML", "ML"])
@pytest.mark.parametrize("which", ["imm10-slope", "imm10-weighted", "classroom-nested"])
def test_qspace_traces_equal_dense_formulas(which, method, imm10, classroom_small):
    if which == "imm10-slope":
        fit, design = _fit("math ~ homework + (homework | schid)", imm10, method)
    elif which == "imm10-weighted":  # level-1 weights: V = Z G Z' + sigma^2 W^-1
        frame = imm10.assign(w=np.random.default_rng(0).uniform(0.5, 2.0, len(imm10)))
        design = build_design(parse_formula("math ~ homework + (homework | schid)"), frame, weights="w")
        fit = fit_design(design, method)
    else:
        fit, design = _fit("mathgain ~ ses + (1 | schoolid/classid)", classroom_small, method)
    reml = method == "REML"
    psi = psi_from_varpar(design, _varpar(fit))
    H_dense, T_dense = _dense(design, psi, reml)
    qs = QSpace(design, _varpar(fit))
    scale = np.abs(T_dense).max()
    np.testing.assert_allclose(qs.traces(ml=not reml), T_dense, rtol=1e-9, atol=1e-12 * scale)
    np.testing.assert_allclose(qs.hessian_m2ll(reml), H_dense, rtol=1e-8, atol=1e-11 * np.abs(H_dense).max())
    np.testing.assert_allclose(information_matrix(fit, design, "expected"), T_dense / 2, rtol=1e-9, atol=1e-12 * scale)


def test_psi_varpar_round_trip(imm10):
    fit, design = _fit("math ~ homework + (homework | schid)", imm10)
    vp = _varpar(fit)
    psi = psi_from_varpar(design, vp)
    np.testing.assert_allclose(varpar_from_psi(design, psi), vp, rtol=1e-12)
    vc = fit.varcorr
    np.testing.assert_allclose(psi, vc["vcov"].to_numpy(), rtol=1e-12)
    assert varpar_from_psi(design, np.array([1.0, 1.0, 2.0, 1.0])) is None  # |cov| > sd sd


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_observed_information_analytic_equals_numeric_hessian(method, imm10):
    fit, design = _fit("math ~ homework + (homework | schid)", imm10, method)
    analytic = information_matrix(fit, design, "observed")
    numeric = information_matrix(fit, design, "observed", numeric=True)
    scale = np.sqrt(np.outer(np.diag(analytic), np.diag(analytic)))
    assert np.max(np.abs(analytic - numeric) / scale) < 1e-4
    se_a = covariance_parameters(fit, design)["se"].to_numpy()
    se_n = covariance_parameters(fit, design, numeric=True)["se"].to_numpy()
    np.testing.assert_allclose(se_n, se_a, rtol=2e-5)


def test_observed_and_expected_differ_on_unbalanced_data(classroom_small):
    fit, design = _fit("mathgain ~ ses + (1 | schoolid/classid)", classroom_small)
    obs = covariance_parameters(fit, design, "observed")
    exp = covariance_parameters(fit, design, "expected")
    np.testing.assert_array_equal(obs["estimate"], exp["estimate"])
    assert not np.allclose(obs["se"], exp["se"], rtol=1e-2)


def test_table_layout_and_sas_p_values(imm10):
    fit, design = _fit("math ~ homework + (homework | schid)", imm10)
    tab = covariance_parameters(fit, design)
    assert list(tab.columns) == ["group", "var1", "var2", "estimate", "se", "z", "p"]
    assert list(tab["group"]) == ["schid", "schid", "schid", "Residual"]
    assert list(tab["var1"].iloc[:3]) == ["(Intercept)", "homework", "(Intercept)"]
    assert tab["var2"].iloc[2] == "homework" and pd.isna(tab["var2"].iloc[0])
    from scipy import stats

    np.testing.assert_allclose(tab["z"], tab["estimate"] / tab["se"])
    # variances: one-sided Pr > Z; the covariance: two-sided Pr > |Z|
    np.testing.assert_allclose(tab["p"].iloc[[0, 1, 3]], stats.norm.sf(tab["z"].iloc[[0, 1, 3]]))
    assert tab["z"].iloc[2] < 0
    np.testing.assert_allclose(tab["p"].iloc[2], 2 * stats.norm.sf(abs(tab["z"].iloc[2])))


def test_boundary_variance_has_no_standard_error():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"g": np.repeat(np.arange(20), 5), "y": rng.normal(size=100)})
    fit, design = _fit("y ~ 1 + (1 | g)", frame)
    assert fit.singular
    tab = covariance_parameters(fit, design)
    assert tab["estimate"].iloc[0] == 0 and np.isnan(tab["se"].iloc[0])
    # with tau = 0 held at its bound, the residual variance's SE is the linear model's
    np.testing.assert_allclose(tab["se"].iloc[1], np.sqrt(2 * fit.sigma2**2 / (100 - 1)), rtol=1e-8)
    cov = asymptotic_covariance(fit, design)
    assert cov.shape == (2, 2) and np.isnan(cov.iloc[0, 0])


def test_bad_arguments(imm10):
    fit, design = _fit("math ~ homework + (1 | schid)", imm10)
    with pytest.raises(ModelError):
        covariance_parameters(fit, design, information="scoring")
    from dataclasses import replace

    with pytest.raises(NotImplementedOption):
        covariance_parameters(replace(fit, theta=None), design)


# ------------------------------------------------------------- against R


def _jacobian(f, x, h=1e-6):
    cols = []
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h * max(1.0, abs(x[i]))
        cols.append((f(x + e) - f(x - e)) / (2 * e[i]))
    return np.column_stack(cols)


@pytest.mark.r
def test_observed_se_match_lmertest_vcov_varpar():
    """lmerTest's asymptotic covariance of (theta, sigma), mapped to SAS's parameters."""
    ro = _need_r("lme4", "lmerTest")
    sleep = _r_dataset("lme4", "sleepstudy")
    _to_r(ro, sleep, ".cp_sleep")
    ro.r(".cp_fm <- lmerTest::lmer(Reaction ~ Days + (Days | Subject), data = .cp_sleep, REML = TRUE)")
    A = np.array(ro.r("as.matrix(.cp_fm@vcov_varpar)"))
    vp_r = np.r_[np.array(ro.r("unname(lme4::getME(.cp_fm, 'theta'))")), float(ro.r("sigma(.cp_fm)")[0])]
    fit, design = _fit("Reaction ~ Days + (Days | Subject)", sleep)
    J = _jacobian(lambda v: psi_from_varpar(design, v), vp_r)
    cov_r = J @ A @ J.T
    ours = asymptotic_covariance(fit, design, "observed").to_numpy()
    np.testing.assert_allclose(np.sqrt(np.diag(ours)), np.sqrt(np.diag(cov_r)), rtol=2e-4)
    np.testing.assert_allclose(ours, cov_r, rtol=2e-3, atol=2e-4 * np.abs(cov_r).max())
    # sleepstudy is balanced: there observed and expected information coincide at the optimum
    exp = asymptotic_covariance(fit, design, "expected").to_numpy()
    np.testing.assert_allclose(exp, ours, rtol=1e-5)


@pytest.mark.r
@pytest.mark.parametrize("method", ["REML", "ML"])
def test_observed_se_match_nlme_apvar_random_intercept(method):
    """nlme's apVar (log sd, log sigma) on HSB, by the delta method."""
    ro = _need_r("nlme")
    hsb = _r_dataset("nlme", "MathAchieve")
    _to_r(ro, hsb, ".cp_hsb")
    ro.globalenv[".cp_method"] = method
    ro.r(".cp_lme <- nlme::lme(MathAch ~ 1, random = ~ 1 | School, data = .cp_hsb, method = .cp_method)")
    apvar = np.array(ro.r("unclass(.cp_lme$apVar)"))
    pars = np.array(ro.r("attr(.cp_lme$apVar, 'Pars')"))
    psi_r = np.exp(2 * pars)  # (tau, sigma^2) from (log sd, log sigma)
    J = np.diag(2 * psi_r)
    cov_r = J @ apvar @ J
    fit, design = _fit("MathAch ~ 1 + (1 | School)", hsb, method)
    tab = covariance_parameters(fit, design)
    np.testing.assert_allclose(tab["estimate"], psi_r, rtol=1e-5)
    np.testing.assert_allclose(tab["se"], np.sqrt(np.diag(cov_r)), rtol=2e-3)


@pytest.mark.r
def test_observed_se_match_nlme_apvar_unstructured():
    """nlme's apVar for a 2 x 2 block (log sds, log((1 + r) / (1 - r)), log sigma)."""
    ro = _need_r("nlme")
    orth = _r_dataset("nlme", "Orthodont")
    _to_r(ro, orth, ".cp_orth")
    ro.r(".cp_lme2 <- nlme::lme(distance ~ age, random = ~ age | Subject, data = .cp_orth)")
    apvar = np.array(ro.r("unclass(.cp_lme2$apVar)"))
    pars = np.array(ro.r("attr(.cp_lme2$apVar, 'Pars')"))

    def psi(v):
        s1, s2, r, s = np.exp(v[0]), np.exp(v[1]), np.tanh(v[2] / 2), np.exp(v[3])
        return np.array([s1**2, s2**2, r * s1 * s2, s**2])

    J = _jacobian(psi, pars)
    cov_r = J @ apvar @ J.T
    fit, design = _fit("distance ~ age + (age | Subject)", orth)
    tab = covariance_parameters(fit, design)
    np.testing.assert_allclose(tab["estimate"], psi(pars), rtol=1e-4)
    np.testing.assert_allclose(tab["se"], np.sqrt(np.diag(cov_r)), rtol=5e-3)
