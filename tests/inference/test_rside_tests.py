"""LS-means, DIFF and Type III tests of repeated-measures fits (issue #16).

Checked against live R: nlme ``anova(gls, type = "marginal")`` under ``contr.sum`` for the F
statistics, LS-means by hand from gls's own coefficients (L'beta written out for the model), and
emmeans (Debian's r-cran-emmeans) where it is installed. Without R the coding invariance, the
between-within df by their definition and the errors are checked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.errors import ModelError, NotImplementedOption
from replicate.inference.rside_tests import residual_df, rside_lsmeans, rside_type3
from tests.rsupport import data_file, need_r, to_r

R_GLS = """
function(d, fixed, struct) {
  op <- options(contrasts = c("contr.sum", "contr.poly")); on.exit(options(op))
  ctl <- nlme::glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 1000, msMaxIter = 1000)
  cor <- switch(struct, us = nlme::corSymm(form = ~ idx | subj), cs = nlme::corCompSymm(form = ~ idx | subj),
                ar1 = nlme::corAR1(form = ~ idx | subj))
  w <- if (struct == "us") nlme::varIdent(form = ~ 1 | idx) else NULL
  f <- nlme::gls(stats::as.formula(fixed), data = d, correlation = cor, weights = w, control = ctl)
  a <- anova(f, type = "marginal")
  list(terms = rownames(a), F = a[["F-value"]], numdf = a[["numDF"]], ddf = attr(a, "label"),
       beta = as.numeric(coef(f)), names = names(coef(f)), vcov = as.matrix(vcov(f)),
       dendf = f$dims$N - f$dims$p)
}
"""

R_EMMEANS = """
function(d, fixed, struct, spec, at) {
  ctl <- nlme::glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 1000, msMaxIter = 1000)
  f <- if (struct == "us") nlme::gls(stats::as.formula(fixed), data = d, correlation = nlme::corSymm(form = ~ idx | subj),
                                     weights = nlme::varIdent(form = ~ 1 | idx), control = ctl)
       else nlme::gls(stats::as.formula(fixed), data = d, correlation = nlme::corAR1(form = ~ idx | subj), control = ctl)
  em <- emmeans::emmeans(f, stats::as.formula(spec), at = at, data = d, mode = "df.error")
  s <- as.data.frame(summary(em)); p <- as.data.frame(summary(graphics::pairs(em, reverse = FALSE)))
  list(est = s$emmean, se = s$SE, dest = p$estimate, dse = p$SE)
}
"""


def _orthodont():
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    d = d.assign(
        idx=((d["age"] - 6) // 2).astype(int),
        subj=d["Subject"].astype(str),
        Sex=d["Sex"].astype(str),
        agef=d["age"].astype(int).map(lambda a: f"a{a:02d}"),
    )
    return d.sort_values(["subj", "idx"]).reset_index(drop=True)


def _autism():
    d = pd.read_csv(data_file("autism.csv")).dropna()
    d = d.assign(
        idx=d["age"].map({2: 1, 3: 2, 5: 3, 9: 4, 13: 5}),
        subj=d["childid"].astype(str),
        sicd=d["sicdegp"].astype(int).map(lambda g: f"g{g}"),
    )
    return d.sort_values(["subj", "idx"]).reset_index(drop=True)


def _gls(ro, fun, d, *args):
    out = ro.r(fun)(to_r(ro, d), *args)
    return {k: np.asarray(v) for k, v in zip(out.names, out, strict=True)}


CASES = [
    ("orthodont", "distance ~ Sex * agef", "us"),
    ("orthodont", "distance ~ Sex * age", "ar1"),
    ("autism", "vsae ~ sicd * age", "cs"),
]


@pytest.mark.r
@pytest.mark.parametrize(("data", "fixed", "struct"), CASES)
def test_type3_f_equals_nlme_marginal_anova_with_sum_contrasts(data, fixed, struct):
    ro = need_r("nlme")
    d = _orthodont() if data == "orthodont" else _autism()
    fit = fit_residual(d, fixed, struct, visit="idx", subject="subj")
    ref = _gls(ro, R_GLS, d, fixed, struct)
    tests = {t.effect: t for t in rside_type3(fit, ddfm="residual")}
    for term, f, k in zip(ref["terms"], ref["F"], ref["numdf"], strict=True):
        if term == "(Intercept)":
            continue
        assert tests[term].num_df == int(k)
        assert tests[term].f_value == pytest.approx(float(f), rel=1e-5)
        assert tests[term].den_df == float(ref["dendf"][0])


@pytest.mark.r
def test_lsmeans_by_hand_from_gls_coefficients():
    """distance ~ Sex * age under contr.sum (Female = +1, Male = -1): LS-mean = b0 +/- bSex + (bage +/- bint) * age."""
    ro = need_r("nlme")
    d = _orthodont()
    fit = fit_residual(d, "distance ~ Sex * age", "ar1", visit="idx", subject="subj")
    b = _gls(ro, R_GLS, d, "distance ~ Sex * age", "ar1")["beta"]
    for at in (float(d["age"].mean()), 9.0):
        want = {
            "Female": b[0] + b[1] + (b[2] + b[3]) * at,
            "Male": b[0] - b[1] + (b[2] - b[3]) * at,
        }
        got = rside_lsmeans(fit, "Sex", at=None if at != 9.0 else {"age": at})
        for e in got:
            assert e.estimate == pytest.approx(want[e.levels[0]], rel=1e-6)
        diff = rside_lsmeans(fit, "Sex", at=None if at != 9.0 else {"age": at}, diff=True)
        assert diff[0].levels == ("Female",) and diff[0].other == ("Male",)
        assert diff[0].estimate == pytest.approx(want["Female"] - want["Male"], rel=1e-6)


@pytest.mark.parametrize(
    ("fixed", "struct", "spec", "at"),
    [
        ("distance ~ Sex * agef", "us", "~ Sex", {}),
        ("distance ~ Sex * agef", "us", "~ Sex * agef", {}),
        ("distance ~ Sex * age", "ar1", "~ Sex", {"age": 11.0}),
    ],
)
@pytest.mark.r
def test_lsmeans_and_differences_against_emmeans(fixed, struct, spec, at):
    ro = need_r("nlme", "emmeans")
    d = _orthodont()
    fit = fit_residual(d, fixed, struct, visit="idx", subject="subj")
    ref = _gls(ro, R_EMMEANS, d, fixed, struct, spec, ro.r["list"](**at))
    effect = spec.strip("~ ")
    means = rside_lsmeans(fit, effect, at=at or None, ddfm="residual")
    # emmeans lists the first factor fastest; ours the last: compare as sets keyed by value order
    assert sorted(e.estimate for e in means) == pytest.approx(sorted(ref["est"]), rel=1e-5)
    assert sorted(e.se for e in means) == pytest.approx(sorted(ref["se"]), rel=1e-4)
    diffs = rside_lsmeans(fit, effect, at=at or None, ddfm="residual", diff=True)
    assert sorted(abs(e.estimate) for e in diffs) == pytest.approx(sorted(np.abs(ref["dest"])), rel=1e-5)
    assert sorted(e.se for e in diffs) == pytest.approx(sorted(ref["dse"]), rel=1e-4)


def test_results_do_not_depend_on_the_reference_level():
    d = _orthodont()
    other = d.assign(Sex=pd.Categorical(d["Sex"], categories=["Male", "Female"]))
    a = fit_residual(d, "distance ~ Sex * agef", "cs", visit="idx", subject="subj")
    b = fit_residual(other, "distance ~ Sex * agef", "cs", visit="idx", subject="subj")
    assert a.fixed_names != b.fixed_names
    fa = {t.effect: t.f_value for t in rside_type3(a, ddfm="residual")}
    fb = {t.effect: t.f_value for t in rside_type3(b, ddfm="residual")}
    assert fa == pytest.approx(fb, rel=1e-6)
    la = {e.levels: e.estimate for e in rside_lsmeans(a, "Sex*agef", ddfm="residual")}
    lb = {e.levels: e.estimate for e in rside_lsmeans(b, "agef:Sex", ddfm="residual")}
    assert len(la) == 8 and la == pytest.approx({k: lb[k] for k in la}, rel=1e-6)
    # an LS-mean of a cell of the full factorial model is the cell's fitted mean
    cell = rside_lsmeans(a, "Sex*agef", ddfm="residual")[0]
    X_cell = a.fixed_part.X[(d["Sex"] == cell.levels[0]).to_numpy() & (d["agef"] == cell.levels[1]).to_numpy()][0]
    assert cell.estimate == pytest.approx(float(X_cell @ a.beta), rel=1e-10)


def test_between_within_df_by_their_definition():
    d = _orthodont()
    n, s = len(d), d["subj"].nunique()
    ar1 = fit_residual(d, "distance ~ Sex * age", "ar1", visit="idx", subject="subj")
    df = {t.effect: t.den_df for t in rside_type3(ar1)}
    # between columns: intercept and Sex (rank 2); within: age and Sex:age
    assert df == {"Sex": s - 2, "age": n - s - 2, "Sex:age": n - s - 2}
    un = fit_residual(d, "distance ~ Sex * age", "us", visit="idx", subject="subj")
    assert {t.den_df for t in rside_type3(un)} == {s - 2}  # SAS: TYPE=UN gives every effect the between df
    assert {e.df for e in rside_lsmeans(un, "Sex")} == {s - 2}
    assert residual_df(ar1.fixed_part) == n - 4
    cs = fit_residual(d, "distance ~ Sex * agef", "cs", visit="idx", subject="subj")
    # two within-subject CLASS effects: SAS's subject-by-effect split, the split plot's (4 - 1)(27 - 2)
    assert {t.effect: t.den_df for t in rside_type3(cs)} == {"Sex": s - 2, "agef": 75, "Sex:agef": 75}
    assert {t.den_df for t in rside_type3(cs, ddfm="residual")} == {n - 8}


def test_errors_name_the_problem():
    d = _orthodont()
    fit = fit_residual(d, "distance ~ Sex * age + ar1(idx | subj)")
    with pytest.raises(ModelError, match="not a term of the model"):
        rside_lsmeans(fit, "agef")
    with pytest.raises(ModelError, match="CLASS variable"):
        rside_lsmeans(fit, "Sex", at={"Sex": 1.0})
    with pytest.raises(ModelError, match="not a covariate"):
        rside_lsmeans(fit, "Sex", at={"height": 1.0})
    with pytest.raises(ModelError, match="ddfm 'kr3' unknown"):
        rside_type3(fit, ddfm="kr3")  # kr, kr2 and satterthwaite exist (test_rside_df.py)
    nomargin = fit_residual(d, "distance ~ Sex:agef + ar1(idx | subj)")
    with pytest.raises(NotImplementedOption, match="margins"):
        rside_type3(nomargin, ddfm="residual")
