"""Issue #14, class 8: unreadable or mixed reports.

A run's reports are one unit (fresh folder swapped in, each stamped with the run
id, a mixed set refused); JUnit XML parses whatever characters a case carries;
temporary files never match the case glob; duplicate case ids are an error;
file modes are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from replicate.case import find_case_files
from replicate.cli import EXIT_INVALID, main
from replicate.report import REPORT_FILES, ReportSetError, check_report_set
from replicate.report.junit import xml_safe
from replicate.report.unit import TMP_TAG, remove_stale
from tests.hostile.hostile_cases import dyestuff_copy

ALL = "markdown,json,junit,html,github"


def run_cli(cases: Path, out: Path, formats: str = ALL) -> int:
    return main(["run", str(cases), "--out", str(out), "--format", formats])


def test_junit_parses_when_a_label_has_a_control_character(tmp_path, data_dir):
    cases = tmp_path / "cases"
    cases.mkdir()
    dyestuff_copy(cases, "ctl", label='"lme4\\x02live\\x1f"')  # YAML escapes: the schema allows them
    assert run_cli(cases, tmp_path / "r") == 0
    suite = ET.parse(tmp_path / "r" / "junit.xml").getroot()
    names = [tc.get("name") for tc in suite.iter("testcase")]
    assert names == ["dyestuff-ctl::lme4\\x02live\\x1f"]  # visible escapes, nothing lost
    assert (
        json.loads((tmp_path / "r" / "report.json").read_text())["cases"][0]["blocks"][0]["label"] == "lme4\x02live\x1f"
    )


def test_xml_safe_escapes_every_character_xml_forbids():
    bad = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") + "\ufffe\uffff"
    text = xml_safe("a" + bad + "\t\n\rz")
    ET.fromstring(f"<x a='{text}'>{text}</x>")
    assert text.startswith("a\\x00\\x01") and text.endswith("\\ufffe\\uffff\t\n\rz")


def test_every_report_carries_the_run_id_and_a_new_run_replaces_the_whole_set(small_cases, tmp_path):
    out = tmp_path / "r"
    assert run_cli(small_cases, out) == 0
    first = check_report_set(out, REPORT_FILES)
    assert first and sorted(os.listdir(out)) == sorted(REPORT_FILES)
    assert run_cli(small_cases, out, "markdown,json") == 0
    second = check_report_set(out, REPORT_FILES)
    assert second and second != first
    # junit.xml and report.html of the first run are not kept beside the second run's reports
    assert sorted(os.listdir(out)) == ["report.json", "report.md"]


def test_a_mixed_set_is_refused(small_cases, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(small_cases, a) == 0 and run_cli(small_cases, b) == 0
    shutil.copy(b / "report.json", a / "report.json")
    with pytest.raises(ReportSetError, match="mixes reports of different runs"):
        check_report_set(a, REPORT_FILES)
    (a / "report.json").write_text("{}")
    with pytest.raises(ReportSetError, match="carries no replicate run id"):
        check_report_set(a, REPORT_FILES)


def test_other_files_in_the_report_folder_are_kept_and_modes_are_kept(small_cases, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "README.md").write_text("about these reports\n")
    out.chmod(0o750)
    assert run_cli(small_cases, out) == 0
    (out / "report.md").chmod(0o640)
    assert run_cli(small_cases, out) == 0
    assert (out / "README.md").read_text() == "about these reports\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "report.md").stat().st_mode) == 0o640
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((out / "report.json").stat().st_mode) == 0o666 & ~umask
    assert not [p for p in tmp_path.iterdir() if TMP_TAG in p.name]


def test_a_report_folder_holding_folders_is_refused(small_cases, tmp_path, capsys):
    out = tmp_path / "r"
    (out / "keep").mkdir(parents=True)
    assert run_cli(small_cases, out) == EXIT_INVALID
    assert "holds folders that are not replicate's reports (keep)" in capsys.readouterr().err
    assert os.listdir(out) == ["keep"]


def test_temporary_folders_of_killed_runs_are_removed(small_cases, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = proc.pid  # a process that has ended
    stale = tmp_path / f".r{TMP_TAG}{dead}.abc123"
    stale.mkdir()
    (stale / "report.md").write_text("half")
    alive = tmp_path / f".r{TMP_TAG}{os.getpid()}.def456"  # this process's own: kept
    alive.mkdir()
    assert remove_stale(tmp_path, "r") == [stale]
    assert not stale.exists() and alive.exists()
    assert find_case_files([tmp_path]) == find_case_files([small_cases])


def test_reference_temporary_files_never_match_the_case_glob(small_cases, monkeypatch):
    import replicate.reference_writer as rw

    case = small_cases / "dyestuff-a.yaml"
    seen: list[list[Path]] = []

    class Seen(Exception):
        pass

    def spy(path):
        seen.append(find_case_files([small_cases]))
        assert Path(path).exists() and Path(path).parent == small_cases
        raise Seen

    monkeypatch.setattr(rw, "load_case", spy)
    with pytest.raises(Seen):
        rw._validate_case_text(case.read_text(), case, {"label": "lme4-live"})
    assert seen == [sorted(small_cases.glob("dyestuff-*.yaml"))]  # the temporary file is not a case
    assert find_case_files([small_cases]) == seen[0]  # and it is gone


def test_reference_writes_keep_the_case_file_mode(small_cases):
    from replicate.reference_writer import _atomic_write

    case = small_cases / "dyestuff-a.yaml"
    case.chmod(0o664)
    _atomic_write(case, case.read_text() + "\n")
    assert stat.S_IMODE(case.stat().st_mode) == 0o664


def test_duplicate_case_ids_are_an_error_naming_both_files(small_cases, tmp_path, capsys):
    copy = small_cases / "zz-copy.yaml"
    shutil.copy(small_cases / "dyestuff-a.yaml", copy)
    assert run_cli(small_cases, tmp_path / "r", "json") == EXIT_INVALID
    out = capsys.readouterr().out
    assert f"case id 'dyestuff-a' is also the id of {copy}" in out
    assert f"case id 'dyestuff-a' is also the id of {small_cases / 'dyestuff-a.yaml'}" in out
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    status = {c["path"]: c["status"] for c in report["cases"]}
    assert status[str(copy)] == status[str(small_cases / "dyestuff-a.yaml")] == "invalid"
    assert status[str(small_cases / "dyestuff-b.yaml")] == "agrees"  # the other cases still run
    assert main(["validate", str(small_cases)]) == EXIT_INVALID
    assert "is also the id of" in capsys.readouterr().out


def test_without_an_atomic_exchange_the_set_is_still_never_mixed(small_cases, tmp_path, monkeypatch):
    from replicate.report import unit

    out = tmp_path / "r"
    assert run_cli(small_cases, out) == 0
    first = check_report_set(out, REPORT_FILES)
    monkeypatch.setattr(unit, "_exchange", lambda a, b: False)  # a system without renameat2
    assert run_cli(small_cases, out) == 0
    second = check_report_set(out, REPORT_FILES)
    assert second != first and sorted(os.listdir(out)) == sorted(REPORT_FILES)
    assert not [p for p in tmp_path.iterdir() if TMP_TAG in p.name]
