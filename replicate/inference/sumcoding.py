"""The fixed part re-coded with sum-to-zero contrasts, and the map back to the fit's own coefficients.

SAS's Type III hypothesis of an effect and its LS-means do not depend on how the fit coded its
CLASS variables. Here the model's terms are rebuilt with sum-to-zero contrasts (R's ``contr.sum``:
level j of m has row e_j, the last level has row -1): in that coding the Type III hypothesis of
a term is "the term's columns are zero" (the hypothesis nlme's ``anova(type = "marginal")`` tests
under ``contr.sum``) and an LS-mean is a row built from a grid of CLASS levels. Both coded matrices
span the same columns, ``X_sum = X M``, so a row ``l`` in sum coding is ``l M^-1`` for the fit's
coefficients, whatever coding (R's first level or SAS's last level as reference) the fit used.

CLASS variables are the model's non-numeric columns (``factor(x)`` makes one of a number); the
others are covariates. A term's margins must be in the model as R requires for contrast coding
(``a:b`` with ``a`` and ``b``, ``x:a`` with ``x``); a formula without them is refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ModelError, NotImplementedOption
from ..fixed_part import FixedPart
from ..formula_calls import derive
from ..spec import Term

#: Largest relative misfit of X M to X_sum accepted as "the same column space".
SPAN_TOL = 1e-8


def effect_words(effect: str) -> frozenset[str]:
    """The variables of an effect as printed: ``a*b``, ``a:b`` and ``b*a`` all give {a, b}."""
    return frozenset(v.strip() for v in effect.replace("*", ":").split(":"))


def effect_label(effect: str, labels: Sequence[str]) -> str | None:
    """The model's label among ``labels`` (``A:B``) of an effect as printed (``A*B``, ``A:B`` or ``B*A``), or None."""
    wanted = effect_words(effect)
    for label in labels:
        if frozenset(label.split(":")) == wanted:
            return label
    return None


@dataclass(frozen=True)
class SumCoding:
    """The fixed part in sum-to-zero coding.

    Attributes:
        terms: the model's terms (``()`` is the intercept), in formula order.
        labels: each term as SAS and R name it (``(Intercept)``, ``ARMCD:AVISIT``).
        spans: each term's columns in the sum-coded matrix.
        classes: each CLASS variable's levels, in level order.
        means: each covariate column's mean over the rows used.
        columns: each covariate variable's data columns (``poly(x, 2)`` has two).
        to_fit: q x p matrix taking a sum-coded row to the fit's coefficients (``M^-1``).
        X_sum: the rows used, sum-coded.
        values: each variable on the rows used: level codes of a CLASS variable, n x c covariate columns.
    """

    terms: tuple[Term, ...]
    labels: tuple[str, ...]
    spans: tuple[slice, ...]
    classes: dict[str, tuple[str, ...]]
    means: dict[str, float]
    columns: dict[str, tuple[str, ...]]
    to_fit: np.ndarray
    X_sum: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def term_index(self, effect: str) -> int:
        """Position of the term ``effect`` (``a*b``, ``a:b`` or ``b:a`` all name the term a:b)."""
        wanted = effect_words(effect)
        for i, t in enumerate(self.terms):
            if t and frozenset(t) == wanted:
                return i
        raise ModelError(
            f"effect {effect!r} is not a term of the model",
            field="effect",
            hint="one of: " + ", ".join(lab for lab in self.labels if lab != "(Intercept)"),
        )

    def rows(self, values: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """Sum-coded rows from per-variable values: level codes of CLASS variables, n x c covariate columns."""
        blocks = []
        for t in self.terms:
            out = np.ones((n, 1))
            for v in t:
                block = _contr_sum(len(self.classes[v]))[values[v]] if v in self.classes else values[v]
                out = (out[:, :, None] * block[:, None, :]).reshape(n, -1)
            blocks.append(out)
        return np.column_stack(blocks) if blocks else np.zeros((n, 0))

    def grid(self, at: Mapping[str, float] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Every combination of CLASS levels (a data frame of labels) and its sum-coded row.

        Covariates are at their means over the rows used, or at the value ``at`` gives (SAS's AT).
        """
        at = dict(at or {})
        for name in at:
            if name in self.classes:
                raise ModelError(f"AT sets covariates; {name!r} is a CLASS variable", field="at")
            if name not in self.columns:
                raise ModelError(
                    f"AT names {name!r}, which is not a covariate of the model",
                    field="at",
                    hint="covariates: " + (", ".join(self.columns) or "none"),
                )
            if len(self.columns[name]) != 1 or self.columns[name][0] != name:
                raise NotImplementedOption(f"AT for {name!r}, a formula function with several columns", field="at")
        names = list(self.classes)
        cells = list(itertools.product(*(range(len(self.classes[v])) for v in names)))
        n = len(cells)
        values: dict[str, np.ndarray] = {}
        for j, v in enumerate(names):
            values[v] = np.array([c[j] for c in cells], dtype=np.int64).reshape(n)
        for v, cols in self.columns.items():
            vals = [float(at[v]) if v in at else self.means[c] for c in cols]
            values[v] = np.tile(np.array(vals), (n, 1))
        labels = pd.DataFrame({v: [self.classes[v][c[j]] for c in cells] for j, v in enumerate(names)})
        return labels, self.rows(values, n)


def _contr_sum(m: int) -> np.ndarray:
    """R's contr.sum for m levels, one row per level: m x (m - 1)."""
    return np.vstack([np.eye(m - 1), -np.ones((1, m - 1))]) if m > 1 else np.zeros((1, 0))


def _levels(col: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        used = col.cat.remove_unused_categories()
        return used.cat.codes.to_numpy().astype(np.int64), tuple(str(c) for c in used.cat.categories)
    uniq, codes = np.unique(col.astype(str).to_numpy(), return_inverse=True)
    return codes.astype(np.int64).ravel(), tuple(str(u) for u in uniq)


def _is_class(col: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype))


def _check_margins(terms: tuple[Term, ...], classes: Mapping[str, object]) -> None:
    present = {frozenset(t) for t in terms}
    for t in terms:
        for f in t:
            if f in classes and frozenset(v for v in t if v != f) not in present:
                margin = ":".join(v for v in t if v != f) or "the intercept"
                raise NotImplementedOption(
                    f"term {':'.join(t)} without {margin}: its CLASS variable {f!r} would be coded by dummies, not "
                    "contrasts, and SAS's Type III hypothesis of such a model is not implemented",
                    field="model.formula",
                    hint="add the term's margins (main effects) to the formula",
                )


def sum_coding(part: FixedPart) -> SumCoding:
    """The :class:`SumCoding` of ``part`` (the rows used, re-coded) and its map to the fit's coefficients.

    Raises:
        ModelError: the re-coded model does not have the fit's columns (a rank-deficient fit, empty cells).
        NotImplementedOption: a term lacks a margin (see :func:`_check_margins`).
    """
    spec = part.spec
    frame = derive(part.frame, spec.derived)
    terms: tuple[Term, ...] = ((),) if spec.intercept else ()
    terms += tuple(spec.fixed)
    variables = list(dict.fromkeys(v for t in terms for v in t))
    classes: dict[str, tuple[str, ...]] = {}
    values: dict[str, np.ndarray] = {}
    columns: dict[str, tuple[str, ...]] = {}
    means: dict[str, float] = {}
    n = len(frame)
    for v in variables:
        cols = spec.columns_of(v)
        if len(cols) == 1 and _is_class(frame[cols[0]]):
            values[v], classes[v] = _levels(frame[cols[0]])
            continue
        mat = np.column_stack([frame[c].to_numpy(dtype=float) for c in cols])
        values[v], columns[v] = mat, cols
        means.update({c: float(np.mean(mat[:, j])) for j, c in enumerate(cols)})
    _check_margins(terms, classes)
    widths = [int(np.prod([len(classes[v]) - 1 if v in classes else len(columns[v]) for v in t])) for t in terms]
    stops = np.cumsum([0, *widths])
    spans = tuple(slice(int(a), int(b)) for a, b in itertools.pairwise(stops))
    coding = SumCoding(
        terms=terms,
        labels=tuple(":".join(t) if t else "(Intercept)" for t in terms),
        spans=spans,
        classes=classes,
        means=means,
        columns=columns,
        to_fit=np.zeros((0, 0)),
        X_sum=np.zeros((0, 0)),
    )
    X_sum = coding.rows(values, n)
    X = np.asarray(part.X, dtype=float)
    if X_sum.shape[1] != X.shape[1]:
        raise ModelError(
            f"the model re-coded with sum-to-zero contrasts has {X_sum.shape[1]} columns, the fit {X.shape[1]}",
            field="model.formula",
            hint="LS-means and Type III tests need a full-rank fixed part (no empty cells, no dropped columns)",
        )
    M = np.linalg.lstsq(X, X_sum, rcond=None)[0]
    misfit = float(np.max(np.abs(X @ M - X_sum))) if X.size else 0.0
    if misfit > SPAN_TOL * max(1.0, float(np.max(np.abs(X_sum))) if X_sum.size else 1.0):
        raise ModelError(
            "the model re-coded with sum-to-zero contrasts does not span the fit's columns",
            field="model.formula",
            hint="a formula function of the data may differ between the fit and the rows used",
        )
    try:
        to_fit = np.linalg.inv(M)
    except np.linalg.LinAlgError:
        raise ModelError("the sum-to-zero re-coding is singular", field="model.formula") from None
    return SumCoding(terms, coding.labels, spans, classes, means, columns, to_fit, X_sum, values)
