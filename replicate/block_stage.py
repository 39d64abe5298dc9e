"""One reference block through the stages: names checked -> fit (shared per method) -> quantities compared
-> diagnosis, with a failed fit never agreeing. The runner calls :func:`run_block` for each block of a case."""

from __future__ import annotations

from .case import Case
from .compare import ValueComparison, never_agree
from .comparison import compare_block
from .consistency import check_block
from .design import Design
from .diagnose import diagnose_block
from .diagnose_declared import confirm_declared_diagnoses
from .engines import Engine
from .errors import CaseError
from .fitguard import fit_failure
from .hlm_entry import block_model_error, entry_checks
from .inference import Inference
from .optimum import at_reference_optimum, within_rounding
from .outcome import ERROR, INVALID, BlockResult, block_failure
from .quantities import block_method, block_quantities, check_block_names
from .reference_block import OptimumAt, ReferenceBlock
from .results import FitResult


def block_shell(case: Case, i: int) -> BlockResult:
    """Block ``i``'s result before any fit: what it is, its printout checked against itself, a refused model."""
    blk = case.blocks[i]
    method = block_method(case, blk)
    out = BlockResult(
        label=blk.label,
        software=blk.software,
        version=blk.version,
        call=blk.call,
        source=blk.source,
        options=blk.options.as_dict(),
        method=method,
        consistency=check_block(blk.values, method, blk.software) + entry_checks(case, i),
        error=block_model_error(case, i),
    )
    if out.error:
        out.error_status = INVALID
    return out


def run_block(
    case: Case,
    i: int,
    design: Design,
    engine: Engine,
    fits: dict[str, FitResult],
    inferences: dict[str, Inference],
) -> BlockResult:
    """Block ``i`` compared with the engine's fit (made once per method in ``fits``), and explained.

    Never raises: a bad block (names the model lacks) is invalid, a failed fit or an engine bug is the
    block's error, and a fit that did not converge turns every agreeing value into a discrepancy.
    """
    blk = block_shell(case, i)
    block = case.blocks[i]
    try:
        check_block_names(case, block, design)
    except CaseError as exc:
        blk.error, blk.error_status = str(exc), INVALID
        return blk
    try:
        fit = fits.get(blk.method)
        if fit is None:
            fit = engine.fit(design, blk.method)
            fits[blk.method] = fit
            inferences[blk.method] = Inference(fit, design, refit=engine.fit)
        inf = inferences[blk.method]
        at_ref = None
        if block.options.optimum == OptimumAt.REFERENCE:
            fit, at_ref, corners = at_reference_optimum(case, i, fit, design, engine)
            inf = Inference(fit, design, refit=engine.fit)  # the fit at the printed variance components
            blk.values = within_rounding(
                _compared(case, block, inf, engine),
                [_compared(case, block, Inference(f, design, refit=engine.fit), engine) for f in corners],
            )
        else:
            blk.values = _compared(case, block, inf, engine)
        blk.diagnoses = diagnose_block(case, i, blk.values, fit, design, engine, inference=inf)
        if at_ref is not None:
            blk.diagnoses.insert(0, at_ref)
        blk.values = confirm_declared_diagnoses(block, blk.values, blk.diagnoses)
        failure = fit_failure(fit, engine.name)
        if failure:  # issue #14: a failed fit is never agreement
            blk.error, blk.error_status = failure, ERROR
            blk.values = never_agree(blk.values, "compared against a fit that did not converge")
    except Exception as exc:  # noqa: BLE001 - classified by block_failure; an engine bug must not lose the other cases
        blk.error, blk.error_status = block_failure(exc, engine.name, f"engine {engine.name!r}")
    return blk


def _compared(case: Case, block: ReferenceBlock, inf: Inference, engine: Engine) -> list[ValueComparison]:
    """Quantities then Comparison: the block's printed numbers against the fit of ``inf``."""
    return compare_block(case, block, block_quantities(case, block, inf, fitter=engine.fit))
