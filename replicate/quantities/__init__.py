"""The Quantities stage: the engine's number for every printed number of a reference block.

One door in, :func:`block_quantities` (a case's block, the engine's fit with its
:class:`~replicate.inference.Inference`, and the run's engine as ``fitter`` for the other models a
block's tests need) and one out, a list of :class:`EngineValue`. Each section of the printout has
its own module (fixed, random, tests, fit); nothing here compares: :mod:`replicate.comparison` does.
"""

from __future__ import annotations

from ..case import Case
from ..errors import NotImplementedOption
from ..hlm_entry import block_spec
from ..inference import Inference
from ..reference_block import ReferenceBlock
from .checks import check_block_names, check_block_weight, check_fixed_names
from .fit_section import fit_values
from .fixed import fixed_values
from .gside_sections import gside_values
from .random import random_values
from .tests_section import Refit, tests_values
from .value import Collector, EngineValue, Lazy

__all__ = [
    "EngineValue",
    "Lazy",
    "block_method",
    "block_quantities",
    "check_block_names",
    "check_block_weight",
    "check_fixed_names",
]


def block_method(case: Case, block: ReferenceBlock) -> str:
    """The block's REML/ML: its own ``options.method``, else the case's."""
    return block.options.method or case.method


def block_quantities(
    case: Case, block: ReferenceBlock, inf: Inference, *, fitter: Refit | None = None
) -> list[EngineValue]:
    """The engine's number, under the block's definitions, for every number the block prints.

    ``fitter`` fits the other models a block's tests need (a likelihood-ratio test's other model, ML
    refits): the run's engine, so nothing is fitted by another program than the one the run names.
    """
    if block.options.at and not (block.section("lsmeans") or block.section("diffs")):
        raise NotImplementedOption(
            "options.at (SAS's LSMEANS AT) without an lsmeans or diffs section",
            hint="options.at sets the covariates of the block's LS-means and their differences",
        )
    out = Collector(block)
    fixed_values(out, inf, Lazy(lambda: block_spec(case, block.index)))
    random_values(out, inf)
    tests_values(out, case, inf, fitter)
    gside_values(out, case, inf)
    fit_values(out, inf, block_method(case, block))
    return out.values
