"""YAML as case files need it: YAML 1.2 scalars, and refusals before anything can blow up.

PyYAML reads YAML 1.1, where ``012`` is the octal number 10, ``0x1F`` is 31, ``1:30`` is the
sexagesimal 90, ``1_000`` is 1000 and ``yes``/``no``/``on``/``off`` are booleans: a printed ``012``
would silently become 10. Case files are read with YAML 1.2's core schema instead (``012`` is 12,
``1:30`` and ``yes`` are text). A plain scalar is resolved by :func:`plain_scalar`; quoted scalars
are always text.

Before a document is turned into Python objects, :func:`check_size` refuses aliases that would expand
it far beyond the file's own size (the "billion laughs" bomb: nine nested levels of nine aliases
each) and nesting deeper than :data:`MAX_DEPTH`, each with a clear error instead of a hang, a
memory blow-up or a RecursionError.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from .errors import CaseError

#: Deepest nesting of lists and mappings accepted in a case file.
MAX_DEPTH = 64
#: Nodes an expanded document may have, per character of the file (plus a floor).
EXPANSION_PER_CHAR = 4
EXPANSION_FLOOR = 20_000

_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(inf|Inf|INF)$")
_NAN = re.compile(r"^\.(nan|NaN|NAN)$")
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})


def plain_scalar(text: str) -> Any:
    """A plain (unquoted) scalar under YAML 1.2's core schema."""
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.match(text):
        return int(text, 10)
    if _OCT.match(text):
        return int(text, 0)
    if _HEX.match(text):
        return int(text, 0)
    if _FLOAT.match(text):
        return float(text)
    if _INF.match(text):
        return -math.inf if text.startswith("-") else math.inf
    if _NAN.match(text):
        return math.nan
    return text


def scalar_value(node: yaml.ScalarNode) -> Any:
    """The value of a scalar node: YAML 1.2 for plain scalars, text for quoted ones."""
    return plain_scalar(node.value) if node.style is None else node.value


def check_size(root: yaml.Node, text_length: int, file: str) -> None:
    """Refuse a document whose aliases expand it far past its size, or that nests too deeply.

    The expanded size is counted over the node graph with memoisation (each distinct node once), so
    the count itself costs no more than the file; a recursive alias is refused too.
    """
    limit = max(EXPANSION_FLOOR, EXPANSION_PER_CHAR * text_length)
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    # iterative post-order walk: (node, children visited?)
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    active: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if depth[key] > MAX_DEPTH:
                raise CaseError(
                    f"the document nests lists or mappings more than {MAX_DEPTH} deep",
                    file=file,
                    line=node.start_mark.line + 1,
                    hint="case files are shallow; check the brackets",
                )
            if size[key] > limit:
                raise CaseError(
                    f"YAML aliases expand this document to more than {limit} values (the file has {text_length} "
                    "characters): refused before expanding",
                    file=file,
                    line=node.start_mark.line + 1,
                    hint="case files need no anchors and aliases (&name / *name); write the values out",
                )
            continue
        if key in size:
            continue
        if key in active:
            raise CaseError(
                "a YAML alias refers to the structure it is part of",
                file=file,
                line=node.start_mark.line + 1,
                hint="remove the recursive anchor/alias",
            )
        active.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
