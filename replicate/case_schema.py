"""A case document checked against the JSON Schema shipped in ``replicate/schema/case.schema.json``.

Every error names the file, the line and the field, and what is allowed there.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .case_yaml import dotted
from .datapath import find_file, sha256_file
from .errors import CaseError, DataError
from .printed import Printed

Path_ = tuple[Any, ...]


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The case JSON Schema shipped with the package."""
    text = resources.files("replicate").joinpath("schema/case.schema.json").read_text()
    return json.loads(text)


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
    elif validator == "dependentRequired":
        needs = {k: [r for r in v if r not in (err.instance or {})] for k, v in err.validator_value.items()}
        found = [(k, m) for k, m in needs.items() if m and k in (err.instance or {})]
        message = f"{found[0][0]!r} needs {found[0][1][0]!r} beside it" if found else err.message
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
    elif validator == "not" and list(err.validator_value) == ["required"] and len(err.validator_value["required"]) == 1:
        key = err.validator_value["required"][0]  # a key allowed only beside another (options.nagq: family:)
        kpath = path + (key,)
        hint = _schema_description(kpath)
        return CaseError(
            f"{key!r} is not allowed here", file=file, line=lines.get(kpath, line), field=dotted(kpath), hint=hint
        )
    return CaseError(message, file=file, line=line, field=dotted(path) or None, hint=hint)


def _schema_description(path: Path_) -> str | None:
    sub = _schema_at(path)
    return str(sub["description"]) if isinstance(sub, dict) and sub.get("description") else None


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
