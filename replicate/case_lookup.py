"""Cases named on the command line: a file, a folder, or a case id (as `replicate show` has always taken).

``replicate run dyestuff`` runs the case whose id (or file name) is ``dyestuff`` under the cases folder, as
``replicate show dyestuff`` shows it; a name that is none of these is an error naming what was looked for,
never a row of an "invalid" case.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .case import find_case_files, load_case
from .errors import CaseError, ReplicateError


def _by_id(name: str, cases_dir: Path) -> Path | None:
    files = find_case_files([cases_dir]) if cases_dir.is_dir() else []
    stem = [f for f in files if f.stem == name]
    if stem:
        return stem[0]
    for f in files:
        try:
            if load_case(f).id == name:
                return f
        except ReplicateError:
            continue
    return None


def resolve_cases(names: Sequence[str | Path], cases_dir: Path) -> list[Path]:
    """Each name as it is when the path exists, else the case with that id or file name under ``cases_dir``.

    Raises:
        CaseError: a name is neither an existing file or folder nor a case id under ``cases_dir``.
    """
    out: list[Path] = []
    for name in names:
        path = Path(name)
        if path.exists():
            out.append(path)
            continue
        found = _by_id(str(name), cases_dir)
        if found is None:
            raise CaseError(
                f"no case file, folder or case id {str(name)!r}",
                field="paths",
                hint=f"give a file, a folder, or the id of a case under {cases_dir}",
            )
        out.append(found)
    return out
