"""Structure names (mmrm's, SAS's TYPE=, a few aliases) -> structure classes."""

from __future__ import annotations

import numpy as np

from ...rside_names import SPATIAL, StructureName, structure_name
from .banded import BandedToeplitz
from .hetero import (
    AnteDependence,
    Diagonal,
    HeteroAutoRegressive,
    HeteroCompoundSymmetry,
    HeteroToeplitz,
    HomogeneousAnteDependence,
)
from .spatial import Spatial, SpatialExponential, SpatialGaussian, SpatialPower
from .structures import AutoRegressive, CompoundSymmetry, Homogeneous, Structure, Toeplitz, Unstructured

__all__ = ["CLASSES", "SPATIAL", "SPATIAL_CLASSES", "make_structure", "structure_name"]

CLASSES: dict[StructureName, type[Structure]] = {
    StructureName.UN: Unstructured,
    StructureName.CS: CompoundSymmetry,
    StructureName.CSH: HeteroCompoundSymmetry,
    StructureName.AR1: AutoRegressive,
    StructureName.ARH1: HeteroAutoRegressive,
    StructureName.TOEP: Toeplitz,
    StructureName.TOEP2: BandedToeplitz,
    StructureName.TOEPH: HeteroToeplitz,
    StructureName.DIAG: Diagonal,
    StructureName.VC: Homogeneous,
    StructureName.AD: HomogeneousAnteDependence,
    StructureName.ANTE1: AnteDependence,
}

SPATIAL_CLASSES: dict[StructureName, type[Spatial]] = {
    StructureName.SP_EXP: SpatialExponential,
    StructureName.SP_GAU: SpatialGaussian,
    StructureName.SP_POW: SpatialPower,
}


def make_structure(name: str | StructureName, k: int, coords: np.ndarray | None = None) -> Structure:
    """The structure ``name`` over ``k`` visits (``coords``: k points, k x d or k values, for SP(...))."""
    key = structure_name(name)
    if key in SPATIAL_CLASSES:
        return SPATIAL_CLASSES[key](k, coords)
    return CLASSES[key](k)
