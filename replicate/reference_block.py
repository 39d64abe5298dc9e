"""One reference block of a case, typed: who printed it, under which options, and the numbers.

A case file's ``expected:`` list is validated by the schema (case.py); each entry becomes a frozen
:class:`ReferenceBlock` with a :class:`BlockOptions`, so the later stages read ``block.options.df``
(a :class:`~replicate.vocab.DfMethod`) instead of ``(block.get("options") or {}).get("df")``. The
printed numbers (``values``) stay a nested mapping of :class:`~replicate.printed.Printed`: their shape
is the schema's, and each stage walks the sections it knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .vocab import DfMethod, SeKind


class OptimumAt(StrEnum):
    """Where a block's numbers are computed."""

    ENGINE = "engine"  # at the engine's own optimum (default)
    REFERENCE = "reference"  # at the variance components the block prints


@dataclass(frozen=True)
class BlockOptions:
    """A block's ``options:``, each with the default the schema documents.

    ``information`` is ``None`` when the block does not say: Kenward-Roger then takes the program's
    default (observed for SAS, expected for pbkrtest), while covariance-parameter SEs take observed.
    """

    method: str | None = None
    df: DfMethod | None = None
    se: SeKind = SeKind.MODEL
    optimizer: str | None = None
    weight: str | None = None
    information: str | None = None
    optimum: OptimumAt = OptimumAt.ENGINE
    parameterization: str | None = None
    converged: bool = True
    nagq: int | None = None  # glmer's nAGQ of a GLMM block with method agq
    at: tuple[tuple[str, float], ...] = ()  # SAS's LSMEANS AT var=value (repeated-measures blocks)

    @classmethod
    def of(cls, options: Mapping[str, Any] | None) -> BlockOptions:
        """From a validated ``options:`` mapping (the schema has refused unknown keys and values)."""
        o = dict(options or {})
        return cls(
            method=_str_or_none(o.get("method")),
            df=DfMethod(o["df"]) if o.get("df") is not None else None,
            se=SeKind(o.get("se", SeKind.MODEL)),
            optimizer=_str_or_none(o.get("optimizer")),
            weight=_str_or_none(o.get("weight")),
            information=_str_or_none(o.get("information")),
            optimum=OptimumAt(o.get("optimum", OptimumAt.ENGINE)),
            parameterization=_str_or_none(o.get("parameterization")),
            converged=bool(o.get("converged", True)),
            nagq=int(o["nagq"]) if o.get("nagq") is not None else None,
            at=tuple((str(k), float(v)) for k, v in dict(o.get("at") or {}).items()),
        )

    def as_dict(self) -> dict[str, str]:
        """The options the block set, as written in the file (for reports and the KR settings)."""
        out: dict[str, str] = {}
        for key in ("method", "nagq", "df", "optimizer", "weight", "information", "parameterization"):
            value = getattr(self, key)
            if value is not None:
                out[key] = str(value)
        if self.se != SeKind.MODEL:
            out["se"] = str(self.se)
        if self.optimum != OptimumAt.ENGINE:
            out["optimum"] = str(self.optimum)
        if not self.converged:
            out["converged"] = "false"
        if self.at:
            out["at"] = ", ".join(f"{k}={v:g}" for k, v in self.at)
        return out


@dataclass(frozen=True)
class ReferenceBlock:
    """Block ``index`` of a case's ``expected:`` list.

    Attributes:
        index: its position in the file (for errors that name ``expected[i]``).
        software, version, call, source, date: who printed it, and where it is from.
        options: the settings its numbers were computed under.
        values: the printed numbers by section (``fixed``, ``random``, ``fit``, ``tests``, ...).
        names: printed name -> the engine's name.
        tolerance: the block's tolerance by quantity kind.
        differences: declared definition differences (``value``, ``reason``).
        model: the block's own level equations (HLM), if it declares them.
    """

    index: int
    software: str
    label: str
    version: str = ""
    call: str = ""
    source: str = ""
    options: BlockOptions = field(default_factory=BlockOptions)
    values: Mapping[str, Any] = field(default_factory=dict)
    names: Mapping[str, Any] = field(default_factory=dict)
    tolerance: Mapping[str, Any] = field(default_factory=dict)
    differences: tuple[Mapping[str, Any], ...] = ()
    model: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, index: int, raw: Mapping[str, Any]) -> ReferenceBlock:
        """From a validated block mapping."""
        software = str(raw["software"])
        return cls(
            index=index,
            software=software,
            label=str(raw.get("label") or f"{software}#{index + 1}"),
            version=str(raw.get("version", "")),
            call=str(raw.get("call", "")),
            source=str(raw.get("source", "")),
            options=BlockOptions.of(raw.get("options")),
            values=raw.get("values") or {},
            names=raw.get("names") or {},
            tolerance=raw.get("tolerance") or {},
            differences=tuple(raw.get("differences") or ()),
            model=raw.get("model"),
        )

    def section(self, name: str) -> Mapping[str, Any]:
        """One section of the printed values (empty when the block prints none)."""
        return self.values.get(name) or {}


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
