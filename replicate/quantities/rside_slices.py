"""The engine's Tests of Effect Slices (SAS's LSMEANS / SLICE=) for a repeated-measures block.

A block prints them under ``slices``: effect (an interaction, as the ``lsmeans`` section names it) ->
``"<variable> <level>"`` (the slice, e.g. ``"Sex Female"``) -> num_df, den_df, F, p.
"""

from __future__ import annotations

from functools import partial

from ..block_names import mapped
from ..engine.rside.result import RsideFit
from ..errors import ModelError
from ..inference.rside_coding import fit_coding
from ..inference.rside_slices import rside_slices
from ..inference.sumcoding import SumCoding
from ..inference.type3 import Type3Test
from .rside_statements import CONTRAST_FIELDS
from .value import Collector, Lazy


def slice_key(text: str) -> tuple[str, str]:
    """``"Sex Female"`` -> (variable, level).

    Raises:
        ModelError: the text is not a variable and a level separated by a space.
    """
    by, _, level = str(text).strip().partition(" ")
    if not by or not level.strip():
        raise ModelError(
            f"slice {text!r} is not '<variable> <level>'",
            field="slices",
            hint="write the slice as SAS prints it: the variable, a space, its level (e.g. 'Sex Female')",
        )
    return by, level.strip()


def slice_level(coding: SumCoding, effect: str, text: str) -> tuple[str, str]:
    """The (variable, level) of a printed slice of ``effect``'s LS-means, checked against the model.

    Raises:
        ModelError: the effect is not an interaction of CLASS variables, the variable is not one of its
            variables, or the level is not one of the variable's.
    """
    by, level = slice_key(text)
    term = coding.terms[coding.term_index(effect)]
    if len(term) < 2 or any(v not in coding.classes for v in term) or by not in term:
        raise ModelError(
            f"slice {text!r} of {effect!r}: a slice is by one CLASS variable of an interaction of CLASS variables",
            field="slices",
            hint=f"write '<variable> <level>' with the variable one of: {', '.join(term)}",
        )
    if level not in coding.classes[by]:
        raise ModelError(
            f"{level!r} is not a level of {by!r} (slice of {effect!r})",
            field="slices",
            hint=f"the levels of {by} are {list(coding.classes[by])}",
        )
    return by, level


def _slice(fit: RsideFit, effect: str, ddfm: str, at: dict[str, float] | None, text: str) -> Type3Test:
    if fit.fixed_part is None:
        raise ModelError("the fit does not keep its fixed part", field="fit")
    by, level = slice_level(fit_coding(fit), effect, text)
    return rside_slices(fit, effect, by, ddfm=ddfm, at=at)[level]


def add_slices(out: Collector, fit: RsideFit, ddfm: str, note: str) -> None:
    """Add the block's ``slices`` values to ``out``; ``note`` says how df were taken."""
    at = dict(out.block.options.at) or None
    for effect, rows in out.block.section("slices").items():
        key = mapped(out.block, str(effect))
        for text, qs in rows.items():
            test = Lazy(partial(_slice, fit, key, ddfm, at, str(text)))
            for q, ref in qs.items():
                quantity, pick = CONTRAST_FIELDS[q]
                out.add(
                    "slices",
                    f"{effect} {text}",
                    quantity,
                    ref,
                    lambda pick=pick, test=test: pick(test.get()),
                    ("slices", effect, text, q),
                    note,
                )
