"""The formula tokenizer: lme4 formula text -> name, number, operator and call tokens.

A call (``log(x)``, ``poly(x, 2)``) is one token holding the text between its parentheses, which
:func:`replicate.formula_calls.parse_call` reads with the safe expression language; everything
else is a name (plain or back-quoted), the numbers 0 and 1, or one of the formula operators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ModelError

__all__ = ["FormulaToken", "tokenize"]

_TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_.][A-Za-z0-9_.]*)|`(?P<quoted>[^`]+)`|(?P<num>\d+(?:\.\d*)?)"
    r"|(?P<op>\|\||[~+\-*/:|()]))"
)


@dataclass(frozen=True)
class FormulaToken:
    """One token; a call's token is its function name with the text inside its parentheses."""

    kind: str  # name, num, op, call, end
    text: str
    pos: int
    inner: str = ""  # a call's text between its parentheses


def _closing(text: str, open_at: int) -> int | None:
    """Index of the ')' closing the '(' at ``open_at`` (quotes respected), or None."""
    depth, quote = 0, ""
    for i in range(open_at, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return None


def tokenize(text: str, field_: str | None) -> list[FormulaToken]:
    toks: list[FormulaToken] = []
    i = 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if not m or m.end() == i:
            j = i + (len(text[i:]) - len(text[i:].lstrip()))
            raise ModelError(
                f"unexpected character {text[j]!r} at column {j + 1} in formula {text!r}",
                field=field_,
                hint="formulas may use variable names, numbers 0/1, + - * / : | || ~, parentheses and R's "
                "formula functions (I(), log(), poly(), factor() ...); derive other columns under 'transform:'",
            )
        start = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
        after = m.end() + (len(text[m.end() :]) - len(text[m.end() :].lstrip()))
        if m.group("name") is not None and after < len(text) and text[after] == "(":
            close = _closing(text, after)
            if close is None:
                raise ModelError(
                    f"unclosed '(' of {m.group('name')}( at column {after + 1} in formula {text!r}",
                    field=field_,
                    hint="check that parentheses are balanced",
                )
            toks.append(FormulaToken("call", m.group("name"), start, text[after + 1 : close]))
            i = close + 1
            continue
        if m.group("name") is not None:
            toks.append(FormulaToken("name", m.group("name"), start))
        elif m.group("quoted") is not None:
            toks.append(FormulaToken("name", m.group("quoted"), start))
        elif m.group("num") is not None:
            toks.append(FormulaToken("num", m.group("num"), start))
        else:
            toks.append(FormulaToken("op", m.group("op"), start))
        i = m.end()
    toks.append(FormulaToken("end", "", len(text)))
    return toks
