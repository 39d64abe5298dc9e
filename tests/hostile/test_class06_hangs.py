"""Issue #14 class 6 (inputs that hung): a YAML alias bomb, a -k expression nested 3,000 deep and a FIFO
named like a case. Each runs in a child process with a bounded wait, so a hang fails the test instead
of stopping the suite; no time is asserted."""

from __future__ import annotations

import os
import subprocess
import sys

from replicate.simulate.blas import _without_r_library_path
from tests.hostile.hostile_cases import ROOT, good_case

BOMB = 'id: bomb\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [" + ",".join([f"*{a}"] * 9) + "]\n" for a, b in zip("abcdefgh", "bcdefghi")
)


def _replicate(args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    ld = _without_r_library_path()
    if ld:
        env["LD_LIBRARY_PATH"] = ld
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "replicate.cli", *args],
        cwd=cwd,
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_alias_bomb_is_refused_before_expanding(tmp_path, data_dir):
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "bomb.yaml").write_text(BOMB, encoding="utf-8")
    good_case(folder)
    res = _replicate(["run", "cases", "--out", "reports"], tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "aliases expand this document" in res.stdout and "refused before expanding" in res.stdout
    assert any(ln.startswith("agrees") and "good-neighbour" in ln for ln in res.stdout.splitlines())


def test_deeply_nested_k_expression_is_a_clear_error(tmp_path, data_dir):
    good_case(tmp_path / "cases")
    res = _replicate(["run", "cases", "-k", "(" * 3000 + "good" + ")" * 3000], tmp_path)
    assert res.returncode == 2 and "nests more than" in res.stderr and "Traceback" not in res.stderr


def test_fifo_named_like_a_case_is_an_error_not_a_hang(tmp_path, data_dir):
    folder = tmp_path / "cases"
    good_case(folder)
    os.mkfifo(folder / "pipe.yaml")
    res = _replicate(["run", "cases", "--out", "reports"], tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "not a regular file" in res.stdout
    assert any(ln.startswith("agrees") and "good-neighbour" in ln for ln in res.stdout.splitlines())
    assert _replicate(["validate", "cases"], tmp_path).returncode == 2
