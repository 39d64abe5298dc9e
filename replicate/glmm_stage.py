"""A generalized linear mixed model case (``model.family``: lme4's ``glmer``) through the stages.

Data -> one fit by the Laplace approximation or adaptive quadrature (``engine/glmm``) -> each block's
quantities (``quantities/glmm.py``) -> comparison. Only the native engine fits these models; a failed
or non-converged fit is never agreement, and a bad block is that block's error, not the run's.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .block_names import component_columns, mapped
from .build import frame_of
from .case import Case
from .compare import ValueComparison
from .comparison import compare_block
from .diagnose_glmm import diagnose_glmm_block
from .diagnose_glmm_defs import other_definition
from .diagnose_glmm_optimum import different_optimum, inexact_objective, reference_params
from .diagnose_glmm_rx import rx_covariance
from .diagnosis import Diagnosis
from .engine.glmm import fit_glmm, fit_glmm_nb
from .engine.glmm.api import glmm_fixed_part, model_design, split_cbind
from .engine.glmm.result import GlmmFit
from .engine.glmm.summary import with_rx_vcov
from .engines import Engine
from .errors import CaseError, ModelError, NotImplementedOption, ReplicateError
from .fixed_part import FixedPart
from .glmm_methods import (
    MODEL,
    OBSERVED,
    PL,
    PqlCaseFit,
    block_key,
    block_method,
    canonical,
    check_pql_names,
    design_of,
    fit_pl_case,
    fit_pql_case,
    method_key,
    own_method,
    parse_key,
)
from .inference.sumcoding import sum_coding
from .native_stage import run_native_case
from .outcome import CaseResult
from .quantities import check_fixed_names
from .quantities.checks import GLMM_SECTIONS, check_no_statements, check_sections
from .quantities.class_rows import check_class_rows, needs_coding
from .quantities.glmm import glmm_quantities
from .quantities.glmm_pl import PlFit, pl_quantities
from .quantities.glmm_pql import pql_quantities
from .quantities.value import Lazy
from .reference_block import BlockOptions, ReferenceBlock
from .spec import parse_formula


def fit_case(case: Case, method: str | None = None, nagq: int | None = None) -> GlmmFit:
    """The case's GLMM, fitted as its ``model`` says (family, link, method, nagq, weights), or by a block's
    own ``method`` and ``nagq`` (:mod:`replicate.glmm_methods`; ``laplace-observed``: the Laplace approximation
    with the observed information)."""
    model = case.model
    method = method or str(model.get("method", "laplace"))
    information = "observed" if method == OBSERVED else "expected"
    method = "laplace" if method == OBSERVED else method
    nagq = nagq or int(model.get("nagq", 1))
    if method == "agq" and nagq < 2:
        raise case.error(
            ModelError,
            "method: agq needs nagq > 1",
            "model",
            "nagq",
            hint="set nagq: (glmer's nAGQ, e.g. 9) or use method: laplace",
        )
    try:
        if str(model["family"]) == "negative.binomial":  # glmer.nb: the size estimated too
            if method != "laplace" or nagq != 1:
                raise case.error(
                    NotImplementedOption,
                    f"method {method} (nagq {nagq}) for the negative binomial",
                    "model",
                    "method",
                    hint="the negative binomial is fitted by the Laplace approximation (glmer.nb's)",
                )
            return fit_glmm_nb(
                frame_of(case).df, str(model["formula"]), weights=model.get("weights"), information=information
            )
        return fit_glmm(
            frame_of(case).df,
            str(model["formula"]),
            family=str(model["family"]),
            link=model.get("link"),
            method=method,
            nagq=nagq,
            weights=model.get("weights"),
            information=information,
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
            model_design(frame_of(case).df, str(model["formula"]), str(model["family"]), model.get("link"))
    except ModelError as exc:
        field = str(exc.field or "formula").removeprefix("model.")
        field = field if field in ("formula", "family", "link") else "formula"
        raise case.error(ModelError, exc.message, "model", field, hint=exc.hint) from None
    for block in case.blocks:  # each block's method and options, as a run refuses them
        block_method(case, block)


def _check_names(case: Case, block: ReferenceBlock, fit: GlmmFit) -> None:
    check_no_statements(case, "generalized linear mixed models")
    check_sections(case, block, GLMM_SECTIONS, "generalized linear mixed models")
    check_fixed_names(case, block, fit.fixed_names)
    for group in block.section("random"):
        if group != "Residual" and block.names.get(group, group) not in fit.ngroups:
            raise case.error(
                CaseError,
                f"reference block {block.label!r} names grouping factor {group!r}, which the model does not have",
                *("expected", block.index, "values", "random", group),
                hint=f"the model's grouping factors are {sorted(fit.ngroups)}; add a 'names:' entry",
            )
        columns = {c for vc in fit.varcomps if vc.group == mapped(block, group) for c in vc.names}
        for comp in block.section("random")[group] if group != "Residual" else ():
            missing = [c for c in component_columns(block, str(comp)) if c not in columns]
            if missing:
                raise case.error(
                    CaseError,
                    f"reference block {block.label!r} names random-effect column {missing[0]!r} of {group!r}, "
                    "which the model does not have",
                    *("expected", block.index, "values", "random", group, comp),
                    hint=f"the columns of {group} are {sorted(columns)}; a pair is written 'a, b'",
                )


def fixed_part_of(case: Case) -> FixedPart:
    """The GLMM's fixed part (for LS-means and Type III tests), its errors naming the case's model."""
    model = case.model
    try:
        return glmm_fixed_part(
            frame_of(case).df, str(model["formula"]), str(model["family"]), model.get("link"), model.get("weights")
        )
    except ModelError as exc:
        raise case.error(ModelError, exc.message, "model", "formula", hint=exc.hint) from None


def _check_rows(case: Case, block: ReferenceBlock, part: Lazy) -> None:
    """A block's Type III effects and LS-means levels must be the model's (before any number is computed);
    ``part``: the model's lazy fixed part, made once for the checks and the numbers."""
    if needs_coding(block):
        try:
            coding = sum_coding(part.get())
        except (ModelError, NotImplementedOption) as exc:
            raise case.error(
                CaseError, f"reference block {block.label!r}: {exc.message}", "expected", block.index, hint=exc.hint
            ) from None
        check_class_rows(case, block, coding)


def compared(case: Case, block: ReferenceBlock, fit: GlmmFit | PqlCaseFit) -> list[ValueComparison]:
    """Quantities then Comparison for one block."""
    part = Lazy(lambda: fixed_part_of(case))
    if isinstance(fit, PqlCaseFit):
        check_pql_names(case, block, fit)
        _check_rows(case, block, part)
        if fit.method in PL:
            pl = PlFit(fit.pql, fit.method, fit.nobs, fit.ngroups, fit.design)
            return compare_block(case, block, pl_quantities(block, pl, part))
        return compare_block(case, block, pql_quantities(block, fit.pql, fit.df, fit.nobs, fit.ngroups))
    _check_names(case, block, fit)
    _check_rows(case, block, part)
    return compare_block(case, block, glmm_quantities(block, fit, part, Lazy(lambda: design_of(case))))


def _fit_key(case: Case, key: str) -> GlmmFit | PqlCaseFit:
    if key == MODEL:
        return fit_case(case)
    method, nagq = parse_key(case, key)
    if method == "pql":
        return fit_pql_case(case)
    return fit_pl_case(case, method) if method in PL else fit_case(case, method, nagq)


def diagnosed(
    case: Case,
    block: ReferenceBlock,
    values: list[ValueComparison],
    fits: dict[str, GlmmFit | PqlCaseFit],
    fit: GlmmFit | PqlCaseFit | None = None,
) -> list[Diagnosis]:
    """Why the block's numbers differ: another estimation method's fit is tried for them (``fits``: by key,
    shared with the run's diagnoses of the other blocks), then the gap of the block's own parameters to
    ``fit``'s optimum (the block's own method)."""

    def recompute(other: ReferenceBlock, method: str, nagq: int) -> list[ValueComparison]:
        if method == OBSERVED and canonical(case):  # the same fit as the expected information's: no candidate
            raise NotImplementedOption("for a canonical link the observed information is the expected one")
        key = method_key(method, nagq)
        if key not in fits:
            fits[key] = _fit_key(case, key)
        return compared(case, other, fits[key])

    try:
        own = own_method(case, block)
    except ReplicateError:
        return []
    glmm_fit = fit if isinstance(fit, GlmmFit) else None
    optimum = (
        (lambda bad: different_optimum(block, glmm_fit, bad) or inexact_objective(block, glmm_fit, bad))
        if glmm_fit is not None
        else None
    )
    rx = None
    if isinstance(fit, GlmmFit) and block.software == "lme4":
        glmm = fit

        def recompute_rx() -> list[ValueComparison]:  # RX where the block's program stopped (lme4 takes it there)
            return compared(case, block, with_rx_vcov(glmm, reference_params(block, glmm)))

        def rx(bad: set[str]) -> Diagnosis | None:
            try:
                return rx_covariance(block, bad, recompute_rx)
            except (ReplicateError, np.linalg.LinAlgError):
                return None

    definitions = None
    if fit is not None and (block.software == "sas" or (block.software == "hlm" and isinstance(fit, PqlCaseFit))):
        chosen = fit

        def again(options: BlockOptions) -> list[ValueComparison]:
            return compared(case, replace(block, options=options), chosen)

        def definitions(bad: set[str]) -> Diagnosis | None:
            return other_definition(block, bad, again, hlm=isinstance(chosen, PqlCaseFit))

    return diagnose_glmm_block(block, values, own, recompute=recompute, optimum=optimum, rx=rx, definitions=definitions)


def run_glmm_case(case: Case, engine: Engine, res: CaseResult) -> None:
    """Fill ``res`` for a GLMM case: one fit per method (the model's, or a block's ``options.method``), shared
    by the blocks of that method."""
    others: dict[str, GlmmFit | PqlCaseFit] = {}
    run_native_case(
        case,
        engine,
        res,
        what="GLMM",
        key=lambda block: block_key(case, block),
        fit=lambda key: _fit_key(case, key),
        compare=lambda block, fit: compared(case, block, fit),
        diagnose=lambda block, fit, values: diagnosed(case, block, values, others, fit),
    )
