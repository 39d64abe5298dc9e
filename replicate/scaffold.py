"""`replicate new`: a case written from a printout and a data file, run once, with what is left to do.

The printout is parsed as `replicate parse` reads it; the model is read off it
(:mod:`replicate.scaffold_model`); the data file's sha256 is computed; the printed names are mapped to the
engine's (:func:`replicate.references.names.suggest_names`); the case is written, loaded back through the
same validation as every case, and run once with the native engine. What could not be inferred, names
that did not map and values that disagree are listed for the user; nothing is guessed silently.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .build import frame_of, prepare
from .case import load_case
from .case_printout import read_regular_text
from .case_text import block_text
from .data import find_file, read_table, sha256_file
from .design import Design
from .engine.glmm.api import model_design
from .engines import get_engine
from .errors import CaseError, DataError, ReplicateError
from .fileio import write_atomic
from .outcome import CaseResult
from .references import guess_software, parse_printouts
from .references.names import suggest_names
from .references.printout import ParsedPrintout
from .runner import run_case
from .scaffold_model import Inferred, infer_model, level_columns

_ID = re.compile(r"[^a-z0-9]+")


@dataclass
class NewCase:
    """A written case: where, what the run said, and what still needs a human."""

    path: Path
    written: bool = False
    todo: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    result: CaseResult | None = None


def case_id_from(name: str) -> str:
    """A case id from a file name: lower case, words joined by hyphens."""
    return _ID.sub("-", name.lower()).strip("-") or "new-case"


def _pick(parts: list[ParsedPrintout], part: int | None, file: str) -> tuple[ParsedPrintout, list[str]]:
    notes = []
    k = part or 1
    if not 1 <= k <= len(parts):
        raise CaseError(f"{file} holds {len(parts)} printout(s), not {k}", file=file, field="--part")
    if len(parts) > 1 and part is None:
        notes.append(f"{file} holds {len(parts)} printouts; this case uses the first (--part K for another)")
    return parts[k - 1], notes


def _place_data(data: Path, case_dir: Path, notes: list[str]) -> None:
    """Make the data file findable from the case: left where it is if the search path reaches it, else copied."""
    try:
        found: Path | None = find_file(data.name, case_dir)
    except DataError:
        found = None
    if found is not None:
        if sha256_file(found) == sha256_file(data):
            return
        raise CaseError(
            f"another file named {data.name} is already on the data search path ({found})",
            field="--data",
            hint="rename one of them",
        )
    target_dir = case_dir / "data" if case_dir.name == "cases" else case_dir
    target_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(data, target_dir / data.name)
    notes.append(f"copied {data} to {target_dir / data.name} so that the case finds it")


def _data_frame(data: Path) -> Any:
    if data.is_file():
        return read_table(data, file=str(data))
    return read_table(find_file(data.name, None, file="--data"), file=str(data))


def _header(case_id: str, printout: Path, data: Path, digest: str, inferred: Inferred) -> dict[str, Any]:
    return {
        "id": case_id,
        "title": f"{case_id}: written by `replicate new` from {printout.name}",
        "source": f"printout {printout.name}",
        "data": {"file": data.name, "sha256": digest},
        "model": {"formula": inferred.formula}
        | {k: v for k, v in inferred.glmm.items() if k != "nagq"}
        | {"method": inferred.method or "REML"}
        | {k: v for k, v in inferred.glmm.items() if k == "nagq"}
        | ({"contrasts": inferred.contrasts} if inferred.contrasts else {})
        | ({"residual": inferred.residual} if inferred.residual else {}),
    }


def _block(parsed: ParsedPrintout, printout: Path, inferred: Inferred, names: dict[str, str]) -> dict[str, Any]:
    first, last = parsed.model_info.get("lines", (1, None))
    where = f"lines {first}-{last}" if last else f"from line {first}"
    blk: dict[str, Any] = {
        "label": f"{parsed.software.lower()}-printout",
        "software": parsed.software,
        "version": "not printed (fill in the program's version)",
        "call": "not printed (fill in the call that produced the printout)",
        "options": inferred.options,
        "source": f"printout {printout.name}, {where}",
    }
    if names:
        blk["names"] = names
    return blk


def _text(header: dict[str, Any], block: dict[str, Any], parsed: ParsedPrintout) -> str:
    head = yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=1000)
    values = parsed.to_yaml()
    body = "".join(("    " + ln if ln.strip() else ln) for ln in values.splitlines(keepends=True))
    return head + "expected:\n" + block_text(block) + body


def new_case(
    printout: str | Path,
    data: str | Path,
    *,
    software: str | None = None,
    formula: str | None = None,
    group: str | None = None,
    repeated: str | None = None,
    case_id: str | None = None,
    part: int | None = None,
    out: str | Path | None = None,
    force: bool = False,
    run: bool = True,
) -> NewCase:
    """Write a case from a printout and its data, run it once, and say what is left to do.

    Args:
        printout: a text file with one or more printouts of one program.
        data: the data file (CSV, ...) or the name of a shipped dataset.
        software: the program that printed it (guessed from the text when not given).
        formula: the model in lme4's notation, when the printout does not show it.
        group: HLM's level-2 grouping variable (HLM does not print its name).
        repeated: a SAS REPEATED model's repeated effect (the visit column), which its listing does not print.
        case_id: the case's id (default: from the printout's file name).
        part: which printout of the file (1 = the first).
        out: the case file to write (default: ``cases/<id>.yaml`` when ``./cases`` exists, else ``./<id>.yaml``).
        force: replace an existing case file.
        run: run the new case once with the native engine.
    """
    ppath, dpath = Path(printout), Path(data)
    text = read_regular_text(ppath)
    sw = software or guess_software(text)
    if sw is None:
        raise CaseError(
            f"cannot tell which program printed {ppath}", file=str(ppath), field="--software", hint="pass --software"
        )
    parsed, notes = _pick(parse_printouts(text, sw), part, str(ppath))
    frame = _data_frame(dpath)
    inferred = infer_model(parsed, frame.columns, formula=formula, group=group, repeated=repeated)
    cid = case_id or case_id_from(ppath.stem)
    target = Path(out) if out else (Path("cases") if Path("cases").is_dir() else Path(".")) / f"{cid}.yaml"
    if target.exists() and not force:
        raise CaseError(f"{target} exists", file=str(target), hint="pass --force to replace it, or --out")
    result = NewCase(path=target, todo=list(inferred.todo), notes=notes)
    result.todo += [f"line {ln}: not read: {raw.strip()} ({why})" for ln, raw, why in parsed.unparsed]
    if inferred.formula is None:
        return result  # nothing written: the to-do list says what to pass
    real_data = dpath if dpath.is_file() else find_file(dpath.name, None, file="--data")
    target.parent.mkdir(parents=True, exist_ok=True)
    _place_data(real_data, target.parent.resolve(), result.notes)
    header = _header(cid, ppath, real_data, sha256_file(real_data), inferred)
    write_atomic(target, _text(header, _block(parsed, ppath, inferred, {}), parsed))
    result.written = True
    result.todo.append(f"{target}: fill in the block's version and call (provenance: the printout shows neither)")
    factors = level_columns(parsed, frame, _design_or_none(target))
    if factors:  # glmer's period2: a numeric column the program read as a factor
        header["transform"] = {c: f"factor({c})" for c in factors}
        header = {k: header[k] for k in ("id", "title", "source", "data", "transform", "model")}
        result.notes.append(f"{', '.join(factors)}: printed by level, read as factor(s) (transform:)")
        write_atomic(target, _text(header, _block(parsed, ppath, inferred, {}), parsed))
    names = _names(target, parsed, group, result.todo)
    if names:
        write_atomic(target, _text(header, _block(parsed, ppath, inferred, names), parsed))
    load_case(target)  # the written file passes the same validation as every case
    if run:
        result.result = run_case(target, get_engine("native"))
    return result


def _design(target: Path) -> Design:
    """The model the written case builds: a linear model's, or a GLMM's (``model.family``) as its engine reads it."""
    case = load_case(target)
    model = case.model
    if model.get("family"):
        return model_design(frame_of(case).df, str(model["formula"]), str(model["family"]), model.get("link"))
    return prepare(case)[1]


def _design_or_none(target: Path) -> Design | None:
    try:
        return _design(target)
    except ReplicateError:
        return None


def _names(target: Path, parsed: ParsedPrintout, group: str | None, todo: list[str]) -> dict[str, str]:
    """Printed names -> the engine's, from the model the case builds; what does not map goes to the to-dos."""
    try:
        design = _design(target)
    except ReplicateError as exc:
        todo.append(f"the model could not be built to map names: {exc}")
        return {}
    names, problems = suggest_names(parsed, group=group, terms=list(design.fixed_names))
    groups = {t.group for t in design.reterms}
    for printed in parsed.values.get("random", {}):
        mapped = names.get(printed, printed)
        if mapped not in groups and mapped != "Residual":
            match = [g for g in groups if g.lower() == mapped.lower()]
            if len(match) == 1:
                names[printed] = match[0]
    todo += [f"names: {p}" for p in problems]
    return names


__all__ = ["NewCase", "case_id_from", "new_case"]
