"""Which LS-means row a printed level names, in the engine's levels (shared by LSMEANS and DIFF)."""

from __future__ import annotations

from ..errors import ModelError
from ..inference.sumcoding import SumCoding, effect_label

__all__ = ["effect_label", "lsmean_level"]


def lsmean_level(coding: SumCoding, effect: str, level: str) -> tuple[str, ...]:
    """The engine's levels (in the model term's variable order) of a printed LS-means row.

    ``effect`` is the engine's name of the effect (``Gender`` or ``Gender*Time``); ``level`` gives one
    level per variable of the effect as written, separated by commas (``F, 8``), as SAS prints them
    in the columns of its Least Squares Means table.
    """
    term = coding.terms[coding.term_index(effect)]
    written = [v.strip() for v in effect.replace("*", ":").split(":")]
    parts = [s.strip() for s in str(level).split(",")]
    if any(v not in coding.classes for v in term):
        raise ModelError(f"LS-means are of CLASS effects; {effect!r} has a covariate", field="lsmeans")
    if len(parts) != len(written):
        raise ModelError(
            f"LS-means level {level!r} of {effect!r} gives {len(parts)} level(s) for {len(written)} variable(s)",
            field="lsmeans",
            hint="one level per variable of the effect, separated by commas: " + ", ".join(written),
        )
    chosen = dict(zip(written, parts, strict=True))
    for v in term:
        if chosen[v] not in coding.classes[v]:
            raise ModelError(
                f"{chosen[v]!r} is not a level of {v!r} (LS-means of {effect!r})",
                field="lsmeans",
                hint=f"the levels of {v} are {list(coding.classes[v])}",
            )
    return tuple(chosen[v] for v in term)
