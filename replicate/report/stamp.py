"""The run a report belongs to: its id, whether it was interrupted, and how to read it back.

Every report of a run (Markdown, JSON, JUnit XML, HTML) carries the run's id, so a
reader can tell that a set of report files came from one run
(:func:`replicate.report.unit.check_report_set`).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunInfo:
    """Identity of one ``replicate run``.

    Attributes:
        run_id: unique id (UTC start time and random hex), stamped in every report.
        interrupted: the run was stopped (Ctrl-C) before every case was run; the
            reports hold the cases finished before the stop.
        planned: how many cases the run meant to run (None when not known).
    """

    run_id: str
    interrupted: bool = False
    planned: int | None = None

    def note(self, finished: int) -> str:
        """A sentence for the reports of an interrupted run ('' otherwise)."""
        if not self.interrupted:
            return ""
        of = f" of {self.planned}" if self.planned is not None else ""
        return f"Interrupted: {finished}{of} cases finished before the run was stopped; the others are missing."


def new_run_id() -> str:
    """A fresh run id: ``20261204T151830Z-1a2b3c4d``."""
    now = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{secrets.token_hex(4)}"


_MD = re.compile(r"<!-- replicate-run: (\S+) -->")
_XML = re.compile(r"<property name=\"replicate.run_id\" value=\"([^\"]+)\"")
_HTML = re.compile(r"<meta name=['\"]replicate-run-id['\"] content=['\"]([^'\"]+)['\"]")


def markdown_stamp(run: RunInfo) -> str:
    return f"<!-- replicate-run: {run.run_id} -->"


def html_stamp(run: RunInfo) -> str:
    return f"<meta name='replicate-run-id' content='{run.run_id}'>"


def read_run_id(path: Path) -> str | None:
    """The run id a report file carries, or None when it carries none (or cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if path.suffix == ".json":
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        rid = doc.get("run_id") if isinstance(doc, dict) else None
        return rid if isinstance(rid, str) else None
    pattern = {".md": _MD, ".xml": _XML, ".html": _HTML}.get(path.suffix)
    m = pattern.search(text) if pattern else None
    return m.group(1) if m else None
