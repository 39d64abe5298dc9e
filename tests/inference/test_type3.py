"""Type III tests and LS-means for a G-side (random-effects) fit: the same functions, given its fixed part."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.data import load_r_dataset
from replicate.design import build_design
from replicate.engine import fit_design
from replicate.fixed_part import from_design
from replicate.inference.lsmeans import lsmean_diffs, lsmeans
from replicate.inference.sumcoding import sum_coding
from replicate.inference.type3 import type3_matrix, type3_tests, wald_f
from replicate.spec import parse_formula
from tests.rsupport import need_r, to_r

R_LME = """
function(d) {
  op <- options(contrasts = c("contr.sum", "contr.poly")); on.exit(options(op))
  f <- nlme::lme(distance ~ Sex * age, random = ~ 1 | Subject, data = d,
                 control = nlme::lmeControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 500, msMaxIter = 500))
  a <- anova(f, type = "marginal")
  list(terms = rownames(a), F = a[["F-value"]], beta = as.numeric(nlme::fixef(f)))
}
"""


def _fit():
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    d = d.assign(Subject=d["Subject"].astype(str), Sex=d["Sex"].astype(str))
    design = build_design(parse_formula("distance ~ Sex * age + (1 | Subject)"), d)
    fit = fit_design(design)
    return d, from_design(design, d, subject="Subject"), fit.fixed.to_numpy(), fit.vcov.to_numpy()


@pytest.mark.r
def test_g_side_type3_equals_lme_marginal_anova_and_lsmeans_by_hand():
    ro = need_r("nlme")
    d, part, beta, vcov = _fit()
    out = ro.r(R_LME)(to_r(ro, d))
    ref = {k: np.asarray(v) for k, v in zip(out.names, out, strict=True)}
    tests = {t.effect: t for t in type3_tests(part, beta, vcov, df=80.0)}
    for term, f in zip(ref["terms"], ref["F"], strict=True):
        if term != "(Intercept)":
            assert tests[term].f_value == pytest.approx(float(f), rel=1e-5)
    b = ref["beta"]  # contr.sum: Female +1, Male -1
    age = float(d["age"].mean())
    means = {e.levels[0]: e.estimate for e in lsmeans(part, beta, vcov, "Sex", 80.0)}
    assert means["Female"] == pytest.approx(b[0] + b[1] + (b[2] + b[3]) * age, rel=1e-6)
    assert means["Male"] == pytest.approx(b[0] - b[1] + (b[2] - b[3]) * age, rel=1e-6)


def test_one_column_type3_is_the_square_of_the_sum_coded_t():
    """With one column, F is the squared t of the sum-coded coefficient, and its L maps X_sum back to X."""
    _, part, beta, vcov = _fit()
    coding = sum_coding(part)
    assert np.allclose(part.X @ np.linalg.inv(coding.to_fit), coding.X_sum, atol=1e-9)
    L = type3_matrix(coding, "Sex")
    est, se = float(L[0] @ beta), float(np.sqrt(L[0] @ vcov @ L[0]))
    f, k = wald_f(L, beta, vcov)
    assert k == 1 and f == pytest.approx((est / se) ** 2, rel=1e-12)
    t = type3_tests(part, beta, vcov, df={"Sex": 25.0, "age": 80.0, "Sex:age": 80.0})
    assert [x.effect for x in t] == ["Sex", "age", "Sex:age"] and t[0].den_df == 25.0
    assert t[0].chisq == pytest.approx(t[0].f_value) and t[0].p_chisq < 1
    diff = lsmean_diffs(part, beta, vcov, "Sex", 25.0)
    assert len(diff) == 1 and diff[0].se > 0 and diff[0].df == 25.0
