"""The pytest plugin collects case files and reports disagreements as tables."""

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CASE = Path(__file__).resolve().parents[1] / "cases" / "classroom-mathkind-ses-school.yaml"


def test_cases_are_collected_and_failures_are_tables(pytester: pytest.Pytester, data_dir, monkeypatch):
    cases = pytester.path / "cases"
    cases.mkdir()
    shutil.copy(CASE, cases / "good.yaml")
    bad = CASE.read_text().replace("id: classroom-mathkind-ses-school", "id: wrong").replace("se: 2.058", "se: 2.158")
    (cases / "wrong.yaml").write_text(bad)
    (cases / "broken.yaml").write_text("id: broken\ntitle: [\n")
    result = pytester.runpytest("cases", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert "fixed (Intercept) se" in out and "2.158" in out
    # the failure says why, as `replicate run` does (issue #18)
    assert "why: the printout contradicts itself" in out and "a transcription error?" in out
    assert "inconsistent printout: fixed (Intercept) t = 226.337" in out
    assert "malformed YAML" in out
    assert "Traceback" not in out


def test_engine_option(pytester: pytest.Pytester, data_dir):
    cases = pytester.path / "cases"
    cases.mkdir()
    shutil.copy(CASE, cases / "good.yaml")
    result = pytester.runpytest("cases", "--replicate-engine", "nosuch", "-p", "no:cacheprovider")
    assert "unknown engine 'nosuch'" in result.stdout.str()
