"""Fault injection (issue #14): kill ``replicate run`` and a study at each write, with SIGINT and SIGKILL.

After every trial: the report folder holds one complete set (one run id, every
file parses), no temporary file matches the case glob, a Ctrl-C exits 130
without a traceback and leaves no temporary file; a killed study resumes to the
same numbers as a run never killed.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from xml.etree import ElementTree as ET

from replicate.case import find_case_files
from replicate.cli import EXIT_INTERRUPTED, main
from replicate.report import REPORT_FILES, check_report_set
from replicate.report.unit import TMP_TAG
from tests.hostile.hostile_faults import forked

ALL = "markdown,json,junit,html,github"


def complete_set(out: Path) -> tuple[str, dict]:
    """The run id of the one complete report set in ``out``, and its JSON report (every file must parse)."""
    assert sorted(os.listdir(out)) == sorted(REPORT_FILES)
    rid = check_report_set(out, REPORT_FILES)
    assert rid is not None
    ET.parse(out / "junit.xml")
    doc = json.loads((out / "report.json").read_text())
    assert "</html>" in (out / "report.html").read_text()
    return rid, doc


def test_run_killed_at_each_write_leaves_one_complete_set(small_cases, tmp_path):
    out, work = tmp_path / "r", tmp_path / "w"
    work.mkdir()
    argv = ["run", str(small_cases), "--out", str(out), "--format", ALL]
    assert main(argv) == 0
    cases = find_case_files([small_cases])
    dry = forked(lambda: main(argv), workdir=work)
    assert dry.exit_code == 0 and dry.steps and dry.steps >= 8, dry
    outcomes = {"old": 0, "new": 0}
    for sig in (signal.SIGKILL, signal.SIGINT):
        for k in range(1, dry.steps + 1):
            before, _ = complete_set(out)
            t = forked(lambda: main(argv), at=k, sig=sig, workdir=work)
            now, doc = complete_set(out)
            outcomes["old" if now == before else "new"] += 1
            if doc["interrupted"]:  # stopped while the cases ran: the finished ones are kept
                assert doc["cases_planned"] == 3 and len(doc["cases"]) < 3
            leftovers = [p for p in tmp_path.iterdir() if TMP_TAG in p.name]
            assert find_case_files([tmp_path]) == cases  # nothing left behind reads as a case
            if sig == signal.SIGKILL:
                assert t.signal == signal.SIGKILL, (k, t)
            else:
                assert t.exit_code == EXIT_INTERRUPTED, (k, t)
                assert "Traceback" not in t.stderr, t.stderr
                assert now != before  # a Ctrl-C while the set is written waits for the set
                assert not leftovers, (k, leftovers)
    assert outcomes["old"] and outcomes["new"]  # kills fell both before and after the swap
    assert main(argv) == 0  # the next run removes what killed runs left
    complete_set(out)
    assert not [p for p in tmp_path.iterdir() if TMP_TAG in p.name]


def tiny_study() -> dict:
    return {
        "id": "faults",
        "seed": 7,
        "replicates": 4,
        "chunk_size": 2,
        "design": {"groups": 6, "group_size": 4, "predictors": {"x": {"level": 1}}},
        "truth": {"fixed": {"(Intercept)": 1.0, "x": 0.5}, "icc": 0.3},
        "methods": {"estimation": ["REML"], "df": ["residual"], "se": ["model"]},
    }


def test_study_killed_at_each_write_resumes_to_the_same_numbers(tmp_path):
    from replicate.simulate import run_study

    work = tmp_path / "w"
    work.mkdir()
    clean = run_study(tiny_study(), tmp_path / "clean", executor="serial")
    commits = ("fsync", "replace")  # the last step before a file appears, and the step that makes it appear

    def study(out: Path):
        return lambda: (run_study(tiny_study(), out, executor="serial"), 0)[1]

    dry = forked(study(tmp_path / "dry"), workdir=work, names=commits)
    assert dry.exit_code == 0 and dry.steps and dry.steps >= 6, dry
    for k in range(1, dry.steps + 1):
        out = tmp_path / f"k{k}"
        t = forked(study(out), at=k, sig=signal.SIGKILL, workdir=work, names=commits)
        assert t.signal == signal.SIGKILL, (k, t)
        for f in out.rglob("*.json"):
            json.loads(f.read_text())  # no half-written file
        again = run_study(tiny_study(), out, executor="serial")
        assert again.records == clean.records and again.computed + again.resumed == 4
        assert not [p for p in out.rglob("*.tmp")]
