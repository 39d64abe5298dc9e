"""Before any number is computed: every name a block prints must exist in the model, and a block's
weight must be the model's."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ..block_names import component_columns, mapped
from ..build import frame_of
from ..case import Case
from ..case_statements import case_statements
from ..case_statements import check_sections as check_statement_labels
from ..design import Design
from ..errors import CaseError, ModelError, NotImplementedOption, ReplicateError
from ..fixed_part import from_design
from ..inference.sumcoding import SumCoding, sum_coding
from ..reference_block import ReferenceBlock
from .class_rows import check_class_rows, check_statements, needs_coding
from .fixed import corr_pair


def _unknown(case: Case, block: ReferenceBlock, message: str, *path: object, hint: str) -> ReplicateError:
    return case.error(
        CaseError, f"reference block {block.label!r} {message}", "expected", block.index, *path, hint=hint
    )


#: The printed sections each model class computes (a block printing another is refused, never passed over).
LINEAR_SECTIONS = frozenset(
    {"fixed", "fixed_corr", "random", "fit", "tests", "type3", "lsmeans", "diffs", "estimates", "contrasts"}
)
RSIDE_SECTIONS = frozenset(
    {
        "fixed",
        "covparms",
        "random",
        "fit",
        "type3",
        "lsmeans",
        "diffs",
        "slices",
        "estimates",
        "contrasts",
        "rmatrix",
        "rcorr",
    }
)
GLMM_SECTIONS = frozenset({"fixed", "random", "fit", "type3", "lsmeans", "diffs"})


def check_sections(case: Case, block: ReferenceBlock, read: Collection[str], what: str) -> None:
    """A block may print only sections its model class computes (``read``; ``what`` names the class).

    Raises:
        NotImplementedOption: naming the block, the section and what the class computes, so no printed
            number is passed over in silence.
    """
    for name in block.values:
        if name not in read and block.section(name):
            raise case.error(
                NotImplementedOption,
                f"reference block {block.label!r} prints the section {name!r}, which the engine does not compute "
                f"for {what}",
                *("expected", block.index, "values", name),
                hint=f"{what} compute: {', '.join(sorted(read))}; remove the section or fit the model it belongs to",
            )


def check_no_statements(case: Case, what: str) -> None:
    """``model.estimate`` and ``model.contrast`` (SAS's ESTIMATE and CONTRAST) are read for repeated-measures
    models only: on another model class they are refused, never ignored.

    Raises:
        NotImplementedOption: naming the case's field.
    """
    for kind in ("estimate", "contrast"):
        if case.model.get(kind):
            raise case.error(
                NotImplementedOption,
                f"model.{kind} (SAS's {kind.upper()} statements) is not implemented for {what}",
                "model",
                kind,
                hint="ESTIMATE and CONTRAST rows are computed for models with a residual structure (model.residual)",
            )


def check_fixed_names(case: Case, block: ReferenceBlock, fixed_names: Sequence[str]) -> None:
    """Every fixed effect a block prints must be one of ``fixed_names`` (the model's, any model class).

    Raises:
        CaseError: naming the block, the value and the model's fixed effects.
    """
    for term in block.section("fixed"):
        if mapped(block, term) not in fixed_names:
            numeric = next((n for n in fixed_names if _numeric_factor(str(mapped(block, term)), n)), None)
            hint = (
                f"{numeric!r} entered the model as a number, where the program read it as a factor with levels: "
                f"add transform: {{{numeric}: factor({numeric})}} (the model's fixed effects are {list(fixed_names)})"
                if numeric
                else f"the model's fixed effects are {list(fixed_names)}; add a 'names:' entry if the program "
                "printed another name"
            )
            raise _unknown(
                case,
                block,
                f"names fixed effect {term!r}, which the model does not have",
                *("values", "fixed", term),
                hint=hint,
            )


def _numeric_factor(printed: str, column: str) -> bool:
    """``period2`` printed where the model has the number ``period``: a level name glued to its variable's."""
    rest = printed[len(column) :] if printed.startswith(column) else ""
    return bool(rest) and ":" not in printed and ":" not in column


def check_block_names(case: Case, block: ReferenceBlock, design: Design) -> None:
    """Every term and group a block names must exist in the model.

    Raises:
        CaseError: naming the block, the value and the names the model has.
    """
    check_block_weight(case, block)
    check_sections(case, block, LINEAR_SECTIONS, "linear mixed models without a residual structure")
    check_statement_labels(case, case_statements(case), [block])
    fixed_names = list(design.fixed_names)
    check_fixed_names(case, block, fixed_names)
    if needs_coding(block) or case.model.get("estimate") or case.model.get("contrast"):
        coding = _coding(case, block, design)
        check_class_rows(case, block, coding)
        check_statements(case, coding)
    for pair in block.section("fixed_corr"):
        for term in corr_pair(pair):
            if mapped(block, term) not in fixed_names:
                raise _unknown(
                    case,
                    block,
                    f"names fixed effect {term!r} in the correlation {pair!r}, which the model does not have",
                    *("values", "fixed_corr", pair),
                    hint=f"the model's fixed effects are {fixed_names}; write the pair as 'a, b'",
                )
    groups: dict[str, set[str]] = {}
    for t in design.reterms:  # (x || g) makes several terms on one grouping factor
        groups.setdefault(t.group, set()).update(t.columns)
    for grp in block.section("fit").get("ngroups") or {}:
        if mapped(block, grp) not in groups:
            raise _unknown(
                case,
                block,
                f"counts groups of {grp!r}, which the model does not have",
                *("values", "fit", "ngroups", grp),
                hint=f"the model's grouping factors are {sorted(groups)}",
            )
    for grp, comps in block.section("random").items():
        if grp == "Residual":
            continue
        eng_grp = mapped(block, grp)
        if eng_grp not in groups:
            raise _unknown(
                case,
                block,
                f"names random-effect group {grp!r}, which the model does not have",
                *("values", "random", grp),
                hint=f"the model's groups are {sorted(groups)}",
            )
        for comp in comps:
            for eng_col in component_columns(block, str(comp)):
                if eng_col not in groups[eng_grp]:
                    raise _unknown(
                        case,
                        block,
                        f"of group {grp!r} names random-effect column {eng_col!r}, which the group does not have",
                        *("values", "random", grp, comp),
                        hint=f"columns of {eng_grp}: {sorted(groups[eng_grp])}",
                    )


def _coding(case: Case, block: ReferenceBlock, design: Design) -> SumCoding:
    """The sum coding of the block's model (its Type 3 hypotheses and LS-means), or the block's error."""
    try:
        return sum_coding(from_design(design, frame_of(case).df))
    except (ModelError, NotImplementedOption) as exc:
        printed = [s for s in ("type3", "lsmeans", "diffs", "slices") if block.section(s)]
        place = ("values", printed[0]) if printed else ("options", "at")
        raise _unknown(
            case,
            block,
            f"prints Type 3 tests or LS-means, which this model cannot give: {exc.message}",
            *place,
            hint=exc.hint or "Type 3 tests and LS-means need a model whose terms' margins are in it",
        ) from None


def check_block_weight(case: Case, block: ReferenceBlock) -> None:
    """A block's ``options.weight`` (SAS's WEIGHT statement, lme4's ``weights =``) must name the
    model's weights column: SAS's WEIGHT scales the residual variance of each row to sigma^2 / w,
    as lme4's prior weights do, so the two are comparable only when they use the same column.

    Raises:
        CaseError: the block names a weight the model does not use.
    """
    weight = block.options.weight
    model_weights = case.model.get("weights")
    if weight is not None and weight != model_weights:
        raise _unknown(
            case,
            block,
            "was fitted with weight "
            + f"{weight!r}, but the "
            + (f"model's weights are {model_weights!r}" if model_weights else "model has no weights"),
            *("options", "weight"),
            hint=f"set model.weights: {weight} (SAS's WEIGHT statement scales the residual variance like "
            "lme4's weights), or remove options.weight",
        )
