"""The expression language's parser: tokens -> a frozen syntax tree, checked before anything runs.

Recursive descent with R-like precedence (see :mod:`replicate.expr`). Calls are bound to the
parameters of :data:`~replicate.expr_nodes.FUNCTIONS` here, so an unknown function, a missing or
repeated argument, or a list where none belongs is a syntax error with its column, never an
evaluation surprise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import NoReturn, TypeVar

from .errors import DataError
from .expr_nodes import FUNCTIONS, Binary, Bool, Call, Col, Expr, ListLit, Missing, Num, Str, Unary
from .expr_tokens import CONSTS, Token, tokenize

__all__ = ["columns_used", "parse"]

_T = TypeVar("_T")
_LITERALS = (Num, Str, Bool, Missing)
_MAX_DEPTH = 30  # nesting of parentheses / unary operators while parsing
_MAX_TREE = 150  # depth of the finished tree (evaluation recurses over it)


class _Parser:
    """Recursive-descent parser over the token list."""

    def __init__(self, text: str, field: str | None) -> None:
        self.text, self.field, self.depth, self.i = text, field, 0, 0
        self.toks = tokenize(text, self.fail)

    def fail(self, what: str, pos: int, hint: str | None = None) -> NoReturn:
        raise DataError(f"{what} at column {pos + 1} in {self.text!r}", field=self.field, hint=hint)

    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self) -> Token:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def at(self, *ops: str) -> bool:
        kind, value, _, _ = self.peek()
        return kind == "op" and value in ops

    def unexpected(self, hint: str | None = None) -> NoReturn:
        kind, value, pos, raw = self.peek()
        if kind == "end":
            self.fail("unexpected end of expression", pos, hint)
        if value == "=":
            hint = "use '==' to compare"
        elif value == ")":
            hint = "unbalanced parentheses"
        self.fail(f"unexpected {raw!r}", pos, hint)

    def expect(self, op: str, opened: int | None = None) -> Token:
        if self.at(op):
            return self.take()
        if opened is not None and self.peek()[0] == "end":
            bracket = "(" if op == ")" else "["
            self.fail(f"unclosed '{bracket}' opened", opened, "unbalanced parentheses")
        self.unexpected(f"expected {op!r}")

    def nest(self, fn: Callable[[], _T]) -> _T:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            self.fail("expression nested too deeply", self.peek()[2])
        try:
            return fn()
        finally:
            self.depth -= 1

    def parse(self) -> Expr:
        if self.peek()[0] == "end":
            raise DataError("empty expression", field=self.field)
        try:
            node = self.or_()
        except RecursionError:
            raise DataError(f"expression too complex: {self.text[:80]!r}", field=self.field) from None
        if self.peek()[0] != "end":
            self.unexpected("expected an operator or the end of the expression")
        if _depth(node) > _MAX_TREE:
            raise DataError(f"expression too complex (more than {_MAX_TREE} nested operations)", field=self.field)
        return node

    def binary_chain(self, ops: tuple[str, ...], sub: Callable[[], Expr]) -> Expr:
        node = sub()
        while self.at(*ops):
            node = Binary(self.take()[1], node, sub())
        return node

    def or_(self) -> Expr:
        return self.binary_chain(("or",), self.and_)

    def and_(self) -> Expr:
        return self.binary_chain(("and",), self.not_)

    def not_(self) -> Expr:
        if self.at("not"):
            self.take()
            return Unary("not", self.nest(self.not_))
        return self.compare()

    def compare(self) -> Expr:
        node = self.additive()
        if self.at("==", "!=", "<", "<=", ">", ">="):
            node = Binary(self.take()[1], node, self.additive())
        elif self.at("in") or (self.at("not") and self.peek(1)[1] == "in"):
            negate = self.take()[1] == "not"
            if negate:
                self.take()  # the 'in'
            if not self.at("["):
                self.unexpected("'in' needs a list, e.g. x in [1, 2]")
            node = Binary("in", node, self.list_())
            node = Unary("not", node) if negate else node
        else:
            return node
        if self.at("==", "!=", "<", "<=", ">", ">=", "in"):
            self.unexpected("comparisons cannot be chained; combine them with 'and'")
        return node

    def additive(self) -> Expr:
        return self.binary_chain(("+", "-"), self.multiplicative)

    def multiplicative(self) -> Expr:
        return self.binary_chain(("*", "/"), self.unary)

    def unary(self) -> Expr:
        if self.at("-", "+"):
            op = self.take()[1]
            operand = self.nest(self.unary)
            if op == "+":
                return operand
            return Num(-operand.value) if isinstance(operand, Num) else Unary("-", operand)
        return self.power()

    def power(self) -> Expr:
        node = self.primary()
        if self.at("^"):
            self.take()
            node = Binary("^", node, self.nest(self.unary))
        return node

    def primary(self) -> Expr:
        kind, value, pos, _ = self.take()
        if kind == "num":
            return Num(value)
        if kind == "str":
            return Str(value)
        if kind == "col":
            return Col(value)
        if kind == "ident":
            if self.at("("):
                return self.call(value, pos)
            return CONSTS[value] if value in CONSTS else Col(value)
        if kind == "op" and value == "(":
            node = self.nest(self.or_)
            self.expect(")", pos)
            return node
        self.i -= 1
        if kind == "op" and value == "[":
            self.unexpected("a list [...] is only allowed after 'in' or as levels=")
        self.unexpected()

    def list_(self) -> ListLit:
        opened = self.take()[2]
        items = []
        while not self.at("]"):
            pos = self.peek()[2]
            item = self.unary()
            if not isinstance(item, _LITERALS):
                self.fail("list items must be literal numbers, strings, true/false or NA", pos)
            items.append(item)
            if not self.at(","):
                break
            self.take()
        self.expect("]", opened)
        return ListLit(tuple(items))

    def call(self, name: str, pos: int) -> Call:
        if name not in FUNCTIONS:
            self.fail(f"unknown function {name!r}", pos, "allowed functions: " + ", ".join(sorted(FUNCTIONS)))
        params, required = FUNCTIONS[name]
        opened, keywords = self.take()[2], False
        bound: dict[str, Expr] = {}
        while not self.at(")"):
            apos, key = self.peek()[2], None
            if self.peek()[0] == "ident" and self.peek(1)[:2] == ("op", "="):
                key, keywords = self.take()[1], True
                self.take()
                if key not in params:
                    self.fail(f"{name}() has no argument {key!r}", apos, f"its arguments are: {', '.join(params)}")
            elif keywords:
                self.fail(f"positional argument after a keyword argument in {name}()", apos)
            elif len(bound) >= len(params):
                self.fail(f"too many arguments to {name}()", apos, f"its arguments are: {', '.join(params)}")
            key = key or params[len(bound)]
            if key in bound:
                self.fail(f"argument {key!r} given twice to {name}()", apos)
            bound[key] = self.list_() if self.at("[") else self.nest(self.or_)
            self._check_arg(name, key, bound[key], apos)
            if not self.at(","):
                break
            self.take()
        self.expect(")", opened)
        missing = [p for p in params[:required] if p not in bound]
        if missing:
            self.fail(f"{name}() is missing argument {missing[0]!r}", pos)
        if "ref" in bound and "levels" in bound:
            self.fail("factor() takes ref= or levels=, not both", pos)
        return Call(name, tuple((p, bound[p]) for p in params if p in bound))

    def _check_arg(self, name: str, key: str, value: Expr, pos: int) -> None:
        if key == "levels" and not isinstance(value, ListLit):
            self.fail("levels= must be a list like ['a', 'b']", pos)
        elif key == "levels" and isinstance(value, ListLit) and any(isinstance(i, Missing) for i in value.items):
            self.fail("levels= cannot list NA: missing values are never a level", pos)
        elif key != "levels" and isinstance(value, ListLit):
            self.fail(f"a list is not allowed as {name}() argument {key!r}", pos)
        elif key == "ref" and not isinstance(value, (Num, Str, Bool)):
            self.fail("ref= must be a literal level, e.g. ref='control' or ref=1", pos)
        elif key == "digits" and not (isinstance(value, Num) and float(value.value).is_integer()):
            self.fail("digits must be a whole number", pos)


def parse(text: str, *, field: str | None = None) -> Expr:
    """Parse expression text into an AST.

    Args:
        text: the expression, e.g. ``"center(ses, by=school)"``.
        field: where the text comes from (``transform.x``), for error messages.

    Returns:
        The root node of the expression.

    Raises:
        DataError: on any syntax problem, with the column where it was found.
    """
    if not isinstance(text, str):
        raise DataError(f"expression must be text, got {type(text).__name__}", field=field)
    return _Parser(text, field).parse()


def _children(node: Expr) -> Iterator[Expr]:
    for f in fields(node):
        value = getattr(node, f.name)
        for item in value if isinstance(value, tuple) else (value,):
            item = item[1] if isinstance(item, tuple) else item
            if isinstance(item, Expr):
                yield item


def _depth(expr: Expr) -> int:
    deepest, stack = 0, [(expr, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in _children(node))
    return deepest


def columns_used(expr: Expr) -> set[str]:
    """Return the names of all columns an expression refers to."""
    found, stack = set(), [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Col):
            found.add(node.name)
        stack.extend(_children(node))
    return found
