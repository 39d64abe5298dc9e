"""Case files: YAML -> validated :class:`Case`.

YAML is loaded with a safe loader (no tags that build Python objects), every
node's line is remembered, and the document is validated against the JSON
Schema shipped in ``replicate/schema/case.schema.json``. Every error names the
file, the line and the field, and what is allowed there.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .datapath import find_file, search_path, sha256_file
from .errors import CaseError, DataError, ReferenceError_, ReplicateError
from .printed import Printed
from .references import parse_printouts
from .yaml12 import check_size, scalar_value

Path_ = tuple[Any, ...]


@dataclass(frozen=True)
class Case:
    """A validated case file.

    Attributes:
        id, title, description, source: as in the file.
        path: the file it was read from.
        raw: the document as plain Python data (numbers in ``expected`` are
            :class:`Printed`).
        lines: field path (tuple of keys/indices) -> line number in the file.
    """

    id: str
    title: str
    description: str
    source: str
    path: Path
    raw: dict[str, Any]
    lines: dict[Path_, int] = field(default_factory=dict, repr=False)

    @property
    def data(self) -> dict[str, Any]:
        return self.raw["data"]

    @property
    def model(self) -> dict[str, Any]:
        return self.raw["model"]

    @property
    def method(self) -> str:
        return self.model.get("method", "REML")

    @property
    def expected(self) -> list[dict[str, Any]]:
        return self.raw.get("expected", [])

    @property
    def tags(self) -> list[str]:
        return list(self.raw.get("tags", []))

    def line_of(self, *path: Any) -> int | None:
        """Line of the deepest known node along ``path``."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def block_label(self, i: int) -> str:
        blk = self.expected[i]
        return str(blk.get("label") or f"{blk['software']}#{i + 1}")

    def error(
        self, exc_type: type[ReplicateError], message: str, *path: Any, hint: str | None = None
    ) -> ReplicateError:
        return exc_type(message, file=str(self.path), line=self.line_of(*path), field=dotted(path) or None, hint=hint)


def dotted(path: Path_) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The case JSON Schema shipped with the package."""
    text = resources.files("replicate").joinpath("schema/case.schema.json").read_text()
    return json.loads(text)


# ----------------------------------------------------------- YAML -> data

_SURROGATE = re.compile("[\ud800-\udfff]")
_DECIMAL = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

#: Keys of a per-value mapping ({value: 10.722, rtol: 1e-3}) that are settings, not printed numbers.
_SETTINGS = frozenset({"rtol", "atol", "digits", "note"})


class _Loader(yaml.SafeLoader):
    """Safe loader that refuses every explicit tag instead of ignoring it."""


def _to_python(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str, in_values: bool) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        loader = _Loader("")
        loader.flatten_mapping(node)
        for knode, vnode in node.value:
            key = _to_python(knode, path, {}, file, False)
            if isinstance(key, (dict, list)):
                raise CaseError(
                    "a mapping key must be a plain value",
                    file=file,
                    line=knode.start_mark.line + 1,
                    field=dotted(path) or None,
                )
            if isinstance(key, bool) or key is None:
                key = str(knode.value)  # 'yes', 'no', 'null' as keys are names here
            if key in out:
                raise CaseError(
                    f"duplicate key {key!r}", file=file, line=knode.start_mark.line + 1, field=dotted(path + (key,))
                )
            child = path + (key,)
            printed = (in_values and key not in _SETTINGS) or (
                key == "values" and len(path) >= 2 and path[0] == "expected"
            )
            out[key] = _to_python(vnode, child, lines, file, printed)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, path + (i,), lines, file, in_values) for i, v in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    tag = node.tag
    if tag and tag.startswith("!") or (tag and not tag.startswith("tag:yaml.org,2002:")):
        raise CaseError(
            f"YAML tag {tag!r} is not allowed in case files",
            file=file,
            line=node.start_mark.line + 1,
            field=dotted(path) or None,
            hint="case files hold plain data only",
        )
    value = scalar_value(node)  # YAML 1.2: 012 is 12, 1:30 and yes are text, 1e-3 is a number
    if isinstance(value, str) and _SURROGATE.search(value):  # "\ud800" escapes no character: no report could hold it
        raise CaseError(
            "the text holds an escaped lone surrogate (\\ud800-\\udfff), which is not a character",
            file=file,
            line=node.start_mark.line + 1,
            field=dotted(path) or None,
            hint="write the character itself, or a \\U escape of a whole code point",
        )
    if isinstance(value, float) and not math.isfinite(value):  # a tolerance of .inf would make anything agree
        what = "reference value" if in_values else "value"
        raise CaseError(
            f"{what} {node.value!r} is not a finite number",
            file=file,
            line=node.start_mark.line + 1,
            field=dotted(path) or None,
            hint="a program prints finite numbers; copy the printed value",
        )
    if in_values and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not _DECIMAL.match(node.value.strip()):
            raise CaseError(
                f"reference value {node.value!r} is not written as a program prints numbers",
                file=file,
                line=node.start_mark.line + 1,
                field=dotted(path),
                hint="write the decimal number as printed (0x1F and 0o17 are not)",
            )
        return Printed(float(value), node.value)
    if in_values and isinstance(value, str):
        t = value.strip()
        for op in ("<=", ">=", "<", ">"):
            if t.startswith(op):
                try:
                    bound = float(t[len(op) :].strip())
                except ValueError:
                    break
                if not math.isfinite(bound):
                    raise CaseError(
                        f"reference bound {t!r} is not a finite number",
                        file=file,
                        line=node.start_mark.line + 1,
                        field=dotted(path),
                        hint="a program prints finite bounds such as '<2e-16'",
                    )
                return Printed(bound, t, bound=op)
    return value


def _check_tags(node: yaml.Node, file: str) -> None:
    """Refuse explicit non-standard tags anywhere (e.g. !!python/object)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n.tag and not n.tag.startswith("tag:yaml.org,2002:"):
            raise CaseError(
                f"YAML tag {n.tag!r} is not allowed in case files",
                file=file,
                line=n.start_mark.line + 1,
                hint="case files hold plain data only",
            )
        if n.tag and n.tag.startswith("tag:yaml.org,2002:python"):
            raise CaseError(f"YAML tag {n.tag!r} is not allowed in case files", file=file, line=n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack.extend([k, v])
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)


def load_yaml(text: str, file: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML safely, returning data and a map from field path to line."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except RecursionError:
        raise CaseError(
            "the document nests lists or mappings too deeply to read",
            file=file,
            hint="case files are shallow; check the brackets",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise CaseError(
            f"malformed YAML: {exc.problem or exc.context}",
            file=file,
            line=(mark.line + 1) if mark else None,
            hint="check indentation and quoting near that line",
        ) from None
    except yaml.YAMLError as exc:
        raise CaseError(f"malformed YAML: {exc}", file=file) from None
    if node is None:
        raise CaseError("the file is empty", file=file)
    check_size(node, len(text), file)  # alias bombs and deep nesting, before anything is expanded
    _check_tags(node, file)
    lines: dict[Path_, int] = {}
    try:
        data = _to_python(node, (), lines, file, False)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise CaseError(
            f"cannot read value: {exc.problem}", file=file, line=(mark.line + 1) if mark else None
        ) from None
    return data, lines


# ------------------------------------------------------------ validation


def _plain(obj: Any) -> Any:
    """Turn Printed back into numbers / strings for schema validation."""
    if isinstance(obj, Printed):
        return obj.text if obj.bound else obj.value
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def _schema_at(path: Path_) -> dict[str, Any] | None:
    """Best-effort: the sub-schema that applies at ``path`` (for hints)."""
    sch = schema()
    node: dict[str, Any] | None = sch
    for p in path:
        if node is None:
            return None
        while "$ref" in node:
            name = node["$ref"].split("/")[-1]
            node = sch["$defs"][name]
        if isinstance(p, int):
            node = node.get("items")
        else:
            props = node.get("properties", {})
            node = (
                props.get(p)
                if p in props
                else node.get("additionalProperties")
                if isinstance(node.get("additionalProperties"), dict)
                else None
            )
    while node is not None and "$ref" in node:
        node = sch["$defs"][node["$ref"].split("/")[-1]]
    return node


def _describe(err: Any, file: str, lines: dict[Path_, int]) -> CaseError:
    path = tuple(err.absolute_path)
    line = None
    p = path
    while p and p not in lines:
        p = p[:-1]
    line = lines.get(p)
    validator = err.validator
    hint = None
    message = err.message
    if validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = list(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        key = extra[0] if extra else "?"
        kpath = path + (key,)
        line = lines.get(kpath, line)
        close = difflib.get_close_matches(str(key), allowed, n=1)
        message = f"unknown key {key!r}"
        hint = (f"did you mean {close[0]!r}? " if close else "") + f"allowed keys: {', '.join(allowed)}"
        return CaseError(message, file=file, line=line, field=dotted(kpath), hint=hint)
    if validator == "required":
        missing = [r for r in err.validator_value if r not in (err.instance or {})]
        message = f"missing required key {missing[0]!r}" if missing else err.message
    elif validator == "enum":
        message = f"{err.instance!r} is not allowed"
        hint = "allowed: " + ", ".join(map(str, err.validator_value))
    elif validator == "oneOf":
        sub = _schema_at(path) or {}
        if path and path[-1] == "data" or path == ("data",):
            message = "data must give exactly one of: 'file' with 'sha256', 'dataset', or 'unavailable'"
            hint = _checksum_hint(err.instance, file)
        elif path and path[-1] == "model":
            message = "model must give either 'formula', or 'levels' with 'groups' (not both)"
        else:
            message = f"value {err.instance!r} does not fit any allowed form"
            if sub.get("description"):
                hint = sub["description"]
    elif validator == "type":
        message = f"{err.instance!r} has the wrong type; expected {err.validator_value}"
    elif validator == "pattern":
        message = f"{err.instance!r} does not match the required form {err.validator_value}"
    return CaseError(message, file=file, line=line, field=dotted(path) or None, hint=hint)


def _checksum_hint(data: Any, file: str) -> str | None:
    """For a data file given without its sha256: the file's actual checksum, to paste in."""
    if not isinstance(data, dict) or "sha256" in data or not isinstance(data.get("file"), str):
        return None
    try:
        found = find_file(data["file"], Path(file).parent)
    except DataError:
        return f"the file {data['file']!r} is not on the data search path either; put it beside the case"
    return f"add `sha256: {sha256_file(found)}` (the checksum of {found}) so that a changed file is caught"


def validate_document(data: Any, lines: dict[Path_, int], file: str) -> None:
    """Validate against the JSON Schema; raise the first error, well described."""
    import jsonschema

    if not isinstance(data, dict):
        raise CaseError("a case file must be a mapping of keys (id, title, data, model, ...)", file=file, line=1)
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(_plain(data)), key=lambda e: (len(list(e.absolute_path)), str(e.message)))
    if errors:
        # Prefer the most specific error: deepest path, and additionalProperties first.
        best = max(errors, key=lambda e: (len(list(e.absolute_path)), e.validator == "additionalProperties"))
        if best.validator in ("oneOf", "anyOf") and best.context:
            deeper = [c for c in best.context if c.validator == "additionalProperties"]
            if deeper:
                best = deeper[0]
        raise _describe(best, file, lines)
    # Checks the schema cannot express.
    labels = set()
    for i, blk in enumerate(data.get("expected", [])):
        lab = blk.get("label") or f"{blk['software']}#{i + 1}"
        if lab in labels:
            raise CaseError(
                f"two reference blocks are labelled {lab!r}",
                file=file,
                line=lines.get(("expected", i)),
                field=f"expected[{i}].label",
            )
        labels.add(lab)


def load_case(path: str | Path) -> Case:
    """Read, parse and validate one case file.

    Raises:
        CaseError: the file cannot be read, is not valid YAML, or does not
            follow the case schema.
    """
    p = Path(path)
    file = str(p)
    try:
        text = read_regular_text(p)
    except FileNotFoundError:
        raise CaseError("case file not found", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(f"cannot read case file: {exc}", file=file) from None
    data, lines = load_yaml(text, file)
    validate_document(data, lines, file)
    for i, blk in enumerate(data.get("expected", [])):
        if "printout" in blk:
            blk["values"] = _values_from_printout(p, blk, lines.get(("expected", i, "printout")), i)
    return Case(
        id=str(data["id"]),
        title=str(data["title"]),
        description=str(data.get("description", "")).strip(),
        source=str(data.get("source", "")).strip(),
        path=p,
        raw=data,
        lines=lines,
    )


#: Largest case file or printout read (a case is a few kilobytes; a printout a few hundred).
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


def _values_from_printout(case_path: Path, blk: dict[str, Any], line: int | None, i: int) -> dict[str, Any]:
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


def find_case_files(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders into the sorted list of ``*.yaml`` case files."""
    out: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            out.extend(
                sorted(
                    q
                    for q in p.rglob("*.y*ml")
                    if q.suffix in (".yaml", ".yml") and "data" not in q.relative_to(p).parts[:-1]
                )
            )
        else:
            out.append(p)
    seen: dict[Path, None] = {}
    for q in out:
        seen.setdefault(q, None)
    return list(seen)
