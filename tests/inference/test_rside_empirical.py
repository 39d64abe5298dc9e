"""Empirical (sandwich) covariance of repeated-measures fits (SAS's EMPIRICAL; clubSandwich's CR0/CR1/CR2 on
nlme::gls; mmrm's "Empirical" and "Empirical-Bias-Reduced"), issue #16.

Checked against clubSandwich's vcovCR and coef_test on the same gls fit, live through rpy2, and by hand: CR0
is the classical sum over subjects, computed here densely from the full V.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.errors import NotImplementedOption
from replicate.inference.rside_robust import rside_sandwich, with_empirical
from tests.rsupport import need_r

GLS = """
local({
  d <- nlme::Orthodont
  d$idx <- as.integer(factor(d$age))
  f <- nlme::gls(distance ~ Sex * age, data = d, correlation = CORR, weights = WEIGHTS, method = "METHOD")
  out <- list()
  for (k in c("CR0", "CR1", "CR2")) out[[k]] <- as.matrix(clubSandwich::vcovCR(f, type = k))
  out$df <- clubSandwich::coef_test(f, vcov = "CR2", test = "Satterthwaite")$df_Satt
  out
})
"""


def _orthodont():
    ro = need_r("nlme", "clubSandwich")
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    d["Sex"] = pd.Categorical(d["Sex"].astype(str), categories=["Male", "Female"])
    return ro, d


CASES = [
    ("ar1", "nlme::corAR1(form = ~ idx | Subject)", "NULL", "REML"),
    ("ar1h", "nlme::corAR1(form = ~ idx | Subject)", "nlme::varIdent(form = ~ 1 | age)", "REML"),
    ("us", "nlme::corSymm(form = ~ idx | Subject)", "nlme::varIdent(form = ~ 1 | age)", "REML"),
]


@pytest.mark.r
@pytest.mark.parametrize(("structure", "corr", "weights", "method"), CASES)
def test_cr0_cr1_cr2_and_the_cr2_df_are_clubsandwichs_on_gls(structure, corr, weights, method):
    ro, d = _orthodont()
    code = GLS.replace("CORR", corr).replace("WEIGHTS", weights).replace("METHOD", method)
    out = ro.r(code)
    fit = fit_residual(d, "distance ~ Sex * age", structure, visit="age", subject="Subject", method=method)
    for k in ("CR0", "CR1", "CR2"):
        ours, _ = rside_sandwich(fit, k)
        theirs = np.asarray(out.rx2(k))
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=1e-12, err_msg=k)
    _, df = rside_sandwich(fit, "CR2", df=True)
    np.testing.assert_allclose(df, np.asarray(out.rx2("df")), rtol=2e-5)


@pytest.mark.r
def test_clubsandwich_on_an_ml_gls_fit_carries_nlmes_n_over_n_minus_p_twice():
    # nlme's vcov of an ML gls fit is (X'V^-1X)^-1 times N / (N - p); clubSandwich takes its bread from it, so its
    # sandwich is ours (SAS's EMPIRICAL at the ML estimate) times (N / (N - p))^2: a definitional difference
    ro, d = _orthodont()
    code = GLS.replace("CORR", CASES[2][1]).replace("WEIGHTS", CASES[2][2]).replace("METHOD", "ML")
    out = ro.r(code)
    fit = fit_residual(d, "distance ~ Sex * age", "us", visit="age", subject="Subject", method="ML")
    ours, _ = rside_sandwich(fit, "CR0")
    n, p = fit.n, len(fit.fixed_names)
    np.testing.assert_allclose(ours * (n / (n - p)) ** 2, np.asarray(out.rx2("CR0")), rtol=2e-5)
    assert not np.allclose(ours, np.asarray(out.rx2("CR0")), rtol=1e-2)


def test_cr0_is_the_classical_sum_over_subjects_by_hand():
    rng = np.random.default_rng(7)
    n_subj, k = 12, 4
    rows = [(s, v) for s in range(n_subj) for v in range(k) if not (s % 3 == 0 and v == 3)]
    d = pd.DataFrame(rows, columns=["id", "visit"])
    d["x"] = rng.normal(size=len(d))
    d["y"] = (
        1 + 0.5 * d["x"] + 0.3 * d["visit"] + rng.normal(size=len(d)) + np.repeat(rng.normal(size=n_subj), 4)[: len(d)]
    )
    fit = fit_residual(d, "y ~ x + visit", "cs", visit="visit", subject="id")
    X = np.column_stack([np.ones(len(d)), d["x"], d["visit"]])
    e = d["y"].to_numpy() - X @ fit.beta
    M = fit.vcov_beta
    meat = np.zeros((3, 3))
    for s in range(n_subj):
        m = (d["id"] == s).to_numpy()
        v = d.loc[m, "visit"].to_numpy()
        Vi = fit.R[0][np.ix_(v, v)]
        u = X[m].T @ np.linalg.solve(Vi, e[m])
        meat += np.outer(u, u)
    ours, _ = rside_sandwich(fit, "CR0")
    np.testing.assert_allclose(ours, M @ meat @ M, rtol=1e-10)
    emp = with_empirical(fit, "CR0")
    np.testing.assert_allclose(emp.se_beta, np.sqrt(np.diag(M @ meat @ M)), rtol=1e-10)
    assert not np.allclose(emp.se_beta, fit.se_beta)


def test_unknown_kinds_and_df_of_other_kinds_are_refused():
    d = pd.DataFrame({"id": np.repeat(np.arange(6), 3), "visit": np.tile(np.arange(3), 6)})
    d["y"] = np.sin(np.arange(18.0))
    fit = fit_residual(d, "y ~ 1", "cs", visit="visit", subject="id")
    with pytest.raises(NotImplementedOption, match="CR3"):
        rside_sandwich(fit, "CR3")
    with pytest.raises(NotImplementedOption, match="other than CR2"):
        rside_sandwich(fit, "CR0", df=True)


@pytest.mark.r
def test_a_case_block_with_empirical_ses_agrees_with_clubsandwich_and_not_with_model_ses(tmp_path):
    # the nlme case's gls fit, with a second block: clubSandwich's CR2 SEs and t from a live run; under se: model
    # the same numbers must differ
    from replicate.case import load_case
    from replicate.engines import get_engine
    from replicate.runner import run_case

    ro, _ = _orthodont()
    out = ro.r(
        """local({
          d <- nlme::Orthodont; d$idx <- as.integer(factor(d$age))
          f <- nlme::gls(distance ~ Sex * age, data = d, correlation = nlme::corAR1(form = ~ idx | Subject))
          v <- clubSandwich::vcovCR(f, type = "CR2")
          list(est = unname(coef(f)), se = unname(sqrt(diag(as.matrix(v)))), names = names(coef(f)))
        })"""
    )
    names = list(out.rx2("names"))
    rows = "\n".join(
        f"        {n}: {{estimate: {float(out.rx2('est')[i])!r}, se: {float(out.rx2('se')[i])!r}}}"
        for i, n in enumerate(names)
    )
    source = Path(__file__).resolve().parents[2] / "cases" / "orthodont-growth-ar1-nlme.yaml"
    block = f"""  - label: clubsandwich-cr2
    software: clubSandwich
    version: "live run in this test"
    call: "clubSandwich::vcovCR(<the case's gls fit>, type = 'CR2')"
    source: tests/inference/test_rside_empirical.py
    options: {{method: REML, df: residual, se: cr2}}
    values:
      fixed:
{rows}
"""
    path = tmp_path / source.name
    path.write_text(source.read_text(encoding="utf-8") + block, encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    emp = res.blocks[1]
    assert emp.error is None and all(v.verdict in ("agrees", "within tolerance") for v in emp.values), emp.values
    assert res.status == "agrees"
    path.write_text(path.read_text(encoding="utf-8").replace("se: cr2}", "se: model}"), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    assert {v.name for v in res.blocks[1].values if v.verdict == "discrepancy" and v.quantity == "se"} == set(names)
