"""SAS's Tests of Effect Slices (LSMEANS / SLICE=) and the Type 3 CHISQ columns of repeated-measures fits
(issue #16).

Checked against: nlme's ``anova(gls, L = ...)`` F test of each slice's rows (the simple-effect contrasts
emmeans builds, ``contrast(emmeans(f, ~ agef | Sex), "consec")@linfct``), live; a slice of two levels, whose F
is the square of the t of the two LS-means' difference; and the Wald chi-square, q times the F.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.errors import ModelError
from replicate.inference.rside_slices import rside_slices
from replicate.inference.rside_tests import rside_lsmeans, rside_type3
from replicate.inference.sumcoding import sum_coding
from replicate.quantities.rside_slices import slice_level
from tests.rsupport import need_r, to_r

AGES = ["8", "10", "12", "14"]


def _orthodont() -> pd.DataFrame:
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    return d.assign(
        idx=((d["age"] - 6) // 2).astype(int),
        Sex=pd.Categorical(d["Sex"].astype(str), categories=["Male", "Female"]),
        agef=pd.Categorical(d["age"].astype(int).astype(str), categories=AGES),
    )


@pytest.fixture(scope="module")
def fit():
    return fit_residual(_orthodont(), "distance ~ Sex * agef", "ar1", visit="idx", subject="Subject")


R_SLICES = """
function(d) {
  d$agef <- factor(d$agef, levels = c("8", "10", "12", "14")); d$Sex <- factor(d$Sex, levels = c("Male", "Female"))
  ctl <- nlme::glsControl(tolerance = 1e-12, msTol = 1e-12, maxIter = 1000, msMaxIter = 1000)
  f <- nlme::gls(distance ~ Sex * agef, data = d, correlation = nlme::corAR1(form = ~ idx | Subject),
                 method = "REML", control = ctl)
  con <- emmeans::contrast(emmeans::emmeans(f, ~ agef | Sex, data = d), "consec")
  L <- con@linfct; by <- con@grid$Sex
  out <- sapply(levels(by), function(s) {
    a <- anova(f, L = L[by == s, , drop = FALSE])
    c(a[["numDF"]], a[["F-value"]], a[["p-value"]], f$dims$N - f$dims$p)
  })
  list(levels = colnames(out), values = out)
}
"""


@pytest.mark.r
def test_slices_are_nlmes_f_tests_of_the_simple_effects(fit):
    ro = need_r("nlme", "emmeans")
    d = _orthodont()
    out = ro.r(R_SLICES)(to_r(ro, d.assign(Sex=d["Sex"].astype(str), agef=d["agef"].astype(str))))
    levels = [str(s) for s in out.rx2("levels")]
    values = np.asarray(out.rx2("values")).reshape(4, len(levels), order="F")
    engine = rside_slices(fit, "Sex:agef", "Sex", ddfm="residual")
    assert set(levels) == set(engine) == {"Male", "Female"}
    for j, level in enumerate(levels):
        num, f, p, den = values[:, j]
        t = engine[level]
        assert t.num_df == num == 3 and t.den_df == den == 100
        assert t.f_value == pytest.approx(f, rel=1e-6)
        assert t.p_value == pytest.approx(p, rel=1e-5)


def test_a_two_level_slice_is_the_square_of_the_differences_t(fit):
    for ddfm in ("betwithin", "satterthwaite"):
        slices = rside_slices(fit, "Sex:agef", "agef", ddfm=ddfm)
        diffs = {(e.levels, e.other): e for e in rside_lsmeans(fit, "Sex:agef", ddfm=ddfm, diff=True)}
        for age in AGES:
            e = diffs[(("Male", age), ("Female", age))]
            assert slices[age].num_df == 1
            assert slices[age].f_value == pytest.approx(e.t**2, rel=1e-10)
            assert slices[age].den_df == pytest.approx(e.df, rel=1e-8)
            assert slices[age].p_value == pytest.approx(e.p_value, rel=1e-8)


def test_between_within_slices_take_the_interactions_df(fit):
    interaction = {t.effect: t for t in rside_type3(fit, ddfm="betwithin")}["Sex:agef"]
    for t in rside_slices(fit, "Sex:agef", "Sex", ddfm="betwithin").values():
        assert t.den_df == interaction.den_df


def test_type3_chisq_is_q_times_f(fit):
    for t in rside_type3(fit, ddfm="betwithin"):
        assert t.chisq == pytest.approx(t.num_df * t.f_value, rel=1e-12)
        assert t.p_chisq == pytest.approx(float(stats.chi2.sf(t.chisq, t.num_df)), rel=1e-10)


@pytest.mark.parametrize(
    ("effect", "text", "words"),
    [
        ("Sex:agef", "Sex", "not '<variable> <level>'"),
        ("Sex:agef", "Race Male", "one CLASS variable of an interaction"),
        ("Sex", "Sex Male", "one CLASS variable of an interaction"),
        ("Sex:agef", "Sex Boy", "not a level"),
    ],
)
def test_a_slice_the_model_lacks_is_refused(fit, effect, text, words):
    with pytest.raises(ModelError) as info:
        slice_level(sum_coding(fit.fixed_part), effect, text)
    assert words in info.value.message and info.value.hint
