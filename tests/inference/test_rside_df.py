"""Satterthwaite and Kenward-Roger df of repeated-measures fits (issue #16, ``replicate.inference.rside_df``).

Checked against: R's emmeans on ``nlme::gls`` (``mode = "satterthwaite"``: the df of LS-means and their
differences from nlme's ``apVar`` and numerical derivatives of ``vcov``); Hotelling's T^2, which
Kenward-Roger reproduces exactly for a balanced multivariate (TYPE=UN) model; and a dense computation
of Kenward & Roger's (1997) formulas with numerical derivatives of the full V, for a non-linear
structure with missing visits; and, for TYPE=CS, the G-side engine's Kenward-Roger of the same model
written as a random intercept (observed information, linear parameters).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.engine.rside.criterion import unprofiled
from replicate.errors import ModelError
from replicate.inference.kenward_roger import kenward_roger
from replicate.inference.rside_df import df_parts, kenward_roger_test, satterthwaite_df
from replicate.inference.rside_tests import rside_contrast, rside_estimate, rside_lsmeans, rside_type3
from tests.rsupport import fit_formula as fit_native
from tests.rsupport import need_r, to_r


def _orthodont() -> pd.DataFrame:
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    d = d.assign(
        idx=((d["age"] - 6) // 2).astype(int),
        subj=d["Subject"].astype(str),
        Sex=d["Sex"].astype(str),
        agef=d["age"].astype(int).map(lambda a: f"a{a:02d}"),
    )
    return d.sort_values(["subj", "idx"]).reset_index(drop=True)


def _with_gaps(d: pd.DataFrame) -> pd.DataFrame:
    """Orthodont with some visits missing (every 5th row from the 3rd on), so that patterns differ."""
    return d.drop(index=d.index[2::5]).reset_index(drop=True)


R_EMMEANS_SAT = """
function(d, fixed, struct, spec) {
  ctl <- nlme::glsControl(tolerance = 1e-12, msTol = 1e-12, maxIter = 1000, msMaxIter = 1000)
  cor <- switch(struct, us = nlme::corSymm(form = ~ idx | subj), ar1 = nlme::corAR1(form = ~ idx | subj),
                csh = nlme::corCompSymm(form = ~ idx | subj))
  w <- if (struct %in% c("us", "csh")) nlme::varIdent(form = ~ 1 | idx) else NULL
  # do.call puts the data and formula themselves in the call, which emmeans' gls_grad evaluates again
  f <- do.call(nlme::gls, list(model = stats::as.formula(fixed), data = d, correlation = cor, weights = w,
                               control = ctl))
  em <- emmeans::emmeans(f, stats::as.formula(spec), data = d, mode = "satterthwaite")
  s <- as.data.frame(summary(em)); p <- as.data.frame(summary(graphics::pairs(em, reverse = FALSE)))
  list(est = s$emmean, se = s$SE, df = s$df, dest = p$estimate, ddf = p$df)
}
"""


@pytest.mark.r
@pytest.mark.parametrize(
    ("fixed", "struct", "spec", "gaps"),
    [
        ("distance ~ Sex * age", "ar1", "~ Sex", False),
        ("distance ~ Sex * agef", "ar1", "~ Sex * agef", False),
        ("distance ~ Sex * agef", "ar1", "~ Sex", True),
    ],
)
def test_satterthwaite_df_of_lsmeans_and_differences_against_emmeans_gls(fixed, struct, spec, gaps):
    ro = need_r("nlme", "emmeans")
    d = _orthodont()
    d = _with_gaps(d) if gaps else d
    fit = fit_residual(d, fixed, struct, visit="idx", subject="subj")
    out = ro.r(R_EMMEANS_SAT)(to_r(ro, d), fixed, struct, spec)
    ref = {k: np.asarray(v) for k, v in zip(out.names, out, strict=True)}
    effect = spec.strip("~ ")
    means = sorted(rside_lsmeans(fit, effect, ddfm="satterthwaite"), key=lambda e: e.estimate)
    order = np.argsort(ref["est"])
    assert [e.estimate for e in means] == pytest.approx(ref["est"][order], rel=1e-5)
    # nlme's apVar is a finite-difference Hessian (fdHess): its df agree to about 3 digits. With varIdent or
    # corSymm in the model (CSH, UN) fdHess is worse and emmeans' df differ from ours by 1-3% (see
    # test_covariance_of_covariance_parameters_is_twice_the_inverse_dense_hessian for ours)
    assert [e.df for e in means] == pytest.approx(ref["df"][order], rel=2e-3)
    diffs = sorted(rside_lsmeans(fit, effect, ddfm="satterthwaite", diff=True), key=lambda e: abs(e.estimate))
    dorder = np.argsort(np.abs(ref["dest"]))
    assert [e.df for e in diffs] == pytest.approx(ref["ddf"][dorder], rel=2e-3)
    assert all(e.p_value == pytest.approx(2 * stats.t.sf(abs(e.t), e.df)) for e in diffs)


@pytest.mark.parametrize("struct", ["csh", "us"])
def test_covariance_of_covariance_parameters_is_twice_the_inverse_dense_hessian(struct):
    """W, on which both approximations rest, against second differences of a dense REML criterion."""
    d = _with_gaps(_orthodont())
    fit = fit_residual(d, "distance ~ Sex * agef", struct, visit="idx", subject="subj")
    X, vmat = _dense_pieces(fit, d, np.zeros(0))
    y = fit.fixed_part.frame["distance"].to_numpy(dtype=float)
    n, p = X.shape

    def m2ll(theta: np.ndarray) -> float:
        V = vmat(theta)
        Vi = np.linalg.inv(V)
        A = X.T @ Vi @ X
        r = y - X @ np.linalg.solve(A, X.T @ Vi @ y)
        return float(np.linalg.slogdet(V)[1] + np.linalg.slogdet(A)[1] + r @ Vi @ r + (n - p) * np.log(2 * np.pi))

    nat = np.array([c.estimate for c in fit.covparms])
    assert m2ll(nat) == pytest.approx(fit.minus2loglik, rel=1e-10)
    m = len(nat)
    hs = [1e-4 * max(abs(t), 1e-2) for t in nat]
    H = np.zeros((m, m))
    for i in range(m):
        for j in range(m):
            ei, ej = np.zeros(m), np.zeros(m)
            ei[i], ej[j] = hs[i], hs[j]
            H[i, j] = (m2ll(nat + ei + ej) - m2ll(nat + ei - ej) - m2ll(nat - ei + ej) + m2ll(nat - ei - ej)) / (
                4 * hs[i] * hs[j]
            )
    assert fit.covparm_vcov == pytest.approx(2 * np.linalg.inv(H), rel=1e-4, abs=1e-8)


def test_kenward_roger_reproduces_hotelling_t2_for_balanced_unstructured_data():
    """Complete data, TYPE=UN and a saturated mean: KR's F and df are Hotelling's exact F (Kenward & Roger 1997)."""
    d = _orthodont()
    fit = fit_residual(d, "distance ~ Sex * agef", "us", visit="idx", subject="subj")
    tests = {t.effect: t for t in rside_type3(fit, ddfm="kr")}
    wide = d.pivot(index="subj", columns="idx", values="distance")
    sex = d.groupby("subj")["Sex"].first().loc[wide.index]
    groups = [wide[sex == s].to_numpy() for s in ("Female", "Male")]
    n = [len(g) for g in groups]
    resid_df = sum(n) - 2
    S = sum((len(g) - 1) * np.cov(g, rowvar=False) for g in groups) / resid_df
    C = np.column_stack([np.eye(3), -np.ones(3)])  # the three contrasts of four visits
    means = [g.mean(axis=0) for g in groups]
    for effect, vec, scale in [
        ("agef", C @ (means[0] + means[1]) / 2, (1 / n[0] + 1 / n[1]) / 4),
        ("Sex:agef", C @ (means[0] - means[1]), 1 / n[0] + 1 / n[1]),
    ]:
        t2 = float(vec @ np.linalg.solve(C @ S @ C.T * scale, vec))
        q = 3
        f_exact = (resid_df - q + 1) / (resid_df * q) * t2
        assert tests[effect].num_df == q
        assert tests[effect].den_df == pytest.approx(resid_df - q + 1, rel=1e-6)
        assert tests[effect].f_value == pytest.approx(f_exact, rel=1e-6)
    # a between-subject effect of a balanced design: t on the residual df of the subject means
    assert tests["Sex"].den_df == pytest.approx(resid_df, rel=1e-6)


def _dense_pieces(fit, d: pd.DataFrame, nat: np.ndarray):
    """Phi(theta) with V built in full, for numerical derivatives."""
    part = fit.fixed_part
    X = np.asarray(part.X, dtype=float)
    subj = np.asarray(part.subject)
    visit = np.unique(part.frame["idx"].to_numpy(), return_inverse=True)[1].ravel()
    structure = fit.covariance

    def vmat(theta: np.ndarray) -> np.ndarray:
        C = structure.from_natural(theta)
        same = subj[:, None] == subj[None, :]
        return np.where(same, C[np.ix_(visit, visit)], 0.0)

    return X, vmat


def _numeric_derivatives(vmat, nat: np.ndarray):
    m = len(nat)
    hs = [1e-4 * max(abs(t), 1e-2) for t in nat]
    V0 = vmat(nat)
    D1, D2 = [], {}
    for h in range(m):
        e = np.zeros(m)
        e[h] = hs[h]
        D1.append((vmat(nat + e) - vmat(nat - e)) / (2 * hs[h]))
    for h in range(m):
        for j in range(m):
            eh, ej = np.zeros(m), np.zeros(m)
            eh[h], ej[j] = hs[h], hs[j]
            D2[h, j] = (vmat(nat + eh + ej) - vmat(nat + eh - ej) - vmat(nat - eh + ej) + vmat(nat - eh - ej)) / (
                4 * hs[h] * hs[j]
            )
    return V0, D1, D2


@pytest.mark.parametrize("struct", ["ar1h", "adh"])
def test_kenward_roger_matches_a_dense_computation_of_its_definition(struct):
    d = _with_gaps(_orthodont())
    fit = fit_residual(d, "distance ~ Sex * age", struct, visit="idx", subject="subj")
    nat = np.array([c.estimate for c in fit.covparms])
    X, vmat = _dense_pieces(fit, d, nat)
    V0, D1, D2 = _numeric_derivatives(vmat, nat)
    Vi = np.linalg.inv(V0)
    phi = np.linalg.inv(X.T @ Vi @ X)
    W = fit.covparm_vcov
    m = len(nat)
    P = [-X.T @ Vi @ D1[h] @ Vi @ X for h in range(m)]
    U = np.zeros_like(phi)
    U1 = np.zeros_like(phi)
    for h in range(m):
        for j in range(m):
            Q = X.T @ Vi @ D1[h] @ Vi @ D1[j] @ Vi @ X
            R = X.T @ Vi @ D2[h, j] @ Vi @ X
            U += W[h, j] * (Q - P[h] @ phi @ P[j] - R / 4)
            U1 += W[h, j] * (Q - P[h] @ phi @ P[j])
    kr, kr1 = df_parts(fit, "kr"), df_parts(fit, "kr(firstorder)")
    assert kr.phi == pytest.approx(phi, rel=1e-8, abs=1e-12)
    assert kr.vcov == pytest.approx(phi + 2 * phi @ U @ phi, rel=1e-5, abs=1e-9)
    assert kr1.vcov == pytest.approx(phi + 2 * phi @ U1 @ phi, rel=1e-5, abs=1e-9)
    assert not np.allclose(kr.vcov, kr1.vcov, rtol=1e-6)  # the second-derivative term matters here
    # Satterthwaite df of a coefficient from d Phi / d theta_h = -Phi P_h Phi
    for k in range(len(fit.beta)):
        g = np.array([-(phi @ P[h] @ phi)[k, k] for h in range(m)])
        want = 2 * phi[k, k] ** 2 / float(g @ W @ g)
        row = np.eye(len(fit.beta))[k]
        assert satterthwaite_df(df_parts(fit, "satterthwaite"), row) == pytest.approx(want, rel=1e-5)


def test_one_row_kenward_roger_df_is_satterthwaites_and_linear_structures_need_no_second_order():
    d = _with_gaps(_orthodont())
    fit = fit_residual(d, "distance ~ Sex * age", "ar1", visit="idx", subject="subj")
    sat, kr = df_parts(fit, "satterthwaite"), df_parts(fit, "kr")
    row = np.array([0.0, 1.0, 0.0, 0.5])
    assert kenward_roger_test(kr, row, fit.beta).den_df == pytest.approx(satterthwaite_df(sat, row), rel=1e-12)
    est = rside_estimate(fit, row, ddfm="kr")
    assert est.se == pytest.approx(float(np.sqrt(row @ kr.vcov @ row)))
    assert est.se > float(np.sqrt(row @ fit.vcov_beta @ row))  # the adjustment inflates the variance here
    for struct in ("us", "cs", "toep"):
        lin = fit_residual(d, "distance ~ Sex * agef", struct, visit="idx", subject="subj")
        assert df_parts(lin, "kr").vcov == pytest.approx(df_parts(lin, "kr(firstorder)").vcov, rel=1e-12)


def test_multi_row_satterthwaite_follows_sas_eigen_rule():
    d = _with_gaps(_orthodont())
    fit = fit_residual(d, "distance ~ Sex * agef", "csh", visit="idx", subject="subj")
    parts = df_parts(fit, "satterthwaite")
    t = {x.effect: x for x in rside_type3(fit, ddfm="satterthwaite")}["agef"]
    _, vecs = np.linalg.eigh(t.L @ parts.phi @ t.L.T)
    nus = np.array([satterthwaite_df(parts, r) for r in (vecs.T @ t.L)])
    s = float(np.sum(nus / (nus - 2)))
    assert t.den_df == pytest.approx(2 * s / (s - 3), rel=1e-10)
    assert t.p_value == pytest.approx(stats.f.sf(t.f_value, 3, t.den_df))


def test_errors_name_the_problem():
    d = _orthodont()
    fit = fit_residual(d, "distance ~ Sex * age", "ar1", visit="idx", subject="subj")
    with pytest.raises(ModelError, match="ddfm"):
        rside_type3(fit, ddfm="kr3")
    with pytest.raises(ModelError, match="4"):
        rside_estimate(fit, np.ones(3))
    with pytest.raises(ModelError, match="between-within"):
        rside_estimate(fit, np.ones(4), ddfm="betwithin")


def test_compound_symmetry_matches_the_g_side_kenward_roger_of_a_random_intercept():
    """CS (CS > 0) is a random intercept: the two engines' KR (observed information, linear parameters) agree."""
    d = _with_gaps(_orthodont())
    fit = fit_residual(d, "distance ~ Sex * age", "cs", visit="idx", subject="subj")
    gfit, design = fit_native("distance ~ Sex * age + (1 | subj)", d)
    assert fit.loglik == pytest.approx(float(gfit.loglik), rel=1e-8)
    g = kenward_roger(gfit, design, information="observed", parameterization="linear")
    names = list(g.vcov_adj.index)
    assert names == list(fit.fixed_names)
    parts = df_parts(fit, "kr")
    assert parts.vcov == pytest.approx(g.vcov_adj.loc[names, names].to_numpy(), rel=1e-5)
    for k, name in enumerate(names):
        row = np.eye(len(names))[k]
        assert kenward_roger_test(parts, row, fit.beta).den_df == pytest.approx(float(g.df[name]), rel=1e-5)


@pytest.mark.parametrize("ddfm", ["satterthwaite", "kr", "kr(firstorder)", "residual"])
def test_contrast_of_an_effects_type3_rows_is_its_type3_test(ddfm):
    d = _with_gaps(_orthodont())
    fit = fit_residual(d, "distance ~ Sex * agef", "ar1h", visit="idx", subject="subj")
    for t in rside_type3(fit, ddfm=ddfm):
        c = rside_contrast(fit, t.L, ddfm=ddfm, label=t.effect)
        assert (c.num_df, c.den_df) == pytest.approx((t.num_df, t.den_df), rel=1e-10)
        assert (c.f_value, c.p_value) == pytest.approx((t.f_value, t.p_value), rel=1e-10)
    one = rside_contrast(fit, np.eye(len(fit.beta))[1], ddfm=ddfm)
    est = rside_estimate(fit, np.eye(len(fit.beta))[1], ddfm=ddfm)
    assert one.f_value == pytest.approx(est.t**2, rel=1e-10) and one.den_df == pytest.approx(est.df, rel=1e-10)
    with pytest.raises(ModelError, match="one row"):
        rside_estimate(fit, np.eye(len(fit.beta))[:2], ddfm=ddfm)


def test_numerical_satterthwaite_parts_equal_the_analytic_ones():
    """The path used where a fit has no visit patterns (cluster=): central differences of Phi(theta)."""
    d = _with_gaps(_orthodont())
    fit = fit_residual(d, "distance ~ Sex * agef", "csh", visit="idx", subject="subj")
    blocks, structure = fit.blocks, fit.covariance

    def phi_of(x: np.ndarray) -> np.ndarray:
        return np.linalg.inv(unprofiled(blocks, [structure.from_natural(x)], reml=True).xtvx)

    numeric = replace(fit, blocks=None, covariance=None, phi_of=phi_of)
    a = {t.effect: t.den_df for t in rside_type3(numeric, ddfm="satterthwaite")}
    b = {t.effect: t.den_df for t in rside_type3(fit, ddfm="satterthwaite")}
    assert a == pytest.approx(b, rel=1e-6)
    with pytest.raises(ModelError, match="not implemented"):
        rside_type3(numeric, ddfm="kr")


@pytest.mark.parametrize("struct", ["ar1", "csh"])
def test_kr2_adds_the_reml_bias_of_a_dense_computation(struct):
    # Kenward and Roger (2009), SAS ddfm=kr2: Phi_A2 = Phi_A + Phi (sum_i b_i P_i) Phi with the Cox-Snell bias
    # b = -(1/4) I^-1 c, I_rs = tr(Pr V_r Pr V_s) / 2, c_r = sum_tu W_tu tr(Pr V_tu Pr V_r), Pr the REML projection
    d = _with_gaps(_orthodont())
    fit = fit_residual(d, "distance ~ Sex * age", struct, visit="idx", subject="subj")
    nat = np.array([c.estimate for c in fit.covparms])
    X, vmat = _dense_pieces(fit, d, nat)
    V0, D1, D2 = _numeric_derivatives(vmat, nat)
    Vi = np.linalg.inv(V0)
    phi = np.linalg.inv(X.T @ Vi @ X)
    Pr = Vi - Vi @ X @ phi @ X.T @ Vi
    W = fit.covparm_vcov
    m = len(nat)
    info = np.array([[np.trace(Pr @ D1[r] @ Pr @ D1[s]) / 2 for s in range(m)] for r in range(m)])
    K = sum(W[t, u] * D2[t, u] for t in range(m) for u in range(m))
    c = np.array([np.trace(Pr @ K @ Pr @ D1[r]) for r in range(m)])
    b = -0.25 * np.linalg.solve(info, c)
    P = [-X.T @ Vi @ D1[h] @ Vi @ X for h in range(m)]
    kr, kr2 = df_parts(fit, "kr"), df_parts(fit, "kr2")
    want = kr.vcov + phi @ sum(b[i] * P[i] for i in range(m)) @ phi
    assert kr2.vcov == pytest.approx(want, rel=1e-5, abs=1e-9)
    assert not np.allclose(kr2.vcov, kr.vcov, rtol=1e-6)  # the bias term matters for a non-linear structure
    # the df are KR's formula on the same Phi, W and P: one row's are equal, and the tests use Phi_A2
    row = np.array([0.0, 1.0, 0.0, 0.5])
    assert kenward_roger_test(kr2, row, fit.beta).den_df == pytest.approx(kenward_roger_test(kr, row, fit.beta).den_df)
    assert rside_estimate(fit, row, ddfm="kr2").se == pytest.approx(float(np.sqrt(row @ kr2.vcov @ row)))


def test_kr2_is_kr_for_linear_structures():
    d = _with_gaps(_orthodont())
    for struct in ("us", "cs", "toep"):
        lin = fit_residual(d, "distance ~ Sex * agef", struct, visit="idx", subject="subj")
        assert df_parts(lin, "kr2").vcov == pytest.approx(df_parts(lin, "kr").vcov, rel=1e-12)
