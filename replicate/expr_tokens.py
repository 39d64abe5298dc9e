"""The expression language's tokenizer: text -> (kind, value, offset, raw) tokens.

Kinds: ``num``, ``str``, ``ident``, ``col`` (a back-quoted name), ``op`` and a final ``end``.
Operators arrive under one spelling (``**`` is ``^``, ``&``/``&&`` is ``and`` ...), and the words
``and or not in`` are operators too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn

from .expr_nodes import Bool, Expr, Missing

#: A token: (kind, value, offset in the text, the text as written). The value is text, except for a number
#: (int or float) and the end (None), so it is typed loosely; the parser reads it by kind.
Token = tuple[str, Any, int, str]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<tick>`[^`]*`)
  | (?P<op>\*\*|==|!=|<=|>=|&&|\|\||[-+*/^<>=!&|(),\[\]])
""",
    re.VERBOSE | re.ASCII | re.DOTALL,
)
_OP_ALIAS = {"**": "^", "&": "and", "&&": "and", "|": "or", "||": "or", "!": "not"}
_WORDS = {"and": "and", "or": "or", "not": "not", "in": "in"}
CONSTS: dict[str, Expr] = {
    "true": Bool(True),
    "TRUE": Bool(True),
    "True": Bool(True),
    "false": Bool(False),
    "FALSE": Bool(False),
    "False": Bool(False),
    "NA": Missing(),
}
_ESCAPES = {"n": "\n", "t": "\t"}


def tokenize(text: str, fail: Callable[[str, int], NoReturn]) -> list[Token]:
    """Split text into (kind, value, offset, raw) tokens; kind: num/str/ident/col/op/end."""
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            what = (
                "unterminated string"
                if ch in "'\""
                else "unterminated `name`"
                if ch == "`"
                else f"unexpected character {ch!r}"
            )
            fail(what, pos)
        kind, tok = m.lastgroup, m.group()
        if kind == "num":
            if m.end() < len(text) and (text[m.end()].isalnum() or text[m.end()] in "_."):
                fail(f"invalid number {text[pos : m.end() + 1]!r}", pos)
            value = int(tok) if tok.isdigit() and len(tok) < 16 else float(tok)
            out.append(("num", value, pos, tok))
        elif kind == "ident":
            out.append(("op", _WORDS[tok], pos, tok) if tok in _WORDS else ("ident", tok, pos, tok))
        elif kind == "str":
            body = re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), e.group(1)), tok[1:-1], flags=re.DOTALL)
            out.append(("str", body, pos, tok))
        elif kind == "tick":
            if len(tok) == 2:
                fail("empty `` column name", pos)
            out.append(("col", tok[1:-1], pos, tok))
        elif kind == "op":
            out.append(("op", _OP_ALIAS.get(tok, tok), pos, tok))
        pos = m.end()
    out.append(("end", None, len(text), ""))
    return out
