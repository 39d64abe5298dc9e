"""A random intercept per subject beside the residual structure, live against nlme::lme (issue #16).

``fit_residual(..., random_intercept=True)`` is SAS's ``RANDOM intercept / SUBJECT=id`` together with
``REPEATED / TYPE=... SUBJECT=id``, and nlme's ``lme(random = ~ 1 | id, correlation = ...)``: AR(1)
by visit position on Orthodont (complete, and with visits missing, where lme's corAR1 on the integer
position has the same lags), SP(EXP) in days on nlme's BodyWeight (corExp; complete and with gaps),
by REML and ML. The log-likelihood to 1e-7 relative, the fixed effects and their SEs, the intercept
variance, the residual variance and the correlation parameter to 1e-5. (The autism data and
BodyWeight under AR(1) put the intercept variance on its boundary, where nlme's optimizer fails or
runs corExp's range to infinity; those are not comparisons of two optima.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.errors import ModelError
from replicate.inference.rside_tests import rside_type3
from tests.rsupport import need_r, to_r

R_LME = """
function(d, fixed, struct, method) {
  ctl <- nlme::lmeControl(tolerance = 1e-10, msTol = 1e-12, maxIter = 1000, msMaxIter = 1000, niterEM = 0,
                          opt = "optim")
  cor <- switch(struct, ar1 = nlme::corAR1(form = ~ idx | subj), spexp = nlme::corExp(form = ~ time | subj))
  f <- do.call(nlme::lme, list(fixed = stats::as.formula(fixed), random = ~ 1 | subj, data = d,
                                correlation = cor, method = method, control = ctl))
  list(loglik = as.numeric(logLik(f)), beta = as.numeric(nlme::fixef(f)), se = sqrt(diag(vcov(f))),
       tau = as.numeric(nlme::getVarCov(f)[1, 1]), sigma2 = f$sigma^2,
       cor = as.numeric(coef(f$modelStruct$corStruct, unconstrained = FALSE)))
}
"""


def _orthodont() -> pd.DataFrame:
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    d = d.assign(idx=((d["age"] - 6) // 2).astype(int), subj=d["Subject"].astype(str))
    d["Sex"] = pd.Categorical(d["Sex"], categories=["Male", "Female"])
    return d.sort_values(["subj", "idx"]).reset_index(drop=True)


def _bodyweight() -> pd.DataFrame:
    d, _, _ = load_r_dataset("nlme", "BodyWeight")
    d = d.assign(subj=d["Rat"].astype(str), time=d["Time"].astype(float), Diet=d["Diet"].astype(str))
    return d.sort_values(["subj", "time"]).reset_index(drop=True)


def _gaps(d: pd.DataFrame) -> pd.DataFrame:
    return d.drop(index=d.index[3::7]).reset_index(drop=True)


DATA = {
    "orthodont": _orthodont,
    "orthodont-gaps": lambda: _gaps(_orthodont()),
    "bodyweight": _bodyweight,
    "bodyweight-gaps": lambda: _gaps(_bodyweight()),
}
CASES = [
    ("orthodont", "distance ~ Sex * age", "ar1", "REML"),
    ("orthodont", "distance ~ Sex * age", "ar1", "ML"),
    ("orthodont-gaps", "distance ~ Sex * age", "ar1", "REML"),
    ("bodyweight", "weight ~ Diet * time", "spexp", "REML"),
    ("bodyweight", "weight ~ Diet * time", "spexp", "ML"),
    ("bodyweight-gaps", "weight ~ Diet * time", "spexp", "REML"),
]


@pytest.mark.r
@pytest.mark.parametrize(("data", "fixed", "struct", "method"), CASES)
def test_random_intercept_with_residual_structure_matches_nlme_lme(data, fixed, struct, method):
    ro = need_r("nlme")
    d = DATA[data]()
    ours_struct = {"ar1": "ar1", "spexp": "sp_exp"}[struct]
    visit = "idx" if struct == "ar1" else "time"
    fit = fit_residual(d, fixed, ours_struct, visit=visit, subject="subj", method=method, random_intercept=True)
    out = ro.r(R_LME)(to_r(ro, d), fixed, struct, method)
    ref = {k: np.asarray(v) for k, v in zip(out.names, out, strict=True)}
    assert fit.converged
    assert fit.loglik == pytest.approx(float(ref["loglik"][0]), rel=1e-7)
    assert fit.beta == pytest.approx(ref["beta"], rel=1e-5, abs=1e-7)
    assert fit.se_beta == pytest.approx(ref["se"], rel=1e-5)
    assert fit.covparms[0].label == "Intercept"
    assert fit.covparm("Intercept").estimate == pytest.approx(float(ref["tau"][0]), rel=1e-5)
    assert fit.covparm("Residual").estimate == pytest.approx(float(ref["sigma2"][0]), rel=1e-5)
    label = "AR(1)" if struct == "ar1" else "SP(EXP)"
    assert fit.covparm(label).estimate == pytest.approx(float(ref["cor"][0]), rel=1e-4, abs=1e-6)


def test_random_intercept_is_refused_where_it_is_not_identified_or_not_implemented():
    d = _orthodont()
    for struct in ("us", "cs", "toep"):
        with pytest.raises(ModelError, match="not identified"):
            fit_residual(d, "distance ~ Sex * age", struct, visit="idx", subject="subj", random_intercept=True)
    with pytest.raises(ModelError, match="GROUP="):
        fit_residual(d, "distance ~ age", "ar1", visit="idx", subject="subj", group="Sex", random_intercept=True)


def test_random_intercept_fit_carries_the_approximate_df():
    """Satterthwaite and KR df of these fits: finite, and for one-row tests the same (KR's m is Satterthwaite's)."""
    d = _orthodont()
    fit = fit_residual(d, "distance ~ Sex * age", "ar1", visit="idx", subject="subj", random_intercept=True)
    tests = {t.effect: t for t in rside_type3(fit, ddfm="satterthwaite")}
    assert all(np.isfinite(t.den_df) and t.den_df > 1 for t in tests.values())
    kr = {t.effect: t for t in rside_type3(fit, ddfm="kr")}
    for effect in ("Sex", "age", "Sex:age"):
        assert kr[effect].den_df == pytest.approx(tests[effect].den_df, rel=1e-10)


def test_an_intercept_variance_on_its_boundary_is_left_out_of_the_df():
    """BodyWeight under AR(1): the intercept variance goes to 0, and the df are those of AR(1) alone (SAS's rule)."""
    d = _bodyweight()
    times = sorted(d["time"].unique())
    d = d.assign(idx=d["time"].map({t: i for i, t in enumerate(times)}))
    with_int = fit_residual(d, "weight ~ Diet * time", "ar1", visit="idx", subject="subj", random_intercept=True)
    plain = fit_residual(d, "weight ~ Diet * time", "ar1", visit="idx", subject="subj")
    assert any("Intercept" in m and "boundary" in m for m in with_int.messages)
    assert with_int.loglik == pytest.approx(plain.loglik, rel=1e-8)
    for ddfm in ("satterthwaite", "kr"):
        a = {t.effect: t.den_df for t in rside_type3(with_int, ddfm=ddfm)}
        b = {t.effect: t.den_df for t in rside_type3(plain, ddfm=ddfm)}
        assert a == pytest.approx(b, rel=1e-5)  # without the rule: 2% off (170.6 for 167.1)
