"""A small, safe expression language for derived columns and row filters.

Case files hold a ``transform:`` mapping (new column -> expression) and a
``where:`` filter. That text is untrusted, so it is tokenized and parsed here into
a frozen AST and evaluated against a DataFrame by our own code; nothing is ever
handed to Python's ``eval``, ``pandas.eval`` or ``DataFrame.query``.

Syntax (R-like precedence, lowest first): ``or |``, ``and &``, ``not !``,
comparisons ``== != < <= > >=`` and ``x in [..]`` / ``x not in [..]``, ``+ -``,
``* /``, unary minus, ``^ **`` (right-associative, so ``-2^2`` is -4 and
``2^-1`` is 0.5). Literals: numbers, quoted strings, ``true``/``false``, ``NA``.
Columns: ``name.with_dots`` or ```any name```. Calls: the functions in ``FUNCTIONS``.

Value types: arithmetic gives float64 (booleans count as 0/1, NaN propagates);
comparisons and logic give a nullable ``boolean`` Series (NA where an operand is
missing, Kleene logic for and/or). Callers wanting numbers convert with
``series.astype(float)`` (NA becomes NaN). ``factor()`` gives a Categorical.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = [
    "FUNCTIONS",
    "Binary",
    "Bool",
    "Call",
    "Col",
    "Expr",
    "ListLit",
    "Missing",
    "Num",
    "Str",
    "Unary",
    "apply_transforms",
    "columns_used",
    "evaluate",
    "parse",
]

# ----------------------------------------------------------------------------- AST


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
_LITERALS = (Num, Str, Bool, Missing)
_MAX_DEPTH = 30  # nesting of parentheses / unary operators while parsing
_MAX_TREE = 150  # depth of the finished tree (evaluation recurses over it)

# ----------------------------------------------------------------------------- lexer

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
_CONSTS = {
    "true": Bool(True),
    "TRUE": Bool(True),
    "True": Bool(True),
    "false": Bool(False),
    "FALSE": Bool(False),
    "False": Bool(False),
    "NA": Missing(),
}
_ESCAPES = {"n": "\n", "t": "\t"}


def _tokenize(text: str, fail) -> list[tuple[str, object, int, str]]:
    """Split text into (kind, value, offset, raw) tokens; kind: num/str/ident/col/op/end."""
    out, pos = [], 0
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


# ----------------------------------------------------------------------------- parser


class _Parser:
    """Recursive-descent parser over the token list."""

    def __init__(self, text: str, field: str | None) -> None:
        self.text, self.field, self.depth, self.i = text, field, 0, 0
        self.toks = _tokenize(text, self.fail)

    def fail(self, what: str, pos: int, hint: str | None = None):
        raise DataError(f"{what} at column {pos + 1} in {self.text!r}", field=self.field, hint=hint)

    def peek(self, k: int = 0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def at(self, *ops: str) -> bool:
        kind, value, _, _ = self.peek()
        return kind == "op" and value in ops

    def unexpected(self, hint: str | None = None):
        kind, value, pos, raw = self.peek()
        if kind == "end":
            self.fail("unexpected end of expression", pos, hint)
        if value == "=":
            hint = "use '==' to compare"
        elif value == ")":
            hint = "unbalanced parentheses"
        self.fail(f"unexpected {raw!r}", pos, hint)

    def expect(self, op: str, opened: int | None = None):
        if self.at(op):
            return self.take()
        if opened is not None and self.peek()[0] == "end":
            bracket = "(" if op == ")" else "["
            self.fail(f"unclosed '{bracket}' opened", opened, "unbalanced parentheses")
        self.unexpected(f"expected {op!r}")

    def nest(self, fn):
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

    def binary_chain(self, ops: tuple[str, ...], sub) -> Expr:
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
            return _CONSTS[value] if value in _CONSTS else Col(value)
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
        opened, bound, keywords = self.take()[2], {}, False
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


def _children(node: Expr):
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


# ----------------------------------------------------------------------------- evaluation


def _kind(s: pd.Series) -> str:
    """Classify values as "num", "bool", "text" or "na" (all missing)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if len(s) and s.isna().all():
        return "na"
    if pd.api.types.is_bool_dtype(s.dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "num"
    inferred = pd.api.types.infer_dtype(s, skipna=True)
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "num"
    return "bool" if inferred == "boolean" else "text"


def _labels(s: pd.Series) -> pd.Series:
    return s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s


def _describe(node: Expr) -> str:
    if isinstance(node, Col):
        return f"column {node.name!r}"
    return f"{node.name}()" if isinstance(node, Call) else "its operand"


def _boolean(values: np.ndarray, na: np.ndarray | None = None) -> pd.Series:
    na = np.zeros(len(values), dtype=bool) if na is None else na
    return pd.Series(pd.arrays.BooleanArray(np.asarray(values, dtype=bool), na))


_MATH = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs}
_STATS = {"mean": "mean", "sd": "std", "min": "min", "max": "max"}
_COMPARE = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}
_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power}


class _Evaluator:
    """Evaluates nodes to Series on a RangeIndex (no label alignment surprises)."""

    def __init__(self, frame: pd.DataFrame, field: str | None) -> None:
        self.frame, self.field, self.n = frame, field, len(frame)

    def fail(self, message: str, hint: str | None = None):
        raise DataError(message, field=self.field, hint=hint)

    def num(self, node: Expr, what: str, s: pd.Series | None = None) -> np.ndarray:
        """Evaluate ``node`` (or convert its value ``s``) to float64; bool -> 0/1."""
        s = self.ev(node) if s is None else s
        if isinstance(s.dtype, pd.CategoricalDtype):
            self.fail(f"{what} needs numbers, but {_describe(node)} is a factor", "convert it with as_numeric()")
        kind = _kind(s)
        if kind == "text":
            self.fail(f"{what} needs numbers, but {_describe(node)} is text")
        if kind == "na":
            return np.full(len(s), np.nan)
        if kind == "bool":
            s = s.astype(object).astype("boolean")
        elif s.dtype == object:
            s = pd.to_numeric(s)
        return s.to_numpy(dtype=float, na_value=np.nan)

    def cond(self, node: Expr, what: str) -> pd.Series:
        """Evaluate ``node`` to a nullable boolean Series."""
        s = self.ev(node)
        if _kind(s) not in ("bool", "na") or isinstance(s.dtype, pd.CategoricalDtype):
            self.fail(
                f"{what} needs a true/false condition, but {_describe(node)} is not one", "compare it, e.g. x == 1"
            )
        return s.astype(object).astype("boolean")

    def ev(self, node: Expr) -> pd.Series:
        n = self.n
        if isinstance(node, Num):
            return pd.Series(np.full(n, float(node.value)))
        if isinstance(node, Str):
            return pd.Series([node.value] * n, dtype=object)
        if isinstance(node, Bool):
            return _boolean(np.full(n, node.value))
        if isinstance(node, Missing):
            return pd.Series(np.full(n, np.nan))
        if isinstance(node, Col):
            return self.column(node.name)
        if isinstance(node, Unary) and node.op == "-":
            return pd.Series(-self.num(node.operand, "unary '-'"))
        if isinstance(node, Unary):
            return ~self.cond(node.operand, "'not'")
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Call):
            return self.call(node.name, dict(node.args))
        self.fail("a list [...] is only allowed after 'in' or as levels=")

    def column(self, name: str) -> pd.Series:
        columns = [str(c) for c in self.frame.columns]
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
            hint = (
                ("did you mean " + " or ".join(repr(c) for c in close) + "?")
                if close
                else "available columns: " + ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
            )
            self.fail(f"unknown column {name!r}", hint)
        if columns.count(name) > 1:
            self.fail(f"column {name!r} appears more than once in the data")
        return self.frame.iloc[:, columns.index(name)].reset_index(drop=True)

    def binary(self, node: Binary) -> pd.Series:
        op = node.op
        if op in _ARITH:
            x, y = self.num(node.left, f"'{op}'"), self.num(node.right, f"'{op}'")
            return pd.Series(_ARITH[op](x, y))
        if op in ("and", "or"):
            x, y = self.cond(node.left, f"'{op}'"), self.cond(node.right, f"'{op}'")
            return x & y if op == "and" else x | y
        if op == "in":
            return self.member(node.left, node.right.items)
        a, b = _labels(self.ev(node.left)), _labels(self.ev(node.right))
        kinds = {_kind(a), _kind(b)}
        if "na" in kinds:
            return _boolean(np.zeros(self.n), np.ones(self.n, dtype=bool))
        if kinds <= {"num", "bool"}:
            x, y = self.num(node.left, f"'{op}'", a), self.num(node.right, f"'{op}'", b)
            na = np.isnan(x) | np.isnan(y)
        elif kinds == {"text"}:
            x, y = a.astype(object).to_numpy(), b.astype(object).to_numpy()
            na = pd.isna(x) | pd.isna(y)
            x, y = np.where(na, "", x), np.where(na, "", y)
        else:
            self.fail(f"cannot compare text with numbers using '{op}'", "quote numbers that are codes, e.g. g == '1'")
        with np.errstate(invalid="ignore"):
            return _boolean(_COMPARE[op](x, y) & ~na, na)

    def member(self, node: Expr, items: tuple[Expr, ...]) -> pd.Series:
        s = _labels(self.ev(node))
        values = [i.value for i in items if not isinstance(i, Missing)]
        has_na, kind = any(isinstance(i, Missing) for i in items), _kind(s)
        texts = [isinstance(v, str) for v in values]
        if kind in ("num", "bool") and any(texts) or kind == "text" and not all(texts):
            self.fail("'in' list must hold the same type as its left side (text or numbers)")
        na = s.isna().to_numpy()
        if kind in ("num", "bool"):
            found = np.isin(self.num(node, "'in'", s), np.array(values, dtype=float))
        else:
            found = s.isin(values).to_numpy(dtype=bool)
        return _boolean(np.where(na, has_na, found))

    def grouped(self, values: np.ndarray, by: Expr, how: str) -> np.ndarray:
        keys = _labels(self.ev(by))
        out = pd.Series(values).groupby(keys, dropna=True, observed=True, sort=False)
        return out.transform(how).to_numpy(dtype=float, na_value=np.nan)

    def call(self, name: str, a: dict[str, Expr]) -> pd.Series:
        n, what = self.n, f"{name}()"
        if name in _MATH:
            return pd.Series(_MATH[name](self.num(a["x"], what)))
        if name == "round":
            digits = int(a["digits"].value) if "digits" in a else 0
            return pd.Series(np.round(self.num(a["x"], what), digits))
        if name in _STATS:
            value = getattr(pd.Series(self.num(a["x"], what)), _STATS[name])()
            return pd.Series(np.full(n, value, dtype=float))
        if name == "group_mean":
            return pd.Series(self.grouped(self.num(a["x"], what), a["by"], "mean"))
        if name == "center":
            x = self.num(a["x"], what)
            mean = self.grouped(x, a["by"], "mean") if "by" in a else pd.Series(x).mean()
            return pd.Series(x - mean)
        if name == "count":
            if "by" not in a:
                return pd.Series(np.full(n, float(n)))
            return pd.Series(self.grouped(np.ones(n), a["by"], "size"))
        if name == "row_number":  # 1..n in the order the data was read (R's dat[1:550, ])
            return pd.Series(np.arange(1, n + 1, dtype=float))
        if name == "is_na":
            return _boolean(self.ev(a["x"]).isna().to_numpy())
        if name == "as_numeric":
            return self.as_numeric(a["x"])
        if name == "ifelse":
            return self.ifelse(a["cond"], a["yes"], a["no"])
        return self.factor(a["x"], a.get("ref"), a.get("levels"))

    def as_numeric(self, node: Expr) -> pd.Series:
        s = _labels(self.ev(node))
        if _kind(s) != "text":
            return pd.Series(self.num(node, "as_numeric()", s))
        out = pd.to_numeric(s.astype(object).str.strip(), errors="coerce").astype(float)
        bad = s[out.isna() & s.notna()]
        if len(bad):
            self.fail(
                f"as_numeric(): {_describe(node)} has values that are not numbers: "
                + ", ".join(repr(v) for v in pd.unique(bad)[:5])
            )
        return out

    def ifelse(self, cond: Expr, yes: Expr, no: Expr) -> pd.Series:
        c = self.cond(cond, "ifelse()")
        na, pick = c.isna().to_numpy(), c.to_numpy(dtype=bool, na_value=False)
        y, z = _labels(self.ev(yes)), _labels(self.ev(no))
        kinds = {_kind(y), _kind(z)} - {"na"}
        if kinds == {"text"}:
            out = np.where(pick, y.astype(object), z.astype(object))
            return pd.Series(np.where(na | pd.isna(out), None, out), dtype=object)
        if "text" in kinds:
            self.fail("ifelse(): 'yes' and 'no' must both be text or both be numbers")
        out = np.where(pick, self.num(yes, "ifelse()", y), self.num(no, "ifelse()", z))
        out = pd.Series(np.where(na, np.nan, out))
        return out.astype("boolean") if kinds == {"bool"} else out

    def factor(self, node: Expr, ref: Expr | None, levels: ListLit | None) -> pd.Series:
        s = self.ev(node)
        present = pd.unique(s.dropna())
        if isinstance(s.dtype, pd.CategoricalDtype):
            found = [c for c in s.cat.categories if c in set(present)]
        elif _kind(s) in ("num", "bool"):
            found = sorted(present)
            if _kind(s) == "num" and all(float(v).is_integer() for v in found):
                found = [int(v) for v in found]  # 1.0 -> level 1, as R prints it
        else:
            found = sorted(present, key=str)

        def match(lit: Expr):
            hits = [lv for lv in found if lv == lit.value or str(lv) == str(lit.value)]
            if not hits:
                self.fail(
                    f"factor(): level {lit.value!r} does not occur in {_describe(node)}",
                    "levels are: " + ", ".join(repr(v) for v in found[:20]),
                )
            return hits[0]

        if ref is not None:
            first = match(ref)
            found = [first] + [v for v in found if v != first]
        elif levels is not None:
            chosen = [match(item) for item in levels.items]
            if len(set(chosen)) < len(chosen):
                self.fail("factor(): levels= lists a level twice")
            left = [v for v in found if v not in chosen]
            if left:
                self.fail("factor(): levels= leaves out " + ", ".join(map(repr, left[:20])))
            found = chosen
        return pd.Series(pd.Categorical(s.astype(object), categories=found))


def evaluate(expr: Expr, frame: pd.DataFrame, *, field: str | None = None) -> pd.Series:
    """Evaluate an AST against a data frame.

    Args:
        expr: a node returned by :func:`parse`.
        frame: the data; columns are looked up by name.
        field: where the expression comes from, for error messages.

    Returns:
        A Series aligned to ``frame.index`` (scalars such as ``mean(x)`` are
        broadcast): float64 for arithmetic, nullable ``boolean`` for conditions,
        Categorical for ``factor()``, or the column's own dtype for a bare column.

    Raises:
        DataError: unknown column, wrong types, bad function arguments.
    """
    return _guarded(field, lambda: _Evaluator(frame, field).ev(expr)).set_axis(frame.index)


def _guarded(field: str | None, run):
    """Run an evaluation, turning stray library errors into DataError."""
    try:
        with np.errstate(all="ignore"):
            return run()
    except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        raise DataError(f"cannot evaluate expression: {exc}", field=field) from None


def apply_transforms(
    frame: pd.DataFrame,
    transform: dict[str, str],
    where: str | None = None,
    *,
    file: str | None = None,
    lines: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Add derived columns, then keep the rows matching a filter.

    Args:
        frame: input data (left untouched).
        transform: new column name -> expression, applied in order, so later
            expressions may use earlier results; an existing column is replaced.
        where: filter expression; rows where it is false or NA are dropped.
        file: case file name, for error messages.
        lines: line numbers keyed by ``"transform.<name>"`` or ``"where"``.

    Returns:
        A new DataFrame, keeping the original index labels of the kept rows.

    Raises:
        DataError: naming the field (``transform.<name>`` or ``where``) and,
            when known, the file and line.
    """
    lines = lines or {}
    out = frame.copy()
    steps = [(f"transform.{name}", name, text) for name, text in (transform or {}).items()]
    steps += [("where", None, where)] if where is not None else []
    for field, name, text in steps:
        try:
            if isinstance(text, (bool, int, float)):
                text = str(text).lower() if isinstance(text, bool) else str(text)
            if name is not None and (not isinstance(name, str) or not name):
                raise DataError("transform names must be non-empty text")
            expr = parse(text, field=field)
            if name is not None:
                out[name] = evaluate(expr, out, field=field)
                continue
            keep = _guarded(field, lambda out=out, field=field, expr=expr: _Evaluator(out, field).cond(expr, "where"))
            out = out[keep.to_numpy(dtype=bool, na_value=False)]
        except DataError as err:
            raise err.located(file=file, line=lines.get(field), field=field) from None
    return out
