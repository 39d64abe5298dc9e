"""Live: PQL against MASS::glmmPQL (its default control; data go to R as values, formulas as strings)."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.engine.glmm import fit_glmm_pql
from tests.rsupport import from_r, need_r, to_r

pytestmark = pytest.mark.r

R_PQL = """
function(d, fixed, random, family) {
  p <- MASS::glmmPQL(stats::as.formula(fixed), random = stats::as.formula(random),
                     family = get(family, mode = "function")(), data = d, verbose = FALSE)
  vc <- nlme::VarCorr(p)
  list(beta = as.numeric(nlme::fixef(p)), se = sqrt(diag(vcov(p))),
       vc = as.numeric(vc[, "Variance"]), sigma = p$sigma)
}
"""


@pytest.fixture(scope="module")
def ro():
    return need_r("lme4", "MASS", "nlme")


def _pql(ro, frame, fixed: str, random: str, family: str):
    out = ro.r(R_PQL)(to_r(ro, frame), fixed, random, family)
    return {k: np.asarray(v, dtype=float) for k, v in zip(out.names, out)}


def _check(fit, r) -> None:
    np.testing.assert_allclose(fit.beta, r["beta"], rtol=1e-5)
    np.testing.assert_allclose(fit.se, r["se"], rtol=1e-5)
    np.testing.assert_allclose(fit.varcorr["vcov"], r["vc"], rtol=1e-5)
    assert fit.sigma == pytest.approx(r["sigma"][0], rel=1e-5)
    assert fit.converged


def test_pql_binomial_trials_cbpp(ro) -> None:
    cbpp = from_r(ro, "lme4::cbpp")
    r = _pql(ro, cbpp, "cbind(incidence, size - incidence) ~ period", "~ 1 | herd", "binomial")
    fit = fit_glmm_pql(cbpp, "cbind(incidence, size - incidence) ~ period + (1 | herd)")
    _check(fit, r)


def test_pql_poisson_grouseticks(ro) -> None:
    ticks = from_r(ro, "lme4::grouseticks")
    r = _pql(ro, ticks, "TICKS ~ YEAR + cHEIGHT", "~ 1 | LOCATION", "poisson")
    fit = fit_glmm_pql(ticks, "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", family="poisson")
    _check(fit, r)
