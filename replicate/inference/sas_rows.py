"""The L rows of a SAS ESTIMATE or CONTRAST statement, on the fit's own coefficients.

SAS reads the coefficients of a statement positionally over its less-than-full-rank (GLM) parameters:
an effect has one parameter per level (per combination of levels for an interaction, the last variable
of the effect varying fastest, as SAS's Solution for Fixed Effects lists them; a CLASS-by-covariate
effect one per level of its CLASS variables), in the model's level order. Omitted trailing coefficients
are zero. SAS then fills in what the statement leaves out, as its documentation (PROC GLM, "Specification
of ESTIMATE Expressions") describes with ``model y = A B A*B``:

* a CLASS effect the statement does not name, that contains named CLASS effects, gets each named effect's
  coefficients spread equally over its levels (``A -1 0 1`` gives ``A*B -.5 -.5 0 0 .5 .5``);
* the intercept is spread equally over every CLASS effect the statement does not name and that contains
  no named effect (``intercept 1 A 1`` gives ``B .5 .5``, and with the rule above ``A*B .5 .5 0 0 0 0``:
  the LS-mean of A's first level).

Effects with a covariate are never filled in. The row on the GLM parameters, ``l``, is estimable when it
is a combination of the rows of the GLM design matrix ``X_G``: then ``l beta_G = l X_G^+ X_S beta_S`` for
the sum-coded design ``X_S`` (both span the same columns), and :class:`SumCoding` takes that row to the
fit's coefficients. A row that is not estimable is refused, as SAS prints "Non-est".
"""

from __future__ import annotations

import numpy as np

from ..errors import ModelError
from ..sas_statement import Statement, Term
from .sumcoding import SumCoding

#: Largest misfit of l X_G^+ X_G to l (relative to the row's largest coefficient) still called estimable.
ESTIMABLE_TOL = 1e-6


def _widths(coding: SumCoding) -> list[int]:
    return [
        int(np.prod([len(coding.classes[v]) if v in coding.classes else len(coding.columns[v]) for v in t]))
        for t in coding.terms
    ]


def glm_design(coding: SumCoding) -> np.ndarray:
    """The rows used, in SAS's GLM coding: every level of a CLASS variable has its own indicator column."""
    n = coding.X_sum.shape[0]
    blocks = []
    for t in coding.terms:
        out = np.ones((n, 1))
        for v in t:
            block = np.eye(len(coding.classes[v]))[coding.values[v]] if v in coding.classes else coding.values[v]
            out = (out[:, :, None] * block[:, None, :]).reshape(n, -1)
        blocks.append(out)
    return np.column_stack(blocks)


def _term_of(coding: SumCoding, effect: str) -> int:
    if effect == "intercept":
        if () not in coding.terms:
            raise ModelError("the statement names the intercept, which the model does not have", field="effect")
        return coding.terms.index(())
    wanted = tuple(v.strip() for v in effect.replace("*", ":").split(":"))
    for i, t in enumerate(coding.terms):
        if t == wanted:
            return i
    i = coding.term_index(effect)  # the same variables in another order: say how the model writes it
    raise ModelError(
        f"effect {effect!r} is written {'*'.join(coding.terms[i])} in the model",
        field="effect",
        hint="write the effect with its variables in the model's order: its coefficients follow that order",
    )


def _is_class(coding: SumCoding, i: int) -> bool:
    return bool(coding.terms[i]) and all(v in coding.classes for v in coding.terms[i])


def _spread(coding: SumCoding, low: int, high: int, coefs: np.ndarray) -> np.ndarray:
    """The coefficients ``coefs`` of CLASS effect ``low`` spread equally over the levels of ``high``."""
    t_low, t_high = coding.terms[low], coding.terms[high]
    shape = [len(coding.classes[v]) for v in t_high]
    grid = np.indices(shape).reshape(len(shape), -1).T  # each level of high, as level codes per variable
    sizes = [len(coding.classes[v]) for v in t_low]
    index = np.zeros(grid.shape[0], dtype=np.int64)
    for v, size in zip(t_low, sizes, strict=True):
        index = index * size + grid[:, t_high.index(v)]
    share = int(np.prod(shape)) // int(np.prod(sizes))
    out: np.ndarray = coefs[index] / share
    return out


def glm_row(coding: SumCoding, row: tuple[Term, ...]) -> np.ndarray:
    """One row of a statement on the GLM parameters, with SAS's fill-in (see the module's text)."""
    widths = _widths(coding)
    starts = np.cumsum([0, *widths])
    out = np.zeros(int(starts[-1]))
    named: dict[int, np.ndarray] = {}
    for term in row:
        i = _term_of(coding, term.effect)
        if len(term.coefficients) > widths[i]:
            raise ModelError(
                f"effect {term.effect!r} has {len(term.coefficients)} coefficients; it has {widths[i]} levels",
                field="effect",
                hint="one coefficient per level (per combination of levels, the last variable fastest); "
                "omitted trailing ones are zero",
            )
        coefs = np.zeros(widths[i])
        coefs[: len(term.coefficients)] = term.coefficients
        named[i] = coefs
    intercept = coding.terms.index(()) if () in coding.terms else None
    for i, coefs in named.items():
        out[starts[i] : starts[i + 1]] = coefs
    for e in range(len(coding.terms)):
        if e in named or not _is_class(coding, e):
            continue
        inside = [f for f in named if _is_class(coding, f) and set(coding.terms[f]) < set(coding.terms[e])]
        for f in inside:
            out[starts[e] : starts[e + 1]] += _spread(coding, f, e, named[f])
        if not inside and intercept is not None and intercept in named:
            out[starts[e] : starts[e + 1]] += named[intercept][0] / widths[e]
    return out


def statement_rows(coding: SumCoding, statement: Statement) -> np.ndarray:
    """The statement's rows on the fit's coefficients (``r x p``).

    Raises:
        ModelError: an effect the model does not have, too many coefficients, or a row that is not estimable.
    """
    X_g = glm_design(coding)
    to_sum = np.linalg.lstsq(X_g, coding.X_sum, rcond=None)[0]
    project = np.linalg.lstsq(X_g, X_g, rcond=None)[0]
    rows = []
    for k, row in enumerate(statement.rows):
        glm = glm_row(coding, row) / statement.divisor
        scale = max(float(np.max(np.abs(glm))), 1e-300)
        if float(np.max(np.abs(glm @ project - glm))) > ESTIMABLE_TOL * scale:
            raise ModelError(
                f"row {k + 1} of the statement is not estimable (SAS prints Non-est)",
                field="effect",
                hint="give the coefficients of every effect that contains a named one, or the intercept, so the "
                "row is a combination of the model's cell means",
            )
        rows.append(glm @ to_sum @ coding.to_fit)
    return np.vstack(rows)
