"""Repeated-measures structures against glmmTMB, live (issue #16): TOEPH, which nlme does not have, and CSH, UN
and AR(1).

glmmTMB fits a residual structure as a random-effect term over the visits with the residual variance fixed near 0
(``dispformula = ~ 0``), by REML here. Its covariance terms are SAS's types under other names: ``toep()`` is
heterogeneous Toeplitz (SAS TOEPH: a variance per visit, a correlation per lag), ``cs()`` heterogeneous compound
symmetry (CSH), ``us()`` UN and ``ar1()`` AR(1) with one variance. Its optimizer reports false convergence on
some of them and stops short in the 4th digit of the covariances, so the engine is checked in two ways: at
glmmTMB's own covariance parameters (where the GLS fixed effects and the REML log-likelihood must be glmmTMB's:
the same model), and at its own optimum (at least as high as glmmTMB's). glmmTMB's REML log-likelihood sits a few
1e-6 above the same model's elsewhere (also against nlme's gls on AR(1)): a 1e-8 relative offset, allowed below.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.engine.rside.at_params import fit_at_natural
from tests.rsupport import need_r, to_r

#: glmmTMB's REML log-likelihood above the same model's (measured: 2e-6 to 4e-6 on Orthodont).
TMB_OFFSET = 1e-5

R_TMB = """
function(d, struct) {
  suppressPackageStartupMessages(requireNamespace("glmmTMB"))
  d$agef <- factor(d$age); d$Sex <- factor(d$Sex, levels = c("Male", "Female"))
  term <- switch(struct, toeph = "toep", csh = "cs", us = "us", ar1 = "ar1")
  f <- stats::as.formula(paste0("distance ~ Sex * age + ", term, "(0 + agef | Subject)"))
  m <- suppressWarnings(glmmTMB::glmmTMB(f, dispformula = ~ 0, data = d, REML = TRUE))
  v <- glmmTMB::VarCorr(m)$cond$Subject
  list(v = matrix(as.numeric(v), 4, 4), loglik = as.numeric(stats::logLik(m)), beta = glmmTMB::fixef(m)$cond)
}
"""


def _natural(struct: str, V: np.ndarray) -> np.ndarray:
    """SAS's natural parameters (the engine's covparms order) of glmmTMB's 4 x 4 covariance ``V``."""
    sd = np.sqrt(np.diag(V))
    C = V / np.outer(sd, sd)
    if struct == "us":
        return np.array([V[i, j] for i in range(4) for j in range(i + 1)])
    if struct == "toeph":
        return np.r_[sd**2, [C[0, lag] for lag in (1, 2, 3)]]
    if struct == "csh":
        return np.r_[sd**2, C[0, 1]]
    return np.array([C[0, 1], V[0, 0]])  # ar1: AR(1), Residual


def _orthodont() -> pd.DataFrame:
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    return d.assign(
        idx=((d["age"] - 6) // 2).astype(int),
        Subject=d["Subject"].astype(str),
        Sex=pd.Categorical(d["Sex"].astype(str), categories=["Male", "Female"]),
    )


@pytest.mark.r
@pytest.mark.parametrize("struct", ["toeph", "csh", "us", "ar1"])
def test_the_engine_fits_glmmtmbs_model(struct):
    ro = need_r("glmmTMB")
    d = _orthodont()
    out = ro.r(R_TMB)(to_r(ro, d.assign(Sex=d["Sex"].astype(str))), struct)
    V, tmb_ll, tmb_beta = np.asarray(out.rx2("v")), float(out.rx2("loglik")[0]), np.asarray(out.rx2("beta"))
    fit = fit_residual(d, "distance ~ Sex * age", struct, visit="idx", subject="Subject")
    at = fit_at_natural(fit, _natural(struct, V), "glmmTMB's")
    # the same model: at glmmTMB's covariance parameters the engine's GLS and REML likelihood are glmmTMB's
    np.testing.assert_allclose(at.beta, tmb_beta, rtol=1e-6, atol=1e-8)
    assert abs(at.loglik - tmb_ll) < TMB_OFFSET
    # and the engine's own optimum is at least as high (glmmTMB stops short or reports false convergence)
    assert fit.converged and fit.loglik >= at.loglik - 1e-9
    assert fit.loglik == pytest.approx(tmb_ll, rel=1e-6)  # six digits
    np.testing.assert_allclose(fit.R[0], V, rtol=2e-3)  # glmmTMB's optimizer: 3 to 4 digits of the covariances
