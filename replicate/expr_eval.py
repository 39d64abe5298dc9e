"""The expression language's evaluator: a syntax tree against a DataFrame -> a Series.

Our own code walks the tree (nothing is handed to Python's ``eval``, ``pandas.eval`` or
``DataFrame.query``). Arithmetic gives float64 (booleans count as 0/1, NaN propagates);
comparisons and logic give a nullable ``boolean`` Series with Kleene logic; ``factor()`` gives a
Categorical.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import NoReturn

import numpy as np
import pandas as pd

from .errors import DataError
from .expr_nodes import Binary, Bool, Call, Col, Expr, ListLit, Missing, Num, Str, Unary

__all__ = ["evaluate", "evaluate_condition"]


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

    def fail(self, message: str, hint: str | None = None) -> NoReturn:
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
            if not isinstance(node.right, ListLit):
                self.fail("'in' needs a list, e.g. x in [1, 2]")
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
        values = [i.value for i in items if isinstance(i, (Num, Str, Bool))]
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
            given = a.get("digits")
            digits = int(given.value) if isinstance(given, Num) else 0
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
        levels = a.get("levels")
        return self.factor(a["x"], a.get("ref"), levels if isinstance(levels, ListLit) else None)

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

        def match(lit: Expr) -> object:
            if not isinstance(lit, (Num, Str, Bool)):
                self.fail("factor(): a level must be a literal number, text or true/false")
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


def _guarded(field: str | None, run: Callable[[], pd.Series]) -> pd.Series:
    """Run an evaluation, turning stray library errors into DataError."""
    try:
        with np.errstate(all="ignore"):
            return run()
    except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
        raise DataError(f"cannot evaluate expression: {exc}", field=field) from None


def evaluate_condition(expr: Expr, frame: pd.DataFrame, what: str, *, field: str | None = None) -> pd.Series:
    """Evaluate an AST that must be a true/false condition (a ``where:`` filter).

    Args:
        expr: a node returned by :func:`~replicate.expr_parse.parse`.
        frame: the data.
        what: what needs the condition, for the message when it is not one (``"where"``).
        field: where the expression comes from, for error messages.

    Returns:
        A nullable ``boolean`` Series on a RangeIndex (NA where an operand is missing).

    Raises:
        DataError: the expression is not a condition, or cannot be evaluated.
    """
    return _guarded(field, lambda: _Evaluator(frame, field).cond(expr, what))
