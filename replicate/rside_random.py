"""Random intercepts and slopes written beside a residual structure in a case's formula (SAS's RANDOM beside
REPEATED; nlme's ``lme(random = ~ 1 | g, correlation = ...)``).

``math ~ year + (1 | schoolid)`` with ``residual: {type: AR(1), repeated: year, subject: childid}`` is a
random intercept per school over the students' AR(1) residuals; ``(1 | childid)``, the subject itself, is
a random intercept per subject; both together are three levels. ``(1 + age | Subject)`` (or lme4's
``(age | Subject)``) is a random intercept and slope per subject with an unstructured G (SAS's
``RANDOM intercept age / SUBJECT=Subject TYPE=UN``). Read by a small grammar, never evaluated: a top-level
term ``(1 | name)`` or ``([1 +] var [+ var ...] | name)``; any other random term (no intercept, ``||``,
an expression) is refused with the reason, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ModelError, NotImplementedOption
from .rside_syntax import top_level_splits

_NAME = r"[A-Za-z_.][A-Za-z0-9_.]*"
_INTERCEPT = re.compile(rf"^\(\s*1\s*\|\s*({_NAME})\s*\)$")
_SLOPES = re.compile(rf"^\(\s*(?:1\s*\+\s*)?({_NAME}(?:\s*\+\s*{_NAME})*)\s*\|\s*({_NAME})\s*\)$")


@dataclass(frozen=True)
class RandomBeside:
    """The random terms beside the structure: the formula without them, the grouping factors of every random
    intercept (with or without slopes), and the slope variables of each factor that has some."""

    formula: str
    groups: tuple[str, ...]
    slopes: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def slopes_of(self, group: str) -> tuple[str, ...]:
        """The slope variables of ``group``'s random term (none for an intercept alone)."""
        return dict(self.slopes).get(group, ())


def split_random_intercepts(text: str, *, field: str = "model.formula") -> RandomBeside:
    """``text`` without its ``(1 | g)`` and ``(1 + x | g)`` terms, the ``g`` of each and the ``x`` of each.

    Raises:
        NotImplementedOption: a random term other than these (no intercept, ``||``, an expression).
        ModelError: a random term subtracted, or a factor's given twice.
    """
    sides = top_level_splits(text, "~")
    if len(sides) != 2 or "|" not in sides[1][1]:
        return RandomBeside(text, ())
    lhs, rhs = sides[0][1], sides[1][1]
    kept: list[tuple[str, str]] = []
    groups: list[str] = []
    slopes: list[tuple[str, tuple[str, ...]]] = []
    for op, piece in top_level_splits(rhs, "+-"):
        stripped = piece.strip()
        m = _INTERCEPT.match(stripped)
        ms = None if m else _SLOPES.match(stripped)
        if m or ms:
            group = m.group(1) if m else ms.group(2) if ms else ""
            if op == "-":
                raise ModelError(f"a random term cannot be subtracted: '- {stripped}'", field=field)
            if group in groups:
                raise ModelError(f"the random intercept of {group!r} is given twice", field=field)
            groups.append(group)
            if ms:
                names = tuple(x.strip() for x in ms.group(1).split("+"))
                if len(set(names)) < len(names):
                    raise ModelError(f"a slope is given twice in {stripped!r}", field=field)
                slopes.append((group, names))
        elif stripped.startswith("(") and "|" in stripped and not re.match(r"^[A-Za-z_]\w*\s*\(", stripped):
            raise NotImplementedOption(
                f"the random term {stripped!r} beside a residual structure is not implemented",
                field=field,
                hint="beside a residual structure a case may give random intercepts, (1 | school) or (1 | subject), "
                "and a subject's intercept and slopes, (1 + time | subject)",
            )
        elif stripped:
            kept.append((op, stripped))
    body = ""
    for op, piece in kept:
        if not body:
            body = piece if op in ("", "+") else f"- {piece}"
        else:
            body += f" {op} {piece}"
    return RandomBeside(f"{lhs.strip()} ~ {body or '1'}", tuple(groups), tuple(slopes))
