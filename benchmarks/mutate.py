"""Mutation testing of chosen modules against chosen tests: does the suite notice a wrong operator?

Each mutant changes one operator or constant of the module (``+`` / ``-``, ``*`` / ``/``, ``<`` / ``<=``,
``>`` / ``>=``, ``==`` / ``!=``, ``and`` / ``or``, an integer constant 0, 1 or 2 by one), in a copy of the
repository, and runs the tests on it; a mutant is killed when a test fails (or the run exceeds its time limit),
and survives when every test passes. The report lists the kill rate and every survivor with its line, so that each
can be read: an equivalent mutant, or a gap in the tests.

Usage (on demand; each mutant is one pytest run of the chosen tests)::

    python benchmarks/mutate.py --module replicate/inference/dfrules.py --tests tests/inference/test_dfrules.py
    python benchmarks/mutate.py --module ... --tests ... --report benchmarks/MUTATION.md --append

The working tree is never modified: the repository's ``replicate`` and ``tests`` are copied to a temporary
folder once, and each mutant rewrites only its module there (from the parsed tree, ``ast.unparse``).
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SWAPS: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.And: ast.Or,
    ast.Or: ast.And,
}
SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.And: "and",
    ast.Or: "or",
}


@dataclass(frozen=True)
class Mutant:
    """One change: the node's position in ``ast.walk`` order, its line, and what it does."""

    index: int
    line: int
    change: str


def _in_docstring_or_annotation(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    p = parents.get(node)
    while p is not None:
        if isinstance(p, (ast.arg, ast.AnnAssign)) or (isinstance(p, ast.FunctionDef) and node is p.returns):
            return True
        p = parents.get(p)
    return False


def mutants(tree: ast.Module) -> list[Mutant]:
    """Every mutation site of the module, in walk order."""
    parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
    out: list[Mutant] = []
    for i, node in enumerate(ast.walk(tree)):
        if _in_docstring_or_annotation(node, parents):
            continue
        if isinstance(node, (ast.BinOp, ast.BoolOp)) and type(node.op) in SWAPS:
            swap = SWAPS[type(node.op)]
            out.append(Mutant(i, node.lineno, f"{SYMBOLS[type(node.op)]} -> {SYMBOLS[swap]}"))
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in SWAPS:
            op = type(node.ops[0])
            out.append(Mutant(i, node.lineno, f"{SYMBOLS[op]} -> {SYMBOLS[SWAPS[op]]}"))
        elif (
            isinstance(node, ast.Constant)
            and type(node.value) is int
            and node.value in (0, 1, 2)
            and not isinstance(parents.get(node), ast.Subscript)
        ):
            out.append(Mutant(i, node.lineno, f"{node.value} -> {node.value + 1}"))
    return out


def apply(tree: ast.Module, mutant: Mutant) -> str:
    """The module's source with ``mutant`` applied."""
    new = copy.deepcopy(tree)
    node = list(ast.walk(new))[mutant.index]
    if isinstance(node, (ast.BinOp, ast.BoolOp)):
        node.op = SWAPS[type(node.op)]()
    elif isinstance(node, ast.Compare):
        node.ops = [SWAPS[type(node.ops[0])]()]
    elif isinstance(node, ast.Constant):
        node.value = node.value + 1
    return ast.unparse(new)


def run_tests(work: Path, tests: list[str], timeout: float) -> str:
    """``killed``, ``survived`` or ``timeout`` for the tests run in ``work``."""
    env = {**os.environ, "PYTHONPATH": str(work), "REPLICATE_BLAS_THREADS": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    try:
        res = subprocess.run(cmd, cwd=work, env=env, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "survived" if res.returncode == 0 else "killed"


def report(module: str, tests: list[str], results: list[tuple[Mutant, str]], seconds: float) -> str:
    killed = sum(1 for _, r in results if r in ("killed", "timeout"))
    rate = 100.0 * killed / len(results) if results else 0.0
    lines = [
        f"## `{module}` against `{' '.join(tests)}`",
        "",
        (
            f"{len(results)} mutants, {killed} killed ({rate:.1f}%), {len(results) - killed} survived; "
            f"{seconds:.0f} s ({time.strftime('%Y-%m-%d', time.gmtime())})."
        ),
        "",
    ]
    survivors = [(m, r) for m, r in results if r == "survived"]
    if survivors:
        lines += ["| line | change |", "|---:|---|"]
        lines += [f"| {m.line} | `{m.change}` |" for m, _ in survivors]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", required=True, help="the module to mutate, e.g. replicate/inference/dfrules.py")
    ap.add_argument("--tests", required=True, nargs="+", help="test files or node ids to run on each mutant")
    ap.add_argument("--max", type=int, default=0, help="at most this many mutants (0: all)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant's test run")
    ap.add_argument("--report", help="write (or with --append, add) the Markdown report here")
    ap.add_argument("--append", action="store_true")
    args = ap.parse_args(argv)
    source = (ROOT / args.module).read_text(encoding="utf-8")
    tree = ast.parse(source)
    sites = mutants(tree)
    if args.max:
        sites = sites[: args.max]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        work = Path(tmp)
        for part in ("replicate", "tests"):
            shutil.copytree(ROOT / part, work / part, ignore=shutil.ignore_patterns("__pycache__"))
        for extra in ("pyproject.toml", "setup.py"):
            if (ROOT / extra).exists():
                shutil.copy2(ROOT / extra, work / extra)
        target = work / args.module
        if run_tests(work, args.tests, args.timeout) != "survived":
            raise SystemExit("the tests fail on the unmutated code: fix them first")
        results = []
        for m in sites:
            target.write_text(apply(tree, m), encoding="utf-8")
            outcome = run_tests(work, args.tests, args.timeout)
            results.append((m, outcome))
            print(f"line {m.line:4d} {m.change:12s} {outcome}", flush=True)
        target.write_text(source, encoding="utf-8")
    text = report(args.module, args.tests, results, time.perf_counter() - start)
    print(text)
    if args.report:
        path = ROOT / args.report
        mode = "a" if args.append and path.exists() else "w"
        with path.open(mode, encoding="utf-8") as fh:
            fh.write(("\n" if mode == "a" else "") + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
