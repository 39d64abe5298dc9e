"""A case whose model only the native engine fits (repeated measures, GLMMs) through the stages.

The model classes differ in how they fit and what a block prints; the run around them is the same:
the data read once (its problems the case's), each block's printout checked against itself, one fit
per key (REML/ML) shared by the blocks, each block compared, a fit that did not converge never
agreeing, and a bad block that block's error, not the run's. :func:`run_native_case` is that run;
``rside_stage`` and ``glmm_stage`` hand it their fit and their comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from .block_stage import block_shell
from .build import frame_of
from .case import Case
from .compare import ValueComparison, never_agree
from .diagnose_declared import confirm_declared_diagnoses
from .diagnosis import Diagnosis
from .engines import Engine
from .errors import CaseError, DataError, ModelError, NotImplementedOption
from .fitguard import native_record
from .outcome import ERROR, INVALID, BlockResult, CaseResult, block_failure
from .reference_block import ReferenceBlock


class NativeFit(Protocol):
    """What the run needs of a fit: whether it converged, and its notes."""

    @property
    def converged(self) -> bool: ...

    @property
    def messages(self) -> Sequence[str]: ...


F = TypeVar("F", bound=NativeFit)
#: ``diagnose(block, fit, values)``: the explanations of a block's differing values.
Diagnose = Callable[[ReferenceBlock, F, list[ValueComparison]], list[Diagnosis]]


def run_native_case(
    case: Case,
    engine: Engine,
    res: CaseResult,
    *,
    what: str,
    key: Callable[[ReferenceBlock], str],
    fit: Callable[[str], F],
    compare: Callable[[ReferenceBlock, F], list[ValueComparison]],
    diagnose: Diagnose[F] | None = None,
) -> dict[str, F]:
    """Fill ``res`` (the engine's version, the blocks, or the case's error) for a case of model class ``what``;
    ``fit(key(block))`` fits once per key, ``compare(block, fit)`` gives the block's values. The runner gives
    the case its status. Returns the fits by key."""
    try:
        frame_of(case)  # the data read once, its problems the case's
    except (CaseError, DataError, ModelError) as exc:
        res.status, res.error, res.error_kind = INVALID, str(exc), type(exc).__name__
        return {}
    try:
        res.engine_version = f"{engine.version()} ({what} engine)"
    except Exception as exc:  # noqa: BLE001 - a version query must never lose a case
        res.engine_version = f"unknown ({exc})"
    res.blocks = [block_shell(case, b.index) for b in case.blocks]
    fits: dict[str, F] = {}
    for block, out in zip(case.blocks, res.blocks, strict=True):
        if not out.error:
            _run_block(block, out, engine, what, fits, key(block), fit, compare, diagnose)
    model = str(case.model.get("method") or ("laplace" if "family" in case.model else "REML"))
    res.native_fits = [native_record(model if k == "model" else k, f, what) for k, f in fits.items()]
    return fits


def _run_block(
    block: ReferenceBlock,
    out: BlockResult,
    engine: Engine,
    what: str,
    fits: dict[str, F],
    key: str,
    fit: Callable[[str], F],
    compare: Callable[[ReferenceBlock, F], list[ValueComparison]],
    diagnose: Diagnose[F] | None,
) -> None:
    try:
        if engine.name != "native":
            raise NotImplementedOption(
                f"{what} models are fitted by the native engine only, not {engine.name}",
                hint="run with --engine native",
            )
        if key not in fits:
            fits[key] = fit(key)
        done = fits[key]
        out.values = compare(block, done)
        if diagnose is not None:
            out.diagnoses = diagnose(block, done, out.values)
            out.values = confirm_declared_diagnoses(block, out.values, out.diagnoses)
        if not done.converged:
            out.values = never_agree(out.values, "compared against a fit that did not converge")
            out.error, out.error_status = "the fit did not converge: " + "; ".join(done.messages), ERROR
    except Exception as exc:  # noqa: BLE001 - classified by block_failure; one block never stops the run
        out.error, out.error_status = block_failure(exc, engine.name, f"the {what} engine")
