"""Case ids are unique across a run: two files with one id are an error naming both.

A second file with the same id (a copy, a temporary file left by an editor or a
killed tool) would otherwise run as a second case that the reports cannot tell
from the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .case import Case


def duplicate_ids(loaded: Mapping[Path, Case | Exception]) -> dict[Path, str]:
    """File -> error message, for every loaded case whose id another file also uses."""
    by_id: dict[str, list[Path]] = {}
    for path, case in loaded.items():
        if isinstance(case, Case):
            by_id.setdefault(case.id, []).append(path)
    out: dict[Path, str] = {}
    for cid, paths in by_id.items():
        if len(paths) < 2:
            continue
        for p in paths:
            others = ", ".join(str(q) for q in paths if q != p)
            out[p] = (
                f"{p}: case id '{cid}' is also the id of {others}; case ids must be unique "
                "(rename one id, or remove the copy)"
            )
    return out
