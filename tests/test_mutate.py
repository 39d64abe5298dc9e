"""The mutation tool (benchmarks/mutate.py, issue #19): which mutants it makes and that each changes one thing."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

SPEC = importlib.util.spec_from_file_location(
    "mutate", Path(__file__).resolve().parents[1] / "benchmarks" / "mutate.py"
)
assert SPEC is not None and SPEC.loader is not None
mutate = importlib.util.module_from_spec(SPEC)
sys.modules["mutate"] = mutate  # dataclasses look their module up there
SPEC.loader.exec_module(mutate)

SOURCE = '''
def df(n: int, p: int = 1) -> int:
    """n - p, or 0."""
    if n > p and p >= 0:
        return n - p * 1
    return 0
'''


def test_every_operator_and_small_constant_is_a_mutant_but_not_annotations_or_docstrings():
    tree = ast.parse(SOURCE)
    changes = sorted(m.change for m in mutate.mutants(tree))
    # n > p, p >= 0, and, n - p, p * 1, the constants 0 (twice) and 1 (twice; the default p = 1 among them)
    assert changes == sorted(
        ["> -> >=", ">= -> >", "and -> or", "- -> +", "* -> /", "0 -> 1", "0 -> 1", "1 -> 2", "1 -> 2"]
    )


def test_each_mutant_changes_exactly_its_node():
    tree = ast.parse(SOURCE)
    original = ast.unparse(tree)
    for m in mutate.mutants(tree):
        changed = mutate.apply(tree, m)
        assert changed != original
        diff = [(a, b) for a, b in zip(original.splitlines(), changed.splitlines(), strict=True) if a != b]
        assert len(diff) == 1, (m, diff)
    assert ast.unparse(tree) == original  # the parsed tree is left as it was


def test_the_report_gives_the_kill_rate_and_every_survivor():
    ms = mutate.mutants(ast.parse(SOURCE))
    results = [(ms[0], "killed"), (ms[1], "survived"), (ms[2], "timeout")]
    text = mutate.report("m.py", ["t.py"], results, 1.0)
    assert "3 mutants, 2 killed (66.7%), 1 survived" in text
    assert f"| {ms[1].line} | `{ms[1].change}` |" in text
