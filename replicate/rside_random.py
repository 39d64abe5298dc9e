"""Random intercepts written beside a residual structure in a case's formula (SAS's RANDOM intercept beside
REPEATED; nlme's ``lme(random = ~ 1 | g, correlation = ...)``).

``math ~ year + (1 | schoolid)`` with ``residual: {type: AR(1), repeated: year, subject: childid}`` is a
random intercept per school over the students' AR(1) residuals; ``(1 | childid)``, the subject itself, is
a random intercept per subject; both together are three levels. Read by a small grammar, never evaluated:
a top-level term ``(1 | name)``; any other random term (a slope, ``||``, crossed groups) is refused with
the reason, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ModelError, NotImplementedOption
from .rside_syntax import top_level_splits

_INTERCEPT = re.compile(r"^\(\s*1\s*\|\s*([A-Za-z_.][A-Za-z0-9_.]*)\s*\)$")


@dataclass(frozen=True)
class RandomBeside:
    """The random intercepts beside the structure: the formula without them, and their grouping factors."""

    formula: str
    groups: tuple[str, ...]


def split_random_intercepts(text: str, *, field: str = "model.formula") -> RandomBeside:
    """``text`` without its ``(1 | g)`` terms, and the ``g`` of each.

    Raises:
        NotImplementedOption: a random term other than an intercept (a slope, ``||``).
        ModelError: a random term subtracted, or given twice.
    """
    sides = top_level_splits(text, "~")
    if len(sides) != 2 or "|" not in sides[1][1]:
        return RandomBeside(text, ())
    lhs, rhs = sides[0][1], sides[1][1]
    kept: list[tuple[str, str]] = []
    groups: list[str] = []
    for op, piece in top_level_splits(rhs, "+-"):
        stripped = piece.strip()
        m = _INTERCEPT.match(stripped)
        if m:
            if op == "-":
                raise ModelError(f"a random term cannot be subtracted: '- {stripped}'", field=field)
            if m.group(1) in groups:
                raise ModelError(f"the random intercept of {m.group(1)!r} is given twice", field=field)
            groups.append(m.group(1))
        elif stripped.startswith("(") and "|" in stripped and not re.match(r"^[A-Za-z_]\w*\s*\(", stripped):
            raise NotImplementedOption(
                f"the random term {stripped!r} beside a residual structure is not implemented",
                field=field,
                hint="beside a residual structure a case may give random intercepts, (1 | school) or (1 | subject)",
            )
        elif stripped:
            kept.append((op, stripped))
    body = ""
    for op, piece in kept:
        if not body:
            body = piece if op in ("", "+") else f"- {piece}"
        else:
            body += f" {op} {piece}"
    return RandomBeside(f"{lhs.strip()} ~ {body or '1'}", tuple(groups))
