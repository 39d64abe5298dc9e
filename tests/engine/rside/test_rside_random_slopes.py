"""Random slopes per subject beside the residual structure, live against nlme::lme (issue #16).

``fit_residual(..., random_slopes=("time",))`` is SAS's ``RANDOM intercept time / SUBJECT=id TYPE=UN``
together with ``REPEATED / TYPE=AR(1) SUBJECT=id``, and nlme's ``lme(random = ~ time | id,
correlation = corAR1(form = ~ idx | id))``: on Orthodont (age 8 to 14) and on BodyWeight (days 1 to 64,
AR(1) by weighing position and SP(EXP) in days), by REML and ML. The log-likelihood to 1e-7 relative,
the fixed effects, their SEs, G, the residual variance and the correlation parameter to 1e-5.
nlme is run with optim's BFGS and with its L-BFGS-B and the higher of the two is the reference: on BodyWeight
under AR(1) by REML the BFGS stops 1.2e-8 below the optimum with UN(2,1) 3e-4 off (the likelihood is flat
along the covariance), and elsewhere the L-BFGS-B stops short.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.engine.rside.slopes import WithRandomSlopes
from replicate.errors import DataError, ModelError
from replicate.inference.rside_tests import rside_type3
from tests.rsupport import need_r, to_r

R_LME = """
function(d, fixed, struct, method) {
  base <- list(tolerance = 1e-10, msTol = 1e-12, maxIter = 1000, msMaxIter = 1000, niterEM = 0, opt = "optim")
  ctls <- list(do.call(nlme::lmeControl, base), do.call(nlme::lmeControl, c(base, optimMethod = "L-BFGS-B")))
  cor <- switch(struct, ar1 = nlme::corAR1(form = ~ idx | subj), spexp = nlme::corExp(form = ~ time | subj))
  fits <- lapply(ctls, function(ctl) suppressWarnings(do.call(nlme::lme, list(fixed = stats::as.formula(fixed),
    random = ~ time | subj, data = d, correlation = cor, method = method, control = ctl))))
  f <- fits[[which.max(vapply(fits, function(x) as.numeric(logLik(x)), 0))]]
  list(loglik = as.numeric(logLik(f)), beta = as.numeric(nlme::fixef(f)), se = sqrt(diag(vcov(f))),
       G = as.numeric(nlme::getVarCov(f))[c(1, 2, 4)], sigma2 = f$sigma^2,
       cor = as.numeric(coef(f$modelStruct$corStruct, unconstrained = FALSE)))
}
"""


def _orthodont() -> pd.DataFrame:
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    d = d.assign(idx=((d["age"] - 6) // 2).astype(int), subj=d["Subject"].astype(str), time=d["age"].astype(float))
    d["Sex"] = pd.Categorical(d["Sex"], categories=["Male", "Female"])
    return d.sort_values(["subj", "idx"]).reset_index(drop=True)


def _bodyweight() -> pd.DataFrame:
    d, _, _ = load_r_dataset("nlme", "BodyWeight")
    d = d.assign(subj=d["Rat"].astype(str), time=d["Time"].astype(float), Diet=d["Diet"].astype(str))
    times = sorted(d["time"].unique())
    d = d.assign(idx=d["time"].map({t: i for i, t in enumerate(times)}).astype(int))
    return d.sort_values(["subj", "time"]).reset_index(drop=True)


DATA = {"orthodont": _orthodont, "bodyweight": _bodyweight}
CASES = [
    ("orthodont", "distance ~ Sex * age", "ar1", "REML"),
    ("orthodont", "distance ~ Sex * age", "ar1", "ML"),
    ("bodyweight", "weight ~ Diet * time", "ar1", "REML"),
    ("bodyweight", "weight ~ Diet * time", "ar1", "ML"),
    ("bodyweight", "weight ~ Diet * time", "spexp", "REML"),
]


@pytest.mark.r
@pytest.mark.parametrize(("data", "fixed", "struct", "method"), CASES)
def test_random_slopes_with_residual_structure_match_nlme_lme(data, fixed, struct, method):
    ro = need_r("nlme")
    d = DATA[data]()
    ours_struct = {"ar1": "ar1", "spexp": "sp_exp"}[struct]
    visit = "idx" if struct == "ar1" else "time"
    fit = fit_residual(d, fixed, ours_struct, visit=visit, subject="subj", method=method, random_slopes=("time",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = ro.r(R_LME)(to_r(ro, d), fixed, struct, method)
    ref = {k: np.asarray(v) for k, v in zip(out.names, out, strict=True)}
    assert fit.converged
    assert fit.loglik == pytest.approx(float(ref["loglik"][0]), rel=1e-7)
    assert fit.loglik >= float(ref["loglik"][0]) - 1e-9  # the engine's optimum is at least nlme's
    assert fit.beta == pytest.approx(ref["beta"], rel=1e-5, abs=1e-7)
    assert fit.se_beta == pytest.approx(ref["se"], rel=1e-5)
    label = "AR(1)" if struct == "ar1" else "SP(EXP)"
    assert [c.label for c in fit.covparms] == ["UN(1,1)", "UN(2,1)", "UN(2,2)", label, "Residual"]
    G = [fit.covparm(lab).estimate for lab in ("UN(1,1)", "UN(2,1)", "UN(2,2)")]
    assert G == pytest.approx(ref["G"], rel=1e-5)
    assert fit.covparm("Residual").estimate == pytest.approx(float(ref["sigma2"][0]), rel=1e-5)
    assert fit.covparm(label).estimate == pytest.approx(float(ref["cor"][0]), rel=1e-5)


def test_the_subject_covariance_is_the_slopes_plus_the_structure():
    """R of the fit is Zk G Zk' + AR(1) from its own printed parameters, and the slopes never lower the optimum."""
    d = _orthodont()
    fit = fit_residual(d, "distance ~ Sex * age", "ar1", visit="idx", subject="subj", random_slopes=("time",))
    est = {c.label: c.estimate for c in fit.covparms}
    G = np.array([[est["UN(1,1)"], est["UN(2,1)"]], [est["UN(2,1)"], est["UN(2,2)"]]])
    Zk = np.column_stack([np.ones(4), [8.0, 10.0, 12.0, 14.0]])
    lag = np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
    assert fit.R[0] == pytest.approx(Zk @ G @ Zk.T + est["Residual"] * est["AR(1)"] ** lag, rel=1e-10)
    only = fit_residual(d, "distance ~ Sex * age", "ar1", visit="idx", subject="subj", random_intercept=True)
    assert fit.loglik >= only.loglik
    assert isinstance(fit.covariance, WithRandomSlopes)
    assert fit.covariance.variance_labels() == (0, 2, 4)


def test_random_slopes_fit_carries_the_approximate_df():
    d = _orthodont()
    fit = fit_residual(d, "distance ~ Sex * age", "ar1", visit="idx", subject="subj", random_slopes=("time",))
    for ddfm in ("satterthwaite", "kr"):
        tests = rside_type3(fit, ddfm=ddfm)
        assert all(np.isfinite(t.den_df) and t.den_df > 1 for t in tests)


def test_random_slopes_are_refused_where_not_identified_or_not_implemented():
    d = _orthodont()
    args = {"visit": "idx", "subject": "subj", "random_slopes": ("time",)}
    for struct in ("us", "cs"):
        with pytest.raises(ModelError, match="not identified"):
            fit_residual(d, "distance ~ Sex * age", struct, **args)
    with pytest.raises(ModelError, match="GROUP="):
        fit_residual(d, "distance ~ age", "ar1", group="Sex", **args)
    with pytest.raises(ModelError, match="cluster="):
        fit_residual(d, "distance ~ age", "ar1", cluster="Sex", **args)
    with pytest.raises(ModelError, match="both give"):
        fit_residual(d, "distance ~ age", "ar1", random_intercept=True, **args)
    with pytest.raises(DataError, match="not in the data"):
        fit_residual(d, "distance ~ age", "ar1", visit="idx", subject="subj", random_slopes=("days",))
    noisy = d.assign(time=d["time"] + np.arange(len(d)) % 3 * 0.1)
    with pytest.raises(ModelError, match="values at one visit"):
        fit_residual(noisy, "distance ~ age", "ar1", **args)
