"""What a run learned: one :class:`BlockResult` per reference block, one :class:`CaseResult` per case.

The reports, ``replicate show`` and the pytest plugin read these; the runner fills them in.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

from .compare import AGREES, DISCREPANCY, EXPLAINED, NOT_COMPARABLE, WITHIN, ValueComparison
from .design import Design
from .diagnosis import Diagnosis
from .errors import FitError, NotImplementedOption, ReplicateError
from .findings import Finding
from .results import FitResult
from .vocab import Status

#: Case statuses, from best to worst.
OK = Status.OK
DISCREPANT = Status.DISCREPANT
SKIPPED = Status.SKIPPED
ERROR = Status.ERROR
INVALID = Status.INVALID


@dataclass
class BlockResult:
    """The comparison of one reference block."""

    label: str
    software: str
    version: str
    call: str
    source: str
    options: dict[str, Any]
    method: str
    values: list[ValueComparison] = field(default_factory=list)
    error: str | None = None
    #: what kind of failure ``error`` is: ERROR (a fit failed, or the engine) or INVALID (the block or case)
    error_status: Status | None = None
    diagnoses: list[Diagnosis] = field(default_factory=list)
    consistency: list[Finding] = field(default_factory=list)

    @property
    def inconsistent(self) -> list[Finding]:
        return [f for f in self.consistency if not f.ok]

    @property
    def boundaries(self) -> list[Finding]:
        """Printed boundary (singular) fits: flags, not contradictions."""
        return [f for f in self.consistency if f.boundary]

    @property
    def status(self) -> str:
        if self.error:
            return INVALID
        if any(v.verdict == DISCREPANCY for v in self.values):
            return DISCREPANT
        return OK

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {AGREES: 0, WITHIN: 0, DISCREPANCY: 0, EXPLAINED: 0, NOT_COMPARABLE: 0}
        for v in self.values:
            out[v.verdict] += 1
        return out


@dataclass
class CaseResult:
    """Everything a run learned about one case."""

    path: str
    case_id: str
    title: str = ""
    status: str = OK
    error: str | None = None
    error_kind: str | None = None
    engine: str = ""
    engine_version: str = ""
    blocks: list[BlockResult] = field(default_factory=list)
    fits: dict[str, FitResult] = field(default_factory=dict)
    #: the flags of the fits of a model class only the native engine fits (repeated measures, GLMMs)
    native_fits: list[dict[str, Any]] = field(default_factory=list)
    design: Design | None = None
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0


def block_failure(exc: Exception, engine: str, where: str) -> tuple[str, Status]:
    """A block's error text and status for an exception raised while fitting or comparing it: the engine
    could not fit (error), the input is unusable (invalid), or an engine bug (error, with its traceback)."""
    if isinstance(exc, NotImplementedOption):
        return f"not implemented in the {engine} engine: {exc}", ERROR
    if isinstance(exc, FitError):
        return f"{engine} could not fit the model: {exc}", ERROR
    if isinstance(exc, ReplicateError):
        return str(exc), INVALID
    return f"internal error in {where}: {exc!r}\n" + traceback.format_exc(limit=3), ERROR
