"""The engine's Differences of Least Squares Means (SAS's LSMEANS / DIFF) for a repeated-measures block.

A printed row names two LS-means rows, ``A - B``, each side written as the ``lsmeans`` section writes a
level (one level per variable of the effect, separated by commas: ``F, 8 - M, 8``). The engine computes
every pair of the effect's levels once (level i minus level j, in the model's level order, as SAS prints
them); a row printed the other way round (j minus i, as emmeans may) is the same pair with the sign of the
estimate and of t turned, its SE, df and p unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from ..block_names import mapped
from ..engine.rside.result import RsideFit
from ..errors import ModelError
from ..inference.lsmeans import Estimate
from ..inference.rside_coding import fit_coding
from ..inference.rside_tests import rside_lsmeans
from ..inference.sumcoding import SumCoding
from .rside_levels import lsmean_level
from .value import Collector, Lazy

#: The quantities whose sign turns when a difference is printed the other way round.
SIGNED = ("estimate", "t")
#: The confidence limits, which swap (and turn their sign) when a difference is printed the other way round.
MIRRORED = {"lower": "upper", "upper": "lower"}


def diff_levels(coding: SumCoding, effect: str, text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The two LS-means rows (engine levels, in the term's variable order) of a printed ``A - B``.

    Raises:
        ModelError: the text is not two levels joined by `` - ``, or a side is not a level of the effect.
    """
    sides = str(text).split(" - ")
    if len(sides) != 2 or not all(s.strip() for s in sides):
        raise ModelError(
            f"difference {text!r} of {effect!r} is not two LS-means levels joined by ' - '",
            field="diffs",
            hint="write 'A - B' with each side as an lsmeans level, e.g. 'F, 8 - M, 8'",
        )
    a, b = lsmean_level(coding, effect, sides[0]), lsmean_level(coding, effect, sides[1])
    if a == b:
        raise ModelError(
            f"difference {text!r} of {effect!r} compares a level with itself",
            field="diffs",
            hint="SAS's DIFF prints each pair of different levels once",
        )
    return a, b


def _pairs(
    fit: RsideFit, effect: str, ddfm: str, at: dict[str, float] | None
) -> dict[tuple[tuple[str, ...], tuple[str, ...]], Estimate]:
    out: dict[tuple[tuple[str, ...], tuple[str, ...]], Estimate] = {}
    for e in rside_lsmeans(fit, effect, ddfm=ddfm, diff=True, at=at):
        if e.other is not None:
            out[(e.levels, e.other)] = e
    return out


def pair_value(
    pairs: Mapping[tuple[tuple[str, ...], tuple[str, ...]], Estimate],
    a: tuple[str, ...],
    b: tuple[str, ...],
    q: str,
    field: Mapping[str, Callable[[Estimate], float]],
) -> float:
    """Quantity ``q`` of the difference ``a - b`` (the engine's pair, turned if it holds ``b - a``)."""
    if (a, b) in pairs:
        return field[q](pairs[(a, b)])
    if (b, a) in pairs:
        if q in MIRRORED:  # the lower limit of b - a is minus the upper limit of a - b
            return -field[MIRRORED[q]](pairs[(b, a)])
        value = field[q](pairs[(b, a)])
        return -value if q in SIGNED else value
    raise ModelError(f"the engine has no difference of LS-means {a} - {b}", field="diffs")


def add_diffs(
    out: Collector, fit: RsideFit, ddfm: str, field: Mapping[str, Callable[[Estimate], float]], note: str
) -> None:
    """Add the block's ``diffs`` values to ``out``; ``note`` says how their df were taken."""
    section = out.block.section("diffs")
    if not section:
        return
    coding = Lazy(lambda: fit_coding(fit))
    for effect, rows in section.items():
        key = mapped(out.block, str(effect))
        pairs = Lazy(partial(_pairs, fit, key, ddfm, dict(out.block.options.at) or None))
        for text, qs in rows.items():
            for q, ref in qs.items():

                def value(q: str = q, key: str = key, text: str = str(text), pairs: Lazy = pairs) -> float:
                    a, b = diff_levels(coding.get(), key, text)
                    return pair_value(pairs.get(), a, b, q, field)

                how = note if q in ("df", "p", "se", "lower", "upper") else ""
                out.add("diffs", f"{effect} {text}", q, ref, value, ("diffs", effect, text, q), how)
