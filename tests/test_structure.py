"""The package's shape, checked: stages import only backwards, no cycles, small modules (issue #15).

A module's stage is its place in the pipeline of ARCHITECTURE.md (case -> model -> fit -> quantities ->
comparison -> diagnosis -> report -> run). An import may go to the same stage or an earlier one; an import
of the package hidden inside a function (usually there to dodge a cycle) is refused too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "replicate"
MAX_LINES = 400
MAX_RUN_MODULES = 8

# Longest prefix wins. Stage numbers follow the pipeline.
STAGES: dict[str, int] = {
    # 1 base: vocabulary, errors, small utilities that import nothing later
    "replicate.errors": 1,
    "replicate.vocab": 1,
    "replicate.printed": 1,
    "replicate.version": 1,
    "replicate.fileio": 1,
    "replicate.terminal": 1,
    "replicate.yaml12": 1,
    "replicate.keyword": 1,
    "replicate.interrupts": 1,
    "replicate.datapath": 1,
    "replicate.case_ids": 2,
    "replicate.sas_statement": 1,
    # 2 case: case files and the printouts they point to
    "replicate.case": 2,
    "replicate.reference_block": 2,
    "replicate.case_text": 2,
    "replicate.case_yaml": 2,
    "replicate.case_schema": 2,
    "replicate.case_printout": 2,
    "replicate.case_statements": 2,
    "replicate.references": 2,
    "replicate.allowed": 2,
    "replicate.schema_doc": 2,
    # 3 model building: data, formulas, design
    "replicate.expr": 3,
    "replicate.expr_nodes": 3,
    "replicate.expr_tokens": 3,
    "replicate.expr_parse": 3,
    "replicate.expr_eval": 3,
    "replicate.formula_calls": 3,
    "replicate.spec": 3,
    "replicate.spec_terms": 3,
    "replicate.spec_model": 3,
    "replicate.spec_tokens": 3,
    "replicate.spec_formula": 3,
    "replicate.spec_levels": 3,
    "replicate.data": 3,
    "replicate.recipes": 3,
    "replicate.rbridge": 3,
    "replicate.design": 3,
    "replicate.datasets": 3,
    # 4 fit
    "replicate.results": 4,
    "replicate.engine": 4,
    "replicate.engines": 4,
    "replicate.fitguard": 4,
    # 5 inference
    "replicate.inference": 5,
    # 6 quantities (and the fitted-model API built on the same definitions)
    "replicate.quantities": 6,
    "replicate.model": 6,
    "replicate.summaries": 6,
    "replicate.block_names": 2,
    "replicate.printed_theta": 6,
    "replicate.varcorr_values": 4,
    "replicate.findings": 2,
    "replicate.boundary": 6,
    "replicate.consistency": 6,
    "replicate.hlm_entry": 6,
    "replicate.dfexplain": 6,
    "replicate.fixed_part": 3,
    "replicate.rside_syntax": 3,
    "replicate.rside_random": 3,
    "replicate.rside_model": 3,
    "replicate.rside_names": 1,
    # 7 comparison
    "replicate.compare": 7,
    "replicate.comparison": 7,
    # 8 diagnosis
    "replicate.diagnose": 8,
    "replicate.optimum": 8,
    "replicate.rside_optimum": 8,
    "replicate.diagnose_rside": 8,
    "replicate.diagnose_glmm": 8,
    "replicate.diagnose_glmm_optimum": 8,
    "replicate.diagnose_declared": 8,
    "replicate.diagnose_glmm_defs": 8,
    "replicate.diagnosis": 8,
    "replicate.diagnose_defs": 8,
    "replicate.typos": 8,
    # 9 report
    "replicate.report": 9,
    "replicate.show": 9,
    "replicate.side_by_side": 9,
    "replicate.outcome": 9,
    "replicate.value_labels": 9,
    # 10 run: sequencing and front ends
    "replicate.runner": 10,
    "replicate.pytest_plugin": 10,
    "replicate.reference_blocks": 10,
    "replicate.reference_writer": 10,
    "replicate.cli": 10,
    "replicate.cli_cases": 10,
    "replicate.simulate": 10,
    "replicate.bench": 10,
    "replicate.examples": 10,
    "replicate.scaffold": 10,
    "replicate.case_lookup": 2,
    "replicate.build": 3,
    "replicate.regen": 10,
    "replicate.block_stage": 10,
    "replicate.rside_stage": 10,
    "replicate.glmm_stage": 10,
    "replicate.glmm_methods": 10,
    "replicate.glmm_reference": 10,
    "replicate.native_stage": 10,
    "replicate.selection": 10,
    "replicate.scaffold_model": 10,
    "replicate.cli_new": 10,
    "replicate": 10,
}


def _modules() -> dict[str, Path]:
    mods = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _targets(mod: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        name = ".".join([*base, node.module] if node.module else base)
    else:
        name = node.module or ""
    return [f"{name}.{a.name}" if f"{name}.{a.name}" in MODULES else name for a in node.names]


def _owner(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _in_function(tree: ast.Module) -> set[int]:
    """ids of import nodes inside a function or method body."""
    inner: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inner.update(id(n) for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return inner


def _type_checking_only(tree: ast.Module) -> set[int]:
    only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            only.update(id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return only


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    lazy: list[str] = []
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inner, typing_only = _in_function(tree), _type_checking_only(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in typing_only:
                continue
            for target in _targets(mod, path, node):
                owner = _owner(target)
                if owner is None:  # the standard library or a third-party package
                    continue
                if owner == mod:
                    continue
                graph[mod].add(owner)
                if id(node) in inner:
                    lazy.append(f"{mod}:{node.lineno} imports {owner} inside a function")
    return graph, lazy


def _stage(mod: str) -> int:
    for prefix in sorted(STAGES, key=len, reverse=True):
        if mod == prefix or mod.startswith(prefix + "."):
            return STAGES[prefix]
    raise AssertionError(f"{mod} has no stage in tests/test_structure.py: give it one")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


GRAPH, LAZY = _graph()


def test_every_module_has_a_stage() -> None:
    for mod in MODULES:
        _stage(mod)


def test_no_import_cycles() -> None:
    assert _cycles(GRAPH) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


#: pytest loads the plugin in every pytest session of the environment: it imports the package only when it
#: collects a case file, so that other projects' test runs do not pay for numpy, scipy and pandas.
LAZY_ALLOWED = {"replicate.pytest_plugin"}


def test_no_import_runs_back_up_the_stages() -> None:
    backward = {
        (mod, dep)
        for mod, deps in GRAPH.items()
        for dep in deps
        if _stage(dep) > _stage(mod) and not (mod == "replicate" or dep.startswith(mod + "."))
    }
    assert backward == set(), "imports that run back up the stages"


def test_no_package_import_hidden_in_a_function() -> None:
    assert [entry for entry in LAZY if entry.split(":")[0] not in LAZY_ALLOWED] == []


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_module_is_small(mod: str) -> None:
    lines = len(MODULES[mod].read_text(encoding="utf-8").splitlines())
    assert lines < MAX_LINES, f"{MODULES[mod]} has {lines} lines; split it by idea (at most {MAX_LINES - 1})"


def test_following_a_run_means_reading_few_modules() -> None:
    # The runner sequences the stages; the modules it hands work to are what one reads to follow a run.
    read = GRAPH["replicate.runner"] - {"replicate.errors", "replicate.vocab"}
    assert len(read) <= MAX_RUN_MODULES, sorted(read)
