"""A number as a program printed it (value, text, bound): the unit every stage shares.

It imports nothing from the package, so the printout parsers, the case loader and the comparison can all
use it without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Printed:
    """A number as a program printed it: its value and its text.

    The text keeps the printed precision (``0.5460`` has four decimals) that a
    float would lose.
    """

    value: float
    text: str
    bound: str = ""  # '<', '<=', '>', '>=' for printed bounds such as '<2e-16'

    @property
    def decimals(self) -> int | None:
        """Digits after the decimal point as printed, None in scientific notation."""
        t = self.text.strip().lstrip("<>=").strip().lower()
        if "e" in t:
            return None
        return len(t.split(".")[1]) if "." in t else 0

    @property
    def significant(self) -> int:
        """Significant digits as printed."""
        t = self.text.strip().lstrip("<>=").strip().lower().lstrip("+-")
        mant = t.split("e")[0].replace(".", "").lstrip("0")
        return max(len(mant), 1)


def printed_number(x: Any) -> float | None:
    """The number a reference value prints (a per-value mapping's ``value``); None for a bound or text."""
    if isinstance(x, dict):
        x = x.get("value")
    if isinstance(x, Printed):
        return None if x.bound else x.value
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return float(x)
    return None


def printed_unit(ref: Printed) -> float | None:
    """Unit in the last printed place (0.0001 for '0.5460'; 1e-13 for '2.35e-11')."""
    text = ref.text.strip().lstrip("<>=").strip().lower()
    try:
        if "e" in text:
            mant, exp = text.split("e")
            dec = len(mant.split(".")[1]) if "." in mant else 0
            return 10.0 ** (int(exp) - dec)
        dec = len(text.split(".")[1]) if "." in text else 0
        return 10.0 ** (-dec)
    except (ValueError, IndexError, OverflowError):
        return None
