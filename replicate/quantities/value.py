"""What the Quantities stage hands on: the engine's number for each printed number of a block.

An :class:`EngineValue` pairs one printed number with the engine's number under the block's
definitions (or ``None`` and the reason when the engine cannot compute it). No verdict is made
here: comparing is the next stage's job (:mod:`replicate.comparison`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ReplicateError
from ..printed import Printed
from ..reference_block import ReferenceBlock

#: Errors that mean "the engine cannot compute this value" (recorded with the value, not raised).
VALUE_ERRORS = (ReplicateError, ValueError, np.linalg.LinAlgError, ArithmeticError)


@dataclass(frozen=True)
class EngineValue:
    """One printed number and the engine's number under the same definition.

    Attributes:
        section, name, quantity: where the number sits (``fixed``, ``ses``, ``se``).
        printed: the number as the program printed it.
        settings: the per-value settings written beside it (``rtol``, ``atol``, ``digits``, ``note``).
        engine: the engine's number, or ``None`` when it could not be computed (``note`` says why).
        path: its field path under the block's ``values`` (for the line of the case file).
        note: the definition used, or why there is no engine number.
    """

    section: str
    name: str
    quantity: str
    printed: Printed
    engine: float | None
    path: tuple[Any, ...]
    note: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Lazy:
    """Compute once, remember the value or the error (a table several values of a block read)."""

    fn: Callable[[], Any]
    done: bool = False
    value: Any = None
    error: Exception | None = None

    def get(self) -> Any:
        if not self.done:
            self.done = True
            try:
                self.value = self.fn()
            except VALUE_ERRORS as exc:
                self.error = exc
        if self.error is not None:
            raise self.error
        return self.value


@dataclass
class Collector:
    """The engine values of one block, collected section by section."""

    block: ReferenceBlock
    values: list[EngineValue] = field(default_factory=list)

    def add(
        self,
        section: str,
        name: str,
        quantity: str,
        ref: Any,
        engine: Callable[..., Any] | float | None,
        path: tuple[Any, ...],
        note: str = "",
    ) -> None:
        """Record ``ref`` and the engine's number (``engine`` called now when it is a function)."""
        settings: Mapping[str, Any] = {}
        if isinstance(ref, Mapping):
            settings, ref = ref, ref["value"]
        printed = ref if isinstance(ref, Printed) else Printed(float(ref), str(ref))
        number: float | None
        try:
            number = engine() if callable(engine) else engine
        except VALUE_ERRORS as exc:
            number, note = None, str(exc)
        self.values.append(EngineValue(section, name, quantity, printed, number, path, note, settings))
