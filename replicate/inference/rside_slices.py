"""SAS's LSMEANS / SLICE= (Tests of Effect Slices) for a repeated-measures fit.

A slice of an interaction's LS-means by one of its CLASS variables is, at each level of that variable,
the F test that the LS-means of the other variables' level combinations are all equal (the simple
effect). Its rows are the differences of consecutive LS-means within the slice (any full-rank set of
differences gives the same F). Under between-within or residual df the denominator df are the
interaction's, as SAS gives the LS-means of an effect that effect's df; under Satterthwaite and
Kenward-Roger they are the slice's own.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..engine.rside import RsideFit
from ..errors import ModelError
from .lsmeans import lsmean_rows
from .rside_coding import part_coding
from .rside_tests import RULES, effect_df, rside_contrast
from .type3 import Type3Test


def rside_slices(
    fit: RsideFit, effect: str, by: str, *, ddfm: str = "betwithin", at: Mapping[str, float] | None = None
) -> dict[str, Type3Test]:
    """The slices of the LS-means of ``effect`` by its variable ``by``: level of ``by`` -> F test.

    Raises:
        ModelError: ``by`` is not a variable of ``effect``, or ``effect`` has a single variable.
    """
    if fit.fixed_part is None:
        raise ModelError("the fit does not keep its fixed part (fit it with fit_residual)", field="fit")
    coding = part_coding(fit.fixed_part)
    index = coding.term_index(effect)
    term = coding.terms[index]
    if by not in term or len(term) < 2:
        raise ModelError(
            f"SLICE={by} of {effect!r}: a slice is by one variable of an interaction",
            field="slices",
            hint=f"slice an interaction by one of its variables: {', '.join(term)}",
        )
    levels, L = lsmean_rows(coding, effect, at)
    position = term.index(by)
    df = effect_df(fit, coding, ddfm)[coding.labels[index]] if ddfm in RULES else None
    out: dict[str, Type3Test] = {}
    for level in coding.classes[by]:
        rows = L[[i for i, lev in enumerate(levels) if lev[position] == level]]
        diffs = rows[:-1] - rows[1:]
        out[level] = rside_contrast(fit, np.atleast_2d(diffs), ddfm=ddfm, label=f"{by} {level}", df=df)
    return out
