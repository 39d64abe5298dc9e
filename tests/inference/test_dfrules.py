"""Rule-based denominator df: nlme (live through rpy2), SAS containment and
between-within (their documented definitions on hand-checkable designs) and HLM
(published HLM2 output and the R&B rules).

nlme tests skip when R cannot be loaded, saying why, and fail instead when
REPLICATE_REQUIRE_R=1. Data go to R as data frames through pandas2ri.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.design import build_design
from replicate.errors import ModelError, NotImplementedOption
from replicate.inference.dfrules import (
    between_within_df,
    containment_df,
    containment_ranks,
    hlm_df,
    nlme_df,
    residual_df,
    variable_levels,
)
from replicate.spec import parse_formula, parse_levels
from tests.rsupport import data_file, need_r, to_r


def _design(formula: str, df: pd.DataFrame):
    spec = parse_formula(formula)
    return spec, build_design(spec, df)


def _as_dict(s: pd.Series) -> dict:
    return {k: float(v) for k, v in s.items()}


# ---------------------------------------------------------------- nlme, live

NLME = {
    "hsb": ("hsb", "MathAch ~ SES + MEANSES + (1 | School)", "MathAch ~ SES + MEANSES", "~ 1 | School"),
    "imm23": ("imm23", "math ~ homework + urban + (1 | schid)", "math ~ homework + urban", "~ 1 | schid"),
    "imm23-noint": ("imm23", "math ~ 0 + homework + urban + (1 | schid)", "math ~ 0 + homework + urban", "~ 1 | schid"),
    "classroom": (
        "classroom",
        "mathgain ~ ses + mathknow + (1 | schoolid/classid)",
        "mathgain ~ ses + mathknow",
        "~ 1 | schoolid/classid",
    ),
    "classroom-3strata": (
        "classroom",
        "mathgain ~ ses + mathknow + housepov + (1 | schoolid/classid)",
        "mathgain ~ ses + mathknow + housepov",
        "~ 1 | schoolid/classid",
    ),
    "sleepstudy-slopes": ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "Reaction ~ Days", "~ Days | Subject"),
}


def _load(name: str) -> pd.DataFrame:
    from replicate.rbridge import r_dataset

    if name == "hsb":
        return r_dataset("nlme", "MathAchieve")
    if name == "sleepstudy":
        return r_dataset("lme4", "sleepstudy")
    if name == "classroom":
        return pd.read_csv(data_file("classroom.csv")).dropna(subset=["mathknow"]).reset_index(drop=True)
    return pd.read_csv(data_file(f"{name}.csv"))


@pytest.mark.r
@pytest.mark.parametrize("key", list(NLME))
def test_nlme_df_matches_lme(key):
    ro = need_r("nlme")
    data_name, formula, fixed, random = NLME[key]
    df = _load(data_name)
    _, design = _design(formula, df)
    to_r(ro, df, ".rep_df")
    tt = ro.r(f"summary(nlme::lme({fixed}, random = {random}, data = .rep_df))$tTable")
    names = list(ro.r["rownames"](tt))
    r_df = np.array(ro.r("function(t) t[, 'DF']")(tt), dtype=float)
    ours = nlme_df(None, design)
    assert names == list(ours.index)
    np.testing.assert_array_equal(ours.to_numpy(), r_df)


def test_nlme_df_nested_by_hand():
    """a: 3 groups, b: 8 groups in a (3, 3, 2), 18 rows; x varies within b, v is b-level.

    Strata (a, b, Residual): m = (3, 8), df = (3, 8-3, 18-8) = (3, 5, 10); x is
    estimated at Residual (10-1 = 9), v at b (5-1 = 4), the intercept takes 1
    from a (2) and gets the largest (9)."""
    df = _nested_frame()
    _, design = _design("y ~ x + v + (1 | a/b)", df)
    assert _as_dict(nlme_df(None, design)) == {"(Intercept)": 9, "x": 9, "v": 4}


# ------------------------------------------------------------ hand designs


def _two_level_frame() -> pd.DataFrame:
    """4 groups of sizes 3, 3, 2, 2 (N = 10); x level 1, w level 2."""
    g = np.repeat([1, 2, 3, 4], [3, 3, 2, 2])
    x = np.array([0.3, 1.2, -0.7, 2.0, 0.1, 0.9, -1.1, 0.4, 1.7, -0.2])
    w = np.array([0.5, -1.0, 2.0, 0.25])[g - 1]
    y = np.array([1.0, 2.5, 0.2, 3.1, 1.4, 2.2, 0.3, 1.8, 2.9, 0.7])
    return pd.DataFrame({"y": y, "x": x, "w": w, "g": g})


def _nested_frame() -> pd.DataFrame:
    """a: 3 levels; b: 8 levels nested in a (3, 3, 2); 18 rows (b sizes 3,2,2,2,2,2,3,2)."""
    b = np.repeat(np.arange(8), [3, 2, 2, 2, 2, 2, 3, 2])
    a = np.array([0, 0, 0, 1, 1, 1, 2, 2])[b]
    rng = np.random.default_rng(7)
    x = rng.normal(size=b.size)
    v = np.array([0.1, 0.7, -0.4, 1.3, 0.2, -0.9, 0.6, 1.1])[b]
    y = rng.normal(size=b.size)
    return pd.DataFrame({"y": y, "x": x, "v": v, "a": a, "b": b})


def test_residual_df():
    _, design = _design("y ~ x + w + (1 | g)", _two_level_frame())
    assert _as_dict(residual_df(None, design)) == {"(Intercept)": 7, "x": 7, "w": 7}


def test_containment_random_intercept():
    """SAS: random int / subject=g is the effect g. rank X = 3; g's indicators span
    1 and w, so rank[X Z] = 4 + 1 (x) = 5: g contributes 5 - 3 = 2; residual
    10 - 5 = 5. Only the intercept is contained in g."""
    spec, design = _design("y ~ x + w + (1 | g)", _two_level_frame())
    assert containment_ranks(design, spec) == ([("g", 2)], 5)
    assert _as_dict(containment_df(None, design, spec)) == {"(Intercept)": 2, "x": 5, "w": 5}


def test_containment_random_slope():
    """random int x / subject=g: effects g and x*g, in that order. g adds 2 (as
    above: rank 5). x*g's 4 columns are independent of g's and span x (already
    in X), so rank[X Zg Zxg] = 4 + 4 = 8 and x*g adds 8 - 5 = 3; residual
    10 - 8 = 2. The intercept is in both (min 2), x in x*g (3), w in neither (2)."""
    spec, design = _design("y ~ x + w + (x | g)", _two_level_frame())
    assert containment_ranks(design, spec) == ([("g", 2), ("x*g", 3)], 2)
    assert _as_dict(containment_df(None, design, spec)) == {"(Intercept)": 2, "x": 3, "w": 2}


def test_containment_split_plot():
    """Balanced split plot: 3 blocks, whole-plot factor V (2 levels), subplot
    factor N (2 levels), 12 rows; random block block*V. rank X = 4; block adds
    b - 1 = 2; block*V adds (b-1)(v-1) = 2 (its span holds 1, V and block);
    residual 12 - 8 = 4 = v(b-1)(n-1). V is contained in block*V: 2 (the
    whole-plot error df); N and V:N in nothing: 4 (the subplot error df)."""
    rows = [(blk, v, n) for blk in "123" for v in "ab" for n in "xy"]
    df = pd.DataFrame(rows, columns=["block", "V", "N"])
    df["y"] = np.arange(12.0) ** 1.5 % 7
    spec, design = _design("y ~ V * N + (1 | block) + (1 | block:V)", df)
    contrib, resid = containment_ranks(design, spec)
    assert contrib == [("block", 2), ("block:V", 2)] and resid == 4
    assert _as_dict(containment_df(None, design, spec)) == {"(Intercept)": 2, "Vb": 2, "Ny": 4, "Vb:Ny": 4}


def test_containment_nested():
    """a (3) then b in a (8), X = [1, x, v] with v b-level. rank X = 3; a adds 2
    (its span holds 1); b adds 8 + 1 (x) - 5 = 4 (its span holds a, 1 and v);
    residual 18 - 9 = 9. Intercept: min(2, 4) = 2; x, v: 9."""
    spec, design = _design("y ~ x + v + (1 | a/b)", _nested_frame())
    assert containment_ranks(design, spec) == ([("a", 2), ("b:a", 4)], 9)
    assert _as_dict(containment_df(None, design, spec)) == {"(Intercept)": 2, "x": 9, "v": 9}


def test_between_within_two_level():
    """Subject g (4). Between columns 1 and w: 4 - 2 = 2; residual 10 - 3 = 7,
    so within = 7 - 2 = 5 for x."""
    spec, design = _design("y ~ x + w + (1 | g)", _two_level_frame())
    assert _as_dict(between_within_df(None, design, spec)) == {"(Intercept)": 2, "x": 5, "w": 2}


def test_between_within_nested_and_subject():
    """Subject a (3, default: fewest levels): between = 3 - 1 = 2 (v varies within
    a); within = (18 - 3) - 2 = 13. Naming b as the subject is refused (a is not
    nested in b); in a model with b alone, v is between: 8 - 2 = 6, within
    15 - 6 = 9."""
    spec, design = _design("y ~ x + v + (1 | a/b)", _nested_frame())
    assert _as_dict(between_within_df(None, design, spec)) == {"(Intercept)": 2, "x": 13, "v": 13}
    with pytest.raises(ModelError, match="not nested"):
        between_within_df(None, design, spec, subject="b:a")
    spec2, design2 = _design("y ~ x + v + (1 | b)", _nested_frame())
    assert _as_dict(between_within_df(None, design2, spec2)) == {"(Intercept)": 6, "x": 9, "v": 6}


def test_between_within_refuses_partition():
    rows = [(blk, v, n) for blk in "123" for v in "ab" for n in "xy"]
    df = pd.DataFrame(rows, columns=["block", "V", "N"])
    df["y"] = np.arange(12.0) % 5
    spec, design = _design("y ~ V * N + (1 | block)", df)
    with pytest.raises(NotImplementedOption):
        between_within_df(None, design, spec)


# --------------------------------------------------------------------- HLM


def _groups_frame(J: int, N: int, seed: int = 0) -> pd.DataFrame:
    """J groups with sizes as equal as possible summing to N."""
    sizes = np.full(J, N // J)
    sizes[: N - sizes.sum()] += 1
    g = np.repeat(np.arange(J), sizes)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"g": g, "y": rng.normal(size=N), "x": rng.normal(size=N), "w": rng.normal(size=J)[g]})


def test_hlm_seed_000_urban():
    """Seed 000: 126 schools. URBAN (a school variable) entered at level 1 as a
    fixed slope: intercept 125 = J - 1, URBAN 692; at level 2: 124 and 124 =
    J - 1 - 1. N is not given in the seed; 694 is what 692 implies under the
    level-1 rule N - p that Hox's and Snijders & Bosker's outputs show."""
    df = _groups_frame(126, 694).rename(columns={"y": "POSTTEST", "w": "URBAN", "g": "school"})
    lv1 = parse_levels({1: "POSTTEST = b0 + b1*URBAN + r", 2: ["b0 = g00 + u0", "b1 = g10"]}, {2: "school"})
    d1 = build_design(lv1, df)
    assert _as_dict(hlm_df(None, d1, lv1)) == {"(Intercept)": 125, "URBAN": 692}
    lv2 = parse_levels({1: "POSTTEST = b0 + r", 2: ["b0 = g00 + g01*URBAN + u0"]}, {2: "school"})
    d2 = build_design(lv2, df)
    assert _as_dict(hlm_df(None, d2, lv2)) == {"(Intercept)": 124, "URBAN": 124}
    # the same model as a formula: URBAN is constant within schools, so level 2
    spec, d3 = _design("POSTTEST ~ URBAN + (1 | school)", df)
    assert _as_dict(hlm_df(None, d3, spec)) == {"(Intercept)": 124, "URBAN": 124}


@pytest.mark.parametrize(
    "J, N, expected",
    [
        (100, 2000, (99, 1998)),  # Hox, popularity data, SEX fixed (UCLA ATS HLM examples, Hox ch. 4)
        (131, 2287, (130, 2285)),  # Snijders & Bosker ex. 4.2, IQ_VERB fixed (UCLA ATS HLM examples)
    ],
)
def test_hlm_fixed_level1_slope(J, N, expected):
    df = _groups_frame(J, N)
    spec, design = _design("y ~ x + (1 | g)", df)
    assert tuple(hlm_df(None, design, spec)) == expected
    assert tuple(hlm_df(None, design, spec, fixed_rule="n-q-1")) == expected


def test_hlm_published_imm():
    """HLM2 on Kreft & de Leeuw's data (UCLA ATS HLM examples): imm23 null model
    df 22; imm10 with a random HOMEWORK slope, df 9 and 9."""
    imm23 = pd.read_csv(data_file("imm23.csv"))
    spec, design = _design("math ~ 1 + (1 | schid)", imm23)
    assert _as_dict(hlm_df(None, design, spec)) == {"(Intercept)": 22}
    imm10 = pd.read_csv(data_file("imm10.csv"))
    spec, design = _design("math ~ homework + (homework | schid)", imm10)
    assert _as_dict(hlm_df(None, design, spec)) == {"(Intercept)": 9, "homework": 9}


def test_hlm_equations_from_formula():
    """x level 1 with random slope, w level 2 predicting both beta_0 and beta_1
    (x:w is gamma_11): S_0 = S_1 = 1, so every df is J - 2. With the slope
    fixed, x and x:w take the level-1 rule: N - p (p = 4) or N - Q - 1 (Q = 1)."""
    df = _groups_frame(30, 300)
    spec, design = _design("y ~ x * w + (x | g)", df)
    assert _as_dict(hlm_df(None, design, spec)) == {"(Intercept)": 28, "x": 28, "w": 28, "x:w": 28}
    assert variable_levels(design, spec) == {"x": 1, "w": 2}
    spec, design = _design("y ~ x * w + (1 | g)", df)
    assert _as_dict(hlm_df(None, design, spec)) == {"(Intercept)": 28, "x": 296, "w": 28, "x:w": 296}
    assert _as_dict(hlm_df(None, design, spec, fixed_rule="n-q-1")) == {
        "(Intercept)": 28,
        "x": 298,
        "w": 28,
        "x:w": 298,
    }


def test_hlm_levels_from_data_for_interaction_only_variable():
    """w appears only in x:w; from X alone it cannot be classified (counted as
    level 1); with the data it is level 2."""
    df = _groups_frame(30, 300)
    spec, design = _design("y ~ x + x:w + (x | g)", df)
    assert variable_levels(design, spec)["w"] == 1
    assert variable_levels(design, spec, data=df)["w"] == 2
    assert _as_dict(hlm_df(None, design, spec, data=df)) == {"(Intercept)": 29, "x": 28, "x:w": 28}


def test_hlm_refuses_three_levels():
    spec, design = _design("y ~ x + v + (1 | a/b)", _nested_frame())
    with pytest.raises(NotImplementedOption):
        hlm_df(None, design, spec)


# ------------------------------------------- gaps found by mutation testing (benchmarks/MUTATION.md)


def test_between_within_with_one_within_classification_effect_and_refusing_exactly_two():
    rows = [(blk, v, n) for blk in "1234" for v in "ab" for n in "xy"]
    df = pd.DataFrame(rows, columns=["block", "V", "N"])
    df["y"] = (np.arange(16.0) * 7) % 5
    df["z"] = np.arange(16.0) % 3
    # one classification effect within blocks (V) beside a covariate: computed, not refused
    spec, design = _design("y ~ V + z + (1 | block)", df)
    assert _as_dict(between_within_df(None, design, spec)) == {"(Intercept)": 3, "Vb": 10, "z": 10}
    # exactly two within-subject classification effects (no interaction): refused as SAS partitions them
    spec, design = _design("y ~ V + N + (1 | block)", df)
    with pytest.raises(NotImplementedOption, match="V, N"):
        between_within_df(None, design, spec)


def test_hlm_level1_rule_counts_every_level1_predictor():
    """Two fixed level-1 slopes: N - Q - 1 with Q = 2 (and N - p with p = 3)."""
    df = _groups_frame(20, 200)
    df["x2"] = np.random.default_rng(3).normal(size=len(df))
    spec, design = _design("y ~ x + x2 + (1 | g)", df)
    assert _as_dict(hlm_df(None, design, spec, fixed_rule="n-q-1")) == {"(Intercept)": 19, "x": 197, "x2": 197}
    assert _as_dict(hlm_df(None, design, spec)) == {"(Intercept)": 19, "x": 197, "x2": 197}
