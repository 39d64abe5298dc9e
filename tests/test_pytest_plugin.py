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


@pytest.mark.r
def test_regen_rewrites_live_blocks_and_shows_the_diff(pytester: pytest.Pytester, data_dir):
    # issue #18: refreshing an lme4 block after an R upgrade is one pytest call that shows the diff
    from tests.rsupport import need_r

    need_r("lme4", "lmerTest")
    cases = pytester.path / "cases"
    cases.mkdir()
    case = Path(__file__).resolve().parents[1] / "cases" / "dyestuff.yaml"
    stale = case.read_text().replace("estimate: 1527.500000000001", "estimate: 1500.5", 1)
    assert stale != case.read_text()
    (cases / "dyestuff.yaml").write_text(stale)
    result = pytester.runpytest("cases", "-p", "no:cacheprovider", "--replicate-regen")
    out = result.stdout.str()
    assert "live reference blocks regenerated" in out
    assert "fixed.(Intercept).estimate: 1500.5 -> 1527.5" in out, out[-3000:]
    result.assert_outcomes(passed=1)
    assert "1500.5" not in (cases / "dyestuff.yaml").read_text()
    assert "label: lme4-live" in (cases / "dyestuff.yaml").read_text()
