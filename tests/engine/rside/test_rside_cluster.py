"""Subjects in clusters: a random intercept per cluster over the residual structure (issue #16, item 4).

``fit_residual(..., cluster="school")`` is ``y ~ x + (1 | school) + ar1(time | student)``: live against
``nlme::lme(random = ~ 1 | school, correlation = corAR1(form = ~ idx | school/student))`` (and with a
student intercept too, ``random = ~ 1 | school/student``) on simulated data with visits missing,
by REML and ML: log-likelihood to 1e-7, fixed effects, SEs and the covariance parameters to 1e-5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.engine.rside import fit_residual
from replicate.errors import ModelError
from replicate.inference.rside_tests import rside_type3
from tests.rsupport import need_r, to_r

R_LME = """
function(d, method, student_intercept) {
  ctl <- nlme::lmeControl(tolerance = 1e-10, msTol = 1e-12, maxIter = 1000, msMaxIter = 1000, niterEM = 0)
  random <- if (student_intercept) ~ 1 | school/student else ~ 1 | school
  f <- do.call(nlme::lme, list(fixed = y ~ x + time, random = random, data = d, method = method, control = ctl,
                                correlation = nlme::corAR1(form = ~ idx | school/student)))
  vc <- suppressWarnings(as.numeric(nlme::VarCorr(f)[, "Variance"]))
  list(loglik = as.numeric(logLik(f)), beta = as.numeric(nlme::fixef(f)), se = sqrt(diag(vcov(f))),
       vc = vc[!is.na(vc)], sigma2 = f$sigma^2,
       phi = as.numeric(coef(f$modelStruct$corStruct, unconstrained = FALSE)))
}
"""


def simulate(n_schools: int = 25, n_students: int = 6, k: int = 5, seed: int = 1604) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_schools):
        u = rng.normal(scale=1.2)
        for i in range(n_students):
            b = rng.normal(scale=0.7)
            e = np.zeros(k)
            e[0] = rng.normal()
            for t in range(1, k):
                e[t] = 0.6 * e[t - 1] + rng.normal(scale=0.8)
            for t in range(k):
                x = rng.normal()
                rows.append((f"s{s:02d}", f"p{i}", t + 1, x, 1 + 0.5 * x + 0.3 * (t + 1) + u + b + e[t]))
    d = pd.DataFrame(rows, columns=["school", "student", "idx", "x", "y"])
    d["time"] = d["idx"].astype(float)
    return d.drop(index=d.index[6::11]).reset_index(drop=True)  # some visits missing


@pytest.mark.r
@pytest.mark.parametrize(("method", "student_intercept"), [("REML", False), ("ML", False), ("REML", True)])
def test_cluster_intercept_over_ar1_matches_nlme_lme(method, student_intercept):
    ro = need_r("nlme")
    d = simulate()
    fit = fit_residual(
        d,
        "y ~ x + time",
        "ar1",
        visit="idx",
        subject="student",
        cluster="school",
        method=method,
        random_intercept=student_intercept,
    )
    out = ro.r(R_LME)(to_r(ro, d), method, student_intercept)
    ref = {k: np.asarray(v) for k, v in zip(out.names, out, strict=True)}
    assert fit.converged, fit.messages
    assert fit.n_subjects == 150 and fit.loglik == pytest.approx(float(ref["loglik"][0]), rel=1e-7)
    assert fit.beta == pytest.approx(ref["beta"], rel=1e-5)
    assert fit.se_beta == pytest.approx(ref["se"], rel=1e-5)
    # VarCorr: school, [student,] residual
    assert fit.covparm("Intercept(school)").estimate == pytest.approx(float(ref["vc"][0]), rel=1e-5)
    assert fit.covparm("Residual").estimate == pytest.approx(float(ref["sigma2"][0]), rel=1e-5)
    assert fit.covparm("AR(1)").estimate == pytest.approx(float(ref["phi"][0]), rel=1e-5)
    if student_intercept:
        assert fit.covparm("Intercept").estimate == pytest.approx(float(ref["vc"][1]), rel=1e-5)
    assert all(np.isfinite(c.se) and c.se > 0 for c in fit.covparms)


def test_cluster_fit_refuses_what_it_does_not_compute():
    d = simulate(n_schools=6)
    fit = fit_residual(d, "y ~ x + time", "ar1", visit="idx", subject="student", cluster="school")
    assert rside_type3(fit, ddfm="residual")[0].den_df == fit.n - 3
    for ddfm in ("betwithin", "kr", "kr(firstorder)"):
        with pytest.raises(ModelError):
            rside_type3(fit, ddfm=ddfm)
    with pytest.raises(ModelError, match="cluster"):
        fit_residual(d.assign(w=1.0), "y ~ x", "ar1", visit="idx", subject="student", cluster="school", weights="w")


def test_one_subject_per_cluster_is_a_subject_intercept_and_gives_its_satterthwaite_df():
    """cluster= with one subject per cluster is random_intercept=True: same fit, same (numerical) df."""
    d = simulate(n_schools=40, n_students=1)
    clustered = fit_residual(d, "y ~ x + time", "ar1", visit="idx", subject="student", cluster="school")
    d["sid"] = d["school"] + d["student"]
    plain = fit_residual(d, "y ~ x + time", "ar1", visit="idx", subject="sid", random_intercept=True)
    assert clustered.loglik == pytest.approx(plain.loglik, rel=1e-9)
    assert [c.estimate for c in clustered.covparms] == pytest.approx([c.estimate for c in plain.covparms], rel=1e-5)
    assert clustered.covparm_vcov == pytest.approx(plain.covparm_vcov, rel=1e-4)
    a = {t.effect: t.den_df for t in rside_type3(clustered, ddfm="satterthwaite")}
    b = {t.effect: t.den_df for t in rside_type3(plain, ddfm="satterthwaite")}
    assert a == pytest.approx(b, rel=1e-4)
