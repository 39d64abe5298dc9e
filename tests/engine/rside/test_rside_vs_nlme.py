"""Live: the repeated-measures engine against R's nlme::gls on Orthodont and the autism data.

nlme's equivalents (visit POSITION ``idx`` as the covariate): UN = corSymm + varIdent, CS =
corCompSymm, AR(1) = corAR1, CSH/ARH(1) = those + varIdent, TOEP = corARMA(p = k - 1),
TOEPH = corARMA + varIdent, UN(1) = varIdent alone. The R code is constant; data go to R as values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from tests.rsupport import data_file, need_r, to_r

R_FIT = """
function(d, fixed, struct, sid, method) {
  ctl <- nlme::glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 1000, msMaxIter = 1000)
  k <- max(d$idx)
  cor <- switch(struct,
    us = nlme::corSymm(form = ~ idx | subj), csh = , cs = nlme::corCompSymm(form = ~ idx | subj),
    ar1h = , ar1 = nlme::corAR1(form = ~ idx | subj), ar1time = nlme::corAR1(form = ~ time | subj),
    spexp = nlme::corExp(form = ~ time | subj), spgau = nlme::corGaus(form = ~ time | subj),
    sppow = nlme::corCAR1(form = ~ time | subj), spexp2 = nlme::corExp(form = ~ time + u | subj),
    toeph = , toep = nlme::corARMA(form = ~ idx | subj, p = k - 1), NULL)
  w <- switch(struct, us = , csh = , ar1h = , toeph = , diag = nlme::varIdent(form = ~ 1 | idx),
    diaggroup = nlme::varIdent(form = ~ 1 | idx * grp), wcs = nlme::varFixed(~ invw), NULL)
  if (struct == "wcs") cor <- nlme::corCompSymm(form = ~ idx | subj)
  f <- nlme::gls(stats::as.formula(fixed), data = d, correlation = cor, weights = w, method = method,
                 control = ctl)
  V <- if (is.null(cor)) diag((f$sigma / nlme::varWeights(f$modelStruct$varStruct))[d$subj == sid]^2)
       else as.matrix(nlme::getVarCov(f, individual = sid))
  list(loglik = as.numeric(logLik(f)), beta = as.numeric(coef(f)), se = sqrt(diag(vcov(f))), V = V)
}
"""


def _nlme(ro, frame, fixed, struct, sid, method="REML"):
    fun = ro.r(R_FIT)
    out = fun(to_r(ro, frame), fixed, struct, sid, method)
    get = dict(zip(out.names, out))
    return (float(get["loglik"][0]), np.asarray(get["beta"]), np.asarray(get["se"]), np.asarray(get["V"]))


def _orthodont():
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    d = d.assign(idx=(d["age"] - 6) // 2, subj=d["Subject"].astype(str))
    d["Sex"] = pd.Categorical(d["Sex"], categories=["Male", "Female"])  # R's level order
    return d.sort_values(["subj", "idx"]).reset_index(drop=True)


def _autism():
    d = pd.read_csv(data_file("autism.csv")).dropna()
    d = d.assign(
        idx=d["age"].map({2: 1, 3: 2, 5: 3, 9: 4, 13: 5}),
        subj=d["childid"].astype(str),
        sicd=pd.Categorical(d["sicdegp"].astype(int).astype(str)),
        time=d["age"],
    )
    return d.sort_values(["subj", "idx"]).reset_index(drop=True)


def _full_subject(d, k):
    n = d.groupby("subj")["idx"].count()
    return str(n[n == k].index[0])


def _check(fit, ref, digits_ll=6, digits=5):
    ll, beta, se, V = ref
    assert fit.loglik == pytest.approx(ll, rel=10.0**-digits_ll)
    assert np.allclose(fit.beta, beta, rtol=10.0**-digits, atol=10.0**-digits * np.max(np.abs(beta)))
    assert np.allclose(fit.se_beta, se, rtol=10.0**-digits)
    if V.size > 1:
        assert np.allclose(fit.R[0], V, rtol=10.0**-digits, atol=10.0**-digits * np.max(np.abs(V)))


@pytest.mark.r
@pytest.mark.parametrize("struct", ["us", "cs", "ar1", "csh", "ar1h", "toep", "toeph", "diag"])
def test_orthodont_against_gls(struct):
    ro = need_r("nlme")
    d = _orthodont()
    fit = fit_residual(d, "distance ~ age * Sex", struct, visit="idx", subject="subj")
    assert fit.converged
    assert fit.fixed_names == ("(Intercept)", "age", "SexFemale", "age:SexFemale")
    _check(fit, _nlme(ro, d, "distance ~ age * Sex", struct, _full_subject(d, 4)))


@pytest.mark.r
@pytest.mark.parametrize("struct", ["us", "cs", "ar1", "csh"])
def test_autism_with_missing_visits_against_gls(struct):
    ro = need_r("nlme")
    d = _autism()
    fit = fit_residual(d, "vsae ~ age * sicd", struct, visit="idx", subject="subj")
    assert fit.converged
    assert fit.n_patterns > 1  # subjects miss visits: blocks are submatrices
    _check(fit, _nlme(ro, d, "vsae ~ age * sicd", struct, _full_subject(d, 5)))


@pytest.mark.r
def test_orthodont_ml_unstructured_against_gls():
    ro = need_r("nlme")
    d = _orthodont()
    fit = fit_residual(d, "distance ~ age * Sex", "UN", visit="idx", subject="subj", method="ML")
    ll, beta, se, V = _nlme(ro, d, "distance ~ age * Sex", "us", _full_subject(d, 4), "ML")
    # nlme's vcov of an ML gls fit is scaled by N / (N - p) (its sigma^2 for vcov has N - p in the
    # denominator); ours is the ML one, (X'V^-1X)^-1 at the ML V, as SAS's METHOD=ML prints it.
    n, p = len(d), len(beta)
    _check(fit, (ll, beta, se * np.sqrt((n - p) / n), V))


@pytest.mark.r
def test_ar1_is_by_position_not_by_time_value():
    """SAS's AR(1) uses the visit position; nlme's corAR1(form = ~ age) the time value (ages 2, 3, 5, 9, 13)."""
    ro = need_r("nlme")
    d = _autism()
    fit = fit_residual(d, "vsae ~ age * sicd", "AR(1)", visit="age", subject="subj")
    by_position = _nlme(ro, d, "vsae ~ age * sicd", "ar1", _full_subject(d, 5))
    by_time = _nlme(ro, d, "vsae ~ age * sicd", "ar1time", _full_subject(d, 5))
    assert fit.loglik == pytest.approx(by_position[0], rel=1e-6)
    assert abs(fit.loglik - by_time[0]) > 0.1


@pytest.mark.r
def test_group_heterogeneous_diagonal_against_varident_by_visit_and_group():
    ro = need_r("nlme")
    d = _orthodont().assign(grp=lambda x: x["Sex"].astype(str))
    fit = fit_residual(d, "distance ~ age * Sex", "diag", visit="idx", subject="subj", group="Sex")
    assert len(fit.R) == 2 and fit.group_levels == ("Male", "Female")
    _check(fit, _nlme(ro, d, "distance ~ age * Sex", "diaggroup", "M01"))  # R[0] is group Male


@pytest.mark.r
def test_weights_against_varfixed():
    ro = need_r("nlme")
    d = _orthodont()
    d["w"] = 1.0 + (d["age"] % 4 == 0) + 0.5 * (d["Sex"] == "Female")
    d["invw"] = 1.0 / d["w"]
    fit = fit_residual(d, "distance ~ age * Sex", "cs", visit="idx", subject="subj", weights="w")
    ll, beta, se, _ = _nlme(ro, d, "distance ~ age * Sex", "wcs", _full_subject(d, 4))
    _check(fit, (ll, beta, se, np.zeros(1)))


@pytest.mark.r
def test_spatial_exponential_on_age_against_corexp():
    ro = need_r("nlme")
    d = _autism()
    fit = fit_residual(d, "vsae ~ age * sicd", "SP(EXP)", visit="age", subject="subj")
    assert fit.converged
    _check(fit, _nlme(ro, d, "vsae ~ age * sicd", "spexp", _full_subject(d, 5)))


@pytest.mark.parametrize(
    ("structure", "struct", "formula_term"),
    [
        ("SP(GAU)", "spgau", "sp_gau(age | subj)"),
        ("SP(POW)", "sppow", "sp_pow(age | subj)"),
        ("SP(EXP)", "spexp2", "sp_exp(age, u | subj)"),
    ],
)
@pytest.mark.r
def test_spatial_gaussian_power_and_two_coordinates_against_gls(structure, struct, formula_term):
    """SP(GAU) = corGaus (range rho), SP(POW) = corCAR1 (phi = rho), SP(EXP) on two coordinates = corExp(~ x + u)."""
    ro = need_r("nlme")
    d = _autism().assign(u=lambda x: (x["age"] % 3) * 1.5)
    fit = fit_residual(d, "vsae ~ age * sicd + " + formula_term)
    assert fit.converged and fit.residual is not None and fit.residual.sas_type.startswith(structure)
    ll, beta, se, V = _nlme(ro, d, "vsae ~ age * sicd", struct, _full_subject(d, 5))
    assert fit.loglik == pytest.approx(ll, rel=1e-6)
    assert np.allclose(fit.beta, beta, rtol=1e-5, atol=1e-5 * np.max(np.abs(beta)))
    assert np.allclose(fit.se_beta, se, rtol=1e-4)
    # R's block is over the subject's own rows (age order); ours over all distinct points, in sorted order
    pts = [
        tuple(p)
        for p in d.loc[d["subj"] == _full_subject(d, 5), ["age", "u"] if "u |" in formula_term else ["age"]].to_numpy()
    ]
    idx = [
        fit.visit_levels.index(f"{p[0]:g}" if len(p) == 1 else "(" + ", ".join(f"{x:g}" for x in p) + ")") for p in pts
    ]
    assert np.allclose(fit.R[0][np.ix_(idx, idx)], V, rtol=1e-4, atol=1e-4 * np.max(np.abs(V)))
