"""Case files as text: reference blocks written as YAML, and a block put into a case file's text.

A block is written by hand rather than by a YAML library so that numbers keep every digit (the
shortest text that reads back as the same double), keys keep their order, and nothing of the rest of
the case file changes: :func:`edit_case_text` adds a block, or replaces the block with the same
label, editing the text in place.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

from .errors import CaseError

_PLAIN = re.compile(r"^[A-Za-z_(][A-Za-z0-9_.()-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def number_text(x: float) -> str:
    """Shortest text of ``x`` that YAML (1.1, as PyYAML) reads back as the same float."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"cannot write {x!r} as a reference number")
    t = repr(x)
    if "e" in t:
        mant, exp = t.split("e")
        if "." not in mant:
            mant += ".0"
        sign = "-" if exp.startswith("-") else "+"
        t = f"{mant}e{sign}{exp.lstrip('+-')}"
    elif "." not in t:
        t += ".0"
    back = yaml.safe_load(t)
    if not isinstance(back, float) or back != x or math.copysign(1.0, back) != math.copysign(1.0, x):
        raise ValueError(f"{t!r} does not read back as {x!r}")
    return t


def _str(s: str) -> str:
    if _PLAIN.match(s) and s.lower() not in _YAML_WORDS:
        return s
    return json.dumps(s, ensure_ascii=True)  # a JSON string is a YAML double-quoted scalar


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return number_text(v)
    if isinstance(v, str):
        return _str(v)
    raise TypeError(f"cannot write {type(v).__name__} in a reference block")


def _flow(d: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{_str(str(k))}: {_scalar(v)}" for k, v in d.items()) + "}"


def _emit(d: Mapping[str, Any], indent: int, out: list[str], first_prefix: str | None = None) -> None:
    pad = " " * indent
    for i, (k, v) in enumerate(d.items()):
        lead = first_prefix if (i == 0 and first_prefix is not None) else pad
        key = _str(str(k))
        if isinstance(v, Mapping):
            if v and all(not isinstance(x, Mapping) for x in v.values()):
                out.append(f"{lead}{key}: {_flow(v)}")
            elif not v:
                out.append(f"{lead}{key}: {{}}")
            else:
                out.append(f"{lead}{key}:")
                _emit(v, indent + 2, out)
        else:
            out.append(f"{lead}{key}: {_scalar(v)}")


def block_text(block: Mapping[str, Any], dash_col: int | None = 2) -> str:
    """The block as YAML text: a sequence item at ``dash_col``, or a top-level mapping (None)."""
    return _block_text(block, dash_col)


def _block_text(block: Mapping[str, Any], dash_col: int | None = 2) -> str:
    out: list[str] = []
    if dash_col is None:
        _emit(block, 0, out)
    else:
        _emit(block, dash_col + 2, out, first_prefix=" " * dash_col + "- ")
    return "\n".join(out) + "\n"


# ------------------------------------------------------- comparing blocks


def _dash_line(lines: list[str], line: int) -> int:
    for k in range(min(line, len(lines) - 1), -1, -1):
        if re.match(r"^\s*-(\s|$)", lines[k]):
            return k
    return line


def _trim_end(lines: list[str], start: int, end: int) -> int:
    """Move ``end`` back over trailing blank and comment-only lines."""
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


def edit_case_text(text: str, block: Mapping[str, Any], file: str = "<case>") -> tuple[str, bool]:
    """The case text with ``block`` added to ``expected`` or replacing the block of its label.

    Only the lines of the replaced block (or the new lines) change. Returns the
    new text and whether a block was replaced.
    """
    label = str(block["label"])
    nl = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += nl

    def item_text(dash_col: int | None) -> str:  # the block, with the file's line ends
        return _block_text(block, dash_col).replace("\n", nl)

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        raise CaseError("a case file must be a mapping", file=file, line=1)
    seq = knode = None
    for k, v in root.value:
        if isinstance(k, yaml.ScalarNode) and k.value == "expected":
            knode, seq = k, v
    if seq is None:
        return "".join(lines) + "expected:" + nl + item_text(2), False
    if not isinstance(seq, yaml.SequenceNode):
        raise CaseError("'expected' is not a list", file=file, line=seq.start_mark.line + 1, field="expected")
    if seq.flow_style:
        if seq.value:
            raise CaseError(
                "'expected' is written as a flow list [...]; write it as a block list "
                "('- label: ...' lines) to add a reference block",
                file=file,
                line=seq.start_mark.line + 1,
                field="expected",
            )
        dash = (knode.start_mark.column if knode is not None else 0) + 2
        start, end = seq.start_mark.index, seq.end_mark.index
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        new = text[:start].rstrip(" ") + text[end:line_end].rstrip() + nl + item_text(dash) + text[line_end + 1 :]
        return new, False
    items = list(seq.value)
    starts = [_dash_line(lines, it.start_mark.line) for it in items]
    seq_end = seq.end_mark.line + (1 if seq.end_mark.column > 0 else 0)
    seq_end = min(seq_end, len(lines))
    ends = starts[1:] + [seq_end]
    dash = len(lines[starts[0]]) - len(lines[starts[0]].lstrip(" "))
    labels = []
    for i, it in enumerate(items):
        lab = None
        if isinstance(it, yaml.MappingNode):
            for k, v in it.value:
                if isinstance(k, yaml.ScalarNode) and k.value == "label" and isinstance(v, yaml.ScalarNode):
                    lab = v.value
        labels.append(lab)
    new_lines = item_text(dash).splitlines(keepends=True)
    if label in labels:
        i = labels.index(label)
        end = _trim_end(lines, starts[i], ends[i])
        return "".join(lines[: starts[i]] + new_lines + lines[end:]), True
    end = _trim_end(lines, starts[-1], ends[-1])
    return "".join(lines[:end] + new_lines + lines[end:]), False
