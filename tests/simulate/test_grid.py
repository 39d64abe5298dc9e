"""Grid studies: a study file with a grid of conditions, expanded, validated and run into one tidy table."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from replicate.simulate import run_study
from replicate.simulate.config import StudyError, load_study
from replicate.simulate.grid import condition_seed, expand_grid, load_grid
from replicate.simulate.grid_run import run_grid


def _grid_doc(tiny, grid, **over):
    doc = tiny(**over)
    doc["grid"] = grid
    return doc


def test_a_grid_expands_into_every_combination_first_factor_slowest(tiny):
    g = expand_grid(_grid_doc(tiny, {"design.groups": [6, 12, 24], "truth.icc": [0.05, 0.3]}))
    assert [c.number for c in g.conditions] == [1, 2, 3, 4, 5, 6]
    assert [(c.study.design.groups, round(c.study.truth.icc, 12)) for c in g.conditions] == [
        (6, 0.05),
        (6, 0.3),
        (12, 0.05),
        (12, 0.3),
        (24, 0.05),
        (24, 0.3),
    ]
    assert [c.study.id for c in g.conditions][:2] == ["tiny.c01", "tiny.c02"]
    assert g.conditions[3].label == "groups=12, icc=0.3"
    # the settings the grid does not vary stay as the study gives them
    assert all(c.study.methods.df == ("residual", "kenward-roger") for c in g.conditions)


def test_conditions_have_their_own_reproducible_seeds(tiny):
    doc = _grid_doc(tiny, {"design.groups": [6, 12]})
    a, b = expand_grid(doc), expand_grid(doc)
    seeds = [c.study.seed for c in a.conditions]
    assert len(set(seeds)) == 2 and 99 not in seeds
    assert seeds == [condition_seed(99, 1), condition_seed(99, 2)]
    assert [c.study.fingerprint() for c in a.conditions] == [c.study.fingerprint() for c in b.conditions]


def test_a_study_without_a_grid_is_a_grid_of_one_condition(tiny):
    g = expand_grid(tiny())
    assert len(g.conditions) == 1 and g.factors == ()
    assert g.conditions[0].study.fingerprint() == load_study(tiny()).fingerprint()


def test_a_grid_setting_may_be_nested_and_new(tiny):
    g = expand_grid(_grid_doc(tiny, {"design.predictors.x.between_sd": [0.0, 1.0]}))
    assert [c.study.design.predictor("x").between_sd for c in g.conditions] == [0.0, 1.0]


@pytest.mark.parametrize(
    ("grid", "field", "words"),
    [
        ({"seed": [1, 2]}, "grid.seed", "not a setting a grid can vary"),
        ({"design.groups": []}, "grid.design.groups", "non-empty list"),
        ({"design.groups": 6}, "grid.design.groups", "non-empty list"),
        ({"design.groups": [6, 6]}, "grid.design.groups", "twice"),
        ({"design.groups.x": [1]}, "grid.design.groups.x", "not a mapping"),
    ],
)
def test_a_bad_grid_is_refused_naming_the_grid_field(tiny, grid, field, words):
    with pytest.raises(StudyError) as exc:
        expand_grid(_grid_doc(tiny, grid))
    assert exc.value.field == field and words in exc.value.message


def test_an_invalid_condition_names_the_condition_and_the_setting(tiny):
    with pytest.raises(StudyError) as exc:
        expand_grid(_grid_doc(tiny, {"design.groups": [8, 2]}))
    err = exc.value
    assert err.message.startswith("condition 2 (groups=2): ") and "at least 3" in err.message
    assert err.field == "design.groups"


def test_a_grid_file_error_names_its_line(tmp_path):
    p = tmp_path / "grid.yaml"
    p.write_text(
        "id: g\nseed: 1\nreplicates: 10\n"
        "design: {groups: 8, group_size: 6, predictors: {x: {level: 1}}}\n"
        "truth: {fixed: {(Intercept): 0, x: 0}, icc: 0.2}\n"
        "methods: {df: [residual]}\n"
        "grid:\n  design.groups: [8, 12]\n  seed: [1, 2]\n"
    )
    with pytest.raises(StudyError) as exc:
        load_grid(p)
    assert exc.value.file == str(p) and exc.value.line == 9 and exc.value.field == "grid.seed"


def test_run_grid_gathers_each_condition_as_run_alone_and_resumes(tmp_path, tiny):
    doc = _grid_doc(
        tiny,
        {"design.groups": [5, 10]},
        replicates=6,
        chunk_size=3,
        methods={"df": ["residual", "between-within", "satterthwaite"], "se": ["model", "cr2"]},
    )
    grid = expand_grid(doc)
    res = run_grid(grid, tmp_path / "g", executor="serial", write_reports=False)
    # one test row per condition, df method, SE kind and coefficient
    assert len(res.tests) == 2 * 3 * 2 * 3
    for cond in grid.conditions:
        alone = run_study(cond.study, tmp_path / f"alone{cond.number}", executor="serial", write_reports=False)
        mine = [{k: v for k, v in t.items() if k not in ("condition", "groups")} for t in res.tests]
        assert [t for t, full in zip(mine, res.tests, strict=True) if full["condition"] == cond.number] == (
            alone.summary.tests
        )
    # the methods part ways on w (a level-2 predictor): the df differ by definition
    w = {(t["condition"], t["df"]): t["median_df"] for t in res.tests if t["coefficient"] == "w" and t["se"] == "model"}
    assert w[(1, "residual")] > w[(1, "between-within")]
    assert w[(1, "between-within")] < w[(2, "between-within")]
    doc_json = json.loads((tmp_path / "g" / "grid.json").read_text())
    assert [c["factors"] for c in doc_json["conditions"]] == [{"design.groups": 5}, {"design.groups": 10}]
    assert {f["groups"] for f in doc_json["fits"]} == {5, 10}
    md = (tmp_path / "g" / "grid.md").read_text()
    assert "## Type I error: w (REML)" in md and "| 5 |" in md and "between-within / cr2" in md
    # the Parquet dataset, written condition by condition, holds grid.json's rows
    tests_pq = pd.read_parquet(tmp_path / "g" / "parquet" / "tests")
    assert len(tests_pq) == len(res.tests)
    want = pd.DataFrame(res.tests)
    got = tests_pq.sort_values(["condition", "coefficient", "df", "se"]).reset_index(drop=True)
    want = want.sort_values(["condition", "coefficient", "df", "se"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)
    assert len(pd.read_parquet(tmp_path / "g" / "parquet" / "fits")) == len(res.fits)
    again = run_grid(grid, tmp_path / "g", executor="serial", write_reports=False)
    assert [r.computed for r in again.results] == [0, 0] and [r.resumed for r in again.results] == [6, 6]
    assert again.tests == res.tests
    assert len(pd.read_parquet(tmp_path / "g" / "parquet" / "tests")) == len(res.tests)  # resumed, not doubled


def test_without_pyarrow_the_grid_runs_and_says_there_is_no_parquet(tmp_path, tiny, monkeypatch):
    from replicate.simulate import grid_run

    monkeypatch.setattr(grid_run, "parquet_available", lambda: False)
    grid = expand_grid(_grid_doc(tiny, {"design.groups": [5]}, replicates=2, chunk_size=2))
    said: list[str] = []
    res = run_grid(grid, tmp_path / "g", executor="serial", write_reports=False, log=said.append)
    assert res.tests and not (tmp_path / "g" / "parquet").exists()
    assert any("pyarrow is not installed" in line for line in said)


GRID_YAML = """\
id: cli-grid
seed: 5
replicates: 1000
chunk_size: 2
design: {groups: 6, group_size: 5, predictors: {w: {level: 2}}}
truth: {fixed: {(Intercept): 0, w: 0}, icc: 0.2}
methods: {df: [residual, between-within], se: [model]}
grid:
  design.groups: [6, 9]
"""


def test_the_command_line_runs_a_grid_with_a_small_number_of_replicates(tmp_path, capsys):
    from replicate.simulate import main_simulate

    p = tmp_path / "grid.yaml"
    p.write_text(GRID_YAML)
    out = tmp_path / "out"
    code = main_simulate([str(p), "--out", str(out), "--executor", "serial", "--replicates", "4"])
    assert code == 0, capsys.readouterr().err
    doc = json.loads((out / "grid.json").read_text())
    assert [c["id"] for c in doc["conditions"]] == ["cli-grid.c01", "cli-grid.c02"]
    assert {t["n"] for t in doc["tests"]} == {4}  # 4 replicates, not the file's 1000
    assert (out / "cli-grid.c02" / "results.md").is_file()
    assert "grid reports:" in capsys.readouterr().out


def test_the_command_line_refuses_zero_replicates_and_a_bad_grid(tmp_path, capsys):
    from replicate.simulate import main_simulate

    p = tmp_path / "grid.yaml"
    p.write_text(GRID_YAML)
    assert main_simulate([str(p), "--replicates", "0"]) == 2
    assert "--replicates must be at least 1" in capsys.readouterr().err
    p.write_text(GRID_YAML.replace("[6, 9]", "[6, 2]"))
    assert main_simulate([str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "condition 2 (groups=2)" in err and str(p) in err


def test_with_replicates_keeps_the_fingerprint_and_refuses_non_positive_counts(tiny):
    study = load_study(tiny())
    fewer = study.with_replicates(3)
    assert fewer.replicates == 3 and fewer.fingerprint() == study.fingerprint()
    for bad in (0, -1, True, 2.5):
        with pytest.raises(StudyError, match="positive integer"):
            study.with_replicates(bad)


def test_the_grid_page_plots_each_method_across_the_first_factor(tmp_path, tiny):
    from replicate.simulate.grid_plot import render_grid_html

    doc = _grid_doc(
        tiny,
        {"design.groups": [5, 10], "truth.icc": [0.1, 0.3]},
        replicates=4,
        chunk_size=4,
        methods={"df": ["residual", "between-within"], "se": ["model"]},
    )
    grid = expand_grid(doc)
    res = run_grid(grid, tmp_path, executor="serial", write_reports=False)
    page = (tmp_path / "grid.html").read_text(encoding="utf-8")
    assert page == render_grid_html(grid, res.tests, 0.05)
    # one panel per null coefficient (w) and ICC, one line per method, a point per number of groups
    assert page.count("<svg") == 2 and "w (REML), icc=0.1" in page and "w (REML), icc=0.3" in page
    assert page.count("<polyline") == 4 and page.count("<circle") == 8
    t = next(t for t in res.tests if t["coefficient"] == "w" and t["df"] == "residual" and t["condition"] == 3)
    assert f"residual / model at 10: {t['rejection']:.4f} (MCSE {t['rejection_mcse']:.4f})" in page
