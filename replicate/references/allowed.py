"""What a printed number may be, by what it is: a standard error is never negative, a p-value lies in [0, 1].

A number that breaks its column's rule was read from the wrong column (a
header in another order, a pasted row shifted by one cell) or was damaged in
the copy: the parsers refuse the row and report the line, rather than carry a
wrong number into a case.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..printed import Printed

#: Quantities (case-format names and SAS column names) that are never negative.
NON_NEGATIVE = frozenset(
    {"se", "sd", "df", "chisq", "Standard Error", "DF", "Num DF", "Den DF", "Chi-Square", "F Value"}
)
#: Probabilities: 0 to 1.
PROBABILITY = frozenset({"p", "reliability", "Pr > Z", "Pr > F", "Pr > ChiSq", "Alpha"})
#: Correlations: -1 to 1.
CORRELATION = frozenset({"corr"})


def refused(quantity: str, value: Printed | None) -> str | None:
    """Why ``value`` cannot be a ``quantity`` (None when it can; a printed bound such as '<.0001' always can)."""
    if value is None or value.bound:
        return None
    x = value.value
    if quantity in NON_NEGATIVE and x < 0:
        return f"{quantity} {value.text} is negative, which a {quantity} cannot be"
    if quantity in PROBABILITY and not 0 <= x <= 1:
        return f"{quantity} {value.text} is not a probability (0 to 1)"
    if quantity in CORRELATION and not -1 <= x <= 1:
        return f"{quantity} {value.text} is not a correlation (-1 to 1)"
    return None


def first_refused(quantities: Mapping[str, Printed | None]) -> str | None:
    """The first value of a row that its quantity does not allow, as the reason to skip the row."""
    for q, v in quantities.items():
        why = refused(q, v)
        if why:
            return why + "; the row is not read (are the columns those of the header?)"
    return None
