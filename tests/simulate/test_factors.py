"""The grid factors beyond balanced designs: cluster-size imbalance, MAR missingness, a misspecified fitted model.

Each does what it says (realized CV, missing share and its dependence, the fitted formula) and keeps the
reproducibility contract (replicate r's numbers do not depend on the chunking).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from replicate.design import build_design
from replicate.simulate.config import StudyError, load_study
from replicate.simulate.generate import DesignFactory, draw_design, draw_response, replicate_rng, to_frame
from replicate.simulate.grid import load_grid
from replicate.simulate.studytypes import Mechanism
from replicate.simulate.worker import run_chunk, run_replicate
from replicate.spec import parse_formula


def base(**design) -> dict:
    d = {
        "groups": 12,
        "group_size": 8,
        "group": "school",
        "predictors": {"w": {"level": 2}, "x": {"level": 1, "between_sd": 0.5}},
        "random_slopes": ["x"],
    }
    d.update(design)
    return {
        "id": "factors",
        "seed": 17,
        "replicates": 4,
        "design": d,
        "truth": {"fixed": {"(Intercept)": 0, "w": 0, "x": 0.5, "x:w": 0}, "icc": 0.2, "slope_variances": {"x": 0.1}},
        "methods": {"estimation": ["REML"], "df": ["residual", "satterthwaite"], "se": ["model"]},
    }


# ------------------------------------------------------------------ imbalance


def test_gamma_sizes_have_the_asked_mean_and_coefficient_of_variation():
    study = load_study(base(groups=4000, group_size={"distribution": "gamma", "mean": 30, "cv": 0.5, "min": 2}))
    sizes = draw_design(study, replicate_rng(study, 0)).sizes
    assert sizes.min() >= 2 and sizes.dtype.kind == "i"
    assert sizes.mean() == pytest.approx(30, abs=0.8)  # MC SE of the mean ~ 15 / sqrt(4000) = 0.24
    assert sizes.std() / sizes.mean() == pytest.approx(0.5, abs=0.03)


def test_gamma_sizes_with_cv_zero_are_balanced_and_draw_nothing():
    study = load_study(base(group_size={"distribution": "gamma", "mean": 7.6, "cv": 0}))
    rng = replicate_rng(study, 3)
    assert draw_design(study, rng).sizes.tolist() == [8] * 12
    balanced = load_study(base(group_size=8))
    # no draw was spent on the sizes: the rest of the replicate is the balanced study's
    assert run_replicate(study, 3)["REML"] == run_replicate(balanced, 3)["REML"]


# ------------------------------------------------------------------ missingness


def test_mar_missingness_has_its_share_and_depends_on_the_observed_predictor():
    doc = base(groups=400, missing={"y": {"share": 0.2, "mechanism": "mar", "depends_on": "x", "strength": 1.5}})
    study = load_study(doc)
    (m,) = study.design.missing
    assert m.mechanism is Mechanism.MAR and m.depends_on == "x"
    drawn = draw_design(study, replicate_rng(study, 0))
    miss = drawn.missing["y"]
    n = miss.size
    assert miss.mean() == pytest.approx(0.2, abs=4 * math.sqrt(0.2 * 0.8 / n))
    x = drawn.columns["x"]
    assert x[miss].mean() > x[~miss].mean() + 0.5  # strongly MAR: missing where x is high


def test_mcar_missingness_does_not_depend_on_the_predictor():
    study = load_study(base(groups=400, missing={"y": {"share": 0.2}}))
    drawn = draw_design(study, replicate_rng(study, 0))
    miss, x = drawn.missing["y"], drawn.columns["x"]
    se = math.sqrt(x.var() / miss.sum() + x.var() / (~miss).sum())
    assert abs(x[miss].mean() - x[~miss].mean()) < 4 * se


def test_mar_on_a_level2_variable_removes_whole_groups():
    doc = base(groups=300, missing={"w": {"share": 0.3, "mechanism": "mar", "depends_on": "x", "strength": 2}})
    study = load_study(doc)
    drawn = draw_design(study, replicate_rng(study, 1))
    frame = to_frame(study, drawn, draw_response(study, drawn, replicate_rng(study, 1)))
    share = frame.groupby("school")["w"].apply(lambda s: s.isna().mean())
    assert set(share.unique()) <= {0.0, 1.0}
    assert share.mean() == pytest.approx(0.3, abs=4 * math.sqrt(0.3 * 0.7 / 300))


@pytest.mark.parametrize(
    ("missing", "field", "words"),
    [
        ({"y": {"share": 0.2, "mechanism": "mar"}}, "design.missing.y", "depends_on"),
        (
            {"y": {"share": 0.2, "mechanism": "mar", "depends_on": "v"}},
            "design.missing.y.depends_on",
            "not a predictor",
        ),
        (
            {"y": {"share": 0.2, "mechanism": "mar", "depends_on": "x"}, "x": 0.1},
            "design.missing.y.depends_on",
            "itself",
        ),
        ({"y": {"share": 0.2, "depends_on": "x"}}, "design.missing.y.depends_on", "mar only"),
        ({"y": {"share": 0.7}}, "design.missing.y.share", "0.5"),
        ({"y": {"share": 0.2, "mechanism": "mnar"}}, "design.missing.y.mechanism", "known mechanism"),
    ],
)
def test_bad_missingness_is_refused_naming_the_field(missing, field, words):
    with pytest.raises(StudyError) as err:
        load_study(base(missing=missing))
    assert err.value.field == field and words in str(err.value)


# ------------------------------------------------------------------ misspecification


def test_analysis_section_fits_another_model_than_the_generating_one():
    doc = base()
    doc["analysis"] = {"fixed": ["x", "x:w"], "random_slopes": []}
    study = load_study(doc)
    assert study.misspecified
    assert study.true_formula == "y ~ 1 + w + x + x:w + (1 + x | school)"
    assert study.formula == "y ~ 1 + x + x:w + (1 | school)"
    rng = replicate_rng(study, 0)
    drawn = draw_design(study, rng)
    y = draw_response(study, drawn, rng)
    fast = DesignFactory(study).build(drawn, y)
    general = build_design(parse_formula(study.formula), to_frame(study, drawn, y))
    assert fast.fixed_names == general.fixed_names == ("(Intercept)", "x", "x:w")
    assert np.array_equal(fast.X, general.X) and fast.reterms[0].columns == general.reterms[0].columns == (
        "(Intercept)",
    )
    rec = run_replicate(study, 0)["REML"]
    names = study.coefficients  # results stay aligned with the true coefficients
    assert rec["estimate"][names.index("w")] is None and rec["estimate"][names.index("x")] is not None
    vcs = [n for n, _ in study.variance_components]
    assert rec["vc"][vcs.index("var(x|school)")] is None and rec["vc"][vcs.index("var((Intercept)|school)")] is not None


def test_the_true_model_is_not_misspecified_and_data_do_not_depend_on_the_analysis():
    doc = base()
    assert not load_study(doc).misspecified
    doc2 = base()
    doc2["analysis"] = {"random_slopes": []}
    a, b = load_study(doc), load_study(doc2)
    da, db = draw_design(a, replicate_rng(a, 2)), draw_design(b, replicate_rng(b, 2))
    assert np.array_equal(da.group, db.group) and np.array_equal(da.columns["x"], db.columns["x"])
    assert a.fingerprint() != b.fingerprint()


@pytest.mark.parametrize(
    ("analysis", "field"),
    [
        ({"fixed": ["v"]}, "analysis.fixed[0]"),
        ({"random_slopes": ["w"]}, "analysis.random_slopes[0]"),
        ({"fixed": ["x", "x"]}, "analysis.fixed[1]"),
        ({"fixed": "x"}, "analysis.fixed"),
        ({"random": []}, "analysis.random"),
    ],
)
def test_bad_analysis_is_refused_naming_the_field(analysis, field):
    doc = base()
    doc["analysis"] = analysis
    with pytest.raises(StudyError) as err:
        load_study(doc)
    assert err.value.field == field


# ------------------------------------------------------------------ all together


def test_new_factors_round_trip_and_do_not_depend_on_chunking():
    doc = base(
        group_size={"distribution": "gamma", "mean": 8, "cv": 0.6, "min": 2},
        missing={"y": {"share": 0.15, "mechanism": "mar", "depends_on": "x", "strength": 1.0}, "w": 0.1},
    )
    doc["analysis"] = {"random_slopes": []}
    study = load_study(doc)
    again = load_study(study.to_dict())
    assert again == study and again.fingerprint() == study.fingerprint()
    one = run_chunk(study.to_dict(), 0, 4)["records"]
    split = run_chunk(study.to_dict(), 0, 1)["records"] + run_chunk(study.to_dict(), 1, 4)["records"]
    assert one == split and all(r["REML"]["ok"] for r in one)


def test_a_grid_can_vary_the_new_factors():
    doc = base()
    doc["grid"] = {
        "design.group_size": [{"distribution": "gamma", "mean": 8, "cv": c} for c in (0, 0.5)],
        "analysis.random_slopes": [["x"], []],
    }
    grid = load_grid(doc)
    assert len(grid.conditions) == 4
    assert [c.study.misspecified for c in grid.conditions] == [False, True, False, True]
    assert {c.study.design.sizes.cv for c in grid.conditions} == {0.0, 0.5}


@pytest.mark.parametrize(
    "sizes",
    [
        {"distribution": "gamma", "mean": 1e6, "cv": 0.5},
        {"distribution": "poisson", "mean": 1e6},
        {"distribution": "uniform", "min": 1, "max": 2_000_000},
        2_000_000,
    ],
)
def test_a_design_too_large_to_simulate_is_refused_not_run(sizes):
    # 12 groups x a million rows each: found by fuzzing, the run hung drawing 10^7 rows per replicate
    with pytest.raises(StudyError) as err:
        load_study(base(group_size=sizes))
    assert err.value.field == "design.group_size" and "more than 10,000,000" in str(err.value)


def test_a_study_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    # found by fuzzing: random bytes raised UnicodeDecodeError out of `replicate simulate`
    path = tmp_path / "garbage.yaml"
    path.write_bytes(b"id: x\n\xa6\xff\xfe seed: 1\n")
    with pytest.raises(StudyError) as err:
        load_study(path)
    assert "not UTF-8" in str(err.value) and err.value.file == str(path)
