"""A repeated-measures case (``model.residual``: SAS's REPEATED statement) through the stages.

Data -> one fit per REML/ML with the residual structure (``engine/rside``) -> each block's quantities
(``quantities/rside.py``) -> comparison. Only the native engine fits these models; a failed or
non-converged fit is never agreement, and a bad block is that block's error, not the run's.
"""

from __future__ import annotations

from .block_names import mapped
from .build import frame_of
from .case import Case
from .case_statements import case_statements, check_sections
from .compare import ValueComparison
from .comparison import compare_block
from .diagnose_rside import diagnose_rside_block
from .diagnosis import Diagnosis
from .engine.rside import fit_residual
from .engine.rside.result import RsideFit
from .engines import Engine
from .errors import CaseError, DataError, ModelError, NotImplementedOption
from .inference.sumcoding import sum_coding
from .native_stage import run_native_case
from .outcome import CaseResult
from .quantities import block_method, check_fixed_names
from .quantities.checks import RSIDE_SECTIONS
from .quantities.checks import check_sections as check_model_sections
from .quantities.class_rows import check_class_rows, check_statements
from .quantities.rside import rside_quantities
from .quantities.rside_random import check_random_names
from .reference_block import OptimumAt, ReferenceBlock
from .rside_model import is_repeated_measures, rside_model
from .rside_optimum import at_reference
from .spec import parse_formula

__all__ = ["check_model", "compared", "diagnosed", "fit_case", "is_repeated_measures", "refit_with", "run_rside_case"]


def check_model(case: Case, *, with_data: bool = False) -> None:
    """Refuse what a run would refuse of a repeated-measures case's model (the fixed-effects formula and the
    ``residual:`` mapping; with the data, the fit itself), as ``replicate validate`` does for linear cases;
    errors name the file, line and field."""
    check_sections(case, case_statements(case))
    try:
        parse_formula(rside_model(case).fixed, field="model.formula", fixed_only=True)
    except (ModelError, NotImplementedOption) as exc:
        raise case.error(type(exc), exc.message, "model", *_case_field(case, exc.field), hint=exc.hint) from None
    if with_data:
        fit = fit_case(case, "REML")
        if fit.fixed_part is not None:
            check_statements(case, sum_coding(fit.fixed_part))


def fit_case(case: Case, method: str) -> RsideFit:
    """The case's model with its residual structure, fitted by ``method``."""
    try:
        m = rside_model(case)
        return fit_residual(
            frame_of(case).df,
            m.formula,
            residual=m.residual,
            method=method,
            weights=case.model.get("weights"),
            random_intercept=m.random_intercept,
            cluster=m.cluster,
            random_slopes=m.random_slopes,
            contrasts=str(case.model.get("contrasts", "treatment")),
        )
    except (
        ModelError,
        DataError,
        NotImplementedOption,
    ) as exc:  # the engine names its argument; the case names the file and line
        raise case.error(type(exc), exc.message, "model", *_case_field(case, exc.field), hint=exc.hint) from None


#: fit_residual's argument -> the key of the case's model that holds it.
_RESIDUAL_KEYS = {"visit": "repeated", "repeated": "repeated", "subject": "subject", "group": "group", "type": "type"}


def _case_field(case: Case, field: str | None) -> tuple[str, ...]:
    """The case's key for an engine's field: the residual mapping's, or the formula where its term holds the
    structure."""
    last = str(field or "").split(".")[-1]
    if last in _RESIDUAL_KEYS:
        return ("residual", _RESIDUAL_KEYS[last]) if "residual" in case.model else ("formula",)
    return (
        ("formula",)
        if last in ("formula", "random_intercept", "cluster", "random_slopes")
        else (last,)
        if last == "weights"
        else ("residual",)
    )


def _check_names(case: Case, block: ReferenceBlock, fit: RsideFit) -> None:
    """Every fixed effect, covariance parameter, Type 3 effect and LS-mean a block prints must be the model's.

    Raises:
        CaseError: naming the block, the value and what the model has.
    """
    check_model_sections(case, block, RSIDE_SECTIONS, "repeated-measures models")
    check_fixed_names(case, block, fit.fixed_names)
    check_random_names(case, block, fit)
    check_sections(case, case_statements(case), [block])
    known = {(c.label, c.group) for c in fit.covparms}
    for label in block.section("covparms"):
        name, _, group = str(label).partition(" / ")
        if (mapped(block, name), group or None) not in known:
            raise case.error(
                CaseError,
                f"reference block {block.label!r} names covariance parameter {label!r}, which the model does not have",
                *("expected", block.index, "values", "covparms", label),
                hint="the model's are "
                + ", ".join(c.label + (f" / {c.group}" if c.group else "") for c in fit.covparms)
                + "; map another name under names:",
            )
    if fit.fixed_part is None:
        if block.section("type3"):
            raise case.error(
                CaseError,
                f"reference block {block.label!r} prints Type 3 tests, but the fit does not keep its fixed part",
                *("expected", block.index, "values", "type3"),
                hint="fit the model with fit_residual",
            )
        return
    coding = sum_coding(fit.fixed_part)
    check_statements(case, coding)
    check_class_rows(case, block, coding)


def compared(case: Case, block: ReferenceBlock, fit: RsideFit) -> list[ValueComparison]:
    """Quantities then Comparison for one block (at its own printed covariance parameters under
    ``options.optimum: reference``)."""
    _check_names(case, block, fit)
    statements = case_statements(case)
    if block.options.optimum == OptimumAt.REFERENCE:
        fit, _ = at_reference(block, fit)
    return compare_block(case, block, rside_quantities(block, fit, statements))


def refit_with(case: Case, method: str, sas_type: str) -> RsideFit:
    """The case's model with the structure ``sas_type`` (SAS's TYPE=) on the same visits, subjects and groups."""
    m = rside_model(case)
    mapping: dict[str, object] = {"type": sas_type, "repeated": m.spec.coordinates[0], "subject": m.spec.subject}
    if m.spec.group:
        mapping["group"] = m.spec.group
    return fit_residual(
        frame_of(case).df,
        m.fixed,
        residual=mapping,
        method=method,
        weights=case.model.get("weights"),
        random_intercept=m.random_intercept,
        cluster=m.cluster,
        random_slopes=m.random_slopes,
    )


def diagnosed(
    case: Case,
    block: ReferenceBlock,
    fit: RsideFit,
    values: list[ValueComparison],
    refits: dict[tuple[str, str], RsideFit] | None = None,
) -> list[Diagnosis]:
    """Why the block's numbers differ (and, under ``options.optimum: reference``, the gap to the optimum);
    ``refits`` keeps the fits with other structures by (method, TYPE=), shared by the case's blocks."""
    cache = refits if refits is not None else {}

    def refit(sas_type: str) -> RsideFit:
        if (fit.method, sas_type) not in cache:
            cache[(fit.method, sas_type)] = refit_with(case, fit.method, sas_type)
        return cache[(fit.method, sas_type)]

    notes: list[Diagnosis] = []
    if block.options.optimum == OptimumAt.REFERENCE:
        fit, note = at_reference(block, fit)
        notes.append(note)
    return notes + diagnose_rside_block(
        block,
        values,
        fit,
        recompute=lambda b, f: compare_block(case, b, rside_quantities(b, f, case_statements(case))),
        refit=refit,
    )


def run_rside_case(case: Case, engine: Engine, res: CaseResult) -> None:
    """Fill ``res`` for a repeated-measures case: one fit per REML/ML, shared by the blocks that use it."""
    refits: dict[tuple[str, str], RsideFit] = {}
    run_native_case(
        case,
        engine,
        res,
        what="repeated-measures",
        key=lambda block: block_method(case, block),
        fit=lambda method: fit_case(case, method),
        compare=lambda block, fit: compared(case, block, fit),
        diagnose=lambda block, fit, values: diagnosed(case, block, fit, values, refits),
    )
