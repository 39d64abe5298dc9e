"""``-k`` expressions: ``word``, ``not``, ``and``, ``or`` and parentheses.

A word matches when it is a case-insensitive substring of the case's file
name, id, title or one of its tags (as pytest's ``-k``). Parsed here, never
evaluated as code.
"""

from __future__ import annotations

import re

from .errors import ReplicateError

_TOKENS = re.compile(r"\s*(\(|\)|[^\s()]+)")
#: Deepest nesting of parentheses and 'not' accepted (a selection needs a handful).
MAX_DEPTH = 50


def check(expr: str) -> None:
    """Refuse an expression nested deeper than :data:`MAX_DEPTH` before parsing it."""
    depth = deepest = 0
    for t in _TOKENS.findall(expr):
        depth = depth + 1 if t == "(" else depth - 1 if t == ")" else depth
        deepest = max(deepest, depth)
    nots = max((len(m) for m in re.findall(r"(?:\bnot\s+)+", expr)), default=0) // 4
    if deepest > MAX_DEPTH or nots > MAX_DEPTH:
        raise ReplicateError(
            f"-k expression nests more than {MAX_DEPTH} deep",
            field="-k",
            hint="select with a few words joined by and/or/not",
        )


def matches(expr: str, words: list[str]) -> bool:
    check(expr)
    toks = [t for t in _TOKENS.findall(expr) if t]
    hay = [w.lower() for w in words]
    pos = 0

    def peek() -> str | None:
        return toks[pos] if pos < len(toks) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(toks):
            raise ReplicateError(f"-k expression {expr!r} ends too early", field="-k")
        pos += 1
        return toks[pos - 1]

    def or_() -> bool:
        val = and_()
        while peek() == "or":
            take()
            rhs = and_()
            val = val or rhs
        return val

    def and_() -> bool:
        val = not_()
        while peek() == "and":
            take()
            rhs = not_()
            val = val and rhs
        return val

    def not_() -> bool:
        if peek() == "not":
            take()
            return not not_()
        t = take()
        if t == "(":
            v = or_()
            if take() != ")":
                raise ReplicateError(f"-k expression {expr!r}: expected ')'", field="-k")
            return v
        if t in (")", "and", "or"):
            raise ReplicateError(f"-k expression {expr!r}: unexpected {t!r}", field="-k")
        return any(t.lower() in h for h in hay)

    result = or_()
    if pos != len(toks):
        raise ReplicateError(f"-k expression {expr!r}: unexpected {toks[pos]!r}", field="-k")
    return result
