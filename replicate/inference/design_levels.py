"""What the df rules need to know of a design: its grouping hierarchy, and at which level a variable varies.

Shared by SAS's containment and between-within rules, nlme's df, HLM's rule and the df explanations.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..design import Design, ReTerm
from ..errors import ModelError

if TYPE_CHECKING:
    from ..spec import ModelSpec

INTERCEPT = "(Intercept)"


# ------------------------------------------------------------------ helpers


def names(design: Design) -> list[str]:
    return list(design.fixed_names)


def col_terms(design: Design) -> list[str]:
    if design.column_term and len(design.column_term) == design.p:
        return list(design.column_term)
    return list(design.fixed_names)  # designs built by hand: one term per column


def term_vars(term: str) -> tuple[str, ...]:
    return () if term == INTERCEPT else tuple(term.split(":"))


def groups(design: Design) -> list[ReTerm]:
    """One ReTerm per distinct grouping factor, outermost (fewest levels) first."""
    seen: dict[str, ReTerm] = {}
    for t in design.reterms:
        seen.setdefault(t.group, t)
    return sorted(seen.values(), key=lambda t: t.nlevels)


def nested(inner: np.ndarray, outer: np.ndarray) -> bool:
    pairs = np.unique(np.stack([inner, outer], axis=1), axis=0)
    return bool(np.unique(pairs[:, 0]).size == pairs.shape[0])


def hierarchy(design: Design) -> list[ReTerm]:
    """Grouping factors outer to inner, each nested in the previous one."""
    gs = groups(design)
    for outer, inner in itertools.pairwise(gs):
        if not nested(inner.index, outer.index):
            raise ModelError(
                f"grouping factors {outer.group!r} and {inner.group!r} are not nested",
                hint="this df rule is defined for nested (hierarchical) designs only",
            )
    return gs


def top_group(design: Design, group: str | None) -> ReTerm:
    gs = groups(design)
    if not gs:
        raise ModelError("the model has no random-effect terms")
    if group is None:
        return gs[0]
    for t in gs:
        if t.group == group:
            return t
    raise ModelError(
        f"{group!r} is not a grouping factor of the model", hint="one of: " + ", ".join(t.group for t in gs)
    )


def varies_within(values: np.ndarray, index: np.ndarray, *, tol: float = 0.0) -> bool:
    """Whether ``values`` differ inside at least one group of ``index``.

    ``tol=0`` compares exactly, as nlme's ``inner_perc``; otherwise differences
    up to ``tol * (1 + |value|)`` count as equal.
    """
    values = np.asarray(values, dtype=float)
    _, first = np.unique(index, return_index=True)
    ref = np.empty(int(index.max()) + 1)
    ref[index[first]] = values[first]
    diff = np.abs(values - ref[index])
    if tol == 0.0:
        return bool(np.any(diff != 0))
    return bool(np.any(diff > tol * (1.0 + np.abs(values))))


def rank(G: np.ndarray, rtol: float = 1e-10) -> int:
    """Rank of a Gram matrix A'A (columns scaled to unit length first)."""
    if G.shape[0] == 0:
        return 0
    d = np.sqrt(np.clip(np.diag(G), 0, None))
    keep = d > 0
    if not keep.any():
        return 0
    Gs = G[np.ix_(keep, keep)] / np.outer(d[keep], d[keep])
    ev = np.linalg.eigvalsh((Gs + Gs.T) / 2)
    return int(np.sum(ev > rtol * ev.max()))


def series(values: Sequence[float], design: Design) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=names(design))


def variable_levels(
    design: Design,
    spec: ModelSpec | None = None,
    data: pd.DataFrame | None = None,
    group: str | None = None,
    *,
    tol: float = 1e-10,
) -> dict[str, int]:
    """Level (1 or 2) of every variable in the fixed part, relative to a grouping factor.

    HLM notation (``spec.levels``) is used as given. Otherwise a variable is
    level 2 if constant within every group of ``group`` (the top-level factor by
    default), judged from ``data`` (the frame the design was built from) when
    given, else from the X columns of the variable's main effect; a variable
    seen only inside interactions and not in ``data`` counts as level 1.
    """
    g = top_group(design, group)
    terms = col_terms(design)
    variables: list[str] = []
    for t in terms:
        for v in term_vars(t):
            if v not in variables:
                variables.append(v)
    given = dict(spec.levels) if spec is not None and spec.levels else {}
    out: dict[str, int] = {}
    for v in variables:
        if v in given:
            out[v] = int(given[v])
            continue
        if data is not None and v in data.columns:
            col = data[v]
            if len(col) != design.n:
                col = col.iloc[design.rows] if len(design.rows) == design.n else col
            vals = col.to_numpy()
            if pd.api.types.is_numeric_dtype(col):
                out[v] = 1 if varies_within(vals.astype(float), g.index, tol=tol) else 2
            else:
                codes, _ = pd.factorize(pd.Series(vals))
                out[v] = 1 if varies_within(codes.astype(float), g.index) else 2
            continue
        cols = [j for j, t in enumerate(terms) if t == v]
        if cols:
            out[v] = 1 if any(varies_within(design.X[:, j], g.index, tol=tol) for j in cols) else 2
        else:
            out[v] = 1
    return out


# -------------------------------------------------------------------- rules
