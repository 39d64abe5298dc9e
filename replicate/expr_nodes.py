"""The expression language's syntax tree and its function table.

Every expression from a case file's ``transform:`` or ``where:`` becomes a tree of these frozen
nodes (:mod:`replicate.expr_parse` builds it, :mod:`replicate.expr_eval` evaluates it); the
functions a call may name, with their parameters, are listed in :data:`FUNCTIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FUNCTIONS", "Binary", "Bool", "Call", "Col", "Expr", "ListLit", "Missing", "Num", "Str", "Unary"]


@dataclass(frozen=True)
class Expr:
    """Base class of every AST node."""


@dataclass(frozen=True)
class Num(Expr):
    value: int | float


@dataclass(frozen=True)
class Str(Expr):
    value: str


@dataclass(frozen=True)
class Bool(Expr):
    value: bool


@dataclass(frozen=True)
class Missing(Expr):
    """The ``NA`` literal."""


@dataclass(frozen=True)
class Col(Expr):
    name: str


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # "-", "not"
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    op: str  # + - * / ^ == != < <= > >= and or in
    left: Expr
    right: Expr


@dataclass(frozen=True)
class ListLit(Expr):
    """``[lit, ...]``; only valid after ``in`` and as ``levels=``."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Call(Expr):
    """A whitelisted function call; ``args`` are bound (name, value) pairs."""

    name: str
    args: tuple[tuple[str, Expr], ...]


# name -> (parameter names, number required)
FUNCTIONS: dict[str, tuple[tuple[str, ...], int]] = {
    "group_mean": (("x", "by"), 2),
    "center": (("x", "by"), 1),
    "factor": (("x", "ref", "levels"), 1),
    "log": (("x",), 1),
    "exp": (("x",), 1),
    "sqrt": (("x",), 1),
    "abs": (("x",), 1),
    "round": (("x", "digits"), 1),
    "ifelse": (("cond", "yes", "no"), 3),
    "is_na": (("x",), 1),
    "as_numeric": (("x",), 1),
    "mean": (("x",), 1),
    "sd": (("x",), 1),
    "min": (("x",), 1),
    "max": (("x",), 1),
    "count": (("by",), 0),
    "row_number": ((), 0),
}
