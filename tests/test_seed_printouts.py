"""Seeds 002 and 004 in show and the reports: refused tests say why, boundary fits are flagged,
every printed block of seed 004 is checked, the ICC is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from replicate.boundary import boundary_findings
from replicate.case import load_case
from replicate.cli import main
from replicate.consistency import check_block
from replicate.engines import get_engine
from replicate.report.markdown import render_markdown
from replicate.runner import run_case

CASES = Path(__file__).resolve().parents[1] / "cases"


def _values(text: str, tmp: Path) -> dict:
    p = tmp / "c.yaml"
    p.write_text(text)
    return load_case(p).expected[0]["values"]


CASE = """id: t
title: t
data: {{unavailable: x}}
model: {{formula: y ~ x + (x | g)}}
expected:
  - software: lme4
    source: s
    values:
      random:
        g:
          (Intercept): {{variance: {v0}, sd: {s0}}}
          x: {{variance: 0.5, sd: 0.7071}}
          "(Intercept), x": {{corr: {corr}}}
        Residual: {{variance: 2.0}}
"""


def test_a_printed_correlation_of_one_or_a_zero_variance_is_a_boundary_fit(tmp_path):
    flags = boundary_findings(_values(CASE.format(v0=1.5, s0=1.225, corr="-1.00"), tmp_path))
    assert [f.where for f in flags] == ["random g (Intercept), x corr"]
    assert flags[0].ok and flags[0].boundary and "-1" in flags[0].check and "singular" in flags[0].check
    zero = boundary_findings(_values(CASE.format(v0="0.000", s0="0.000", corr=0.3), tmp_path))
    assert [f.where for f in zero] == ["random g (Intercept) variance"]  # one flag per component
    # a correlation of -0.99 or 0.994 may round from inside the interior: no flag
    assert boundary_findings(_values(CASE.format(v0=1.5, s0=1.225, corr=-0.99), tmp_path)) == []
    assert boundary_findings(_values(CASE.format(v0=1.5, s0=1.225, corr=0.994), tmp_path)) == []


def test_seed004_every_block_is_checked_and_only_the_pchisq_of_in_14_contradicts():
    case = load_case(CASES / "seed004-nels-family-inc.yaml")
    labels = [case.block_label(i) for i in range(len(case.expected))]
    assert {"model.3", "model.4", "model.5", "model.6", "anova-3-models"} <= set(labels)
    bad, flagged = [], []
    for i, blk in enumerate(case.expected):
        findings = check_block(blk["values"], "ML", blk.get("software"))
        if blk["values"].get("fit", {}).keys() != {"icc"}:
            assert [f for f in findings if not f.boundary], labels[i]  # every printout block is checked
        bad += [(labels[i], f.where) for f in findings if not f.ok]
        flagged += [(labels[i], f.where) for f in findings if f.boundary]
    assert bad == [("model.2", "tests pchisq-in-14 statistic")]
    assert flagged == [("model.2", "random sch_id (Intercept), family_inc corr")]  # model.4's -0.89 is not
    anova = check_block(case.expected[labels.index("anova-3-models")]["values"], "ML", "lme4")
    assert {f.where for f in anova} >= {"tests model.3-vs-model.1 p", "tests model.3-vs-model.1 statistic"}


def test_show_and_markdown_list_boundary_flags_of_seed004(capsys):
    assert main(["show", str(CASES / "seed004-nels-family-inc.yaml")]) == 0
    out = capsys.readouterr().out
    assert "corr = 1.00: boundary (singular) fit" in out
    assert "inconsistent: tests pchisq-in-14 statistic = 452.1748" in out
    res = run_case(CASES / "seed004-nels-family-inc.yaml", get_engine("native"))
    md = render_markdown([res])
    assert "Boundary (singular) fits in the printout" in md and "[model.2]" in md


def test_a_refused_anova_says_lme4s_message_and_the_common_sample_hint(data_dir, capsys):
    path = CASES / "classroom-mathgain-school-class-lrt.yaml"
    res = run_case(path, get_engine("native"))
    refused = [v for b in res.blocks for v in b.values if v.quantity == "refused"]
    assert len(refused) == 1 and refused[0].verdict == "agrees"
    note = refused[0].note
    assert 'refused: "models were not all fitted to the same size of dataset"' in note
    assert "rows used: 1190, 1081" in note and "common_sample" in note
    md = render_markdown([res])
    assert "Tests the program refused" in md and "common_sample" in md
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if "anova-vs-ses-mathknow refused" in s)
    assert "rows used: 1190, 1081" in line and "hint: refit every model" in line
    # the three-level random-intercept model's ICC per grouping factor
    assert "ICC (tau / (sum of taus + sigma^2)): classid:schoolid 0.08" in out and "schoolid 0.064" in out


def test_a_refusal_for_another_reason_or_a_test_the_engine_computes_is_not_agreement():
    from replicate.errors import ModelError
    from replicate.quantities.tests_section import refusal
    from replicate.quantities.value import Lazy as _Lazy

    def other_error():
        raise ModelError("a different problem", hint="do something")

    value, note = refusal({"expect_error": "same size of dataset"}, _Lazy(other_error), "lme4")
    assert value == 0.0 and "refuses otherwise: a different problem" in note and "hint: do something" in note
    value, note = refusal({"expect_error": "same size of dataset"}, _Lazy(lambda: 1.0), "lme4")
    assert value == 0.0 and "computed the test instead" in note


def test_seed002s_crude_sds_of_mean_residuals_are_reproduced_from_the_engines_lm(data_dir):
    """Seed 002 prints, in prose, the SD of the school means of lm(mathkind ~ ses)'s residuals
    ("pretty large at 22.43") and of the classroom means net of them ("22.12"). Rounded to the
    printed digits, the engine's residuals give both."""
    import numpy as np
    import pandas as pd

    res = run_case(CASES / "classroom-mathkind-ses-lm.yaml", get_engine("native"))
    fit = next(iter(res.fits.values()))
    data = pd.read_csv(data_dir / "classroom.csv").iloc[np.asarray(res.design.rows)]
    resid = pd.Series(np.asarray(fit.residuals, dtype=float), index=data.index)
    school = resid.groupby(data["schoolid"]).mean()
    assert round(float(school.std()), 2) == 22.43
    net = resid - data["schoolid"].map(school)
    assert round(float(net.groupby(data["classid"]).mean().std()), 2) == 22.12


def test_seed003_every_printed_number_of_the_lm_is_compared_and_a_wrong_one_fails(data_dir, tmp_path):
    path = CASES / "seed003-hsb-first550-lm.yaml"
    res = run_case(path, get_engine("native"))
    values = res.blocks[0].values
    assert res.status == "agrees" and res.design.n == 550
    compared = {(v.section, v.name, v.quantity) for v in values}
    assert {
        ("fit", "r2", "r2"),
        ("fit", "adj_r2", "adj_r2"),
        ("tests", "F-statistic", "F"),
        ("fit", "residuals median", "residual"),
        ("random", "Residual", "sd"),
    } <= compared
    wrong = tmp_path / "cases" / "w.yaml"
    wrong.parent.mkdir()
    wrong.write_text(path.read_text().replace("r2: 0.2011", "r2: 0.2111").replace("median: 0.1607", "median: 0.1706"))
    bad = {(v.name, v.verdict) for v in run_case(wrong, get_engine("native")).blocks[0].values}
    assert ("r2", "discrepancy") in bad and ("residuals median", "discrepancy") in bad


def test_seed003_school_1462s_line_is_explained_not_agreeing(data_dir):
    res = run_case(CASES / "seed003-hsb-school1462-lm.yaml", get_engine("native"))
    verdicts = {v.name: (v.verdict, v.engine) for v in res.blocks[0].values}
    assert verdicts["(Intercept)"][0] == "explained" and abs(verdicts["(Intercept)"][1] - 9.94075) < 1e-5
    assert verdicts["ses"][0] == "explained" and round(verdicts["ses"][1], 2) == -0.83


def test_correlations_of_fixed_effects_are_compared_and_a_wrong_name_is_refused(data_dir, tmp_path):
    path = CASES / "classroom-mathgain-ses-mathknow.yaml"
    res = run_case(path, get_engine("native"))
    corr = {v.name: v for b in res.blocks for v in b.values if v.section == "fixed_corr"}
    assert set(corr) == {"ses, (Intercept)", "mathknow, (Intercept)", "mathknow, ses"}
    assert all(v.verdict == "agrees" for v in corr.values())
    assert corr["mathknow, ses"].engine == pytest.approx(-0.0422, abs=5e-5)
    bad = tmp_path / "cases" / "b.yaml"
    bad.parent.mkdir()
    bad.write_text(path.read_text().replace('"mathknow, ses": -0.042', '"mathknow, sex": -0.042'))
    blk = run_case(bad, get_engine("native")).blocks[0]
    assert blk.error and "names fixed effect 'sex' in the correlation 'mathknow, sex'" in blk.error


def test_an_icc_per_grouping_factor_is_compared_and_a_lone_icc_of_a_three_level_model_is_not(data_dir, tmp_path):
    src = (CASES / "classroom-mathkind-ses-school-class.yaml").read_text()
    d = tmp_path / "cases"
    d.mkdir()
    # the values show prints for this model: 20.44 / (20.44 + 301.52 + 1294.08) and 301.52 / (...)
    per_group = d / "g.yaml"
    per_group.write_text(
        src.replace(
            "        nobs: 1190\n", "        nobs: 1190\n        icc: {classid:schoolid: 0.0126, schoolid: 0.1866}\n", 1
        )
    )
    vals = {v.name: v for v in run_case(per_group, get_engine("native")).blocks[0].values if "icc" in v.name}
    assert set(vals) == {"icc classid:schoolid", "icc schoolid"}
    assert all(v.verdict == "agrees" for v in vals.values()), vals
    lone = d / "l.yaml"
    lone.write_text(src.replace("        nobs: 1190\n", "        nobs: 1190\n        icc: 0.19\n", 1))
    v = next(v for v in run_case(lone, get_engine("native")).blocks[0].values if v.name == "icc")
    assert v.verdict == "not comparable" and "name one" in v.note


def test_the_lme4_parser_reads_scaled_residuals_and_reports_a_row_it_cannot_read():
    from replicate.references import parse_printout

    head = (
        "Linear mixed model fit by REML ['lmerMod']\nFormula: y ~ 1 + (1 | g)\n\n"
        "REML criterion at convergence: 100.5\n\nScaled residuals: \n    Min      1Q  Median      3Q     Max \n"
    )
    good = parse_printout(head + "-2.1000 -0.5000  0.0100  0.6000  2.9000 \n", "lme4")
    assert {k: v.text for k, v in good.values["fit"]["scaled_residuals"].items()} == {
        "min": "-2.1000",
        "q1": "-0.5000",
        "median": "0.0100",
        "q3": "0.6000",
        "max": "2.9000",
    }
    bad = parse_printout(head + "-2.1000 -0.5000  oops  0.6000  2.9000 \n", "lme4")
    assert "scaled_residuals" not in bad.values.get("fit", {})
    assert any("scaled residuals are not five numbers" in str(u) for u in bad.unparsed)
