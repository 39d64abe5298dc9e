"""README.md's "What replicate guarantees" is checked: every test it names exists, every promise names
one, and the exit codes it lists are the command line's own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from replicate import cli_cases as cli
from replicate.outcome import DISCREPANT, INVALID, OK, CaseResult
from replicate.runner import exit_code

ROOT = Path(__file__).resolve().parents[2]
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## What replicate guarantees\n")
    end = text.index("\n## ", start + 5)
    return text[start:end]


def test_every_test_the_section_names_exists():
    refs = TEST_REF.findall(section())
    assert len(refs) >= 10
    for file, name in refs:
        tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert name in names, f"README names {file}::{name}, which does not exist"


def test_every_promise_names_a_test():
    bullets = re.split(r"\n- ", section().split("\n- ", 1)[1])
    assert len(bullets) >= 7
    for b in bullets:
        assert "Tests:" in b and TEST_REF.search(b), f"a promise without a test: {b[:80]}"


def test_exit_codes_match_the_cli():
    rows = re.findall(r"^\| (\d+) \| `(EXIT_\w+)` \|", section(), flags=re.MULTILINE)
    assert {name for _, name in rows} == {n for n in dir(cli) if n.startswith("EXIT_")}
    for code, name in rows:
        assert getattr(cli, name) == int(code), name

    # and the run's exit code follows the table
    def result(status: str) -> CaseResult:
        return CaseResult(path="x.yaml", case_id="x", status=status)

    assert exit_code([result(OK)]) == cli.EXIT_OK
    assert exit_code([result(OK), result(DISCREPANT)]) == cli.EXIT_DISCREPANCY
    assert exit_code([result(DISCREPANT), result(INVALID)]) == cli.EXIT_INVALID
