"""Reports of a run: Markdown, JSON, JUnit XML and self-contained HTML.

A run's reports are one unit (:mod:`replicate.report.unit`): every format is
rendered, written into a fresh folder and swapped in at once, and each carries
the run's id, so a reader never sees files of two runs side by side, and an
interrupted run leaves the previous set intact. :func:`write_atomic` writes a
single file the same way (temporary file, then rename; the old file's mode kept).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .. import fileio
from ..outcome import CaseResult
from .github import render_github
from .html import render_html
from .jsonout import render_json
from .junit import render_junit
from .markdown import render_markdown
from .stamp import RunInfo, new_run_id
from .unit import ReportSetError, check_report_set, remove_stale, temp_prefix, write_report_set

FORMATS: dict[str, tuple[str, Callable[..., str]]] = {
    "markdown": ("report.md", render_markdown),
    "json": ("report.json", render_json),
    "junit": ("junit.xml", render_junit),
    "html": ("report.html", render_html),
    "github": ("job-summary.md", render_github),
}
#: Every file name a run writes into the report folder.
REPORT_FILES = {name for name, _ in FORMATS.values()}

__all__ = [
    "FORMATS",
    "REPORT_FILES",
    "ReportSetError",
    "RunInfo",
    "check_report_set",
    "new_run_id",
    "remove_stale",
    "write_atomic",
    "write_reports",
]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half.

    The temporary file's name (``.<name>.replicate-tmp-<pid>.<random>.tmp``) names
    this process, so :func:`remove_stale` can remove one a killed process left.
    """
    fileio.write_atomic(path, text, prefix=temp_prefix(path.name), suffix=".tmp")


def write_reports(results: list[CaseResult], out: Path, formats: list[str], run: RunInfo | None = None) -> list[Path]:
    """Render every requested format, then swap them into ``out`` as one set stamped with ``run``'s id."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format(s) {unknown}; choose from {sorted(FORMATS)}")
    run = run or RunInfo(new_run_id())
    files = {FORMATS[f][0]: FORMATS[f][1](results, run) for f in dict.fromkeys(formats)}
    return write_report_set(Path(out), files, REPORT_FILES)
