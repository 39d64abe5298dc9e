"""A printout's check against itself (a :class:`Finding`), and the values a printed number may stand for.

Shared by the consistency checks and the boundary flags, so that neither imports the other.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .printed import Printed, printed_unit


@dataclass(frozen=True)
class Finding:
    """One consistency check of a printout.

    Attributes:
        where: the value checked (``fixed ses p``, ``tests lrt p``).
        check: what was recomputed, in words.
        printed: the printed text.
        low, high: the range the other printed numbers allow.
        ok: whether the printed number lies in that range.
        boundary: a flag rather than a check: the printout shows a boundary
            (singular) fit (see :mod:`replicate.boundary`); ``ok`` stays true.
    """

    where: str
    check: str
    printed: str
    low: float
    high: float
    ok: bool
    boundary: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def interval(x: Any) -> tuple[float, float] | None:
    """The values a printed number may stand for, given its precision."""
    if isinstance(x, dict):
        x = x.get("value")
    if not isinstance(x, Printed):
        if isinstance(x, (int, float)):
            return float(x), float(x)
        return None
    if x.bound in ("<", "<="):
        return -math.inf, x.value
    if x.bound in (">", ">="):
        return x.value, math.inf
    unit = printed_unit(x) or 0.0
    half = 0.5 * unit * (1 + 1e-9)
    return x.value - half, x.value + half
