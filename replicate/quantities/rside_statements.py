"""The engine's ESTIMATE and CONTRAST rows (SAS's Estimates and Contrasts tables) for a repeated-measures block.

Each statement is defined in the case (``model.estimate`` / ``model.contrast``) and printed in the block's
``estimates`` (label -> estimate, se, df, t, p) and ``contrasts`` (label -> num_df, den_df, F, p) sections.
Under between-within or residual df the df are those of the final effect the statement lists, as SAS takes
them from its Tests of Fixed Effects; under Satterthwaite and Kenward-Roger each row has its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from ..case_statements import Statements
from ..engine.rside.result import RsideFit
from ..errors import NotImplementedOption
from ..inference.lsmeans import Estimate
from ..inference.rside_coding import fit_coding
from ..inference.rside_tests import RULES, effect_df, rside_contrast, rside_estimate
from ..inference.sas_rows import statement_rows
from ..inference.sumcoding import SumCoding
from ..sas_statement import Statement
from .value import Collector, Lazy

#: A contrast's printed quantity -> (the comparison's kind of number, how to read it off the test).
CONTRAST_FIELDS: Mapping[str, tuple[str, Callable[[Any], float]]] = {
    "num_df": ("df", lambda t: float(t.num_df)),
    "den_df": ("df", lambda t: float(t.den_df)),
    "F": ("t", lambda t: float(t.f_value)),
    "p": ("p", lambda t: float(t.p_value)),
}


def _listed_df(fit: RsideFit, coding: SumCoding, statement: Statement, ddfm: str) -> float | None:
    """SAS's df of the final effect the statement lists (between-within or residual), else None."""
    if ddfm not in RULES:
        return None
    last = statement.last_effect
    label = "(Intercept)" if last == "intercept" else coding.labels[coding.term_index(last)]
    return effect_df(fit, coding, ddfm)[label]


def statement_estimate(fit: RsideFit, statement: Statement, ddfm: str, label: str = "") -> Estimate:
    """The ESTIMATE ``statement`` on ``fit``."""
    coding = fit_coding(fit)
    L = statement_rows(coding, statement)
    return rside_estimate(fit, L[0], ddfm=ddfm, label=label, df=_listed_df(fit, coding, statement, ddfm))


def statement_contrast(fit: RsideFit, statement: Statement, ddfm: str, label: str = "") -> Any:
    """The CONTRAST ``statement`` on ``fit`` (a :class:`~replicate.inference.type3.Type3Test`)."""
    coding = fit_coding(fit)
    L = statement_rows(coding, statement)
    if np.linalg.matrix_rank(L) < L.shape[0]:
        raise NotImplementedOption(
            "a CONTRAST whose rows are linearly dependent",
            hint="SAS drops dependent rows; write independent rows",
        )
    return rside_contrast(fit, L, ddfm=ddfm, label=label, df=_listed_df(fit, coding, statement, ddfm))


def add_statements(
    out: Collector,
    fit: RsideFit,
    ddfm: str,
    statements: Statements,
    field: Mapping[str, Callable[[Estimate], float]],
    note: str,
) -> None:
    """Add the block's ``estimates`` and ``contrasts`` values to ``out``; ``note`` says how df were taken."""
    for label, qs in out.block.section("estimates").items():
        statement = statements.estimate[str(label)]
        row = Lazy(partial(statement_estimate, fit, statement, ddfm, str(label)))
        for q, ref in qs.items():
            get = field[q]
            how = note if q in ("df", "p", "se") else ""
            out.add(
                "estimates", str(label), q, ref, lambda get=get, row=row: get(row.get()), ("estimates", label, q), how
            )
    for label, qs in out.block.section("contrasts").items():
        statement = statements.contrast[str(label)]
        test = Lazy(partial(statement_contrast, fit, statement, ddfm, str(label)))
        for q, ref in qs.items():
            quantity, pick = CONTRAST_FIELDS[q]
            out.add(
                "contrasts",
                str(label),
                quantity,
                ref,
                lambda pick=pick, test=test: pick(test.get()),
                ("contrasts", label, q),
                note,
            )
