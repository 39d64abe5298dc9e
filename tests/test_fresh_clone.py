"""A fresh clone, and an installed package, run the shipped cases with nothing beside them.

The clone is made of the files git would commit (tracked and not ignored), copied into a temporary
folder with no sibling folders and without REPLICATE_DATA_PATH; the package is built into a wheel,
installed into a folder of its own, and run from an empty folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from replicate.simulate.blas import _without_r_library_path

ROOT = Path(__file__).resolve().parents[1]
#: A few cases that need each kind of shipped file: a packaged CSV, a raw printout, an R dataset.
FEW = "imm23-null or seed000-nels-urban-hlm-sas or classroom-mathkind-ses-school or dyestuff"


def _git_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    return [f for f in out.split("\0") if f and (ROOT / f).is_file()]


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("alone") / "replicate"
    for rel in _git_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    assert not (dest.parent / "shared").exists()
    return dest


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REPLICATE_DATA_PATH", "PYTHONPATH", "LD_LIBRARY_PATH")}
    ld = _without_r_library_path()  # without the folders rpy2 put first when an earlier test loaded R
    if ld is not None:
        env["LD_LIBRARY_PATH"] = ld
    env.update(extra)
    return env


def _replicate(args: list[str], cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "replicate.cli", *args],
        cwd=cwd,
        text=True,
        check=False,
        capture_output=True,
        env=_env(PYTHONPATH=str(pythonpath)),
        timeout=600,
    )


def test_nothing_the_program_needs_points_outside_the_repository() -> None:
    hits = []
    for base in ("README.md", "cases", "replicate", ".ci"):
        paths = [ROOT / base] if (ROOT / base).is_file() else sorted((ROOT / base).rglob("*"))
        for p in paths:
            if p.is_file() and p.suffix in ("", ".md", ".yaml", ".py", ".json", ".R", ".txt"):
                text = p.read_text(encoding="utf-8", errors="replace")
                hits += [f"{p.relative_to(ROOT)}: {m.group(0)}" for m in re.finditer(r"\.\./shared\S*", text)]
    assert hits == []


def test_fresh_clone_runs_every_shipped_case(clone: Path) -> None:
    res = _replicate(["run"], cwd=clone, pythonpath=clone)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "not found" not in res.stdout + res.stderr
    lines = [ln for ln in res.stdout.splitlines() if re.match(r"^(agrees|skipped|discrepancy|error|invalid) ", ln)]
    assert len(lines) == len(list((clone / "cases").glob("*.yaml")))
    assert all(ln.startswith(("agrees", "skipped")) for ln in lines), res.stdout
    assert (clone / "reports" / "report.json").is_file()


def test_installed_wheel_runs_the_examples_from_any_folder(clone: Path, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(clone)],
        text=True,
        capture_output=True,
        env=_env(),
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("replicate-*.whl")
    site = tmp_path / "site"
    inst = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        text=True,
        capture_output=True,
        env=_env(),
        timeout=600,
        check=False,
    )
    assert inst.returncode == 0, inst.stdout + inst.stderr
    assert (site / "replicate" / "datasets" / "imm23.csv").is_file()
    assert (site / "replicate" / "_examples" / "cases" / "imm23-null.yaml").is_file()

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    res = _replicate(["run", "-k", FEW], cwd=empty, pythonpath=site)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "using the example cases shipped with replicate" in res.stderr
    assert str(site / "replicate" / "_examples" / "cases") in res.stderr
    for case_id in ("imm23-null", "seed000-nels-urban-hlm-sas", "classroom-mathkind-ses-school", "dyestuff"):
        assert re.search(rf"^(agrees|skipped) +{case_id} ", res.stdout, re.MULTILINE), res.stdout
    assert (empty / "reports" / "report.json").is_file()

    mine = tmp_path / "mine"
    copied = _replicate(["examples", str(mine)], cwd=empty, pythonpath=site)
    assert copied.returncode == 0, copied.stderr
    assert sorted(p.name for p in (mine / "cases").glob("*.yaml")) == sorted(
        p.name for p in (clone / "cases").glob("*.yaml")
    )
    again = _replicate(["examples", str(mine)], cwd=empty, pythonpath=site)
    assert again.returncode == 2 and "exists already" in again.stderr
    listed = _replicate(["list"], cwd=mine, pythonpath=site)
    assert listed.returncode == 0 and "imm23-null" in listed.stdout
    assert "shipped" not in listed.stderr  # ./cases exists there, so it is used


def test_readme_starts_with_the_two_commands_ci_runs() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)
    assert blocks[0].strip().endswith("pip install -e . && replicate run")
    assert blocks[1].strip().endswith("python -m pytest -q")
    assert "REPLICATE_DATA_PATH" not in blocks[0] + blocks[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "readme_command" in ci and "git clone" in ci and "unset REPLICATE_DATA_PATH" in ci
