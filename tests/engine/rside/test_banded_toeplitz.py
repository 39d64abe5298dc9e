"""SAS's banded TOEP(2) (issue #16): positive definite up to its exact bound, and nlme's MA(1) where they coincide.

The tridiagonal Toeplitz correlation over k visits is positive definite exactly for |rho| < 1 / (2 cos(pi/(k+1)));
the engine reaches every such rho and no other. nlme's corARMA(q = 1) is the same model for |rho| <= 1/2; on
Orthodont the REML optimum has rho = 0.363, and the shipped case holds the live gls fit (logLik to 14 digits).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from replicate.case import load_case
from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.engine.rside.banded import BandedToeplitz, pd_bound
from replicate.engines import get_engine
from replicate.errors import ModelError
from replicate.outcome import OK
from replicate.runner import run_case
from tests.rsupport import need_r

CASE = Path(__file__).resolve().parents[3] / "cases" / "orthodont-growth-toep2-nlme.yaml"

R_MA1 = """
function(method) {
  d <- nlme::Orthodont; d$idx <- as.integer(factor(d$age))
  f <- nlme::gls(distance ~ Sex * age, data = d, correlation = nlme::corARMA(form = ~ idx | Subject, q = 1),
                 method = method, control = nlme::glsControl(tolerance = 1e-12, msTol = 1e-12))
  th <- coef(f$modelStruct$corStruct, unconstrained = FALSE)
  c(as.numeric(logLik(f)), th / (1 + th^2) * f$sigma^2, f$sigma^2, as.numeric(coef(f)))
}
"""


@pytest.mark.parametrize("k", [2, 3, 4, 7])
def test_every_theta_is_positive_definite_and_the_bound_is_reached(k):
    s = BandedToeplitz(k)
    for theta in (-30.0, -2.0, 0.0, 0.7, 30.0):
        assert np.linalg.eigvalsh(s.relative(np.array([theta]))).min() > -1e-12
    # at the bound the smallest eigenvalue 1 - 2 b cos(pi / (k + 1)) is 0: the bound is the exact one
    band = np.eye(k) + pd_bound(k) * (np.abs(np.subtract.outer(np.arange(k), np.arange(k))) == 1)
    assert abs(np.linalg.eigvalsh(band).min()) < 1e-12
    nat = s.natural(np.array([0.4]), 2.5)
    assert np.allclose(s.from_natural(nat), 2.5 * s.relative(np.array([0.4])))
    assert s.labels() == ("TOEP(2)", "Residual")


def test_the_live_nlme_case_agrees():
    res = run_case(load_case(CASE), get_engine("native"))
    values = res.blocks[0].values
    assert res.status == OK and all(v.verdict in ("agrees", "within tolerance") for v in values)
    assert {v.name: v for v in values if v.section == "fit"}["loglik"].lre > 10


@pytest.mark.r
@pytest.mark.parametrize("method", ["REML", "ML"])
def test_toep2_is_nlme_ma1_within_its_range(method):
    ro = need_r("nlme")
    ref = np.asarray(ro.r(R_MA1)(method), dtype=float)
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    d["Sex"] = d["Sex"].astype(str)
    d["Sex"] = d["Sex"].astype("category").cat.reorder_categories(["Male", "Female"])
    fit = fit_residual(d, "distance ~ Sex * age", "TOEP(2)", visit="age", subject="Subject", method=method)
    assert fit.loglik == pytest.approx(ref[0], rel=1e-9)
    assert [c.estimate for c in fit.covparms] == pytest.approx(ref[1:3], rel=1e-6)
    assert np.allclose(fit.beta, ref[3:], rtol=1e-6)
    assert abs(ref[1] / ref[2]) < 0.5  # within MA(1)'s range, where the two models are one


R_LME_MA1 = """
local({
  d <- nlme::Orthodont; d$idx <- as.integer(factor(d$age))
  f <- nlme::lme(distance ~ Sex * age, random = ~ 1 | Subject, data = d,
                 correlation = nlme::corARMA(form = ~ idx | Subject, q = 1),
                 control = nlme::lmeControl(tolerance = 1e-12, msTol = 1e-12, maxIter = 500, msMaxIter = 500))
  th <- coef(f$modelStruct$corStruct, unconstrained = FALSE)
  c(as.numeric(logLik(f)), as.numeric(nlme::getVarCov(f)), th / (1 + th^2) * f$sigma^2, f$sigma^2)
})
"""


@pytest.mark.r
def test_a_random_intercept_beside_toep2_is_nlme_lme_with_ma1():
    """SAS: RANDOM intercept / SUBJECT=Subject beside REPEATED / TYPE=TOEP(2): identified over 3+ visits (the
    covariance beyond lag 1 is the intercept's), and nlme's lme with corARMA(q = 1) where MA(1) reaches."""
    ro = need_r("nlme")
    ref = np.asarray(ro.r(R_LME_MA1), dtype=float)
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    fit = fit_residual(d, "distance ~ Sex * age", "TOEP(2)", visit="age", subject="Subject", random_intercept=True)
    assert fit.loglik == pytest.approx(ref[0], rel=1e-9)
    assert [c.label for c in fit.covparms] == ["Intercept", "TOEP(2)", "Residual"]
    assert [c.estimate for c in fit.covparms] == pytest.approx(ref[1:], rel=1e-5)


def test_a_random_intercept_beside_toep2_over_two_visits_is_refused():
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    two = d[d["age"].isin([8, 10])]
    with pytest.raises(ModelError, match="not identified"):
        fit_residual(two, "distance ~ age", "TOEP(2)", visit="age", subject="Subject", random_intercept=True)
