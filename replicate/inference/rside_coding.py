"""The sum-to-zero coding of a repeated-measures fit's fixed part, built once per fit.

LS-means, differences, slices, Type III tests and ESTIMATE/CONTRAST rows all work in the coding of
:func:`~replicate.inference.sumcoding.sum_coding`; re-coding the rows (n x q) for each of them cost a case block
one pass over the data per section. :func:`fit_coding` keeps one coding per fixed part for as long as the
fixed part lives.
"""

from __future__ import annotations

import weakref

from ..engine.rside import RsideFit
from ..errors import NotImplementedOption
from ..fixed_part import FixedPart
from .sumcoding import SumCoding, sum_coding

_CODINGS: dict[int, SumCoding] = {}


def _forget(key: int) -> None:
    _CODINGS.pop(key, None)


def part_coding(part: FixedPart) -> SumCoding:
    """``sum_coding(part)``, computed once per fixed part (the entry goes when the part does)."""
    key = id(part)
    coding = _CODINGS.get(key)
    if coding is None:
        coding = sum_coding(part)
        _CODINGS[key] = coding
        weakref.finalize(part, _forget, key)
    return coding


def fit_coding(fit: RsideFit) -> SumCoding:
    """The sum-to-zero coding of ``fit``'s fixed part.

    Raises:
        NotImplementedOption: the fit does not keep its fixed part.
    """
    if fit.fixed_part is None:
        raise NotImplementedOption("the fit does not keep its fixed part", hint="fit it with fit_residual")
    return part_coding(fit.fixed_part)
