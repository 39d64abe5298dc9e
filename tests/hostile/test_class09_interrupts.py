"""Issue #14, class 9: interrupts lose work.

Ctrl-C on ``replicate run`` writes the finished cases' reports, marked
interrupted, and exits 130 without a traceback; ``replicate simulate`` killed by
SIGKILL leaves no worker process (nor the resource tracker) behind; a study rerun
after an engine or code change computes its replicates again instead of resuming
old ones.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import yaml

from replicate.cli import EXIT_INTERRUPTED, main
from replicate.report import REPORT_FILES, check_report_set
from replicate.simulate.blas import _without_r_library_path
from tests.hostile.hostile_faults import forked

ALL = "markdown,json,junit,html"
ROOT = Path(__file__).resolve().parents[2]


def test_ctrl_c_on_run_keeps_the_finished_cases(small_cases, tmp_path):
    out, work = tmp_path / "r", tmp_path / "w"
    work.mkdir()

    def run_and_press_ctrl_c_in_the_second_case() -> int:
        from replicate import runner

        real, calls = runner.run_case, [0]

        def run_case(*args, **kwargs):
            calls[0] += 1
            if calls[0] == 2:
                os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered while the case runs
            return real(*args, **kwargs)

        runner.run_case = run_case
        return main(["run", str(small_cases), "--out", str(out), "--format", ALL])

    t = forked(run_and_press_ctrl_c_in_the_second_case, workdir=work)
    assert t.exit_code == EXIT_INTERRUPTED, t
    assert "Traceback" not in t.stderr and "KeyboardInterrupt" not in t.stderr, t.stderr
    assert "interrupted after 1 of 3 cases" in t.stderr
    assert check_report_set(out, REPORT_FILES)
    doc = json.loads((out / "report.json").read_text())
    assert doc["interrupted"] is True and doc["cases_planned"] == 3
    assert [c["id"] for c in doc["cases"]] == ["dyestuff-a"] and doc["cases"][0]["status"] == "agrees"
    assert "Interrupted: 1 of 3 cases finished" in (out / "report.md").read_text()
    props = {p.get("name"): p.get("value") for p in ET.parse(out / "junit.xml").getroot().iter("property")}
    assert props["replicate.interrupted"] == "true"


def test_ctrl_c_in_any_other_command_exits_130_without_traceback(small_cases, tmp_path):
    work = tmp_path / "w"
    work.mkdir()

    def list_and_press_ctrl_c() -> int:
        from replicate import cli_cases as cli

        def interrupted(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the KeyboardInterrupt arrives here
            return []

        cli.find_case_files = interrupted
        return main(["list", str(small_cases)])

    t = forked(list_and_press_ctrl_c, workdir=work)
    assert t.exit_code == EXIT_INTERRUPTED and "Traceback" not in t.stderr, t


def _children(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is ``pid``."""
    out = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.add(int(d.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def test_simulate_workers_die_with_their_parent(tmp_path):
    if not Path("/proc/self/stat").exists():
        import pytest

        pytest.skip("needs /proc (Linux)")
    study = {
        "id": "long",
        "seed": 3,
        "replicates": 4000,
        "chunk_size": 2,
        "design": {"groups": 6, "group_size": 4, "predictors": {"x": {"level": 1}}},
        "truth": {"fixed": {"(Intercept)": 1.0, "x": 0.5}, "icc": 0.3},
        "methods": {"estimation": ["REML"], "df": ["residual"], "se": ["model"]},
    }
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(study))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    ld = _without_r_library_path()  # R loaded by an earlier test put its libraries first: not for children
    env.pop("LD_LIBRARY_PATH", None) if ld is None else env.update(LD_LIBRARY_PATH=ld)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "replicate.cli",
            "simulate",
            str(path),
            "--out",
            str(tmp_path / "o"),
            "--workers",
            "2",
            "--executor",
            "local",
            "--quiet",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        chunks = tmp_path / "o" / "chunks"
        deadline = time.monotonic() + 120  # bounded waits, never a timing assertion
        while time.monotonic() < deadline and not (chunks.is_dir() and any(chunks.iterdir())):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.1)
        kids = _children(proc.pid)
        roles = [_cmdline(k) for k in kids]
        assert sum("spawn_main" in c for c in roles) == 2, roles  # the workers (and the resource tracker)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.1)
    left = [k for k in kids if _alive(k)]
    for k in left:  # do not leave them running if the test fails
        os.kill(k, signal.SIGKILL)
    assert not left, f"{len(left)} of {len(kids)} worker processes outlived their killed parent"


def _small_study() -> dict:
    return {
        "id": "resume",
        "seed": 11,
        "replicates": 4,
        "chunk_size": 2,
        "design": {"groups": 6, "group_size": 4, "predictors": {"x": {"level": 1}}},
        "truth": {"fixed": {"(Intercept)": 1.0, "x": 0.5}, "icc": 0.3},
        "methods": {"estimation": ["REML"], "df": ["residual"], "se": ["model"]},
    }


def test_code_version_names_the_engine_and_changes_with_it(monkeypatch):
    from replicate.engines.native import NativeEngine
    from replicate.simulate import codeversion

    codeversion.code_version.cache_clear()
    now = codeversion.code_version()
    assert "native engine" in now and "source " in now
    monkeypatch.setattr(NativeEngine, "version", lambda self: "replicate 9.9 (native engine, changed)")
    codeversion.code_version.cache_clear()
    try:
        assert codeversion.code_version() != now
    finally:
        monkeypatch.undo()
        codeversion.code_version.cache_clear()
    assert codeversion.code_version() == now


def test_code_version_follows_the_source_of_the_engine(tmp_path, monkeypatch):
    from replicate.simulate import codeversion

    codeversion.code_version.cache_clear()
    now = codeversion.code_version()
    copy = tmp_path / "replicate"
    for item in codeversion.SOURCES:
        src = codeversion._PACKAGE / item
        dst = copy / item
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            import shutil

            shutil.copytree(src, dst)
        else:
            dst.write_bytes(src.read_bytes())
    monkeypatch.setattr(codeversion, "_PACKAGE", copy)
    codeversion.code_version.cache_clear()
    try:
        assert codeversion.code_version() == now  # the same source, wherever it lies
        with open(copy / "engine" / "deviance.py", "a") as fh:
            fh.write("\n# a changed engine\n")
        codeversion.code_version.cache_clear()
        assert codeversion.code_version() != now
    finally:
        monkeypatch.undo()
        codeversion.code_version.cache_clear()


def test_rerun_after_an_engine_change_computes_again(tmp_path, monkeypatch, capsys):
    from replicate.simulate import codeversion, simulate_command
    from replicate.simulate.study import run_study

    out = tmp_path / "o"
    first = run_study(_small_study(), out, executor="serial", write_reports=False)
    assert (first.computed, first.resumed, first.stale) == (4, 0, 0)
    same = run_study(_small_study(), out, executor="serial", write_reports=False)
    assert (same.computed, same.resumed, same.stale) == (0, 4, 0)
    monkeypatch.setattr(codeversion, "code_version", lambda: "replicate 9.9; engine changed")
    path = tmp_path / "resume.yaml"
    path.write_text(yaml.safe_dump(_small_study()))
    assert simulate_command(path, out, executor="serial", progress=lambda *a: None) == 0
    text = capsys.readouterr().out
    assert "4 computed, 4 of them again because the engine or the study's code changed" in text
    assert "0 resumed" in text
    doc = json.loads((out / "chunks" / "chunk-00000.json").read_text())
    assert doc["code"] == "replicate 9.9; engine changed"
