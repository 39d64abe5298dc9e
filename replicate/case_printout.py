"""A reference block's numbers read from a printout file (``printout:``) instead of typed in."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from .datapath import search_path
from .errors import CaseError, ReferenceError_
from .references import parse_printouts

MAX_TEXT_BYTES = 20 * 1024 * 1024


def read_regular_text(path: Path) -> str:
    """A regular file's UTF-8 text; a FIFO, device or folder is refused at once instead of read (a
    FIFO would block the run), and so is a file larger than :data:`MAX_TEXT_BYTES`."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"{path} is not a regular file")
    if st.st_size > MAX_TEXT_BYTES:
        raise OSError(f"{path} has {st.st_size} bytes; at most {MAX_TEXT_BYTES} are read")
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _printout_path(case_path: Path, rel: Path, line: int | None, field_: str) -> Path:
    """A printout under reference_outputs/ (above the case), else beside the case or on the data search path;
    in each place it must lie inside the folder it is found in (a link may not lead out)."""
    if rel.parts[:1] == ("reference_outputs",):
        root = next(
            (d for d in [case_path.parent, *case_path.parent.parents] if (d / "reference_outputs").is_dir()), None
        )
        if root is None:
            raise CaseError(
                "no reference_outputs/ folder above the case file", file=str(case_path), line=line, field=field_
            )
        places = [root / "reference_outputs"]
        rel = Path(*rel.parts[1:])
    else:
        places = search_path(case_path.parent)
    for folder in places:
        target = (folder / rel).resolve()
        if folder.resolve() not in target.parents:
            raise CaseError(f"the printout {rel} leads out of {folder}", file=str(case_path), line=line, field=field_)
        if target.is_file():
            return target
    raise CaseError(
        f"printout {rel} not found",
        file=str(case_path),
        line=line,
        field=field_,
        hint="searched " + ", ".join(str(f) for f in places),
    )


def values_from_printout(case_path: Path, blk: dict[str, Any], line: int | None, i: int) -> dict[str, Any]:
    """Parse the raw printout a block points at (under reference_outputs/)."""

    spec = blk["printout"]
    rel = Path(spec["file"])
    field_ = f"expected[{i}].printout.file"
    if ".." in rel.parts or rel.is_absolute():
        raise CaseError(
            "a printout path must be relative and may not contain '..'", file=str(case_path), line=line, field=field_
        )
    target = _printout_path(case_path, rel, line, field_)
    try:
        text = read_regular_text(target)
    except UnicodeDecodeError as exc:
        raise CaseError(
            f"printout {rel} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})",
            file=str(case_path),
            line=line,
            field=field_,
            hint="save the printout as UTF-8 text",
        ) from None
    except OSError as exc:
        raise CaseError(f"cannot read printout {rel}: {exc}", file=str(case_path), line=line, field=field_) from None
    software = spec.get("software") or {
        "lme4": "lme4",
        "lmerTest": "lmerTest",
        "nlme": "nlme",
        "sas": "sas",
        "hlm": "hlm",
    }.get(blk["software"])
    if software is None:
        raise CaseError(
            f"say which program printed {rel} (printout.software)",
            file=str(case_path),
            line=line,
            field=f"expected[{i}].printout.software",
        )
    try:
        parts = parse_printouts(text, software)
    except ReferenceError_ as exc:
        raise CaseError(
            f"cannot parse printout {rel}: {exc.message}", file=str(case_path), line=line, field=field_, hint=exc.hint
        ) from None
    k = int(spec.get("part", 1))
    if k > len(parts):
        raise CaseError(
            f"{rel} holds {len(parts)} printout(s), not {k}",
            file=str(case_path),
            line=line,
            field=f"expected[{i}].printout.part",
        )
    return parts[k - 1].values
