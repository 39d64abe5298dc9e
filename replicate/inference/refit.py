"""Refits the inference needs (a REML fit for Kenward-Roger on an ML fit, the models of a test): a
``refit(design, method)`` callable, the run's engine in a run and the native engine by default."""

from __future__ import annotations

from collections.abc import Callable

from ..design import Design
from ..engines.native import NativeEngine
from ..results import FitResult

Refit = Callable[[Design, str], FitResult]


def native_refit(design: Design, method: str) -> FitResult:
    """The native engine's fit of ``design`` by ``method``."""
    return NativeEngine().fit(design, method)
