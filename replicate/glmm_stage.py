"""A generalized linear mixed model case (``model.family``: lme4's ``glmer``) through the stages.

Data -> one fit by the Laplace approximation or adaptive quadrature (``engine/glmm``) -> each block's
quantities (``quantities/glmm.py``) -> comparison. Only the native engine fits these models; a failed
or non-converged fit is never agreement, and a bad block is that block's error, not the run's.
"""

from __future__ import annotations

import traceback

from .block_stage import block_shell
from .build import frame_of
from .case import Case
from .compare import ValueComparison, never_agree
from .comparison import compare_block
from .engine.glmm import fit_glmm
from .engine.glmm.api import prepare as glmm_design
from .engine.glmm.api import split_cbind
from .engine.glmm.result import GlmmFit
from .engines import Engine
from .errors import CaseError, DataError, FitError, ModelError, NotImplementedOption, ReplicateError
from .outcome import ERROR, INVALID, BlockResult, CaseResult
from .quantities.glmm import glmm_quantities
from .reference_block import ReferenceBlock
from .spec import parse_formula


def fit_case(case: Case) -> GlmmFit:
    """The case's GLMM, fitted as its ``model`` says (family, link, method, nagq, weights)."""
    model = case.model
    method = str(model.get("method", "laplace"))
    nagq = int(model.get("nagq", 1))
    if method == "agq" and nagq < 2:
        raise case.error(
            ModelError,
            "method: agq needs nagq > 1",
            "model",
            "nagq",
            hint="set nagq: (glmer's nAGQ, e.g. 9) or use method: laplace",
        )
    try:
        return fit_glmm(
            frame_of(case).df,
            str(model["formula"]),
            family=str(model["family"]),
            link=model.get("link"),
            method=method,
            nagq=nagq,
            weights=model.get("weights"),
        )
    except ModelError as exc:  # the engine names the argument; the case names the file and line
        field = exc.field if exc.field in ("formula", "family", "link", "nagq", "method") else "formula"
        raise case.error(ModelError, exc.message, "model", field, hint=exc.hint) from None


def check_model(case: Case, *, with_data: bool = False) -> None:
    """Refuse what a run would refuse of a GLMM case's model (its formula, with the data its columns), as
    ``replicate validate`` does for linear cases; errors name the file, line and field."""
    model = case.model
    try:
        formula, *_ = split_cbind(str(model["formula"]))
        parse_formula(formula, field="model.formula")
        if with_data:
            glmm_design(frame_of(case).df, str(model["formula"]), str(model["family"]), model.get("link"))
    except ModelError as exc:
        field = str(exc.field or "formula").removeprefix("model.")
        field = field if field in ("formula", "family", "link") else "formula"
        raise case.error(ModelError, exc.message, "model", field, hint=exc.hint) from None


def _check_names(case: Case, block: ReferenceBlock, fit: GlmmFit) -> None:
    for term in block.section("fixed"):
        if block.names.get(term, term) not in fit.fixed_names:
            raise case.error(
                CaseError,
                f"reference block {block.label!r} names fixed effect {term!r}, which the model does not have",
                *("expected", block.index, "values", "fixed", term),
                hint=f"the model's fixed effects are {list(fit.fixed_names)}; add a 'names:' entry",
            )
    for group in block.section("random"):
        if group != "Residual" and block.names.get(group, group) not in fit.ngroups:
            raise case.error(
                CaseError,
                f"reference block {block.label!r} names grouping factor {group!r}, which the model does not have",
                *("expected", block.index, "values", "random", group),
                hint=f"the model's grouping factors are {sorted(fit.ngroups)}; add a 'names:' entry",
            )


def compared(case: Case, block: ReferenceBlock, fit: GlmmFit) -> list[ValueComparison]:
    """Quantities then Comparison for one block; a fit that did not converge never agrees."""
    _check_names(case, block, fit)
    values = compare_block(case, block, glmm_quantities(block, fit))
    if not fit.converged:
        values = never_agree(values, "compared against a fit that did not converge")
    return values


def run_glmm_blocks(case: Case, engine: Engine, shells: list[BlockResult]) -> GlmmFit | None:
    """Fill each block's values (or its error) in ``shells``; returns the fit (None when there is none)."""
    fit: GlmmFit | None = None
    for block, out in zip(case.blocks, shells, strict=True):
        if out.error:
            continue
        try:
            if engine.name != "native":
                raise NotImplementedOption(
                    f"generalized linear mixed models are fitted by the native engine only, not {engine.name}",
                    hint="run with --engine native",
                )
            if fit is None:
                fit = fit_case(case)
            out.values = compared(case, block, fit)
            if not fit.converged:
                out.error, out.error_status = "the fit did not converge: " + "; ".join(fit.messages), ERROR
        except CaseError as exc:
            out.error, out.error_status = str(exc), INVALID
        except (FitError, NotImplementedOption) as exc:
            out.error, out.error_status = f"{engine.name} could not fit the model: {exc}", ERROR
        except ReplicateError as exc:
            out.error, out.error_status = str(exc), INVALID
        except Exception as exc:  # noqa: BLE001 - an engine bug must not lose the other cases
            out.error = f"internal error in the GLMM engine: {exc!r}\n" + traceback.format_exc(limit=3)
            out.error_status = ERROR
    return fit


def run_glmm_case(case: Case, engine: Engine, res: CaseResult) -> None:
    """Fill ``res`` (the engine's version, the blocks, or the case's error) for a GLMM case; the runner
    gives it its status."""
    try:
        frame_of(case)  # the data read once, its problems the case's
    except (CaseError, DataError, ModelError) as exc:
        res.status, res.error, res.error_kind = INVALID, str(exc), type(exc).__name__
        return
    try:
        res.engine_version = engine.version() + " (GLMM engine)"
    except Exception as exc:  # noqa: BLE001 - a version query must never lose a case
        res.engine_version = f"unknown ({exc})"
    res.blocks = [block_shell(case, b.index) for b in case.blocks]
    run_glmm_blocks(case, engine, res.blocks)
