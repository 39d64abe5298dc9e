"""Checks of plain study data that name the file, line and field of what is wrong.

:class:`Checker` remembers the line of every field (from the YAML loader) so that each
:class:`~replicate.simulate.studytypes.StudyError` it raises points at the line to fix.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import Any

from ..case_yaml import dotted
from .studytypes import StudyError


class Checker:
    """Collects the location of each field so that errors can name file and line."""

    def __init__(self, file: str | None, lines: Mapping[tuple, int]) -> None:
        self.file = file
        self.lines = lines

    def error(self, message: str, path: tuple, hint: str | None = None) -> StudyError:
        line = None
        p = tuple(path)
        while p:
            if p in self.lines:
                line = self.lines[p]
                break
            p = p[:-1]
        return StudyError(message, file=self.file, line=line, field=dotted(path) or None, hint=hint)

    def mapping(
        self, value: Any, path: tuple, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(f"must be a mapping, not {kind_of(value)}", path)
        for k in value:
            if k not in allowed:
                close = difflib.get_close_matches(str(k), allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(allowed)
                raise self.error(f"unknown key {k!r}", path + (k,), hint=hint)
        for k in required:
            if k not in value:
                raise self.error(f"required key {k!r} is missing", path + (k,))
        return value

    def integer(self, value: Any, path: tuple, *, low: int | None = None, high: int | None = None) -> int:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (isinstance(value, float) and not value.is_integer())
        ):
            raise self.error(f"must be an integer, not {value!r}", path)
        v = int(value)
        if low is not None and v < low:
            raise self.error(f"must be at least {low}, not {v}", path)
        if high is not None and v > high:
            raise self.error(f"must be at most {high}, not {v}", path)
        return v

    def number(
        self,
        value: Any,
        path: tuple,
        *,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            raise self.error(f"must be a finite number, not {value!r}", path)
        v = float(value)
        if low is not None and (v < low or (low_open and v == low)):
            raise self.error(f"must be {'>' if low_open else '>='} {low:g}, not {v:g}", path)
        if high is not None and (v > high or (high_open and v == high)):
            raise self.error(f"must be {'<' if high_open else '<='} {high:g}, not {v:g}", path)
        return v

    def text(self, value: Any, path: tuple) -> str:
        if not isinstance(value, str):
            raise self.error(f"must be text, not {kind_of(value)}", path)
        return value

    def choices(self, value: Any, path: tuple, allowed: tuple[str, ...], *, upper: bool = False) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.error("must be a non-empty list", path, hint="allowed: " + ", ".join(allowed))
        out: list[str] = []
        for i, it in enumerate(items):
            if not isinstance(it, str):
                raise self.error(f"must be text, not {kind_of(it)}", path + (i,))
            v = it.upper() if upper else it.strip().lower()
            if v not in allowed:
                close = difflib.get_close_matches(v, allowed, n=1)
                hint = (f"did you mean {close[0]!r}? " if close else "") + "allowed: " + ", ".join(allowed)
                raise self.error(f"{it!r} is not a known choice", path + (i,), hint=hint)
            if v in out:
                raise self.error(f"{it!r} is listed twice", path + (i,))
            out.append(v)
        return tuple(out)


def kind_of(v: Any) -> str:
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if v is None:
        return "nothing (null)"
    return f"{type(v).__name__} {v!r}"


TOP_KEYS = (
    "id",
    "title",
    "description",
    "seed",
    "replicates",
    "chunk_size",
    "alpha",
    "design",
    "truth",
    "methods",
    "analysis",
)
DESIGN_KEYS = ("groups", "group_size", "group", "predictors", "random_slopes", "hold_fixed", "missing")
PRED_KEYS = ("level", "distribution", "mean", "sd", "p", "low", "high", "between_sd")
TRUTH_KEYS = (
    "fixed",
    "icc",
    "total_variance",
    "intercept_variance",
    "residual_variance",
    "slope_variances",
    "correlations",
)
METHOD_KEYS = ("estimation", "df", "se")


def name_ok(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name))
