"""R's formula functions (``I(x^2)``, ``log(x)``, ``poly(x, 2)``, ``factor(g)`` ...) without evaluating R.

lme4 users write functions of variables inside formulas. A formula comes from a case file and is
untrusted, so a call is accepted only if its function is in :data:`FORMULA_FUNCTIONS`; its argument
is parsed by the safe expression language (:mod:`replicate.expr`, never Python's or R's ``eval``)
and computed by this module into a new column named as R names it (R's ``deparse``): ``I(x^2)``,
``log(x + 1)``, ``factor(g)`` (whose dummy columns R prints ``factor(g)2``), ``poly(x, 2)`` (columns
``poly(x, 2)1`` and ``poly(x, 2)2``). The model then uses that column like any other variable.

Data-dependent functions are computed as R computes them in ``model.frame``: on the rows of the data
(after ``where:``) before missing values are dropped (``scale`` uses the mean and SD of the
available values; ``poly`` refuses missing values, as R does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import expr_nodes as ex
from .errors import DataError, ModelError
from .expr_eval import evaluate
from .expr_parse import columns_used, parse

#: name -> what it computes. Anything else is refused with this list.
FORMULA_FUNCTIONS: dict[str, str] = {
    "I": "arithmetic and comparisons as written (I(x^2), I(x > 2))",
    "log": "natural log (log(x), log(x, base))",
    "log1p": "log(1 + x)",
    "exp": "exponential",
    "sqrt": "square root",
    "abs": "absolute value",
    "scale": "centred and divided by the SD (scale(x), scale(x, scale = FALSE), scale(x, center = FALSE))",
    "poly": "orthogonal polynomials as R's poly (poly(x, 2)); raw powers with raw = TRUE",
    "factor": "the variable as a factor (factor(x))",
    "as.numeric": "a number (a factor's level codes 1, 2, ...)",
    "offset": "a term with coefficient 1 (offset(log(z)))",
    "cbind": "binomial response (cbind(successes, failures)); needs a GLMM",
}
_UNARY_NUMERIC = {"log1p": np.log1p, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs}
_PREC = {
    "or": 1,
    "and": 2,
    "not": 3,
    "==": 4,
    "!=": 4,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "neg": 7,
    "^": 8,
}
_R_OP = {"and": "&", "or": "|"}


@dataclass(frozen=True)
class Derived:
    """A formula function of the data, computed into one or more columns.

    Attributes:
        label: the call as R deparses it (the column name, or the stem of poly's columns).
        function: the function's name (a key of :data:`FORMULA_FUNCTIONS`).
        arg: the argument, parsed by :mod:`replicate.expr`.
        base: log's base (None: natural log).
        degree: poly's degree.
        raw: poly's ``raw = TRUE``.
        center, scale: scale's options.
    """

    label: str
    function: str
    arg: ex.Expr
    base: float | None = None
    degree: int = 1
    raw: bool = False
    center: bool = True
    scale: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns this call makes (poly makes ``degree`` of them)."""
        if self.function == "poly":
            return tuple(f"{self.label}{k}" for k in range(1, self.degree + 1))
        return (self.label,)

    def variables(self) -> set[str]:
        return columns_used(self.arg)


def _split_args(inner: str) -> list[str]:
    """Top-level comma-separated arguments of a call's inside text."""
    out, depth, start, quote = [], 0, 0, ""
    for i, ch in enumerate(inner):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"`":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(inner[start:i])
            start = i + 1
    out.append(inner[start:])
    return [a.strip() for a in out]


def _named(arg: str) -> tuple[str | None, str]:
    """``name = value`` -> (name, value); a plain argument -> (None, arg). ``==`` is not a name."""
    head, sep, rest = arg.partition("=")
    if sep and not rest.startswith("=") and head.strip().isidentifier() and not head.rstrip().endswith(("!", "<", ">")):
        return head.strip(), rest.strip()
    return None, arg


def _flag(value: str, what: str, field: str | None) -> bool:
    if value in ("TRUE", "T"):
        return True
    if value in ("FALSE", "F"):
        return False
    raise ModelError(f"{what} must be TRUE or FALSE, not {value!r}", field=field)


def parse_call(name: str, inner: str, *, field: str | None = None) -> Derived:
    """The :class:`Derived` column of ``name(inner)``; unknown functions and arguments are refused."""
    if name not in FORMULA_FUNCTIONS:
        raise ModelError(
            f"function {name}() is not allowed in a formula",
            field=field,
            hint="allowed: "
            + "; ".join(f"{k}(): {v}" for k, v in FORMULA_FUNCTIONS.items())
            + "; or derive the column under 'transform:'",
        )
    if name == "cbind":
        raise ModelError(
            "cbind() responses are binomial outcomes, which need a generalized linear mixed model: not implemented yet",
            field=field,
            hint="GLMMs are planned (the GLMM issue)",
        )
    args = [a for a in _split_args(inner)]
    if not args or not args[0]:
        raise ModelError(f"{name}() needs an argument", field=field)
    named = [_named(a) for a in args]
    if named[0][0] is not None:
        raise ModelError(f"the first argument of {name}() is the variable, not {named[0][0]} =", field=field)
    try:
        arg = parse(args[0], field=field)
    except DataError as exc:  # a formula's error is a model error, named by the call it is in
        raise ModelError(f"in {name}({inner}): {exc.message}", field=field, hint=exc.hint) from None
    opts = dict(named[1:])
    positional = [v for k, v in named[1:] if k is None]
    d = Derived(label="", function=name, arg=arg)
    allowed: set[str | None] = set()
    if name == "log":
        allowed = {None, "base"}
        base = opts.get("base") or (positional[0] if positional else None)
        if base is not None:
            b = _number(base, "log's base", field)
            if not (b > 0 and b != 1 and math.isfinite(b)):
                raise ModelError(f"log's base must be a positive number other than 1, not {base}", field=field)
            d = Derived("", name, arg, base=b)
    elif name == "poly":
        allowed = {None, "degree", "raw"}
        deg = opts.get("degree") or (positional[0] if positional else "1")
        d = Derived(
            "",
            name,
            arg,
            degree=int(_number(deg, "poly's degree", field)),
            raw=_flag(opts["raw"], "raw", field) if "raw" in opts else False,
        )
        if d.degree < 1 or d.degree != _number(deg, "poly's degree", field):
            raise ModelError(f"poly's degree must be a whole number >= 1, not {deg}", field=field)
    elif name == "scale":
        allowed = {"center", "scale"}
        d = Derived(
            "",
            name,
            arg,
            center=_flag(opts.get("center", "TRUE"), "center", field),
            scale=_flag(opts.get("scale", "TRUE"), "scale", field),
        )
    twice = name == "log" and "base" in opts and positional or name == "poly" and "degree" in opts and positional
    if len(positional) > (1 if name in ("log", "poly") else 0) or set(opts) - allowed or twice:
        raise ModelError(
            f"{name}() takes other arguments than {', '.join(args[1:])}", field=field, hint=FORMULA_FUNCTIONS[name]
        )
    return Derived(
        label=deparse_call(name, [deparse(arg)] + _extra(named[1:])),
        function=d.function,
        arg=d.arg,
        base=d.base,
        degree=d.degree,
        raw=d.raw,
        center=d.center,
        scale=d.scale,
    )


def _extra(named: Sequence[tuple[str | None, str]]) -> list[str]:
    out = []
    for k, v in named:
        try:
            val = deparse(parse(v))
        except DataError:
            val = v
        out.append(val if k is None else f"{k} = {val}")
    return out


def _number(text: str, what: str, field: str | None) -> float:
    node = parse(text, field=field)
    if isinstance(node, ex.Num):
        return float(node.value)
    if isinstance(node, ex.Unary) and node.op == "-" and isinstance(node.operand, ex.Num):
        return -float(node.operand.value)
    raise ModelError(f"{what} must be a number, not {text!r}", field=field)


def deparse_call(name: str, args: Sequence[str]) -> str:
    return f"{name}({', '.join(args)})"


def r_number(x: float) -> str:
    """A number as R deparses it: 15 significant digits, fixed or scientific, whichever is shorter."""
    if isinstance(x, bool):
        return "TRUE" if x else "FALSE"
    v = float(x)
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    fixed = f"{v:.15g}"
    if "e" in fixed:
        fixed = np.format_float_positional(v, precision=15, trim="-")
    mant, _, exp = f"{v:.14e}".partition("e")
    mant = mant.rstrip("0").rstrip(".")
    sci = f"{mant}e{'-' if int(exp) < 0 else '+'}{abs(int(exp)):02d}"
    return fixed if len(fixed) <= len(sci) else sci


def deparse(node: ex.Expr, parent: int = 0) -> str:
    """An expression as R's ``deparse`` prints it (spaces around binary operators but ``/`` and ``^``)."""
    if isinstance(node, ex.Num):
        return r_number(node.value)
    if isinstance(node, ex.Bool):
        return "TRUE" if node.value else "FALSE"
    if isinstance(node, ex.Missing):
        return "NA"
    if isinstance(node, ex.Str):
        return '"' + node.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(node, ex.Col):
        return node.name if _syntactic(node.name) else f"`{node.name}`"
    if isinstance(node, ex.Unary):
        prec = _PREC["neg"] if node.op == "-" else _PREC["not"]
        text = ("-" if node.op == "-" else "!") + deparse(node.operand, prec)
        return f"({text})" if prec < parent else text
    if isinstance(node, ex.Binary):
        prec = _PREC.get(node.op, 0)
        if node.op == "^":  # right-associative
            right = deparse(node.right, 0 if isinstance(node.right, ex.Unary) else prec)  # R: 2^-1
            text = f"{deparse(node.left, prec + 1)}^{right}"
        elif node.op == "/":  # R writes "/" (and "^") without spaces
            text = f"{deparse(node.left, prec)}/{deparse(node.right, prec + 1)}"
        else:
            text = f"{deparse(node.left, prec)} {_R_OP.get(node.op, node.op)} {deparse(node.right, prec + 1)}"
        return f"({text})" if prec < parent else text
    if isinstance(node, ex.Call):
        r_name = {"as_numeric": "as.numeric", "is_na": "is.na"}.get(node.name, node.name)
        return deparse_call(
            r_name, [deparse(v) if k == "x" or i == 0 else f"{k} = {deparse(v)}" for i, (k, v) in enumerate(node.args)]
        )
    raise ModelError(f"{type(node).__name__} cannot appear in a formula function")


def _syntactic(name: str) -> bool:
    return bool(name) and (name[0].isalpha() or name[0] == ".") and all(c.isalnum() or c in "._" for c in name)


# ------------------------------------------------------------------------------------------ computing


def _numeric(s: pd.Series, d: Derived) -> np.ndarray:
    if isinstance(s.dtype, pd.CategoricalDtype):
        if d.function == "as.numeric":
            codes = s.cat.codes.to_numpy().astype(float)
            codes[codes < 0] = np.nan
            return codes + 1.0
        raise DataError(
            f"{d.label}: {d.function}() of a factor is not meaningful",
            field="model.formula",
            hint="R gives NA with a warning; use as.numeric() for the level codes",
        )
    if pd.api.types.is_bool_dtype(s.dtype) or str(s.dtype) == "boolean":
        return s.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def _poly(x: np.ndarray, degree: int, raw: bool, label: str) -> np.ndarray:
    """R's ``poly``: raw powers, or the orthonormal basis from the QR of the centred powers."""
    if np.isnan(x).any():
        raise DataError(
            f"{label}: missing values are not allowed in poly(), as in R",
            field="model.formula",
            hint="drop the rows first with 'where: not is_na(...)'",
        )
    if raw:
        return np.column_stack([x**k for k in range(1, degree + 1)])
    if degree >= len(np.unique(x)):
        raise DataError(f"{label}: 'degree' must be less than the number of unique points", field="model.formula")
    xc = x - x.mean()
    V = np.column_stack([xc**k for k in range(degree + 1)])
    Q, R = np.linalg.qr(V)
    Z = Q * np.diag(R)  # R: qr.qy(QR, diag(diag(R))) keeps the sign of each column as R's does
    norms = np.sqrt((Z**2).sum(axis=0))
    return (Z / norms)[:, 1:]


def derive(frame: pd.DataFrame, derived: Sequence[Derived], *, file: str | None = None) -> pd.DataFrame:
    """``frame`` with each formula function's columns added (computed on every row of ``frame``)."""
    if not derived:
        return frame
    out = frame.copy()
    for d in derived:
        try:
            value = evaluate(d.arg, frame, field="model.formula")
        except DataError as exc:
            raise DataError(f"{d.label}: {exc.message}", file=file, field="model.formula", hint=exc.hint) from None
        if d.function == "factor":
            out[d.label] = value if isinstance(value.dtype, pd.CategoricalDtype) else _as_factor(value)
            continue
        if d.function == "I" and (str(value.dtype) == "boolean" or pd.api.types.is_bool_dtype(value.dtype)):
            lab = value.map({True: "TRUE", False: "FALSE"}).astype(object).where(value.notna())
            out[d.label] = pd.Categorical(lab, categories=["FALSE", "TRUE"])  # R: a logical column
            continue
        x = _numeric(value, d)
        if d.function == "poly":
            P = _poly(x, d.degree, d.raw, d.label)
            for k, name in enumerate(d.columns):
                out[name] = P[:, k]
            continue
        out[d.label] = _apply(x, d)
    return out


def _apply(x: np.ndarray, d: Derived) -> np.ndarray:
    with np.errstate(all="ignore"):
        if d.function in ("I", "as.numeric", "offset"):
            return x
        if d.function == "log":
            y = np.log(x)
            return y / math.log(d.base) if d.base is not None else y
        if d.function in _UNARY_NUMERIC:
            return _UNARY_NUMERIC[d.function](x)
        if d.function == "scale":
            y = x - np.nanmean(x) if d.center else x.copy()
            if d.scale:
                ok = y[~np.isnan(y)]
                # R: the SD when centring, else the root mean square (sqrt(sum(x^2) / (n - 1)))
                s = np.std(ok, ddof=1) if d.center else math.sqrt(float((ok**2).sum()) / (len(ok) - 1))
                y = y / s
            return y
    raise ModelError(f"{d.function}() cannot be computed here")


def _as_factor(values: pd.Series) -> pd.Categorical:
    """R's factor(): levels sorted numerically for numbers (labelled as R prints them), as text otherwise."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        x = values.to_numpy(dtype=float, na_value=np.nan)
        uniq = np.unique(x[~np.isnan(x)])
        codes = np.where(np.isnan(x), -1, np.searchsorted(uniq, np.nan_to_num(x)))
        return pd.Categorical.from_codes(codes, categories=[r_number(float(u)) for u in uniq])
    text = values.astype("string")
    cats = sorted(text.dropna().unique())
    return pd.Categorical(text.astype(object).where(values.notna()), categories=cats)
