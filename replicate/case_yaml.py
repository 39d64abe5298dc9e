"""A case file's YAML as plain Python data, with the line of every node.

Loaded with a safe loader that refuses every explicit tag (no tags that build Python objects); numbers
under ``values`` become :class:`~replicate.printed.Printed`, keeping the digits as printed.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from .errors import CaseError
from .printed import Printed
from .yaml12 import check_size, scalar_value

Path_ = tuple[Any, ...]


def dotted(path: Path_) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


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
