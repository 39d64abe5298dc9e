"""End-to-end: the command line on copies of the shipped cases."""

import json
from pathlib import Path

import pytest

from replicate.cli import main

BAD_INPUTS = {
    "malformed.yaml": ("id: x\ntitle: [unclosed\n", "malformed YAML"),
    "unknown-key.yaml": (
        "id: x\ntitle: t\ndata: {unavailable: private}\nmodel: {formula: y ~ (1|g)}\nexpectd: []\n",
        "unknown key 'expectd'",
    ),
    "python-tag.yaml": ("id: x\ntitle: !!python/object/apply:os.system [ls]\n", "not allowed"),
}


def run(*args: str) -> int:
    return main(list(args))


def test_run_shipped_cases_agree(case_dir, tmp_path, capsys):
    out = tmp_path / "reports"
    code = run("run", str(case_dir), "--out", str(out), "--format", "markdown,json,junit")
    text = capsys.readouterr().out
    assert code == 0, text
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == "replicate-report" and report["version"] == 1
    status = {c["id"]: c["status"] for c in report["cases"]}
    assert {s for i, s in status.items() if not i.startswith("seed0")} == {"agrees"}
    assert status["seed004-nels-family-inc"] == "skipped"  # data not public: printout checks only
    assert len(report["cases"]) == len(list(case_dir.glob("*.yaml")))
    md = (out / "report.md").read_text()
    assert "classroom-mathgain-ses-mathknow" in md
    assert "<testsuite" in (out / "junit.xml").read_text()
    # listwise deletion is reported
    mk = next(c for c in report["cases"] if c["id"] == "classroom-mathgain-ses-mathknow")
    assert mk["n_dropped"] == 109 and mk["nobs"] == 1081


def test_a_wrong_reference_value_exits_1_and_is_named(case_dir, tmp_path, capsys):
    p = case_dir / "classroom-mathkind-ses-school.yaml"
    p.write_text(p.read_text().replace("estimate: 465.746", "estimate: 466.746"))
    out = tmp_path / "reports"
    code = run("run", str(p), "--out", str(out))
    assert code == 1
    text = capsys.readouterr().out
    assert "(Intercept) estimate: reference 466.746" in text
    md = (out / "report.md").read_text()
    assert "466.746" in md and "discrepancy" in md
    vals = json.loads((out / "report.json").read_text())["cases"][0]["blocks"][0]["values"]
    bad = [v for v in vals if v["verdict"] == "discrepancy"]
    assert [(v["name"], v["quantity"]) for v in bad] == [("(Intercept)", "estimate")]
    assert bad[0]["lre"] < 3.0 and bad[0]["line"] == 28
    diag = json.loads((out / "report.json").read_text())["cases"][0]["blocks"][0]["diagnoses"]
    # the printed t contradicts the changed estimate: named as a transcription error, with the numbers
    assert [d["kind"] for d in diag] == ["transcription error"] and "466.746" in diag[0]["text"]
    assert diag[0]["text"].startswith("the printout contradicts itself: t = ")
    assert "transcription error" in md


def test_one_invalid_case_never_stops_the_run(case_dir, tmp_path, capsys):
    for name, (text, _) in BAD_INPUTS.items():
        (case_dir / name).write_text(text)
    out = tmp_path / "reports"
    code = run("run", str(case_dir), "--out", str(out))
    assert code == 2
    report = json.loads((out / "report.json").read_text())
    status = {Path(c["path"]).name: c["status"] for c in report["cases"]}
    for name in BAD_INPUTS:
        assert status[name] == "invalid"
    assert status["classroom-mathkind-ses-school.yaml"] == "agrees"


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_validate_rejects_bad_input(tmp_path, capsys, name):
    text, fragment = BAD_INPUTS[name]
    (tmp_path / name).write_text(text)
    assert run("validate", str(tmp_path / name)) == 2
    assert fragment in capsys.readouterr().out


def edit(case_dir: Path, old: str, new: str) -> Path:
    p = case_dir / "classroom-mathkind-ses-school.yaml"
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new))
    return p


@pytest.mark.parametrize(
    "old, new, fragment",
    [
        ("mathkind ~ ses + (1 | schoolid)", "mathkind ~ ses + (1 | schoolid", "expected ')'"),
        ("mathkind ~ ses + (1 | schoolid)", "mathkind ~ sess + (1 | schoolid)", "'sess' not in the data"),
        ("file: classroom.csv", "file: nowhere.csv", "'nowhere.csv' not found"),
        ("sha256: 76f2", "sha256: 86f2", "differs from the one the reference outputs"),
        ("ses: {estimate", "sex: {estimate", "names fixed effect 'sex'"),
        ("  formula:", "  formula_:", "unknown key 'formula_'"),
    ],
)
def test_bad_input_gets_a_clear_error(case_dir, tmp_path, capsys, old, new, fragment):
    p = edit(case_dir, old, new)
    code = run("run", str(case_dir), "--out", str(tmp_path / "r"))
    out = capsys.readouterr().out
    assert code == 2
    assert fragment in out
    assert "classroom-mathkind-ses-school.yaml" in out
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    others = [c for c in report["cases"] if Path(c["path"]) != p]
    assert others and all(c["status"] in ("agrees", "skipped") for c in others)
    code = run("validate", "--data", str(p))
    assert code == 2 or "names fixed effect" in fragment  # block names are checked when fitting


def test_grouping_variable_with_missing_values(case_dir, tmp_path, capsys):
    edit(case_dir, "model:\n", "transform:\n  schoolid: ifelse(childid == 1, NA, schoolid)\nmodel:\n")
    assert run("validate", "--data", str(case_dir / "classroom-mathkind-ses-school.yaml")) == 2
    assert "grouping variable 'schoolid' has 1 missing value" in capsys.readouterr().out


def test_reports_are_written_atomically(case_dir, tmp_path, monkeypatch):
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.md").write_text("previous report\n")
    import replicate.report as rep

    def broken(results, run=None):
        raise RuntimeError("interrupted")

    monkeypatch.setitem(rep.FORMATS, "json", ("report.json", broken))
    with pytest.raises(RuntimeError):
        run("run", str(case_dir / "classroom-mathkind-ses-school.yaml"), "--out", str(out))
    assert (out / "report.md").read_text() == "previous report\n"
    assert not list(out.glob(".*.tmp"))


def test_list_show_and_select(case_dir, tmp_path, capsys):
    assert run("list", str(case_dir)) == 0
    text = capsys.readouterr().out
    assert "classroom-mathkind-ses-school " in text and "lmerTest" in text
    assert run("show", str(case_dir / "classroom-mathkind-ses-school.yaml")) == 0
    shown = capsys.readouterr().out
    assert "fixed ses df" in shown and "agrees" in shown and "REML criterion" in shown
    assert run("run", str(case_dir), "-k", "mathkind and not (nested or lm)", "--out", str(tmp_path / "r")) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [c["id"] for c in report["cases"]] == ["classroom-mathkind-ses-school"]


def test_unknown_engine_is_a_clear_error(case_dir, capsys):
    assert run("run", str(case_dir), "--engine", "spss") == 2
    assert "unknown engine 'spss'" in capsys.readouterr().err


def test_statsmodels_stopping_early_is_diagnosed(case_dir, tmp_path, capsys):
    """statsmodels' optimum on the three-level model is far below lme4's: the report says which
    program stopped early and by how much, computed from both sets of estimates on the same data."""
    code = run(
        "run",
        str(case_dir / "classroom-mathkind-ses-school-class.yaml"),
        "--engine",
        "statsmodels",
        "--out",
        str(tmp_path / "r"),
    )
    assert code == 1
    out = capsys.readouterr().out
    assert "why: different optimum" in out and "the engine (statsmodels) stopped early" in out
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    diag = report["cases"][0]["blocks"][0]["diagnoses"]
    opt = next(d for d in diag if d["kind"] == "different optimum")
    assert opt["data"]["gap"] < -20  # statsmodels' REML log-likelihood is > 20 units lower
    assert "different optimum" in (tmp_path / "r" / "report.md").read_text()


def test_declared_differences_are_explained(case_dir, tmp_path, capsys):
    p = case_dir / "classroom-mathkind-ses-school.yaml"
    text = (
        p.read_text()
        .replace("df: 98.752", "df: 105")
        .replace(
            "    source: reference_outputs/lmerTest/classroom-mathkind-ses-school.txt\n",
            "    source: reference_outputs/lmerTest/classroom-mathkind-ses-school.txt\n"
            "    differences:\n      - {value: fixed.(Intercept).df, reason: test of a declared difference}\n",
        )
    )
    p.write_text(text)
    assert run("run", str(p), "--out", str(tmp_path / "r")) == 0
    vals = json.loads((tmp_path / "r" / "report.json").read_text())["cases"][0]["blocks"][0]["values"]
    df = next(v for v in vals if v["name"] == "(Intercept)" and v["quantity"] == "df")
    assert df["verdict"] == "explained" and "test of a declared difference" in df["note"]


def test_parse_prints_structured_values(capsys):
    root = Path(__file__).resolve().parents[1]
    assert run("parse", str(root / "reference_outputs/lmerTest/classroom-mathkind-ses-school.txt")) == 0
    out = capsys.readouterr().out
    assert "lmerTest" in out and "estimate: 465.746" in out and "df: 98.752" in out


def test_a_block_can_point_at_a_raw_printout(case_dir, tmp_path):
    from replicate.case import load_case

    p = case_dir / "classroom-mathkind-ses-school.yaml"
    text = p.read_text()
    start = text.index("    values:")
    p.write_text(text[:start] + "    printout: {file: reference_outputs/lmerTest/classroom-mathkind-ses-school.txt}\n")
    case = load_case(p)
    est = case.expected[0]["values"]["fixed"]["ses"]["estimate"]
    assert est.text == "10.722"
    assert run("run", str(p), "--out", str(tmp_path / "r")) == 0
    p.write_text(text[:start] + "    printout: {file: reference_outputs/../../etc/passwd}\n")
    assert run("validate", str(p)) == 2


def test_statsmodels_on_hsb_random_coefficient_is_a_different_optimum(case_dir, tmp_path, capsys):
    """The issue's example: statsmodels MixedLM stops about 100 log-likelihood units below lme4."""
    code = run(
        "run", str(case_dir / "hsb-random-coefficient.yaml"), "--engine", "statsmodels", "--out", str(tmp_path / "r")
    )
    assert code == 1
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    opt = next(d for d in report["cases"][0]["blocks"][0]["diagnoses"] if d["kind"] == "different optimum")
    assert -150 < opt["data"]["gap"] < -50
    assert "the engine (statsmodels) stopped early" in opt["text"]


def test_show_puts_every_definition_side_by_side(case_dir, capsys):
    assert run("show", str(case_dir / "hsb-random-coefficient.yaml")) == 0
    out = capsys.readouterr().out
    for label in (
        "model",
        "KR",
        "KR-SAS",
        "KR2-SAS",
        "CR0",
        "CR1",
        "CR2",
        "resid",
        "contain",
        "bw",
        "HLM",
        "nlme",
        "Satt",
    ):
        assert label in out
    row = next(line for line in out.splitlines() if line.startswith("cses") and "7183" in line)
    assert "159" in row and "7024" in row
    # every SE kind and df method is computed for every coefficient (a failure prints a dash)
    rows = [line for line in out.splitlines() if line.startswith(("cses ", "(Intercept) "))]
    assert len(rows) >= 4 and not any("—" in line for line in rows)


def test_sas_stopping_early_is_diagnosed_and_compared_at_its_optimum(case_dir, tmp_path, capsys):
    """UCLA's SAS run of R&B Table 4.2 stopped 8e-6 REML log-likelihood units short of the optimum."""
    p = case_dir / "hsb-oneway-anova.yaml"
    text = p.read_text()
    assert "optimum: reference" in text
    p.write_text(text.replace(", optimum: reference}", "}"))
    out = tmp_path / "reports"
    assert run("run", str(p), "--out", str(out), "--format", "json") == 1
    blocks = json.loads((out / "report.json").read_text())["cases"][0]["blocks"]
    sas = next(b for b in blocks if b["label"] == "sas-mixed-ucla")
    bad = {(v["name"], v["quantity"]) for v in sas["values"] if v["verdict"] == "discrepancy"}
    assert ("SCHOOL Intercept", "variance") in bad and ("Intercept", "se") in bad
    diag = sas["diagnoses"][0]
    assert diag["kind"] == "different optimum"
    assert diag["data"]["gap"] > 0 and diag["data"]["reproduced_at_reference"] == diag["data"]["differing"]
    # declared: every number is computed at SAS's variance components, and all agree
    p.write_text(text)
    assert run("run", str(p), "--out", str(out), "--format", "json") == 0
    blocks = json.loads((out / "report.json").read_text())["cases"][0]["blocks"]
    sas = next(b for b in blocks if b["label"] == "sas-mixed-ucla")
    assert all(v["verdict"] in ("agrees", "within tolerance") for v in sas["values"])
    assert sas["diagnoses"][0]["kind"] == "at the reference's optimum"
    assert 0 < sas["diagnoses"][0]["data"]["gap"] < 1e-4
    capsys.readouterr()


def test_optimum_reference_needs_the_variance_components(case_dir, tmp_path, capsys):
    p = case_dir / "imm23-homework.yaml"
    text = p.read_text()
    p.write_text(text.replace("        Residual: {variance: 71.2842, se: 4.5305}\n", ""))
    out = tmp_path / "reports"
    assert run("run", str(p), "--out", str(out), "--format", "json") != 0
    blocks = json.loads((out / "report.json").read_text())["cases"][0]["blocks"]
    err = next(b for b in blocks if b["label"] == "sas-mixed-ucla")["error"]
    assert "optimum: reference" in err and "variance component" in err
    capsys.readouterr()


def test_run_takes_a_case_id_as_show_does(case_dir, tmp_path, capsys, monkeypatch):
    # issue #18: `replicate run dyestuff` ran nothing and reported an "invalid" case
    monkeypatch.chdir(case_dir.parent)
    assert main(["run", "dyestuff", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["agrees", "dyestuff"]
    assert main(["run", "no-such-case", "--out", str(tmp_path / "r2")]) == 2
    assert "no case file, folder or case id 'no-such-case'" in capsys.readouterr().err


def test_list_has_a_header_aligned_columns_and_says_when_there_are_no_cases(case_dir, tmp_path, capsys):
    assert main(["list", str(case_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["case", "data", "programs"]
    starts = {ln.index(ln.split()[1]) for ln in lines if ln.split()[1] != "INVALID"}
    assert len(starts) == 1  # the data column starts at one place on every line
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert main(["list", str(empty)]) == 0
    assert "no cases under" in capsys.readouterr().out
    assert main(["list", str(tmp_path / "missing")]) == 2
    assert "no case file, folder or case id" in capsys.readouterr().err


def test_a_printout_may_sit_beside_the_case_or_on_the_data_path(case_dir, tmp_path, monkeypatch):
    # issue #18: printouts were read only from under reference_outputs/
    import os

    from replicate.case import load_case
    from replicate.errors import CaseError

    printout = case_dir.parent / "reference_outputs" / "lmerTest" / "classroom-mathkind-ses-school.txt"
    p = case_dir / "classroom-mathkind-ses-school.yaml"
    text = p.read_text()
    head = text[: text.index("    values:")]
    (case_dir / "mine.txt").write_text(printout.read_text())
    p.write_text(head + "    printout: {file: mine.txt}\n")
    assert load_case(p).expected[0]["values"]["fixed"]["ses"]["estimate"].text == "10.722"
    elsewhere = tmp_path / "printouts"
    elsewhere.mkdir()
    (elsewhere / "theirs.txt").write_text(printout.read_text())
    monkeypatch.setenv("REPLICATE_DATA_PATH", str(elsewhere))
    p.write_text(head + "    printout: {file: theirs.txt}\n")
    assert run("run", str(p), "--out", str(tmp_path / "r")) == 0
    os.symlink("/etc/hostname", case_dir / "out.txt")
    p.write_text(head + "    printout: {file: out.txt}\n")
    with pytest.raises(CaseError, match="leads out of"):
        load_case(p)
    p.write_text(head + "    printout: {file: nowhere.txt}\n")
    with pytest.raises(CaseError, match="printout nowhere.txt not found"):
        load_case(p)


def test_list_where_there_is_no_cases_folder_says_so(tmp_path, capsys, monkeypatch):
    # issue #18: outside a repository (and without shipped examples) list printed an "INVALID" row
    from replicate import cli_cases as cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "default_cases", lambda: (Path("cases"), False))
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "no cases under cases" in out and "INVALID" not in out
