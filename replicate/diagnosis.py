"""A diagnosis: one explanation of why a reference block's numbers differ from the engine's."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .compare import ValueComparison
from .printed import Printed, printed_unit


@dataclass(frozen=True)
class Diagnosis:
    """One explanation.

    Attributes:
        kind: ``transcription error``, ``different rows``, ``different optimum``, ``likelihood gap``
            (the optimum differs but explains none of the values), ``different definition``,
            ``different parameterization``, ``flat likelihood``, ``printing precision`` or
            ``unexplained``.
        values: the values it explains (``section name quantity``), or ``*`` for all.
        text: the explanation in words, with the numbers.
        data: the numbers behind it.
    """

    kind: str
    values: tuple[str, ...]
    text: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def key_of(v: ValueComparison) -> str:
    """``section name quantity``: how a diagnosis names the values it explains."""
    return f"{v.section} {v.name} {v.quantity}"


def matches_printed(ref: Any, value: float, rtol: float = 2e-4) -> bool:
    """Does ``value`` reproduce a printed number (to its precision, or rtol)?"""
    r = ref.get("value") if isinstance(ref, dict) else ref
    if not isinstance(r, Printed) or r.bound or value is None or not math.isfinite(value):
        return False
    unit = printed_unit(r) or 0.0
    return abs(value - r.value) <= max(0.5 * unit * (1 + 1e-9), rtol * abs(r.value))
