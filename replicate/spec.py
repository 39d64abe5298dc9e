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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import ModelError
from .formula_calls import Derived, parse_call

Term = tuple[str, ...]  # an interaction of variables; () is the intercept
#: Deepest nesting of parentheses accepted in a formula (R's own parser allows more; no model needs it).
MAX_PARENS = 50


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


# ---------------------------------------------------------------- tokenizer

_TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_.][A-Za-z0-9_.]*)|`(?P<quoted>[^`]+)`|(?P<num>\d+(?:\.\d*)?)"
    r"|(?P<op>\|\||[~+\-*/:|()]))"
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # name, num, op, call, end
    text: str
    pos: int
    inner: str = ""  # a call's text between its parentheses


def _closing(text: str, open_at: int) -> int | None:
    """Index of the ')' closing the '(' at ``open_at`` (quotes respected), or None."""
    depth, quote = 0, ""
    for i in range(open_at, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return None


def _tokenize(text: str, field_: str | None) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if not m or m.end() == i:
            j = i + (len(text[i:]) - len(text[i:].lstrip()))
            raise ModelError(
                f"unexpected character {text[j]!r} at column {j + 1} in formula {text!r}",
                field=field_,
                hint="formulas may use variable names, numbers 0/1, + - * / : | || ~, parentheses and R's "
                "formula functions (I(), log(), poly(), factor() ...); derive other columns under 'transform:'",
            )
        start = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
        after = m.end() + (len(text[m.end() :]) - len(text[m.end() :].lstrip()))
        if m.group("name") is not None and after < len(text) and text[after] == "(":
            close = _closing(text, after)
            if close is None:
                raise ModelError(
                    f"unclosed '(' of {m.group('name')}( at column {after + 1} in formula {text!r}",
                    field=field_,
                    hint="check that parentheses are balanced",
                )
            toks.append(_Tok("call", m.group("name"), start, text[after + 1 : close]))
            i = close + 1
            continue
        if m.group("name") is not None:
            toks.append(_Tok("name", m.group("name"), start))
        elif m.group("quoted") is not None:
            toks.append(_Tok("name", m.group("quoted"), start))
        elif m.group("num") is not None:
            toks.append(_Tok("num", m.group("num"), start))
        else:
            toks.append(_Tok("op", m.group("op"), start))
        i = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


# ------------------------------------------------------------------- parser


@dataclass
class _Part:
    """An expanded right-hand side: terms, intercept flag, random terms."""

    terms: list[Term] = field(default_factory=list)
    intercept: bool | None = None  # None: not stated
    removed: list[Term] = field(default_factory=list)
    random: list[RandomTerm] = field(default_factory=list)


def _add_term(terms: list[Term], t: Term) -> None:
    if t not in terms:
        terms.append(t)


def _merge(a: Term, b: Term) -> Term:
    out = list(a)
    for v in b:
        if v not in out:
            out.append(v)
    return tuple(out)


class _Parser:
    def __init__(self, text: str, field_: str | None) -> None:
        self.text = text
        self.field = field_
        self.toks = _tokenize(text, field_)
        self.i = 0
        self.derived: dict[str, Derived] = {}
        self.offset: str | None = None
        self.order: dict[str, int] = {}  # variable -> position of its first appearance
        self.depth = 0  # parentheses open

    def variable(self, name: str) -> str:
        self.order.setdefault(name, len(self.order))
        return name

    def call(self, tok: _Tok) -> Derived:
        d = parse_call(tok.text, tok.inner, field=self.field)
        self.derived.setdefault(d.label, d)
        return d

    # helpers
    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def error(self, msg: str, tok: _Tok | None = None, hint: str | None = None) -> ModelError:
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
                    _add_term(out.terms, t)
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
                    _add_term(res.terms, t)
                for a in left.terms:
                    for b in right.terms:
                        _add_term(res.terms, _merge(a, b))
            else:  # a / b = a + a:b  (R's nesting operator)
                for t in left.terms:
                    _add_term(res.terms, t)
                whole: Term = ()
                for a in left.terms:
                    whole = _merge(whole, a)
                for b in right.terms:
                    _add_term(res.terms, _merge(whole, b))
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
                    _add_term(res.terms, _merge(a, b))
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


def _order_terms(terms: list[Term], order: dict[str, int] | None = None) -> tuple[Term, ...]:
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
    random = tuple(RandomTerm(_order_terms(list(r.terms), order), r.intercept, r.group) for r in part.random)
    return ModelSpec(
        response=response,
        intercept=intercept,
        fixed=_order_terms(part.terms, order),
        random=random,
        source=text,
        derived=tuple(parser.derived.values()),
        offset=parser.offset,
    )


# ------------------------------------------------------------ HLM notation

_EQ = re.compile(r"^\s*([^=]+?)\s*=\s*(.+?)\s*$")
_RANDOM_PREFIXES = ("u", "r", "e", "υ", "ζ", "zeta", "ε", "epsilon")


def _hlm_terms(rhs: str, field_: str) -> list[tuple[str, str | None]]:
    """Split ``g00 + g01*W + u0`` into (coefficient, variable-or-None) pairs."""
    out: list[tuple[str, str | None]] = []
    for raw in re.split(r"\+", rhs):
        piece = raw.strip()
        if not piece:
            raise ModelError(f"empty term in {rhs!r}", field=field_)
        factors = [f.strip().strip("()") for f in piece.split("*")]
        if len(factors) == 1:
            out.append((factors[0], None))
        elif len(factors) == 2:
            out.append((factors[0], factors[1]))
        else:
            raise ModelError(f"term {piece!r} in {rhs!r}: expected 'coefficient*VARIABLE'", field=field_)
        for f in factors:
            if not re.fullmatch(r"[^\W\d][\w.]*", f):
                raise ModelError(f"{f!r} in {rhs!r} is not a name", field=field_)
    return out


def _is_random_symbol(sym: str) -> bool:
    low = sym.lower()
    return any(low.startswith(p) for p in _RANDOM_PREFIXES)


def parse_levels(levels: dict, groups: dict, *, field: str = "model.levels") -> ModelSpec:
    """Convert two-level HLM equations into the same mixed model as a formula.

    The level-1 equation is ``Y = b0 + b1*X1 + ... + r``; each level-1
    coefficient has a level-2 equation ``bk = gk0 + gk1*W1 + ... [+ uk]``.
    A level-2 random term (a symbol starting with u) makes ``Xk`` a random
    slope; each ``gkl*Wl`` adds the cross-level product ``Xk:Wl``.

    Args:
        levels: mapping level number -> equation text or list of texts.
        groups: mapping level number (2) -> grouping variable.
    """
    keys = {int(k) for k in levels}
    if keys != {1, 2}:
        raise ModelError(
            f"levels {sorted(keys)} given; only two-level models (levels 1 and 2) are implemented",
            field=field,
            hint="write three-level models as a formula with (1 | g1/g2)",
        )
    if 2 not in {int(k) for k in groups}:
        raise ModelError("model.groups must name the level-2 grouping variable, e.g. {2: school}", field="model.groups")
    group = groups.get(2, groups.get("2"))
    l1 = levels.get(1, levels.get("1"))
    l2 = levels.get(2, levels.get("2"))
    if isinstance(l1, list):
        if len(l1) != 1:
            raise ModelError("level 1 takes exactly one equation", field=f"{field}.1")
        l1 = l1[0]
    l2_list = [l2] if isinstance(l2, str) else list(l2)
    m = _EQ.match(str(l1))
    if not m:
        raise ModelError(f"level-1 equation {l1!r} must read 'Y = b0 + b1*X + r'", field=f"{field}.1")
    response = m.group(1).strip()
    l1_terms = _hlm_terms(m.group(2), f"{field}.1")

    eqs: dict[str, list[tuple[str, str | None]]] = {}
    for i, eq in enumerate(l2_list):
        m2 = _EQ.match(str(eq))
        if not m2:
            raise ModelError(f"level-2 equation {eq!r} must read 'b0 = g00 + g01*W + u0'", field=f"{field}.2[{i}]")
        eqs[m2.group(1).strip()] = _hlm_terms(m2.group(2), f"{field}.2[{i}]")

    level_of: dict[str, int] = {}
    fixed: list[Term] = []
    intercept = False
    re_intercept = False
    re_terms: list[Term] = []
    residual_seen = False
    for coef, var in l1_terms:
        if var is None and coef not in eqs:
            if residual_seen:
                raise ModelError(f"level-1 equation has two error terms ({coef!r})", field=f"{field}.1")
            residual_seen = True
            continue
        if coef not in eqs:
            raise ModelError(
                f"level-1 coefficient {coef!r} has no level-2 equation",
                field=f"{field}.2",
                hint=f"add '{coef} = g..' to level 2",
            )
        if var is not None:
            level_of[var] = 1
        base: Term = () if var is None else (var,)
        for gsym, w in eqs.pop(coef):
            if w is None:
                if _is_random_symbol(gsym):
                    if var is None:
                        re_intercept = True
                    else:
                        re_terms.append(base)
                else:
                    if var is None:
                        intercept = True
                    else:
                        _add_term(fixed, base)
            else:
                level_of.setdefault(w, 2)
                _add_term(fixed, _merge(base, (w,)) if base else (w,))
    if eqs:
        raise ModelError(f"level-2 equations for {sorted(eqs)} have no level-1 coefficient", field=f"{field}.2")
    if not re_intercept and not re_terms:
        raise ModelError("no random term (u0, u1, ...) at level 2: not a mixed model", field=f"{field}.2")
    # name interactions as R would for the formula this model prints (variables by first appearance)
    order: dict[str, int] = {}
    for t in _order_terms(fixed):
        for v in t:
            order.setdefault(v, len(order))
    spec = ModelSpec(
        response=response,
        intercept=intercept,
        fixed=_order_terms(fixed, order),
        random=(RandomTerm(tuple(re_terms), re_intercept, (str(group),)),),
        source="; ".join([str(l1)] + [str(e) for e in l2_list]),
        levels=level_of,
    )
    return spec
