"""Reports of a run: Markdown, JSON, JUnit XML and self-contained HTML.

Every report is written atomically: to a temporary file in the same folder,
then renamed over the old one, so an interrupted run leaves the previous report
intact.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from ..runner import CaseResult
from .html import render_html
from .jsonout import render_json
from .junit import render_junit
from .markdown import render_markdown

FORMATS: dict[str, tuple[str, Callable[[list[CaseResult]], str]]] = {
    "markdown": ("report.md", render_markdown),
    "json": ("report.json", render_json),
    "junit": ("junit.xml", render_junit),
    "html": ("report.html", render_html),
}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; reports are ordinary files
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_reports(results: list[CaseResult], out: Path, formats: list[str]) -> list[Path]:
    """Render every requested format first, then write each atomically."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format(s) {unknown}; choose from {sorted(FORMATS)}")
    rendered = [(out / FORMATS[f][0], FORMATS[f][1](results)) for f in formats]
    for path, text in rendered:
        write_atomic(path, text)
    return [p for p, _ in rendered]
