"""Engines: every program that can fit a case, behind one protocol.

An engine is an object with

* ``name``: a short name (``native``, ``statsmodels``, ``lme4``),
* ``available() -> tuple[bool, str]``: whether it can run here, and why not,
* ``version() -> str``: the program and package versions it runs,
* ``fit(design, method) -> FitResult``: fit the :class:`~replicate.design.Design`
  by ``"REML"`` or ``"ML"``.

Adapters register themselves in :data:`ENGINES`; :func:`get_engine` returns one
by name or raises :class:`~replicate.errors.EngineUnavailable` saying what to
install.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ..design import Design
from ..errors import EngineUnavailable
from ..results import FitResult
from .native import NativeEngine
from .r.lme4 import Lme4Engine
from .r.nlme import NlmeEngine
from .statsmodels_engine import StatsmodelsEngine


@runtime_checkable
class Engine(Protocol):
    name: str

    def available(self) -> tuple[bool, str]: ...

    def version(self) -> str: ...

    def fit(self, design: Design, method: str = "REML") -> FitResult: ...


# Each adapter imports its heavy third-party package (statsmodels, rpy2) only when it fits.
ENGINES: dict[str, Callable[[], Engine]] = {
    "native": NativeEngine,
    "statsmodels": StatsmodelsEngine,
    "lme4": Lme4Engine,
    "nlme": NlmeEngine,
}

DEFAULT_ENGINE = "native"


def get_engine(name: str) -> Engine:
    """Return a ready engine by name.

    Raises:
        EngineUnavailable: unknown name, or its dependencies are missing.
    """
    if name not in ENGINES:
        raise EngineUnavailable(
            f"unknown engine {name!r}", field="--engine", hint="choose one of: " + ", ".join(sorted(ENGINES))
        )
    eng = ENGINES[name]()
    ok, why = eng.available()
    if not ok:
        raise EngineUnavailable(f"engine {name!r} is not available: {why}", field="--engine")
    return eng
