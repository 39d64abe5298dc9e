"""A repeated-measures case (``model.residual``: SAS's REPEATED statement) through the stages.

Data -> one fit per REML/ML with the residual structure (``engine/rside``) -> each block's quantities
(``quantities/rside.py``) -> comparison. Only the native engine fits these models; a failed or
non-converged fit is never agreement, and a bad block is that block's error, not the run's.
"""

from __future__ import annotations

import traceback

from .block_names import mapped
from .build import frame_of
from .case import Case
from .compare import ValueComparison, never_agree
from .comparison import compare_block
from .engine.rside import fit_residual
from .engine.rside.result import RsideFit
from .engines import Engine
from .errors import CaseError, FitError, ModelError, NotImplementedOption, ReplicateError
from .inference.sumcoding import sum_coding
from .outcome import ERROR, INVALID, BlockResult
from .quantities import block_method
from .quantities.rside import lsmean_level, rside_quantities
from .reference_block import ReferenceBlock


def fit_case(case: Case, method: str) -> RsideFit:
    """The case's model with its residual structure, fitted by ``method``."""
    model = case.model
    formula = str(model.get("formula", ""))
    if not formula or "|" in formula:
        raise case.error(
            ModelError,
            "a model with residual: needs a formula of fixed effects only",
            "model",
            "formula",
            hint="random effects beside a residual structure are not yet read from case files",
        )
    return fit_residual(
        frame_of(case).df,
        formula,
        residual=dict(model["residual"]),
        method=method,
        weights=model.get("weights"),
    )


def _check_names(case: Case, block: ReferenceBlock, fit: RsideFit) -> None:
    for term in block.section("fixed"):
        if block.names.get(term, term) not in fit.fixed_names:
            raise case.error(
                CaseError,
                f"reference block {block.label!r} names fixed effect {term!r}, which the model does not have",
                *("expected", block.index, "values", "fixed", term),
                hint=f"the model's fixed effects are {list(fit.fixed_names)}; add a 'names:' entry",
            )
    lsmeans = block.section("lsmeans")
    if lsmeans and fit.fixed_part is not None:
        coding = sum_coding(fit.fixed_part)
        for effect, levels in lsmeans.items():
            for level in levels:
                try:
                    lsmean_level(coding, mapped(block, str(effect)), str(level))
                except ModelError as exc:
                    raise case.error(
                        CaseError,
                        f"reference block {block.label!r}: {exc.message}",
                        *("expected", block.index, "values", "lsmeans", effect, level),
                        hint=exc.hint or "name a CLASS effect of the model and its levels",
                    ) from None


def compared(case: Case, block: ReferenceBlock, fit: RsideFit) -> list[ValueComparison]:
    """Quantities then Comparison for one block; a fit that did not converge never agrees."""
    _check_names(case, block, fit)
    values = compare_block(case, block, rside_quantities(block, fit))
    if not fit.converged:
        values = never_agree(values, "compared against a fit that did not converge")
    return values


def run_rside_blocks(case: Case, engine: Engine, shells: list[BlockResult]) -> dict[str, RsideFit]:
    """Fill each block's values (or its error) in ``shells``; returns the fits by method."""
    fits: dict[str, RsideFit] = {}
    for block, out in zip(case.blocks, shells, strict=True):
        if out.error:
            continue
        try:
            if engine.name != "native":
                raise NotImplementedOption(
                    f"models with a residual structure are fitted by the native engine only, not {engine.name}",
                    hint="run with --engine native",
                )
            method = block_method(case, block)
            if method not in fits:
                fits[method] = fit_case(case, method)
            out.values = compared(case, block, fits[method])
            if not fits[method].converged:
                out.error, out.error_status = "the fit did not converge: " + "; ".join(fits[method].messages), ERROR
        except CaseError as exc:
            out.error, out.error_status = str(exc), INVALID
        except (FitError, NotImplementedOption) as exc:
            out.error, out.error_status = f"{engine.name} could not fit the model: {exc}", ERROR
        except ReplicateError as exc:
            out.error, out.error_status = str(exc), INVALID
        except Exception as exc:  # noqa: BLE001 - an engine bug must not lose the other cases
            out.error = f"internal error in the repeated-measures engine: {exc!r}\n" + traceback.format_exc(limit=3)
            out.error_status = ERROR
    return fits
