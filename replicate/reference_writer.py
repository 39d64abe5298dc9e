"""Write reference blocks from a live run of lme4 (or nlme) into case files.

:func:`~replicate.reference_blocks.make_reference_block` fits a case with a live R engine and returns
a reference block in the case format (every number at full precision; the YAML text comes from
:mod:`replicate.case_text`); :func:`write_reference` adds it to the case file, or replaces the block with
the same label, editing the file's text in place (the rest of the file is kept
byte for byte), or writes it to ``OUT/<software>/<case id>.yaml``. An existing
block is replaced only with ``force=True``; a replacement reports which values
changed by more than 1e-10 (relative) and which package versions changed.
:func:`reference_command` is the ``replicate reference`` command.

Numbers are written as the shortest text that reads back as the same double
(Python's ``repr``, with a mantissa point and a signed exponent so that YAML
1.1 reads it as a float); the written file is validated with
:func:`replicate.case.load_case`, and the values read back are checked to be
the values computed, before the file is replaced (atomically).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .case import Case, load_case
from .case_schema import validate_document
from .case_text import block_text, edit_case_text, number_text
from .case_yaml import load_yaml
from .engines.r.lme4 import Lme4Engine
from .errors import CaseError, ReplicateError
from .fileio import write_atomic
from .printed import Printed
from .reference_blocks import SOFTWARE, SOURCE, default_label, make_inference_block, make_reference_block

__all__ = [
    "CHANGE_RTOL",
    "SOFTWARE",
    "SOURCE",
    "ReferenceWriteResult",
    "ValueChange",
    "block_text",
    "default_label",
    "edit_case_text",
    "existing_block",
    "flatten_values",
    "make_inference_block",
    "make_reference_block",
    "number_text",
    "out_path",
    "reference_command",
    "value_changes",
    "version_changes",
    "write_reference",
]

#: Relative difference above which a regenerated value counts as changed.
CHANGE_RTOL = 1e-10


# ------------------------------------------------------------- results


@dataclass(frozen=True)
class ValueChange:
    """One value that differs between the old and the new block.

    ``old`` or ``new`` is None when the value is only in one of them.
    """

    path: str
    old: float | None
    new: float | None

    @property
    def rel_diff(self) -> float | None:
        if self.old is None or self.new is None:
            return None
        if self.old == self.new:
            return 0.0
        return abs(self.new - self.old) / abs(self.old) if self.old != 0 else math.inf

    def __str__(self) -> str:
        if self.old is None:
            return f"{self.path}: new value {_fmt(self.new)}"
        if self.new is None:
            return f"{self.path}: removed (was {_fmt(self.old)})"
        return f"{self.path}: {_fmt(self.old)} -> {_fmt(self.new)} (relative difference {self.rel_diff:.3g})"


def _fmt(v: float | None) -> str:
    return "None" if v is None else repr(v)


@dataclass(frozen=True)
class ReferenceWriteResult:
    """What :func:`write_reference` did.

    Attributes:
        path: the file written (or that would have been written).
        label: the block's label.
        action: ``added``, ``replaced`` or ``refused`` (a block with that
            label exists and ``force`` was not given; nothing was written).
        changes: values that differ from the block replaced (or that would
            be replaced) beyond 1e-10 relative.
        version_changes: package -> (old version, new version), for those
            that differ.
    """

    path: Path
    label: str
    action: str
    changes: tuple[ValueChange, ...] = ()
    version_changes: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def written(self) -> bool:
        return self.action in ("added", "replaced")

    def summary(self) -> str:
        if self.action == "refused":
            text = (
                f"refused: {self.path} already has a reference block labelled {self.label!r}; use --force to replace it"
            )
            if self.changes or self.version_changes:
                text += "\n" + self._diff_text("a new run differs")
            return text
        if self.action == "added":
            return f"added reference block {self.label!r} to {self.path}"
        text = f"replaced reference block {self.label!r} in {self.path}"
        if not self.changes and not self.version_changes:
            return text + ": no value changed beyond 1e-10 (relative) and no package version changed"
        return text + "\n" + self._diff_text("changes")

    def _diff_text(self, title: str) -> str:
        lines = [f"{title}:"]
        for pkg, (old, new) in self.version_changes.items():
            lines.append(f"  version of {pkg}: {old or '(none)'} -> {new or '(none)'}")
        for c in self.changes:
            lines.append(f"  {c}")
        if not self.changes:
            lines.append("  no value changed beyond 1e-10 (relative)")
        return "\n".join(lines)


# --------------------------------------------------------- the block


def _num(v: Any) -> float | None:
    if isinstance(v, Mapping):
        v = v.get("value")
    if isinstance(v, Printed):
        return None if v.bound else v.value
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return None


def flatten_values(values: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """``{"fixed.ses.estimate": 10.72, ...}`` from a block's ``values``."""
    out: dict[str, float] = {}
    for k, v in (values or {}).items():
        path = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping) and "value" not in v:
            out.update(flatten_values(v, path))
        else:
            x = _num(v)
            if x is not None:
                out[path] = x
    return out


def value_changes(old: Mapping[str, Any], new: Mapping[str, Any], rtol: float = CHANGE_RTOL) -> tuple[ValueChange, ...]:
    """Values of two blocks' ``values`` that differ beyond ``rtol`` (relative)."""
    a, b = flatten_values(old), flatten_values(new)
    out: list[ValueChange] = []
    for key in list(a) + [k for k in b if k not in a]:
        x, y = a.get(key), b.get(key)
        if x is None or y is None or abs(y - x) > rtol * max(abs(x), abs(y)):
            out.append(ValueChange(key, x, y))
    return tuple(out)


def parse_versions(text: str) -> dict[str, str]:
    """``"R 4.2.2; lme4 1.1-31"`` -> ``{"R": "4.2.2", "lme4": "1.1-31"}``."""
    out: dict[str, str] = {}
    for part in str(text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        name, _, ver = part.partition(" ")
        out[name] = ver.strip()
    return out


def version_changes(old: str, new: str) -> dict[str, tuple[str, str]]:
    a, b = parse_versions(old), parse_versions(new)
    return {
        k: (a.get(k, ""), b.get(k, "")) for k in list(a) + [k for k in b if k not in a] if a.get(k, "") != b.get(k, "")
    }


# ---------------------------------------------------------- text edits

# ------------------------------------------------------------- writing

#: Suffix of temporary files written beside case files: never ``.yaml``/``.yml``, so a
#: temporary file left by a killed run is not picked up as a second case.
TMP_SUFFIX = ".replicate-tmp"


def _atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one step, keeping the file's mode; the temporary name ends in
    :data:`TMP_SUFFIX`, never ``.yaml``."""
    write_atomic(path, text, suffix=TMP_SUFFIX, newline="")


def _check_same_values(written: Mapping[str, Any], block: Mapping[str, Any], file: str) -> None:
    a = flatten_values(written.get("values") or {})
    b = flatten_values(block.get("values") or {})
    if a != b:
        bad = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        raise CaseError(f"the written block does not read back as computed: {bad[:5]}", file=file)


def out_path(case: Case, block: Mapping[str, Any], out: str | Path) -> Path:
    """``OUT/<software>/<case id>.yaml``."""
    software = str(block["software"])
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", software) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", case.id):
        raise CaseError(f"cannot name a file after software {software!r} and case {case.id!r}", file=str(case.path))
    return Path(out) / software / f"{case.id}.yaml"


def existing_block(
    case_path: str | Path, label: str, *, out: str | Path | None = None, software: str | None = None
) -> dict[str, Any] | None:
    """The block labelled ``label`` that a write would replace, or None."""
    case = load_case(case_path)
    if out is None:
        for i, blk in enumerate(case.expected):
            if case.block_label(i) == label:
                return blk
        return None
    path = out_path(case, {"software": software or "other"}, out)
    if not path.exists():
        return None
    data, _ = load_yaml(path.read_text(encoding="utf-8"), str(path))
    return data if isinstance(data, dict) else {}


def write_reference(
    case_path: str | Path, block: Mapping[str, Any], *, out: str | Path | None = None, force: bool = False
) -> ReferenceWriteResult:
    """Add ``block`` to the case file, or write it to ``out/<software>/<case id>.yaml``.

    A block with the same label (or an existing file under ``out``) is
    replaced only with ``force=True``; otherwise nothing is written and the
    result's action is ``refused``. The case file's other text is kept as it
    is; the new file is validated with :func:`~replicate.case.load_case` (or,
    under ``out``, the block against the case schema) before it replaces the
    old one.

    Raises:
        CaseError: the case file is invalid, or the result would not validate.
    """
    case = load_case(case_path)
    label = str(block["label"])
    path = Path(case_path) if out is None else out_path(case, block, out)
    old = existing_block(case_path, label, out=out, software=str(block["software"]))
    changes: tuple[ValueChange, ...] = ()
    vchanges: dict[str, tuple[str, str]] = {}
    if old is not None:
        changes = value_changes(old.get("values") or {}, block.get("values") or {})
        vchanges = version_changes(str(old.get("version", "")), str(block.get("version", "")))
        if not force:
            return ReferenceWriteResult(path, label, "refused", changes, vchanges)
    if out is None:
        text = path.read_bytes().decode("utf-8")  # keep the file's line ends as they are
        new_text, replaced = edit_case_text(text, block, str(path))
        _validate_case_text(new_text, path, block)
    else:
        header = (
            f"# Reference block {label!r} for case {case.id!r} ({case.path.name}),\n"
            f"# from a live run: replicate reference --engine ... (see 'call' and 'version').\n"
        )
        new_text = header + block_text(block, None)
        data, _ = load_yaml(new_text, str(path))
        doc = dict(case.raw)
        doc["expected"] = [data]
        validate_document(doc, {}, str(path))
        _check_same_values(data, block, str(path))
        replaced = old is not None
    _atomic_write(path, new_text)
    return ReferenceWriteResult(path, label, "replaced" if replaced else "added", changes, vchanges)


def _validate_case_text(text: str, path: Path, block: Mapping[str, Any]) -> None:
    """Validate the new case text with load_case (from a file beside the case)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=TMP_SUFFIX, dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        try:
            case = load_case(tmp)
        except CaseError as exc:
            raise CaseError(
                f"adding the reference block would make the case invalid: {exc.message}",
                file=str(path),
                line=exc.line,
                field=exc.field,
            ) from None
    finally:
        os.unlink(tmp)
    labels = [case.block_label(i) for i in range(len(case.expected))]
    blk = case.expected[labels.index(str(block["label"]))]
    _check_same_values(blk, block, str(path))


# -------------------------------------------------------------- command


def reference_command(
    case_path: str | Path,
    engine: str = "lme4",
    force: bool = False,
    out: str | Path | None = None,
    *,
    tight: bool = False,
    compare_with: Sequence[str] = (),
    refit: bool = True,
) -> tuple[int, str]:
    """``replicate reference CASE --engine lme4 [--force] [--out DIR]``.

    Returns the exit code and the text to print: 0 when the block was written,
    1 when a block with that label exists and ``force`` was not given (nothing
    is fitted or written), 2 when the case, the data or the engine fail.
    """
    try:
        label = default_label(engine)
        if not force:
            old = existing_block(case_path, label, out=out, software=SOFTWARE.get(engine, "other"))
            if old is not None:
                where = (
                    case_path
                    if out is None
                    else out_path(load_case(case_path), {"software": SOFTWARE.get(engine, "other")}, out)
                )
                return 1, (
                    f"refused: {where} already has a reference block labelled {label!r}; use --force to replace it"
                )
        if engine in ("pbkrtest", "clubsandwich"):
            block = make_inference_block(case_path, engine, tight=tight)
            res = write_reference(case_path, block, out=out, force=force)
            return (1 if res.action == "refused" else 0), res.summary()
        eng_obj = None
        if tight:
            if engine != "lme4":
                return 2, "error: --tight applies to the lme4 engine only"

            eng_obj = Lme4Engine(tight=True)
        block = make_reference_block(case_path, engine, engine=eng_obj, compare_with=compare_with, refit=refit)
        res = write_reference(case_path, block, out=out, force=force)
    except ReplicateError as exc:
        return 2, f"error: {exc}"
    return (1 if res.action == "refused" else 0), res.summary()
