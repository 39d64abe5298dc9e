"""The parsed mixed model (:class:`ModelSpec`), whichever notation it was written in."""

from __future__ import annotations

from dataclasses import dataclass, field

from .formula_calls import Derived
from .spec_terms import RandomTerm, Term

__all__ = ["ModelSpec"]


@dataclass(frozen=True)
class ModelSpec:
    """A parsed mixed model.

    Attributes:
        response: response variable.
        intercept: whether the fixed part has an intercept.
        fixed: fixed-effect terms (each a tuple of variable names), in order.
        random: random-effect terms, after expanding ``/`` and ``||``.
        source: the text the model was given as (formula or level equations).
        levels: for HLM notation, the level (1, 2, ...) of each predictor.
        derived: formula functions of the data (``I(x^2)``, ``poly(x, 2)`` ...), each a variable
            named as R prints it, computed by :func:`replicate.formula_calls.derive`.
        offset: the column of an ``offset(...)`` term, if any (its coefficient is 1).
    """

    response: str
    intercept: bool
    fixed: tuple[Term, ...]
    random: tuple[RandomTerm, ...]
    source: str = ""
    levels: dict[str, int] = field(default_factory=dict)
    derived: tuple[Derived, ...] = ()
    offset: str | None = None

    def columns_of(self, variable: str) -> tuple[str, ...]:
        """The data columns of a variable: poly(x, 2) has two, every other variable is its own."""
        for d in self.derived:
            if d.label == variable:
                return d.columns
        return (variable,)

    def variables(self) -> list[str]:
        """Every data column the model uses, response first, without repeats."""
        out: list[str] = [self.response]
        for t in self.fixed:
            out.extend(c for v in t for c in self.columns_of(v))
        for r in self.random:
            for t in r.terms:
                out.extend(c for v in t for c in self.columns_of(v))
            out.extend(r.group)
        if self.offset:
            out.append(self.offset)
        seen: dict[str, None] = {}
        for v in out:
            seen.setdefault(v, None)
        return list(seen)

    def grouping_variables(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.random:
            for g in r.group:
                seen.setdefault(g, None)
        return list(seen)

    def fixed_text(self) -> str:
        parts = ["1" if self.intercept else "0"] + [":".join(t) for t in self.fixed]
        return " + ".join(parts)

    def formula(self) -> str:
        """The model as an lme4 formula rebuilt from the parsed form."""
        rhs = self.fixed_text()
        if self.offset:
            rhs += f" + {self.offset}"
        for r in self.random:
            rhs += " + " + r.text()
        return f"{self.response} ~ {rhs}"
