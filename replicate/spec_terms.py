"""Formula terms as lme4 reads them: interactions of variables, random-effect terms, R's term order.

A term is a tuple of variable names (``("x", "z")`` is ``x:z``; ``()`` the intercept). The helpers
here are the term algebra both notations share (the lme4 formula in :mod:`replicate.spec_formula`
and HLM's level equations in :mod:`replicate.spec_levels`): adding a term once, joining two terms
into their interaction, and putting terms in the order R's ``terms()`` gives them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RandomTerm", "Term", "add_term", "merge_terms", "order_terms"]

Term = tuple[str, ...]  # an interaction of variables; () is the intercept


@dataclass(frozen=True)
class RandomTerm:
    """``(lhs | group)`` with its left-hand side expanded into terms.

    Attributes:
        terms: fixed-style terms of the left-hand side (no intercept term).
        intercept: whether the left-hand side has an intercept.
        group: grouping factors whose interaction defines the groups, in lme4's
            naming order (``("classid", "schoolid")`` prints ``classid:schoolid``).
    """

    terms: tuple[Term, ...]
    intercept: bool
    group: tuple[str, ...]

    @property
    def group_name(self) -> str:
        return ":".join(self.group)

    def lhs_text(self) -> str:
        parts = ["1" if self.intercept else "0"] + [":".join(t) for t in self.terms]
        return " + ".join(parts)

    def text(self) -> str:
        return f"({self.lhs_text()} | {self.group_name})"


def add_term(terms: list[Term], t: Term) -> None:
    """Append ``t`` unless it is there already."""
    if t not in terms:
        terms.append(t)


def merge_terms(a: Term, b: Term) -> Term:
    """The interaction of two terms (``a:b``), each variable once, in order of appearance."""
    out = list(a)
    for v in b:
        if v not in out:
            out.append(v)
    return tuple(out)


def order_terms(terms: list[Term], order: dict[str, int] | None = None) -> tuple[Term, ...]:
    """R's term order: by degree (main effects first), stable within a degree; within a term the
    variables in the order they first appear in the formula (R's ``terms``), so ``c:b`` is ``b:c``
    when ``b`` came first. Terms that name the same variables are one term."""
    out: list[Term] = []
    for t in terms:
        if order:
            t = tuple(sorted(t, key=lambda v: order.get(v, len(order))))
        if t not in out:
            out.append(t)
    return tuple(sorted(out, key=len))
