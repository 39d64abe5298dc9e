"""The text of a SAS ESTIMATE or CONTRAST statement, read (never evaluated) into effects and coefficients.

A case file holds the statement's definition, since a printout holds only its label and numbers::

    model:
      estimate:
        "girls - boys at 8": "Sex -1 1 Sex*age -8 8"
      contrast:
        "sex at 8 and 14": "Sex -1 1 Sex*age -8 8, Sex -1 1 Sex*age -14 14"

The text is what follows the label in SAS's statement (without the ``'label'`` and the ``;``): effect
names, each followed by its coefficients in the positional syntax, rows of a CONTRAST separated by
commas, and at the end, after ``/``, SAS's ``DIVISOR=n`` (every coefficient divided by ``n``). The
keyword ``intercept`` names the intercept. Effects are written as the model names them, ``A*B`` or
``A:B``; coefficients are plain decimal numbers. What the coefficients mean (the order of an effect's
levels, the coefficients SAS fills in) is the business of :mod:`replicate.inference.sas_rows`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import ModelError, NotImplementedOption

#: A coefficient: a signed decimal number (``1``, ``-0.5``, ``.25``, ``1e-3``).
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
#: An effect: names joined by ``*`` or ``:`` (a name: letters, digits, ``_`` and ``.``).
_EFFECT = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*([*:][A-Za-z_.][A-Za-z0-9_.]*)*$")
#: SAS's ESTIMATE/CONTRAST options this reader knows (others are refused by name).
_OPTIONS = ("divisor",)


@dataclass(frozen=True)
class Term:
    """One effect of a row and its coefficients as written (``effect`` is ``intercept`` for the intercept)."""

    effect: str
    coefficients: tuple[float, ...]


@dataclass(frozen=True)
class Statement:
    """An ESTIMATE (one row) or CONTRAST (one or more rows) as written in a case file."""

    rows: tuple[tuple[Term, ...], ...]
    divisor: float = 1.0

    @property
    def last_effect(self) -> str:
        """The final effect the statement lists (SAS takes the between-within df from it)."""
        return self.rows[-1][-1].effect


def _bad(text: str, kind: str, why: str) -> ModelError:
    return ModelError(
        f"{kind} {text!r}: {why}",
        hint=f"write SAS's {kind.upper()} text after the label: effect names each followed by coefficients, "
        + ("rows separated by commas, " if kind == "contrast" else "")
        + "e.g. 'intercept 1 Sex 1 -1 age 8', with '/ divisor=n' at the end if wanted",
    )


def _options(text: str, kind: str, tail: str) -> float:
    divisor = 1.0
    for token in tail.split():
        name, eq, value = token.partition("=")
        key = name.strip().lower()
        if key not in _OPTIONS:
            raise NotImplementedOption(
                f"{kind} {text!r}: option {name!r}",
                hint="only DIVISOR=n is read; the df, the E option and the others are not implemented",
            )
        if not eq or not _NUMBER.match(value) or float(value) == 0 or not math.isfinite(float(value)):
            raise _bad(text, kind, f"DIVISOR= needs a finite nonzero number, not {value!r}")
        divisor = float(value)
    return divisor


def _row(text: str, kind: str, row: str) -> tuple[Term, ...]:
    tokens = row.split()
    if not tokens:
        raise _bad(text, kind, "a row is empty")
    terms: list[Term] = []
    effect: str | None = None
    coefs: list[float] = []
    for token in tokens:
        if _NUMBER.match(token):
            if effect is None:
                raise _bad(text, kind, f"coefficient {token!r} comes before any effect name")
            if not math.isfinite(float(token)):
                raise _bad(text, kind, f"coefficient {token!r} is not a finite number")
            coefs.append(float(token))
        elif _EFFECT.match(token):
            if effect is not None:
                terms.append(Term(effect, tuple(coefs)))
            effect, coefs = token, []
        else:
            raise _bad(text, kind, f"{token!r} is neither an effect name nor a number")
    if effect is not None:
        terms.append(Term(effect, tuple(coefs)))
    for term in terms:
        if not term.coefficients:
            raise _bad(text, kind, f"effect {term.effect!r} has no coefficients")
    names = [t.effect.lower() if t.effect.lower() == "intercept" else t.effect for t in terms]
    if len(set(names)) != len(names):
        raise _bad(text, kind, "an effect is named twice in one row")
    return tuple(Term("intercept" if t.effect.lower() == "intercept" else t.effect, t.coefficients) for t in terms)


def parse_statement(text: object, kind: str) -> Statement:
    """Read the text of an ESTIMATE (``kind="estimate"``) or CONTRAST (``kind="contrast"``).

    Raises:
        ModelError: the text is not of that form (says what is wrong and what to write).
        NotImplementedOption: a random-effects part (``|``) or an option other than DIVISOR=.
    """
    if not isinstance(text, str) or not text.strip():
        raise _bad(str(text), kind, "the statement text is empty or not text")
    body, slash, tail = text.partition("/")
    if "|" in body:
        raise NotImplementedOption(
            f"{kind} {text!r}: random-effect coefficients (after '|')",
            hint="only the fixed-effects part of an ESTIMATE or CONTRAST (the broad inference space) is implemented",
        )
    divisor = _options(text, kind, tail) if slash else 1.0
    rows = tuple(_row(text, kind, r) for r in body.split(","))
    if kind == "estimate" and len(rows) != 1:
        raise _bad(text, kind, "an ESTIMATE is one row (commas separate the rows of a CONTRAST)")
    return Statement(rows, divisor)
