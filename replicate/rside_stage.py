"""A repeated-measures case (``model.residual``: SAS's REPEATED statement) through the stages.

Data -> one fit per REML/ML with the residual structure (``engine/rside``) -> each block's quantities
(``quantities/rside.py``) -> comparison. Only the native engine fits these models; a failed or
non-converged fit is never agreement, and a bad block is that block's error, not the run's.
"""

from __future__ import annotations

from collections.abc import Callable

from .block_names import mapped
from .build import frame_of
from .case import Case
from .compare import ValueComparison
from .comparison import compare_block
from .diagnose_rside import diagnose_rside_block
from .diagnosis import Diagnosis
from .engine.rside import fit_residual
from .engine.rside.result import RsideFit
from .engines import Engine
from .errors import CaseError, DataError, ModelError
from .inference.sumcoding import SumCoding, sum_coding
from .native_stage import run_native_case
from .outcome import CaseResult
from .quantities import block_method, check_fixed_names
from .quantities.rside import lsmean_level, rside_quantities
from .quantities.rside_diffs import diff_levels
from .reference_block import OptimumAt, ReferenceBlock
from .rside_optimum import at_reference
from .rside_syntax import has_covariance_term, residual_from_mapping, split_formula
from .spec import parse_formula


def check_model(case: Case, *, with_data: bool = False) -> None:
    """Refuse what a run would refuse of a repeated-measures case's model (the fixed-effects formula and the
    ``residual:`` mapping; with the data, the fit itself), as ``replicate validate`` does for linear cases;
    errors name the file, line and field."""
    try:
        fixed, residual = _model_parts(case)
        parse_formula(fixed, field="model.formula", fixed_only=True)
        if residual is not None:
            residual_from_mapping(residual, field="model.residual")
    except ModelError as exc:
        raise case.error(ModelError, exc.message, "model", *_case_field(case, exc.field), hint=exc.hint) from None
    if with_data:
        fit_case(case, "REML")


def is_repeated_measures(case: Case) -> bool:
    """Is the case's model one with a residual structure: SAS's REPEATED mapping (``model.residual``) or
    mmrm's covariance term in the formula (``distance ~ Sex * age + ar1(age | Subject)``)?"""
    return "residual" in case.model or has_covariance_term(str(case.model.get("formula", "")))


def _model_parts(case: Case) -> tuple[str, dict[str, object] | None]:
    """The fixed-effects formula and the ``residual:`` mapping (None when the formula holds the structure).

    Raises:
        ModelError: random effects beside the structure, or the structure named twice (field ``formula``).
    """
    formula = str(case.model.get("formula", ""))
    fixed, term = split_formula(formula, field="model.formula") if formula else (formula, None)
    residual = dict(case.model["residual"]) if "residual" in case.model else None
    if term is not None and residual is not None:
        raise ModelError(
            f"the formula's {term.term()} and model.residual both name the residual structure",
            field="model.formula",
            hint="keep one: the covariance term in the formula (mmrm's form) or the residual: mapping (SAS's)",
        )
    if not fixed or "|" in fixed:
        raise ModelError(
            "a model with a residual structure needs a formula of fixed effects only",
            field="model.formula",
            hint="random effects beside a residual structure are not yet read from case files",
        )
    return fixed, residual


def fit_case(case: Case, method: str) -> RsideFit:
    """The case's model with its residual structure, fitted by ``method``."""
    model = case.model
    try:
        _model_parts(case)
        return fit_residual(
            frame_of(case).df,
            str(model["formula"]),
            residual=dict(model["residual"]) if "residual" in model else None,
            method=method,
            weights=model.get("weights"),
        )
    except (ModelError, DataError) as exc:  # the engine names its argument; the case names the file and line
        raise case.error(type(exc), exc.message, "model", *_case_field(case, exc.field), hint=exc.hint) from None


#: fit_residual's argument -> the key of the case's model that holds it.
_RESIDUAL_KEYS = {"visit": "repeated", "repeated": "repeated", "subject": "subject", "group": "group", "type": "type"}


def _case_field(case: Case, field: str | None) -> tuple[str, ...]:
    """The case's key for an engine's field: the residual mapping's, or the formula where its term holds the
    structure."""
    last = str(field or "").split(".")[-1]
    if last in _RESIDUAL_KEYS:
        return ("residual", _RESIDUAL_KEYS[last]) if "residual" in case.model else ("formula",)
    return (last,) if last in ("formula", "weights") else ("residual",)


def _check_names(case: Case, block: ReferenceBlock, fit: RsideFit) -> None:
    """Every fixed effect, covariance parameter, Type 3 effect and LS-mean a block prints must be the model's.

    Raises:
        CaseError: naming the block, the value and what the model has.
    """
    check_fixed_names(case, block, fit.fixed_names)
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
    effects = [lab for lab in sum_coding(fit.fixed_part).labels if lab != "(Intercept)"] if fit.fixed_part else []
    for effect in block.section("type3"):
        if mapped(block, str(effect)) not in effects:
            raise case.error(
                CaseError,
                f"reference block {block.label!r} names Type 3 effect {effect!r}, which the model does not have",
                *("expected", block.index, "values", "type3", effect),
                hint=f"the model's effects are {effects}; map another name under names:",
            )
    if fit.fixed_part is None:
        return
    coding = sum_coding(fit.fixed_part)
    read: dict[str, Callable[[SumCoding, str, str], object]] = {"lsmeans": lsmean_level, "diffs": diff_levels}
    for section, reader in read.items():
        for effect, rows in block.section(section).items():
            for row in rows:
                try:
                    reader(coding, mapped(block, str(effect)), str(row))
                except ModelError as exc:
                    raise case.error(
                        CaseError,
                        f"reference block {block.label!r}: {exc.message}",
                        *("expected", block.index, "values", section, effect, row),
                        hint=exc.hint or "name a CLASS effect of the model and its levels",
                    ) from None


def compared(case: Case, block: ReferenceBlock, fit: RsideFit) -> list[ValueComparison]:
    """Quantities then Comparison for one block (at its own printed covariance parameters under
    ``options.optimum: reference``)."""
    _check_names(case, block, fit)
    if block.options.optimum == OptimumAt.REFERENCE:
        fit, _ = at_reference(block, fit)
    return compare_block(case, block, rside_quantities(block, fit))


def refit_with(case: Case, method: str, sas_type: str) -> RsideFit:
    """The case's model with the structure ``sas_type`` (SAS's TYPE=) on the same visits, subjects and groups."""
    fixed, residual = _model_parts(case)
    spec = residual_from_mapping(residual) if residual is not None else split_formula(str(case.model["formula"]))[1]
    if spec is None:
        raise ModelError("the case names no residual structure", field="model.residual")
    mapping: dict[str, object] = {"type": sas_type, "repeated": spec.coordinates[0], "subject": spec.subject}
    if spec.group:
        mapping["group"] = spec.group
    return fit_residual(frame_of(case).df, fixed, residual=mapping, method=method, weights=case.model.get("weights"))


def diagnosed(case: Case, block: ReferenceBlock, fit: RsideFit, values: list[ValueComparison]) -> list[Diagnosis]:
    """Why the block's numbers differ (and, under ``options.optimum: reference``, the gap to the optimum)."""
    notes: list[Diagnosis] = []
    if block.options.optimum == OptimumAt.REFERENCE:
        fit, note = at_reference(block, fit)
        notes.append(note)
    return notes + diagnose_rside_block(
        block,
        values,
        fit,
        recompute=lambda b, f: compare_block(case, b, rside_quantities(b, f)),
        refit=lambda sas_type: refit_with(case, fit.method, sas_type),
    )


def run_rside_case(case: Case, engine: Engine, res: CaseResult) -> None:
    """Fill ``res`` for a repeated-measures case: one fit per REML/ML, shared by the blocks that use it."""
    run_native_case(
        case,
        engine,
        res,
        what="repeated-measures",
        key=lambda block: block_method(case, block),
        fit=lambda method: fit_case(case, method),
        compare=lambda block, fit: compared(case, block, fit),
        diagnose=lambda block, fit, values: diagnosed(case, block, fit, values),
    )
