"""A non-converged fit, a NaN fit and an infinite engine value are never reported as agreement (issue #14),
in any report format: markdown, JSON, HTML and JUnit, nor in the exit code.

The reference numbers of the case are the native engine's own (written by the
test), so that every value *would* agree if the engine's flags were ignored: the
control run with the honest engine agrees and exits 0.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from replicate.compare import AGREES, DISCREPANCY, WITHIN, compare_value, resolve_tolerance
from replicate.engines.native import NativeEngine
from replicate.printed import Printed
from replicate.report import write_reports
from replicate.runner import exit_code, run_cases

FORMATS = ["markdown", "json", "html", "junit"]


class Doubtful(NativeEngine):
    """The native engine, with its fit spoiled in one way."""

    name = "doubtful"

    def __init__(self, how: str) -> None:
        self.how = how

    def fit(self, design, method="REML"):
        fit = super().fit(design, method)
        if self.how == "not converged":
            return replace(fit, converged=False, messages=(*fit.messages, "maximum number of evaluations reached"))
        if self.how == "nan":
            return replace(fit, fixed=fit.fixed * math.nan, loglik=math.nan)
        if self.how == "inf":  # the optimizer says converged, one value is infinite
            fixed = fit.fixed.copy()
            fixed.iloc[-1] = math.inf
            return replace(fit, fixed=fixed)
        return fit


@pytest.fixture(scope="module")
def case_file(tmp_path_factory) -> Path:
    from replicate.data import load_r_dataset
    from replicate.design import build_design
    from replicate.spec import parse_formula

    try:
        frame = load_r_dataset("lme4", "sleepstudy")[0]
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"sleepstudy not available: {exc}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = NativeEngine().fit(build_design(parse_formula("Reaction ~ Days + (1 | Subject)"), frame), "REML")
    est, se = [float(x) for x in fit.fixed], [float(x) for x in fit.se]
    text = f"""id: never-agree
title: "sleepstudy, reference = the native engine's own numbers"
source: "constructed by the test from the native engine's fit"
data:
  dataset: {{package: lme4, name: sleepstudy}}
model:
  formula: Reaction ~ Days + (1 | Subject)
  method: REML
expected:
  - label: self
    software: lme4
    version: "native engine (control)"
    call: "fit_design(Reaction ~ Days + (1 | Subject))"
    source: "the native engine's own fit"
    options: {{method: REML}}
    values:
      fixed:
        (Intercept): {{estimate: {est[0]!r}, se: {se[0]!r}}}
        Days: {{estimate: {est[1]!r}, se: {se[1]!r}}}
      random:
        Residual: {{variance: {float(fit.sigma2)!r}}}
      fit:
        nobs: 180
        loglik: {float(fit.loglik)!r}
"""
    p = tmp_path_factory.mktemp("case") / "never-agree.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _reports(case_file: Path, engine, out: Path) -> tuple[int, dict[str, str]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = run_cases([case_file], engine)
    paths = write_reports(results, out, FORMATS)
    return exit_code(results), {p.name: p.read_text(encoding="utf-8") for p in paths}


def test_control_the_honest_engine_agrees(case_file: Path, tmp_path: Path) -> None:
    code, rep = _reports(case_file, NativeEngine(), tmp_path)
    assert code == 0
    case = json.loads(rep["report.json"])["cases"][0]
    assert case["status"] == "agrees"
    assert all(v["verdict"] in (AGREES, WITHIN) for v in case["blocks"][0]["values"])


@pytest.mark.parametrize("how", ["not converged", "nan", "inf"])
def test_never_reported_as_agreement(case_file: Path, tmp_path: Path, how: str) -> None:
    code, rep = _reports(case_file, Doubtful(how), tmp_path)
    assert code == 1
    # JSON
    case = json.loads(rep["report.json"])["cases"][0]
    assert case["status"] in ("error", "discrepancy")
    assert case["fits"][0]["converged"] is False
    values = [v for b in case["blocks"] for v in b["values"]]
    assert values and all(v["verdict"] not in (AGREES, WITHIN) for v in values)
    # markdown: the summary row and the fit's flags
    md = rep["report.md"]
    row = next(ln for ln in md.splitlines() if ln.startswith("| `never-agree` |"))
    assert row.split("|")[2].strip() in ("error", "discrepancy")
    assert "agrees" not in md.split("Cases:")[1].splitlines()[0]
    assert "NOT CONVERGED" in md
    # HTML: the case's heading never carries the agreeing status; the flags are shown
    html = rep["report.html"]
    heading = re.search(r"<h2 id='never-agree'>.*?</h2>", html).group(0)
    assert "status-agrees" not in heading and "NOT CONVERGED" in html
    cells = re.findall(r"class='cell-(\w+)'><title>never-agree · lme4 \w+: ", html)
    assert cells and all(c in ("discrepancy", "nc") for c in cells)  # the heat map shows no agreeing cell
    # JUnit: the block is an error or a failure, and its properties say not converged
    suite = ET.fromstring(rep["junit.xml"])
    assert int(suite.get("errors")) + int(suite.get("failures")) == int(suite.get("tests")) == 1
    tc = suite.find("testcase")
    assert tc.find("error") is not None or tc.find("failure") is not None
    assert tc.find("properties/property[@name='REML converged']").get("value") == "false"


@pytest.mark.parametrize("engine_value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_engine_value_is_never_agreement(engine_value: float) -> None:
    for printed in ("inf", "1.5", "<2e-16", ">0.5"):
        v = compare_value(
            "fixed",
            "x",
            "estimate",
            Printed(float(printed.lstrip("<>")), printed),
            engine_value,
            resolve_tolerance("estimate", {"rtol": 1e300, "atol": 1e300}),
        )
        assert v.verdict == DISCREPANCY, (printed, engine_value, v)


def test_junit_failure_carries_the_diagnosis(case_dir, tmp_path):
    # issue #18: a CI system shows the JUnit <failure> text; it says why, not only what
    from xml.etree import ElementTree as ET

    from replicate.cli import main

    p = case_dir / "classroom-mathkind-ses-school.yaml"
    p.write_text(p.read_text().replace("se: 2.058", "se: 2.158"))
    out = tmp_path / "reports"
    assert main(["run", str(p), "--out", str(out), "--format", "junit"]) == 1
    failures = [f.text or "" for f in ET.parse(out / "junit.xml").iter("failure")]
    assert len(failures) == 1
    assert "2.158" in failures[0] and "why: the printout contradicts itself" in failures[0]
    assert "inconsistent printout: fixed (Intercept) t = 226.337" in failures[0]


def test_github_job_summary_names_the_disagreeing_value_and_why(case_dir, tmp_path):
    # issue #18: a job summary a CI system shows inline, with the reason on the job's page
    from replicate.cli import main

    p = case_dir / "classroom-mathkind-ses-school.yaml"
    p.write_text(p.read_text().replace("se: 2.058", "se: 2.158"))
    out = tmp_path / "reports"
    assert main(["run", str(case_dir), "-k", "mathkind and not lm", "--out", str(out), "--format", "github"]) == 1
    text = (out / "job-summary.md").read_text()
    assert "| `classroom-mathkind-ses-school` | discrepancy | 1 |" in text
    assert "printed 2.158, engine 2.05775" in text and "why: the printout contradicts itself" in text
    assert "<details><summary><code>classroom-mathkind-ses-school</code>" in text
    assert "classroom-mathkind-ses-school-class" not in text.split("|---|---|---|")[1].split("<details>")[0]
