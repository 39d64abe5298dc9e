"""pytest plugin: every case file is a test file, every reference block a test.

``pytest`` collects ``*.yaml`` files inside a ``cases`` folder. Each
(case, reference block) is one test item; a failure prints a compact table of
the numbers that disagree instead of a traceback. ``--replicate-engine``
chooses the engine (default: native).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .compare import DISCREPANCY
from .report.explain import why_lines


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("replicate")
    group.addoption(
        "--replicate-engine", default="native", help="engine that fits the cases (native, statsmodels, ...)"
    )
    group.addoption("--replicate-no-cases", action="store_true", help="do not collect case files as tests")
    group.addoption(
        "--replicate-regen",
        action="store_true",
        help="recompute each case's live reference blocks (lme4-live, nlme-live, ...) in R, write them back and "
        "show what changed, before comparing",
    )


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if parent.config.getoption("--replicate-no-cases"):
        return None
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    parts = file_path.parts
    if "cases" not in parts[:-1] or "data" in parts[parts.index("cases") : -1]:
        return None
    return CaseFile.from_parent(parent, path=file_path)


class CaseProblem(Exception):
    """Raised by an item to report a case's problem without a traceback."""


def _run(config: pytest.Config, path: Path) -> Any:
    from .engines import get_engine
    from .runner import run_case

    cache = config.stash.setdefault(_results_key, {})
    engine_name = config.getoption("--replicate-engine")
    key = (str(path), engine_name)
    if key not in cache:
        if config.getoption("--replicate-regen"):
            _regenerate(config, path)
        cache[key] = run_case(path, get_engine(engine_name))
    return cache[key]


def _regenerate(config: pytest.Config, path: Path) -> None:
    """Recompute the case's live blocks before it is run; the summaries are printed at the end."""
    from .regen import live_labels, regenerate

    done = config.stash.setdefault(_regen_key, [])
    for label in live_labels(path):
        done.append(regenerate(path, label))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    done = config.stash.get(_regen_key, [])
    if done:
        terminalreporter.section("replicate: live reference blocks regenerated")
        for r in done:
            terminalreporter.write_line(r.summary if r.code == 0 else f"{r.case} {r.label}: {r.summary}")


_results_key: pytest.StashKey[dict[Any, Any]] = pytest.StashKey()
_regen_key: pytest.StashKey[list[Any]] = pytest.StashKey()


class CaseFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from .case import load_case
        from .errors import CaseError

        try:
            case = load_case(self.path)
        except CaseError as exc:
            yield CaseItem.from_parent(self, name="invalid", block=None, problem=str(exc))
            return
        if not case.blocks:
            yield CaseItem.from_parent(self, name=f"{case.id}::fit", block=None, problem=None)
            return
        for blk in case.blocks:
            yield CaseItem.from_parent(self, name=f"{case.id}::{blk.label}", block=blk.index, problem=None)


class CaseItem(pytest.Item):
    def __init__(self, *, block: int | None, problem: str | None, **kw: Any) -> None:
        super().__init__(**kw)
        self.block = block
        self.problem = problem
        self.add_marker(pytest.mark.replicate_case)

    def runtest(self) -> None:
        from .outcome import SKIPPED

        if self.problem:
            raise CaseProblem(self.problem)
        res = _run(self.config, self.path)
        if res.status == SKIPPED:
            why = "; ".join(res.messages) or "case skipped"
            if self.block is not None:
                checks = res.blocks[self.block].consistency
                held = sum(f.ok for f in checks)
                why += f" (printout consistency: {held} of {len(checks)} checks hold)"
            pytest.skip(why)
        if res.error:
            raise CaseProblem(res.error)
        if self.block is None:
            return
        blk = res.blocks[self.block]
        if blk.error:
            raise CaseProblem(blk.error)
        bad = [v for v in blk.values if v.verdict == DISCREPANCY]
        if bad:
            rows = [f"{'value':<42}{'reference':>14}{'engine':>16}{'digits':>8}"]
            for v in bad:
                eng = f"{v.engine:.8g}" if v.engine is not None else "—"
                rows.append(
                    f"{(v.section + ' ' + v.name + ' ' + v.quantity):<42}{v.reference:>14}{eng:>16}"
                    f"{(v.lre if v.lre is not None else 0):>8.1f}" + (f"  {v.note}" if v.note else "")
                )
            raise CaseProblem(
                f"{len(bad)} value(s) of {blk.label} ({blk.software}) disagree with engine "
                f"{res.engine}:\n" + "\n".join(rows + why_lines(blk))
            )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseProblem):
            return str(excinfo.value)
        from .errors import ReplicateError

        if isinstance(excinfo.value, ReplicateError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"case {self.name}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "replicate_case: a (case, reference block) item collected from cases/")
