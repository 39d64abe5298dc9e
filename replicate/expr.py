"""A small, safe expression language for derived columns and row filters.

Case files hold a ``transform:`` mapping (new column -> expression) and a
``where:`` filter. That text is untrusted, so it is tokenized and parsed here into
a frozen AST and evaluated against a DataFrame by our own code; nothing is ever
handed to Python's ``eval``, ``pandas.eval`` or ``DataFrame.query``.

The language lives in four small modules, one per step: :mod:`~replicate.expr_nodes` (the
syntax tree and function table), :mod:`~replicate.expr_tokens` (tokenizer),
:mod:`~replicate.expr_parse` (parser) and :mod:`~replicate.expr_eval` (evaluator); this module
applies a case's transforms and filter with them.

Syntax (R-like precedence, lowest first): ``or |``, ``and &``, ``not !``,
comparisons ``== != < <= > >=`` and ``x in [..]`` / ``x not in [..]``, ``+ -``,
``* /``, unary minus, ``^ **`` (right-associative, so ``-2^2`` is -4 and
``2^-1`` is 0.5). Literals: numbers, quoted strings, ``true``/``false``, ``NA``.
Columns: ``name.with_dots`` or ```any name```. Calls: the functions in
:data:`replicate.expr_nodes.FUNCTIONS`.

Value types: arithmetic gives float64 (booleans count as 0/1, NaN propagates);
comparisons and logic give a nullable ``boolean`` Series (NA where an operand is
missing, Kleene logic for and/or). Callers wanting numbers convert with
``series.astype(float)`` (NA becomes NaN). ``factor()`` gives a Categorical.
"""

from __future__ import annotations

import pandas as pd

from .errors import DataError
from .expr_eval import evaluate, evaluate_condition
from .expr_parse import parse

__all__ = ["apply_transforms"]


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
    steps: list[tuple[str, str | None, str]] = [
        (f"transform.{name}", name, text) for name, text in (transform or {}).items()
    ]
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
            keep = evaluate_condition(expr, out, "where", field=field)
            out = out[keep.to_numpy(dtype=bool, na_value=False)]
        except DataError as err:
            raise err.located(file=file, line=lines.get(field), field=field) from None
    return out
