"""SAS's Type III hypotheses (Goodnight 1980), as lmerTest builds them, from the design's column names.

Start from the over-parameterized model with a dummy column for every cell of every term (``rdX``),
express its parameters in the full-rank treatment-coded ones, and make each term's hypothesis orthogonal to
those of the terms that contain it (same numeric variables, more factors). The cell dummies are rebuilt from
the design's own column names, without the data: under treatment coding the indicator of a reference level
is the term one order lower minus the other levels' indicators, so each cell's column is an integer
combination of X's columns (for models that respect marginality, the only ones lmerTest's Type III is meant
for).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import product

import numpy as np

from ..design import Design
from ..errors import NotImplementedOption
from ..spec import parse_formula

_REF = "\x00reference"  # stands for a reference level never shown in a column name


# ------------------------------------------------------------ column names


def match_pieces(column: str, variables: tuple[str, ...]) -> dict[str, str] | None:
    """Split an R column name (``fB:x``) into ``{variable: level}`` ("" for a numeric).

    Each ``:``-separated piece is matched to one of ``variables``: exactly (a
    numeric variable) or as ``variable`` followed by a level label (a factor;
    the longest matching name wins). Returns None if the pieces do not match
    the variables one to one.
    """
    pieces = column.split(":")
    if len(pieces) != len(variables):
        return None
    out: dict[str, str] = {}
    for piece in pieces:
        free = [v for v in variables if v not in out]
        if piece in free:
            out[piece] = ""
            continue
        cands = [v for v in free if piece.startswith(v) and len(piece) > len(v)]
        if not cands:
            return None
        v = max(cands, key=len)
        out[v] = piece[len(v) :]
    return out


@dataclass(frozen=True)
class FixedStructure:
    """The treatment-coded fixed-effect columns, parsed.

    Attributes:
        terms: model terms in R's order (by degree), as variable tuples.
        labels: R term labels (``f:x``).
        intercept: whether the model has an intercept column.
        factors: factor variables with their full level sets (a reference level
            never shown is ``_REF``).
        cells: per X column, ``(term index, {factor: level})``; the intercept is ``(-1, {})``.
    """

    terms: tuple[tuple[str, ...], ...]
    labels: tuple[str, ...]
    intercept: bool
    factors: dict[str, tuple[str, ...]]
    cells: tuple[tuple[int, tuple[tuple[str, str], ...]], ...]

    def numerics(self, ti: int) -> frozenset[str]:
        return frozenset(v for v in self.terms[ti] if v not in self.factors)

    def term_columns(self, ti: int) -> list[int]:
        return [c for c, (t, _) in enumerate(self.cells) if t == ti]


def fixed_structure(design: Design) -> FixedStructure:
    """Parse ``design``'s fixed columns into terms, factors and cells.

    Raises:
        NotImplementedOption: when the column names cannot be mapped to the
            formula's terms (then Type III contrasts cannot be rebuilt).
    """
    if not design.formula:
        raise NotImplementedOption("the design has no formula; Type III contrasts need the model's terms")
    spec = parse_formula(design.formula)
    terms = sorted(spec.fixed, key=len)  # R orders terms by degree (stable)
    labels = tuple(":".join(t) for t in terms)
    by_set = {frozenset(t): i for i, t in enumerate(terms)}
    cells: list[tuple[int, dict[str, str]]] = []
    intercept = False
    for name, term_label in zip(design.fixed_names, design.column_term or design.fixed_names):
        if name == "(Intercept)":
            intercept = True
            cells.append((-1, {}))
            continue
        ti = by_set.get(frozenset(str(term_label).split(":")))
        parsed = match_pieces(name, terms[ti]) if ti is not None else None
        if parsed is None:
            for tj, t in enumerate(terms):  # fall back to matching the name alone
                parsed = match_pieces(name, t)
                if parsed is not None:
                    ti = tj
                    break
        if parsed is None or ti is None:
            raise NotImplementedOption(
                f"cannot map fixed-effect column {name!r} to a term of {design.formula!r}",
                hint="Type III contrasts are rebuilt from R-style column names",
            )
        cells.append((ti, parsed))
    factor_vars = {v for _, lv in cells for v, lev in lv.items() if lev != ""}
    shown: dict[str, list[str]] = {v: [] for v in factor_vars}
    full_somewhere: set[str] = set()
    present: set[frozenset[str]] = set(by_set) | ({frozenset()} if intercept else set())
    for ti, t in enumerate(terms):
        for f in (v for v in t if v in factor_vars):
            if frozenset(t) - {f} not in present:
                full_somewhere.add(f)
    for _, lv in cells:
        for v, lev in lv.items():
            if v in factor_vars and lev not in shown[v]:
                shown[v].append(lev)
    factors = {f: tuple(([] if f in full_somewhere else [_REF]) + shown[f]) for f in sorted(factor_vars)}
    return FixedStructure(
        tuple(terms), labels, intercept, factors, tuple((ti, tuple(sorted(lv.items()))) for ti, lv in cells)
    )


# --------------------------------------------------- Type III hypothesis matrices


def _zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall``: round to ``digits`` significant digits of the largest entry."""
    mx = float(np.nanmax(np.abs(x))) if x.size else 0.0
    nd = max(0, digits - int(np.ceil(np.log10(mx)))) if mx > 0 else digits
    return np.round(x, nd)


def _cell_coordinates(fs: FixedStructure) -> tuple[np.ndarray, list[int]]:
    """Every over-parameterized cell as a combination of X's columns.

    Returns the matrix (cells x p) and, per X column, the row of its own cell.
    """
    p = len(fs.cells)
    col_of: dict[tuple[int, tuple[tuple[str, str], ...]], int] = {}
    for c, (ti, lv) in enumerate(fs.cells):
        col_of[(ti, lv)] = c
    by_set = {frozenset(t): i for i, t in enumerate(fs.terms)}
    # the level each contrast-coded factor drops in each term: the one its columns never show
    dropped: dict[tuple[int, str], str] = {}
    for ti, t in enumerate(fs.terms):
        for f in (v for v in t if v in fs.factors):
            seen = {dict(lv)[f] for tj, lv in fs.cells if tj == ti}
            missing = [lev for lev in fs.factors[f] if lev not in seen]
            if len(missing) > 1:
                raise NotImplementedOption(
                    f"levels {missing} of {f!r} have no column in term {':'.join(t)}",
                    hint="Type III contrasts need every cell observed",
                )
            if missing:
                dropped[(ti, f)] = missing[0]

    @cache
    def coords(assign: tuple[tuple[str, str], ...], nums: frozenset[str]) -> tuple[float, ...]:
        vars_ = frozenset(v for v, _ in assign) | nums
        out = np.zeros(p)
        if not vars_:
            if not fs.intercept:
                raise NotImplementedOption("Type III contrasts for a model without intercept are not implemented")
            out[col_of[(-1, ())]] = 1.0
            return tuple(out)
        ti = by_set.get(vars_)
        if ti is None:
            raise NotImplementedOption(
                f"term {':'.join(sorted(vars_))} is implied but not in the model (the model does not respect "
                "marginality)",
                hint="Type III contrasts are rebuilt for hierarchical models only",
            )
        lv = dict(assign)
        key = (ti, tuple(sorted([(f, lv[f]) for f in lv] + [(v, "") for v in nums])))
        if key in col_of:
            out[col_of[key]] = 1.0
            return tuple(out)
        # a reference level dropped by contrasts: I_f(ref) = 1 - sum of the other levels
        f = next((f for f in sorted(lv) if dropped.get((ti, f)) == lv[f]), None)
        if f is None:
            raise NotImplementedOption(f"no column for cell {dict(assign)} of term {':'.join(fs.terms[ti])}")
        rest = tuple((g, lev) for g, lev in assign if g != f)
        out += np.asarray(coords(rest, nums))
        for m in fs.factors[f]:
            if m != lv[f]:
                out -= np.asarray(coords(tuple(sorted(rest + ((f, m),))), nums))
        return tuple(out)

    rows: list[np.ndarray] = []
    own: dict[tuple[int, tuple[tuple[str, str], ...]], int] = {}
    if fs.intercept:
        own[(-1, ())] = len(rows)
        rows.append(np.asarray(coords((), frozenset())))
    for ti, t in enumerate(fs.terms):
        facs = [v for v in t if v in fs.factors]
        nums = fs.numerics(ti)
        for levels in product(*(fs.factors[f] for f in facs)):
            assign = tuple(sorted(zip(facs, levels)))
            own[(ti, tuple(sorted(assign + tuple((v, "") for v in nums))))] = len(rows)
            rows.append(np.asarray(coords(assign, nums)))
    return np.vstack(rows), [own[cell] for cell in fs.cells]


def _contained_in(fs: FixedStructure, ti: int) -> list[int]:
    """Terms that contain term ti: more variables, the same numeric ones (lmerTest's rule)."""
    vi = set(fs.terms[ti])
    return [tj for tj, t in enumerate(fs.terms) if vi < set(t) and fs.numerics(ti) == fs.numerics(tj)]


def _doolittle(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Unit lower-triangular L of the Doolittle LU factorization (lmerTest's ``doolittle``)."""
    n = x.shape[0]
    L = np.eye(n)
    U = np.zeros((n, n))
    for i in range(n):
        U[i, :] = x[i, :] - L[i, :i] @ U[:i, :]
        for j in range(i + 1, n):
            val = x[j, i] - L[j, :i] @ U[:i, i]
            L[j, i] = 0.0 if abs(U[i, i]) < eps else val / U[i, i]
    L[np.abs(L) < eps] = 0.0
    return L


def type3_contrasts(design: Design) -> dict[str, np.ndarray]:
    """The hypothesis matrix of each fixed-effect term, as lmerTest's ``anova(type = 3)``.

    Models with one term (or one column) fall back to Type I contrasts from the
    Doolittle factorization of X'X, as lmerTest does.
    """
    if design.dropped_fixed:
        raise NotImplementedOption(
            "Type III tests with rank-deficient fixed effects (missing cells) are not implemented",
            hint=f"columns dropped: {', '.join(design.dropped_fixed)}",
        )
    fs = fixed_structure(design)
    p = len(fs.cells)
    if p <= 1 or len(fs.terms) <= 1:
        if not fs.terms:
            return {}
        X = np.asarray(design.X, dtype=float)
        Lt = _doolittle(X.T @ X).T
        return {fs.labels[ti]: Lt[fs.term_columns(ti)] for ti in range(len(fs.terms))}
    L0, xrow = _cell_coordinates(fs)
    L = _zapsmall(L0)
    order = sorted(range(len(fs.terms)), key=lambda ti: -len(fs.terms[ti]))  # stable: ties keep formula order
    for ti in order:
        cont = _contained_in(fs, ti)
        if not cont:
            continue
        cols = fs.term_columns(ti)
        xcols = [c for tj in cont for c in fs.term_columns(tj)]
        A, Y = L[:, xcols], L[:, cols]
        coef, *_ = np.linalg.lstsq(A, Y, rcond=None)
        L[:, cols] = _zapsmall(Y - A @ coef)
    L = L[xrow, :]
    out: dict[str, np.ndarray] = {}
    for ti in range(len(fs.terms)):
        H = L[:, fs.term_columns(ti)].T
        out[fs.labels[ti]] = H[np.abs(H).sum(axis=1) > 1e-8]
    return out


# ------------------------------------------------------------------- F tests
