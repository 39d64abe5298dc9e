"""Type III F tests with Satterthwaite df, against lmerTest's ``anova(fit, type = 3)``.

Models on High School and Beyond (nlme::MathAchieve) with a three-level factor
cut from SES: main effects, factor x factor and factor x covariate interactions
(where lmerTest's Type III contrasts differ from plain column tests), and
sleepstudy with Days grouped into three periods (a single term: lmerTest then
uses Type I contrasts). R-backed tests skip when R cannot be loaded and fail
under REPLICATE_REQUIRE_R=1; data go to R as data frames through pandas2ri,
with unordered factors (an ordered one would get polynomial contrasts in R).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.design import build_design
from replicate.errors import ModelError, NotImplementedOption
from replicate.inference.ftests import anova_type3, fixed_structure, match_pieces, type3_contrasts
from replicate.inference.satterthwaite import satterthwaite_df
from replicate.spec import parse_formula
from tests.rsupport import fit_formula as _fit
from tests.rsupport import from_r as _from_r
from tests.rsupport import need_r as _need_r
from tests.rsupport import to_r as _to_r

COLS = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]


@pytest.fixture(scope="module")
def ro():
    return _need_r("lme4", "lmerTest")


@pytest.fixture(scope="module")
def hsb(ro) -> pd.DataFrame:
    from replicate.rbridge import r_dataset

    frame = r_dataset("nlme", "MathAchieve")
    frame["SESgrp"] = pd.cut(frame["SES"], [-np.inf, -0.5, 0.3, np.inf], labels=["low", "mid", "high"], ordered=False)
    _to_r(ro, frame, ".ft_hsb")
    return frame


@pytest.fixture(scope="module")
def sleep(ro) -> pd.DataFrame:
    from replicate.rbridge import r_dataset

    frame = r_dataset("lme4", "sleepstudy")
    frame["period"] = pd.cut(frame["Days"], [-1, 2, 5, 9], labels=["early", "middle", "late"], ordered=False)
    _to_r(ro, frame, ".ft_sleep")
    return frame


TIGHT = "lme4::lmerControl(optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, ftol_rel = 1e-15, xtol_rel = 1e-12))"


def _lmertest(ro, formula: str, data: str, tight: bool = False) -> pd.DataFrame:
    ro.globalenv[".ft_formula"] = ro.Formula(formula)
    control = f", control = {TIGHT}" if tight else ""
    return _from_r(ro, f"as.data.frame(anova(lmerTest::lmer(.ft_formula, data = {data}{control}), type = 3))")


def _compare(ours: pd.DataFrame, theirs: pd.DataFrame, rtol: float = 1e-6) -> None:
    assert list(ours.columns) == COLS
    assert list(ours.index) == list(theirs.index)
    np.testing.assert_array_equal(ours["NumDF"].to_numpy(), theirs["NumDF"].to_numpy())
    for c in ["F value", "Sum Sq", "Mean Sq", "DenDF"]:
        np.testing.assert_allclose(ours[c], theirs[c], rtol=rtol)
    np.testing.assert_allclose(ours["Pr(>F)"], theirs["Pr(>F)"], rtol=100 * rtol)


@pytest.mark.parametrize(
    "formula",
    [
        "MathAch ~ SESgrp + Sex + MEANSES + (1 | School)",
        "MathAch ~ SESgrp * Sex + MEANSES + (1 | School)",
        "MathAch ~ SESgrp * MEANSES + (1 | School)",
    ],
)
@pytest.mark.r
def test_type3_matches_lmertest_hsb(formula, ro, hsb):
    fit, design = _fit(formula, hsb)
    _compare(anova_type3(fit, design), _lmertest(ro, formula, ".ft_hsb"))


@pytest.mark.r
def test_type3_hypotheses_equal_lmertest(ro, hsb):
    formula = "MathAch ~ SESgrp * Sex + (1 | School)"
    ro.globalenv[".ft_formula"] = ro.Formula(formula)
    ro.r(".ft_a <- anova(lmerTest::lmer(.ft_formula, data = .ft_hsb), type = 3)")
    _, design = _fit(formula, hsb)
    ours = type3_contrasts(design)
    assert list(ours) == list(ro.r("names(attr(.ft_a, 'hypotheses'))"))
    for i, (label, L) in enumerate(ours.items(), start=1):
        theirs = np.array(ro.r(f"attr(.ft_a, 'hypotheses')[[{i}]]"))
        np.testing.assert_allclose(L, theirs, atol=1e-7, err_msg=label)
    # the interaction makes SESgrp's hypothesis average over Sex (not a test of the low-level columns)
    assert np.count_nonzero(ours["SESgrp"]) > 2


@pytest.mark.r
def test_single_term_uses_type1_contrasts_as_lmertest(ro, sleep):
    formula = "Reaction ~ period + (1 | Subject)"
    fit, design = _fit(formula, sleep)
    ours = anova_type3(fit, design)
    _compare(ours, _lmertest(ro, formula, ".ft_sleep"))
    assert ours["NumDF"].iloc[0] == 2


@pytest.mark.r
def test_random_slope_model(ro, sleep):
    formula = "Reaction ~ period + Days + (Days | Subject)"
    fit, design = _fit(formula, sleep)
    # lme4's default optimizer stops ~1e-4 short of the optimum here (DenDF 84.843 vs 84.859):
    # compare with lme4 run to tight tolerances
    _compare(anova_type3(fit, design), _lmertest(ro, formula, ".ft_sleep", tight=True), rtol=1e-5)


@pytest.mark.r
def test_one_df_terms_are_satterthwaite_t_squared(ro, hsb):
    fit, design = _fit("MathAch ~ SES + MEANSES + (1 | School)", hsb)
    tab = anova_type3(fit, design)
    t = fit.fixed / fit.se
    np.testing.assert_allclose(tab["F value"], t[["SES", "MEANSES"]] ** 2, rtol=1e-10)
    np.testing.assert_allclose(tab["DenDF"], satterthwaite_df(fit, design)[["SES", "MEANSES"]], rtol=1e-8)


@pytest.mark.r
def test_kenward_roger_f_matches_lmertest(ro, hsb):
    """lmerTest's anova(type = 3, ddf = "Kenward-Roger"), which calls pbkrtest."""
    formula = "MathAch ~ SESgrp + MEANSES + (1 | School)"
    fit, design = _fit(formula, hsb)
    ours = anova_type3(fit, design, ddf="Kenward-Roger")
    ro.globalenv[".ft_formula"] = ro.Formula(formula)
    theirs = _from_r(
        ro, "as.data.frame(anova(lmerTest::lmer(.ft_formula, data = .ft_hsb), type = 3, ddf = 'Kenward-Roger'))"
    )
    # pbkrtest scales F by a factor within 1e-4 of 1 here; lme4's default optimizer adds ~1e-6
    _compare(ours, theirs, rtol=2e-4)
    with pytest.raises(ModelError):
        anova_type3(fit, design, ddf="containment")


# ------------------------------------------------------------- without R


def test_match_pieces():
    assert match_pieces("fb:x", ("f", "x")) == {"f": "b", "x": ""}
    assert match_pieces("x:fb", ("f", "x")) == {"x": "", "f": "b"}
    assert match_pieces("x2", ("x", "x2")[1:]) == {"x2": ""}
    assert match_pieces("gB:ff1", ("f", "g", "ff")[1:]) == {"g": "B", "ff": "1"}
    assert match_pieces("z", ("f",)) is None


def test_fixed_structure_and_cells():
    rng = np.random.default_rng(3)
    n = 120
    frame = pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "g": np.repeat(np.arange(12), 10),
            "f": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "h": pd.Categorical(rng.choice(["u", "v"], n)),
        }
    )
    design = build_design(parse_formula("y ~ f * h + f:x + x + (1 | g)"), frame)
    fs = fixed_structure(design)
    assert fs.labels == ("f", "h", "x", "f:h", "f:x")
    assert fs.intercept and set(fs.factors) == {"f", "h"} and len(fs.factors["f"]) == 3
    hyps = type3_contrasts(design)
    assert [h.shape[0] for h in hyps.values()] == [2, 1, 1, 2, 2]
    # hypotheses of the highest-order terms test their own columns only
    cols = list(design.fixed_names)
    for label in ("f:h", "f:x"):
        own = [i for i, c in enumerate(cols) if design.column_term[i] in (label, ":".join(label.split(":")[::-1]))]
        H = hyps[label]
        assert np.allclose(np.delete(H, own, axis=1), 0)
    # sas-style coding (last level as reference) gives the same hypothesis space for f
    design_sas = build_design(parse_formula("y ~ f * h + f:x + x + (1 | g)"), frame, contrasts="sas")
    f_sas = type3_contrasts(design_sas)["f"]
    assert f_sas.shape == (2, design_sas.p)


def test_rank_deficient_designs_are_refused():
    rng = np.random.default_rng(4)
    n = 60
    frame = pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "g": np.repeat(np.arange(6), 10),
            "f": pd.Categorical(np.tile(["a", "b", "c"], 20)),
            "h": pd.Categorical(np.tile(["u", "v", "w"], 20)),
        }
    )
    design = build_design(parse_formula("y ~ f * h + (1 | g)"), frame)  # f and h are confounded
    assert design.dropped_fixed
    with pytest.raises(NotImplementedOption):
        type3_contrasts(design)
