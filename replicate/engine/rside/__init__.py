"""Repeated measures: GLS with a residual covariance structure within subjects (engine preview, issue #16).

Public API:
    fit_residual(data, formula_fixed, structure="us", visit=..., subject=..., group=None, method="REML",
                 weights=None) -> RsideFit
    make_structure(name, k) -> Structure; StructureName; SAS_TYPE
"""

from ...rside_names import SAS_TYPE, StructureName
from .api import fit_residual
from .catalog import make_structure, structure_name
from .result import CovParm, RsideFit
from .structures import Structure

__all__ = [
    "SAS_TYPE",
    "CovParm",
    "RsideFit",
    "Structure",
    "StructureName",
    "fit_residual",
    "make_structure",
    "structure_name",
]
