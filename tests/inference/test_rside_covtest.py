"""SAS's CL limits and Null Model Likelihood Ratio Test for repeated-measures fits (issue #16).

The null model test is checked against nlme: twice the gap between the log-likelihoods of the gls fit with the
structure and the gls fit without one (REML and ML, AR(1) and UN = corSymm with varIdent); the limits against
their definitions in SAS's MIXED documentation (CL option) and through a case block.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.inference.rside_covtest import covparm_limits, null_model_lrt
from tests.rsupport import need_r


def _orthodont() -> pd.DataFrame:
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    d["Sex"] = pd.Categorical(d["Sex"].astype(str), categories=["Male", "Female"])
    return d


NLME = """
local({
  d <- nlme::Orthodont; d$idx <- as.integer(factor(d$age))
  f <- nlme::gls(distance ~ Sex * age, data = d, correlation = CORR, weights = WEIGHTS, method = "METHOD")
  g <- nlme::gls(distance ~ Sex * age, data = d, method = "METHOD")
  c(as.numeric(logLik(f)), as.numeric(logLik(g)))
})
"""


@pytest.mark.r
@pytest.mark.parametrize(
    ("structure", "corr", "weights", "df"),
    [
        ("ar1", "nlme::corAR1(form = ~ idx | Subject)", "NULL", 1),
        ("us", "nlme::corSymm(form = ~ idx | Subject)", "nlme::varIdent(form = ~ 1 | age)", 9),
    ],
)
@pytest.mark.parametrize("method", ["REML", "ML"])
def test_the_null_model_lrt_is_the_gap_to_gls_without_a_structure(structure, corr, weights, df, method):
    ro = need_r("nlme")
    ll = [float(v) for v in ro.r(NLME.replace("CORR", corr).replace("WEIGHTS", weights).replace("METHOD", method))]
    fit = fit_residual(_orthodont(), "distance ~ Sex * age", structure, visit="age", subject="Subject", method=method)
    chisq, got_df, p = null_model_lrt(fit)
    assert got_df == df
    assert chisq == pytest.approx(2 * (ll[0] - ll[1]), abs=2e-5)
    assert p == pytest.approx(stats.chi2.sf(chisq, df), rel=1e-12) and 0 <= p < 1e-3


def test_cl_limits_are_satterthwaite_for_variances_and_wald_for_correlations():
    fit = fit_residual(_orthodont(), "distance ~ Sex * age", "ar1", visit="age", subject="Subject", method="REML")
    (rho_lo, rho_hi), (var_lo, var_hi) = covparm_limits(fit)
    rho, var = fit.covparm("AR(1)"), fit.covparm("Residual")
    z = stats.norm.ppf(0.975)
    assert (rho_lo, rho_hi) == pytest.approx((rho.estimate - z * rho.se, rho.estimate + z * rho.se), rel=1e-12)
    assert rho.estimate - rho_lo == pytest.approx(rho_hi - rho.estimate, rel=1e-12)  # Wald: symmetric
    nu = 2 * (var.estimate / var.se) ** 2
    assert var_lo == pytest.approx(nu * var.estimate / stats.chi2.ppf(0.975, nu), rel=1e-12)
    assert 0 < var_lo < var.estimate < var_hi
    assert var_hi - var.estimate > var.estimate - var_lo  # chi-square limits: skewed to the right


def test_un_limits_treat_diagonals_as_variances_and_the_rest_as_covariances():
    fit = fit_residual(_orthodont(), "distance ~ Sex * age", "us", visit="age", subject="Subject", method="ML")
    limits = dict(zip((c.label for c in fit.covparms), covparm_limits(fit), strict=True))
    for c in fit.covparms:
        lo, hi = limits[c.label]
        i, j = (int(s) for s in c.label[3:-1].split(","))
        if i == j:
            assert 0 < lo and hi - c.estimate > c.estimate - lo, c.label
        else:
            assert math.isclose(c.estimate - lo, hi - c.estimate, rel_tol=1e-12), c.label
    assert np.all(np.isfinite([v for pair in limits.values() for v in pair]))


@pytest.mark.r
def test_a_case_block_reads_the_null_model_lrt_and_cl_limits(tmp_path):
    from pathlib import Path

    from replicate.case import load_case
    from replicate.engines import get_engine
    from replicate.runner import run_case

    ro = need_r("nlme")
    code = NLME.replace("CORR", "nlme::corAR1(form = ~ idx | Subject)").replace("WEIGHTS", "NULL")
    ll = [float(v) for v in ro.r(code.replace("METHOD", "REML"))]
    chisq = 2 * (ll[0] - ll[1])
    case = Path(__file__).resolve().parents[2] / "cases" / "orthodont-growth-ar1-nlme.yaml"
    text = case.read_text(encoding="utf-8")
    old = "        nobs: 108\n"
    assert old in text
    path = tmp_path / case.name
    for value, verdict in ((chisq, "within tolerance"), (chisq + 0.01, "discrepancy")):
        rows = f"        null_lrt_chisq: {value!r}\n        null_lrt_df: 1\n"
        path.write_text(text.replace(old, old + rows, 1), encoding="utf-8")
        res = run_case(load_case(path), get_engine("native"))
        got = {v.name: v.verdict for b in res.blocks for v in b.values if v.name.startswith("null_lrt")}
        assert got["null_lrt_chisq"] == verdict or (verdict != "discrepancy" and got["null_lrt_chisq"] == "agrees")
        assert got["null_lrt_df"] == "agrees"
