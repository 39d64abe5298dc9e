"""Regenerate a case's live reference blocks (``pytest --replicate-regen``), saying what changed.

A live block is one `replicate reference` wrote: labelled ``lme4-live``, ``nlme-live``, ``pbkrtest-live`` or
``clubsandwich-live``. It is recomputed with the same engine and the same settings as recorded in it (lme4's
tight optimizer when its call carries the tight control; the models of its likelihood-ratio tests), written
back in place, and the changes are listed value by value (and the R package versions that changed), as
pytest-regressions' ``--force-regen`` does for its files. Printed references (SAS, HLM, papers) are never
touched: they are what a program printed once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .case import load_case
from .errors import ReplicateError
from .reference_writer import reference_command

#: block label -> engine of `replicate reference`
LIVE_LABELS = {
    "lme4-live": "lme4",
    "nlme-live": "nlme",
    "pbkrtest-live": "pbkrtest",
    "clubsandwich-live": "clubsandwich",
}
_TIGHT_MARK = "lmerControl(optCtrl"


@dataclass(frozen=True)
class Regenerated:
    """What regenerating one block did: the exit code of `replicate reference` and its summary."""

    case: str
    label: str
    code: int
    summary: str


def _compare_with(block: Mapping[str, Any]) -> list[str]:
    tests = (block.get("values") or {}).get("tests") or {}
    return [str(t["compare_with"]) for t in tests.values() if isinstance(t, Mapping) and t.get("compare_with")]


def _refit(block: Mapping[str, Any]) -> bool:
    tests = (block.get("values") or {}).get("tests") or {}
    return not any(isinstance(t, Mapping) and t.get("refit") is False for t in tests.values())


def live_labels(case_path: str | Path) -> list[str]:
    """Labels of the case's live blocks, in file order."""
    case = load_case(case_path)
    return [case.block_label(i) for i in range(len(case.expected)) if case.block_label(i) in LIVE_LABELS]


def regenerate(case_path: str | Path, label: str) -> Regenerated:
    """Recompute one live block with its engine and settings and write it back in place."""
    case = load_case(case_path)
    labels = [case.block_label(i) for i in range(len(case.expected))]
    if label not in LIVE_LABELS or label not in labels:
        raise ReplicateError(f"{label!r} is not a live reference block of {case_path}", field="label")
    block = case.expected[labels.index(label)]
    engine = LIVE_LABELS[label]
    code, summary = reference_command(
        case_path,
        engine,
        force=True,
        tight=engine == "lme4" and _TIGHT_MARK in str(block.get("call", "")),
        compare_with=_compare_with(block),
        refit=_refit(block),
    )
    return Regenerated(str(case_path), label, code, summary)
