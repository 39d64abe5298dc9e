"""HLM's level equations -> the same :class:`~replicate.spec_model.ModelSpec` as a formula.

``Y = b0 + b1*X + r`` at level 1 and ``b0 = g00 + g01*W + u0``, ``b1 = g10 + u1`` at level 2 become
``Y ~ X + W + X:W + (1 + X | group)`` (a level-2 ``u`` term makes a random effect; a ``g*W`` term in
a slope's equation a cross-level interaction).
"""

from __future__ import annotations

import re

from .errors import ModelError
from .spec_model import ModelSpec
from .spec_terms import RandomTerm, Term, add_term, merge_terms, order_terms

__all__ = ["parse_levels"]

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
    l2_list = [l2] if isinstance(l2, str) else list(l2 or ())
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
                        add_term(fixed, base)
            else:
                level_of.setdefault(w, 2)
                add_term(fixed, merge_terms(base, (w,)) if base else (w,))
    if eqs:
        raise ModelError(f"level-2 equations for {sorted(eqs)} have no level-1 coefficient", field=f"{field}.2")
    if not re_intercept and not re_terms:
        raise ModelError("no random term (u0, u1, ...) at level 2: not a mixed model", field=f"{field}.2")
    # name interactions as R would for the formula this model prints (variables by first appearance)
    order: dict[str, int] = {}
    for t in order_terms(fixed):
        for v in t:
            order.setdefault(v, len(order))
    spec = ModelSpec(
        response=response,
        intercept=intercept,
        fixed=order_terms(fixed, order),
        random=(RandomTerm(tuple(re_terms), re_intercept, (str(group),)),),
        source="; ".join([str(l1)] + [str(e) for e in l2_list]),
        levels=level_of,
    )
    return spec
