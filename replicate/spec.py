"""Model specification: lme4 formulas and HLM level equations -> ModelSpec.

The formula text comes from case files, which are untrusted: it is tokenized and
parsed here into a small AST, validated, and the model is rebuilt from that
parsed form. No part of it is ever evaluated as Python or R code.

Grammar (a subset of R's formula language, as lme4 uses it)::

    formula := NAME '~' sum
    sum     := prod (('+' | '-') prod)*
    prod    := inter (('*' | '/') inter)*
    inter   := atom (':' atom)*
    atom    := NAME | CALL | '0' | '1' | '(' sum ')' | '(' sum ('|' | '||') group ')'
    group   := NAME ((':' | '/') NAME)*

NAME is an identifier (letters, digits, ``_`` and ``.``) or a back-quoted name. CALL is one of R's
formula functions (``I(x^2)``, ``log(x)``, ``poly(x, 2)``, ``factor(g)``, ``offset(z)`` ...; the
list is :data:`replicate.formula_calls.FORMULA_FUNCTIONS`); its argument is parsed by the safe
expression language and the call becomes a variable named as R deparses it. As in R, a ``|`` at
the top level makes the whole right-hand side a random term (``y ~ 1 | g``), and the variables of
an interaction are named in the order they first appear in the formula (``a * b + c * b`` has
``b:c``).

The model is built in small steps, one module each: :mod:`~replicate.spec_terms` (terms and their
algebra), :mod:`~replicate.spec_model` (the parsed model), :mod:`~replicate.spec_tokens` and
:mod:`~replicate.spec_formula` (formula text), :mod:`~replicate.spec_levels` (HLM level equations).
This module gathers what callers use.
"""

from __future__ import annotations

from .spec_formula import MAX_PARENS, parse_formula
from .spec_levels import parse_levels
from .spec_model import ModelSpec
from .spec_terms import RandomTerm, Term

__all__ = ["MAX_PARENS", "ModelSpec", "RandomTerm", "Term", "parse_formula", "parse_levels"]
