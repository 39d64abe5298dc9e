"""Which case files a run takes: found under the paths, loaded once, selected by ``-k``, duplicate ids refused."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .case import Case, find_case_files, load_case
from .case_ids import duplicate_ids
from .errors import CaseError
from .keyword import matches


def select(cases: list[Path], expr: str | None, loaded: dict[Path, Case | Exception]) -> list[Path]:
    """Keep cases whose id, title or tags match a ``-k`` expression."""
    if not expr:
        return cases

    out = []
    for p in cases:
        c = loaded.get(p)
        words = [p.stem]
        if isinstance(c, Case):
            words += [c.id, c.title, *c.tags]
        if matches(expr, words):
            out.append(p)
    return out


def plan_run(
    paths: Iterable[str | Path], keyword: str | None
) -> tuple[list[Path], dict[Path, Case | Exception], dict[Path, str]]:
    """(files to run, file -> loaded case or its error, file -> duplicate-id error)."""
    files = find_case_files(list(paths))
    loaded: dict[Path, Case | Exception] = {}
    for f in files:
        try:
            loaded[f] = load_case(f)
        except CaseError as exc:
            loaded[f] = exc
    return select(files, keyword, loaded), loaded, duplicate_ids(loaded)
