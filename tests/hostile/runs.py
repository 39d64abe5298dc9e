"""Run the command line in-process and read what it wrote (for the hostile-input tests)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from replicate.cli import main


@dataclass
class Run:
    code: int
    out: str
    err: str
    report: dict | None

    def line_of(self, case_id: str) -> str:
        return next((ln for ln in self.out.splitlines() if f" {case_id} " in f" {ln} "), "")


def run_cli(capsys, args: list[str], out: Path | None = None) -> Run:
    """``replicate ARGS`` in this process; any exception escaping ``main`` fails the calling test."""
    argv = list(args)
    if out is not None:
        argv += ["--out", str(out), "--format", "markdown,json,junit,html"]
    code = main(argv)
    cap = capsys.readouterr()
    report = None
    if out is not None and (out / "report.json").is_file():
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        ET.parse(out / "junit.xml")  # the XML report parses
    assert "Traceback" not in cap.out + cap.err
    return Run(code, cap.out, cap.err, report)
