"""Model matrices for a mixed model: X, y and random-effect terms.

A random-effect term is kept as a level index per row plus a small dense block of
columns (MixedModels.jl's ``ReMat``); the full Z matrix is never formed.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .errors import DataError, ModelError
from .formula_calls import derive
from .spec_model import ModelSpec


@dataclass(frozen=True)
class ReTerm:
    """One random-effect term ``(cols | group)`` after expansion.

    ``(x || g)`` is expanded into one term per column, as lme4 does, so every
    term has an unstructured (full) covariance over its columns.

    Attributes:
        group: grouping-factor name as lme4 prints it (``schoolid``,
            ``classid:schoolid``).
        index: integer level code (0 .. nlevels-1) for each row used.
        levels: level labels, in code order.
        columns: column names as lme4 prints them (``(Intercept)``, ``ses``).
        Xre: n x k dense matrix of the term's columns (k = len(columns)).
    """

    group: str
    index: np.ndarray
    levels: tuple[str, ...]
    columns: tuple[str, ...]
    Xre: np.ndarray

    @property
    def nlevels(self) -> int:
        return len(self.levels)

    @property
    def k(self) -> int:
        return len(self.columns)


@dataclass(frozen=True)
class Design:
    """Everything an engine needs, on the rows actually used.

    Attributes:
        y: response, length n.
        X: n x p fixed-effect model matrix, full column rank.
        fixed_names: column names of X, as R prints them.
        reterms: random-effect terms, in formula order.
        weights: level-1 (prior) weights or None.
        rows: positions (0-based) in the transformed data frame of the rows used.
        n_dropped: rows removed by listwise deletion of missing values.
        dropped_fixed: fixed-effect columns dropped for rank deficiency.
        formula: the formula as rebuilt from its parsed form.
        response: response variable name.
        messages: notes collected while building (deletions, drops).
        fixed_terms: formula terms of the fixed part, in column order.
        column_term: for each column of X, the term it belongs to.
        spec: the parsed model the design was built from.
        offset: the ``offset(...)`` column per row used (already subtracted from ``y``), or None.
    """

    y: np.ndarray
    X: np.ndarray
    fixed_names: tuple[str, ...]
    reterms: tuple[ReTerm, ...]
    weights: np.ndarray | None = None
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    n_dropped: int = 0
    dropped_fixed: tuple[str, ...] = ()
    formula: str = ""
    response: str = ""
    messages: tuple[str, ...] = ()
    # Provenance of how each fixed column and grouping factor maps to data.
    fixed_terms: tuple[str, ...] = ()
    column_term: tuple[str, ...] = ()
    spec: ModelSpec | None = None
    offset: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def p(self) -> int:
        return int(self.X.shape[1])

    def ngroups(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.reterms:
            out[t.group] = t.nlevels
        return out


# ------------------------------------------------------------------ builder


def _r_name(col: str) -> str:
    """Map a formulaic column name to the name R's model.matrix gives it."""
    if col == "Intercept":
        return "(Intercept)"
    parts = []
    for piece in col.split(":"):
        m = re.fullmatch(r"(.*)\[(?:T\.)?(.*)\]", piece)
        parts.append(m.group(1) + m.group(2) if m else piece)
    return ":".join(parts)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "") + "`"


def _terms_formula(intercept: bool, terms: Sequence[tuple[str, ...]]) -> str:
    pieces = ["1" if intercept else "0"] + [":".join(_quote(v) for v in t) for t in terms]
    return " + ".join(pieces)


def _expand(terms: Sequence[tuple[str, ...]], spec: ModelSpec | None) -> tuple[list[tuple[str, ...]], dict[str, str]]:
    """Terms over data columns: a variable of several columns (poly) makes one term per column.

    Returns the expanded terms and, for each expanded term's label, the model term it belongs to.
    """
    if spec is None or not any(len(d.columns) > 1 for d in spec.derived):
        return list(terms), {}
    out: list[tuple[str, ...]] = []
    owner: dict[str, str] = {}
    for t in terms:
        combos: list[tuple[str, ...]] = [()]
        for v in t:
            combos = [c + (col,) for c in combos for col in spec.columns_of(v)]
        for c in combos:
            out.append(c)
            owner[":".join(c)] = ":".join(t)
    return out, owner


def _materialize(
    frame: pd.DataFrame, intercept: bool, terms: Sequence[tuple[str, ...]], spec: ModelSpec | None = None
) -> tuple[np.ndarray, list[str], list[str]]:
    """Model matrix of ``terms`` on ``frame`` with R's column names.

    Returns the matrix, the column names and, for each column, the term it
    belongs to (``(Intercept)`` or ``a:b``; ``poly(x, 2)`` for both of poly's columns).
    """
    from formulaic import model_matrix

    if not intercept and not terms:
        return np.zeros((len(frame), 0)), [], []
    terms, owner = _expand(terms, spec)
    mm = model_matrix(_terms_formula(intercept, terms), frame, na_action="ignore")
    names = [_r_name(c) for c in mm.columns]
    col_term: list[str] = []
    spans = mm.model_spec.term_indices
    by_col: dict[int, str] = {}
    for term, idx in spans.items():
        label = "(Intercept)" if str(term) == "1" else ":".join(f.expr.strip("`") for f in term.factors)
        for i in idx:
            by_col[i] = label
    col_term = [by_col.get(i, names[i]) for i in range(len(names))]
    col_term = [owner.get(t, t) for t in col_term]
    return np.asarray(mm, dtype=float), names, col_term


def _drop_rank_deficient(X: np.ndarray, names: list[str], tol: float = 1e-7) -> list[int]:
    """Indices of columns to keep, dropping later collinear columns (as R's dqrdc2)."""
    keep: list[int] = []
    Q = np.zeros((X.shape[0], 0))
    for j in range(X.shape[1]):
        col = X[:, j]
        norm = np.linalg.norm(col)
        if norm == 0:
            continue
        resid = col - Q @ (Q.T @ col) if Q.shape[1] else col
        rnorm = np.linalg.norm(resid)
        if rnorm / norm < tol:
            continue
        Q = np.column_stack([Q, resid / rnorm])
        keep.append(j)
    return keep


def prepare_frame(
    frame: pd.DataFrame,
    spec: ModelSpec,
    *,
    contrasts: str = "treatment",
    weights: str | None = None,
    file: str | None = None,
) -> tuple[pd.DataFrame, np.ndarray, int, list[str]]:
    """Select model variables, check them, listwise-delete missing values.

    Returns the reduced frame (model variables only), the positions of the kept
    rows, the number of rows dropped and messages.
    """
    needed = list(dict.fromkeys(spec.variables() + ([weights] if weights else [])))  # weights may be a model column
    missing = [v for v in needed if v not in frame.columns]
    if missing:
        close = {v: difflib.get_close_matches(v, [str(c) for c in frame.columns], n=3) for v in missing}
        hint = "; ".join(f"{v}: did you mean {', '.join(c)}?" for v, c in close.items() if c)
        raise ModelError(
            f"variable(s) {', '.join(repr(v) for v in missing)} not in the data",
            file=file,
            field="model",
            hint=hint or f"columns are: {', '.join(map(str, frame.columns))}",
        )
    sub = frame[needed].copy()
    for g in spec.grouping_variables():
        nmiss = int(sub[g].isna().sum())
        if nmiss:
            raise DataError(
                f"grouping variable {g!r} has {nmiss} missing value(s)",
                file=file,
                field="model",
                hint=f"drop those rows explicitly with 'where: not is_na({g})' (lme4 drops them silently)",
            )
    messages: list[str] = []
    for v in needed:
        col = sub[v]
        if pd.api.types.is_bool_dtype(col):
            sub[v] = col.astype(float)
        elif pd.api.types.is_numeric_dtype(col):
            vals = col.to_numpy(dtype=float, na_value=np.nan)
            if np.isinf(vals).any():
                raise DataError(f"variable {v!r} has infinite values", file=file, field="model")
            sub[v] = vals
        elif not isinstance(col.dtype, pd.CategoricalDtype):
            cats = sorted(col.dropna().astype(str).unique())
            sub[v] = pd.Categorical(col.astype("string").astype(object).where(col.notna()), categories=cats)
    for v in needed:
        col = sub[v]
        if isinstance(col.dtype, pd.CategoricalDtype) and contrasts == "sas" and v not in spec.grouping_variables():
            cats = list(col.cat.categories)
            sub[v] = col.cat.reorder_categories([cats[-1]] + cats[:-1])
    complete = sub.notna().all(axis=1).to_numpy()
    n_dropped = int((~complete).sum())
    if n_dropped:
        by_var = {v: int(sub[v].isna().sum()) for v in needed if sub[v].isna().any()}
        messages.append(
            f"{n_dropped} row(s) with missing values dropped (listwise deletion): "
            + ", ".join(f"{v} {k}" for v, k in by_var.items())
        )
    rows = np.flatnonzero(complete)
    sub = sub.iloc[rows].reset_index(drop=True)
    for v in needed:
        if isinstance(sub[v].dtype, pd.CategoricalDtype):
            sub[v] = sub[v].cat.remove_unused_categories()
    if len(sub) == 0:
        raise DataError("no rows left after removing missing values", file=file, field="model")
    return sub, rows, n_dropped, messages


def build_design(
    spec: ModelSpec,
    frame: pd.DataFrame,
    *,
    contrasts: str = "treatment",
    weights: str | None = None,
    file: str | None = None,
) -> Design:
    """Build the :class:`Design` of ``spec`` on ``frame``.

    Args:
        spec: parsed model.
        frame: data (after transforms).
        contrasts: ``treatment`` (R: first level is the reference) or ``sas``
            (SAS CLASS coding: the last level is the reference).
        weights: name of a column of level-1 weights, or None.
        file: case file, for error messages.
    """
    if contrasts not in ("treatment", "sas"):
        raise ModelError(
            f"contrasts {contrasts!r} unknown", file=file, field="model.contrasts", hint="use 'treatment' or 'sas'"
        )
    frame = derive(frame, spec.derived, file=file)  # R's formula functions, on every row as model.frame does
    spec, notes = drop_response_on_rhs(spec)
    sub, rows, n_dropped, messages = prepare_frame(frame, spec, contrasts=contrasts, weights=weights, file=file)
    messages = notes + messages
    # grouping factors are coded apart: a numeric variable that also enters the fixed part or a random-effect
    # term's columns stays numeric there (lme4 makes a factor of the grouping variable only for the grouping)
    groups = pd.DataFrame(index=sub.index)
    for g in spec.grouping_variables():
        if isinstance(sub[g].dtype, pd.CategoricalDtype):
            groups[g] = sub[g]
            continue
        vals = sub[g].to_numpy(dtype=float)
        uniq = np.unique(vals)
        groups[g] = pd.Categorical.from_codes(np.searchsorted(uniq, vals), categories=[_label(u) for u in uniq])
    y = sub[spec.response]
    if isinstance(y.dtype, pd.CategoricalDtype):
        raise ModelError(f"response {spec.response!r} is not numeric", file=file, field="model")
    yv = y.to_numpy(dtype=float)
    offset = None
    if spec.offset:  # a term with coefficient 1: the model of y - offset, as lme4's offset for an LMM
        offset = sub[spec.offset].to_numpy(dtype=float)
        yv = yv - offset
        messages.append(f"{spec.offset} enters with coefficient 1 (fitted values include it)")
    X, names, col_term = _materialize(sub, spec.intercept, spec.fixed, spec)
    keep = _drop_rank_deficient(X, names)
    dropped = [names[j] for j in range(len(names)) if j not in keep]
    if dropped:
        messages.append(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} column(s): {', '.join(dropped)}"
        )
    X = X[:, keep]
    names = [names[j] for j in keep]
    col_term = [col_term[j] for j in keep]

    reterms: list[ReTerm] = []
    for rt in spec.random:
        Xre, cols, _ = _materialize(sub, rt.intercept, rt.terms, spec)
        key = groups[list(rt.group)].astype(str).agg(":".join, axis=1) if len(rt.group) > 1 else groups[rt.group[0]]
        if isinstance(key.dtype, pd.CategoricalDtype):
            codes = key.cat.codes.to_numpy()
            labels = [str(c) for c in key.cat.categories]
        else:
            uniq, codes = np.unique(key.to_numpy(), return_inverse=True)
            labels = [_label(u) for u in uniq]
        used = np.unique(codes)
        remap = np.full(len(labels), -1)
        remap[used] = np.arange(len(used))
        reterms.append(
            ReTerm(rt.group_name, remap[codes].astype(np.int64), tuple(labels[i] for i in used), tuple(cols), Xre)
        )
    # lme4 (mkReTrms) orders terms by decreasing number of levels when they
    # are not already so ordered, using rev(order(nl)).
    nl = [t.nlevels for t in reterms]
    if any(b > a for a, b in itertools.pairwise(nl)):
        # rev(order(nl)): ties come out reversed too, which sorted(reverse=True) would not do
        order = list(reversed(sorted(range(len(nl)), key=lambda i: nl[i])))  # noqa: C413
        reterms = [reterms[i] for i in order]
    if weights and not pd.api.types.is_numeric_dtype(sub[weights].dtype):
        raise DataError(
            f"weights column {weights!r} is not numeric",
            file=file,
            field="model.weights",
            hint="weights are positive numbers, one per row",
        )
    w = sub[weights].to_numpy(dtype=float) if weights else None
    if w is not None and (w <= 0).any():
        raise DataError(f"weights column {weights!r} has values <= 0", file=file, field="model.weights")
    return Design(
        y=yv,
        X=X,
        fixed_names=tuple(names),
        reterms=tuple(reterms),
        weights=w,
        rows=rows,
        n_dropped=n_dropped,
        dropped_fixed=tuple(dropped),
        formula=spec.formula(),
        response=spec.response,
        messages=tuple(messages),
        fixed_terms=tuple(dict.fromkeys(col_term)),
        column_term=tuple(col_term),
        spec=spec,
        offset=offset,
    )


def drop_response_on_rhs(spec: ModelSpec) -> tuple[ModelSpec, list[str]]:
    """The model without a fixed term that is the response itself (``y ~ y + ...``), and lme4's warning.

    R's ``model.matrix`` (which lme4 uses) drops such a term with the warning "the response appeared on the
    right-hand side and was dropped"; a term that only involves the response (``y:x``) is kept, as R keeps it.
    """
    if (spec.response,) not in spec.fixed:
        return spec, []
    kept = tuple(t for t in spec.fixed if t != (spec.response,))
    note = (
        f"the response appeared on the right-hand side and was dropped (the fixed term {spec.response!r}; "
        "lme4 warns the same: 'the response appeared on the right-hand side and was dropped')"
    )
    return replace(spec, fixed=kept), [note]


def _label(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
