"""The lme4 formula parser: formula text -> :class:`~replicate.spec_model.ModelSpec`.

Recursive descent over :mod:`replicate.spec_tokens` (the grammar is in :mod:`replicate.spec`),
expanding ``*``, ``/``, ``:``, ``-`` and ``||`` into terms as R does, and naming interactions by the
order in which variables first appear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ModelError
from .formula_calls import Derived, parse_call
from .spec_model import ModelSpec
from .spec_terms import RandomTerm, Term, add_term, merge_terms, order_terms
from .spec_tokens import FormulaToken, tokenize

__all__ = ["MAX_PARENS", "parse_formula"]

#: Deepest nesting of parentheses accepted in a formula (R's own parser allows more; no model needs it).
MAX_PARENS = 50


@dataclass
class _Part:
    """An expanded right-hand side: terms, intercept flag, random terms."""

    terms: list[Term] = field(default_factory=list)
    intercept: bool | None = None  # None: not stated
    removed: list[Term] = field(default_factory=list)
    random: list[RandomTerm] = field(default_factory=list)


class _Parser:
    def __init__(self, text: str, field_: str | None) -> None:
        self.text = text
        self.field = field_
        self.toks = tokenize(text, field_)
        self.i = 0
        self.derived: dict[str, Derived] = {}
        self.offset: str | None = None
        self.order: dict[str, int] = {}  # variable -> position of its first appearance
        self.depth = 0  # parentheses open

    def variable(self, name: str) -> str:
        self.order.setdefault(name, len(self.order))
        return name

    def call(self, tok: FormulaToken) -> Derived:
        d = parse_call(tok.text, tok.inner, field=self.field)
        self.derived.setdefault(d.label, d)
        return d

    # helpers
    def peek(self) -> FormulaToken:
        return self.toks[self.i]

    def take(self) -> FormulaToken:
        t = self.toks[self.i]
        self.i += 1
        return t

    def error(self, msg: str, tok: FormulaToken | None = None, hint: str | None = None) -> ModelError:
        tok = tok or self.peek()
        where = "end of formula" if tok.kind == "end" else f"{tok.text!r} at column {tok.pos + 1}"
        return ModelError(f"{msg}: {where} in formula {self.text!r}", field=self.field, hint=hint)

    def expect(self, op: str) -> None:
        t = self.peek()
        if t.kind == "op" and t.text == op:
            self.i += 1
            return
        raise self.error(f"expected {op!r}", hint="check that parentheses are balanced")

    # grammar
    def formula(self) -> tuple[str, _Part]:
        t = self.take()
        if t.kind == "call":
            if t.text == "offset":
                raise self.error("offset() belongs on the right-hand side", t)
            response = self.variable(self.call(t).label)
        elif t.kind == "name":
            response = self.variable(t.text)
        else:
            raise self.error("a formula starts with the response variable", t)
        self.expect("~")
        part = self.sum(top=True)
        bar = self.peek()
        if bar.kind == "op" and bar.text in ("|", "||"):  # y ~ 1 | g: R's '|' binds loosest
            self.take()
            group = self.group()
            part = _Part(random=self._random_terms(part, group, bar.text == "||"))
        if self.peek().kind != "end":
            raise self.error("unexpected text", hint="check that parentheses are balanced")
        return response, part

    def sum(self, top: bool = False) -> _Part:
        out = _Part()
        sign = "+"
        first = True
        while True:
            if first and self.peek().kind == "op" and self.peek().text in "+-":
                sign = self.take().text
            first = False
            p = self.prod(top)
            if sign == "+":
                for t in p.terms:
                    add_term(out.terms, t)
                if p.intercept is not None:
                    out.intercept = p.intercept
                out.random.extend(p.random)
            else:
                if p.random:
                    raise self.error("a random-effect term cannot be subtracted")
                if p.intercept is True and not p.terms:
                    out.intercept = False
                for t in p.terms:
                    out.removed.append(t)
                    if t in out.terms:
                        out.terms.remove(t)
            nxt = self.peek()
            if nxt.kind == "op" and nxt.text in "+-":
                sign = self.take().text
                continue
            return out

    def prod(self, top: bool) -> _Part:
        left = self.inter(top)
        while self.peek().kind == "op" and self.peek().text in "*/":
            op = self.take().text
            right = self.inter(top)
            if left.random or right.random:
                raise self.error("random-effect terms cannot be multiplied")
            if left.intercept is not None or right.intercept is not None:
                raise self.error("0 and 1 cannot appear inside * or /")
            res = _Part()
            if op == "*":
                for t in left.terms + right.terms:
                    add_term(res.terms, t)
                for a in left.terms:
                    for b in right.terms:
                        add_term(res.terms, merge_terms(a, b))
            else:  # a / b = a + a:b  (R's nesting operator)
                for t in left.terms:
                    add_term(res.terms, t)
                whole: Term = ()
                for a in left.terms:
                    whole = merge_terms(whole, a)
                for b in right.terms:
                    add_term(res.terms, merge_terms(whole, b))
            left = res
        return left

    def inter(self, top: bool) -> _Part:
        left = self.atom(top)
        while self.peek().kind == "op" and self.peek().text == ":":
            self.take()
            right = self.atom(top)
            if left.random or right.random or left.intercept is not None or right.intercept is not None:
                raise self.error("':' joins variables only")
            res = _Part()
            for a in left.terms:
                for b in right.terms:
                    add_term(res.terms, merge_terms(a, b))
            left = res
        return left

    def atom(self, top: bool) -> _Part:
        t = self.peek()
        if t.kind == "name":
            self.take()
            return _Part(terms=[(self.variable(t.text),)])
        if t.kind == "call":
            self.take()
            d = self.call(t)
            if d.function == "offset":
                if not top or self.offset not in (None, d.label):
                    raise self.error("one offset() is allowed, at the top level of the formula", t)
                self.offset = self.variable(d.label)
                return _Part()
            return _Part(terms=[(self.variable(d.label),)])
        if t.kind == "num":
            self.take()
            if t.text in ("0", "1"):
                return _Part(intercept=(t.text == "1"))
            raise self.error("only the numbers 0 and 1 may appear in a formula", t)
        if t.kind == "op" and t.text == "(":
            self.take()
            self.depth += 1
            if self.depth > MAX_PARENS:
                raise self.error(f"parentheses nest more than {MAX_PARENS} deep", t)
            inner = self.sum()
            self.depth -= 1
            nxt = self.peek()
            if nxt.kind == "op" and nxt.text in ("|", "||"):
                if not top:
                    raise self.error("random-effect terms must stand at the top level of the formula", nxt)
                self.take()
                group = self.group()
                self.expect(")")
                return _Part(random=self._random_terms(inner, group, nxt.text == "||"))
            self.expect(")")
            return inner
        if t.kind == "end":
            raise self.error("the formula ends too early", t)
        raise self.error("unexpected symbol", t)

    def group(self) -> list[tuple[str, ...]]:
        """Return the list of grouping factors, each an interaction tuple."""
        names: list[str] = []
        ops: list[str] = []
        t = self.take()
        if t.kind != "name":
            raise self.error(
                "expected a grouping variable after '|'",
                t,
                hint="a grouping factor is a column name (derive others under 'transform:')",
            )
        names.append(self.variable(t.text))
        while self.peek().kind == "op" and self.peek().text in (":", "/"):
            ops.append(self.take().text)
            t = self.take()
            if t.kind != "name":
                raise self.error("expected a grouping variable", t)
            names.append(self.variable(t.text))
        # Split on '/' into nesting steps; ':' binds within a step.
        steps: list[list[str]] = [[names[0]]]
        for op, nm in zip(ops, names[1:]):
            if op == ":":
                steps[-1].append(nm)
            else:
                steps.append([nm])
        groups: list[tuple[str, ...]] = []
        acc: list[str] = []
        for step in steps:
            acc = step + acc  # lme4 names inner:outer
            groups.append(tuple(acc))
        groups.reverse()  # lme4 lists the innermost first
        return groups

    def _random_terms(self, lhs: _Part, groups: list[tuple[str, ...]], double: bool) -> list[RandomTerm]:
        if lhs.random:
            raise self.error("nested random-effect terms are not allowed")
        intercept = True if lhs.intercept is None else lhs.intercept
        terms = tuple(lhs.terms)
        if not intercept and not terms:
            raise self.error("a random-effect term needs at least one column")
        out: list[RandomTerm] = []
        for g in groups:
            if double:
                if intercept:
                    out.append(RandomTerm((), True, g))
                for t in terms:
                    out.append(RandomTerm((t,), False, g))
            else:
                out.append(RandomTerm(terms, intercept, g))
        return out


def parse_formula(text: str, *, field: str | None = "model.formula", fixed_only: bool = False) -> ModelSpec:
    """Parse an lme4-style formula into a :class:`ModelSpec`.

    Args:
        text: the formula, e.g. ``"y ~ x + (1 + x | g)"``.
        field: the case field the text came from, for error messages.
        fixed_only: accept (and require) a formula without random terms: a
            linear model, as R's ``lm``.

    Raises:
        ModelError: the formula is not in the grammar; the message gives the
            column of the problem.
    """
    if not isinstance(text, str) or not text.strip():
        raise ModelError("the formula is empty", field=field)
    if len(text) > 20_000:
        raise ModelError(f"the formula is {len(text)} characters long; at most 20000 are read", field=field)
    parser = _Parser(text, field)
    try:
        response, part = parser.formula()
    except RecursionError:
        raise ModelError("the formula nests too deeply to read", field=field) from None
    if not part.random and not fixed_only:
        raise ModelError(
            f"formula {text!r} has no random-effect term like (1 | group)",
            field=field,
            hint="a mixed model needs at least one (terms | group) term; for a linear model (R's lm) "
            "say so with model.fixed_only: true",
        )
    if part.random and fixed_only:
        raise ModelError(
            f"formula {text!r} has random-effect terms, but model.fixed_only is true",
            field=field,
            hint="drop fixed_only, or the random terms",
        )
    intercept = True if part.intercept is None else part.intercept
    order = parser.order
    random = tuple(RandomTerm(order_terms(list(r.terms), order), r.intercept, r.group) for r in part.random)
    return ModelSpec(
        response=response,
        intercept=intercept,
        fixed=order_terms(part.terms, order),
        random=random,
        source=text,
        derived=tuple(parser.derived.values()),
        offset=parser.offset,
    )
