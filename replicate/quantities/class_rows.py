"""Before any number is computed: every Type 3 effect, LS-means level, difference and slice a block prints,
and its ``options.at``, must be the model's (for repeated-measures and G-side models alike).

A misspelled level or effect is the block's invalid-case error naming the value's place in the file, never a
value the engine could not compute (which would leave the rest of the block to agree without it).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..block_names import mapped
from ..case import Case
from ..case_statements import case_statements
from ..errors import CaseError, ModelError, NotImplementedOption
from ..inference.sas_rows import statement_rows
from ..inference.sumcoding import SumCoding
from ..reference_block import ReferenceBlock
from .rside_diffs import diff_levels
from .rside_levels import effect_label, lsmean_level
from .rside_slices import slice_level

#: The sections whose rows name CLASS effects and levels, and how each row is read.
READERS: dict[str, Callable[[SumCoding, str, str], object]] = {
    "lsmeans": lsmean_level,
    "diffs": diff_levels,
    "slices": slice_level,
}


def needs_coding(block: ReferenceBlock) -> bool:
    """Whether the block prints anything these checks read (so the sum coding is worth making)."""
    return bool(block.options.at) or any(block.section(s) for s in ("type3", *READERS))


def check_class_rows(case: Case, block: ReferenceBlock, coding: SumCoding) -> None:
    """Every Type 3 effect, LS-means level, difference and slice of ``block`` is the model's, and
    ``options.at`` names its covariates.

    Raises:
        CaseError: naming the block, the value and what the model has.
    """
    effects = [lab for lab in coding.labels if lab != "(Intercept)"]
    for effect in block.section("type3"):
        if effect_label(mapped(block, str(effect)), effects) is None:
            raise case.error(
                CaseError,
                f"reference block {block.label!r} names Type 3 effect {effect!r}, which the model does not have",
                *("expected", block.index, "values", "type3", effect),
                hint=f"the model's effects are {effects}; map another name under names:",
            )
    if block.options.at:
        _located(
            case,
            block,
            lambda: coding.grid(dict(block.options.at)),
            ("options", "at"),
            "options.at names covariates of the model with the values to hold them at",
        )
    for section, reader in READERS.items():
        for effect, rows in block.section(section).items():
            for row in rows:
                _located(
                    case,
                    block,
                    partial(reader, coding, mapped(block, str(effect)), str(row)),
                    ("values", section, effect, row),
                    "name a CLASS effect of the model and its levels",
                )


def _located(
    case: Case, block: ReferenceBlock, check: Callable[[], object], path: tuple[object, ...], hint: str
) -> None:
    """Run ``check``; a model's refusal of it is the block's invalid-case error at ``path`` in the block."""
    try:
        check()
    except (ModelError, NotImplementedOption) as exc:
        raise case.error(
            CaseError,
            f"reference block {block.label!r}: {exc.message}",
            *("expected", block.index, *path),
            hint=exc.hint or hint,
        ) from None


def check_statements(case: Case, coding: SumCoding) -> None:
    """Every ESTIMATE and CONTRAST of the case names the model's effects and is estimable.

    Raises:
        CaseError: naming ``model.estimate`` / ``model.contrast`` and the label.
    """
    statements = case_statements(case)
    for kind, table in (("estimate", statements.estimate), ("contrast", statements.contrast)):
        for label, statement in table.items():
            try:
                statement_rows(coding, statement)
            except ModelError as exc:
                raise case.error(
                    CaseError, f"model.{kind} {label!r}: {exc.message}", "model", kind, label, hint=exc.hint
                ) from None
