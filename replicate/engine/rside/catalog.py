"""Structure names (mmrm's, SAS's TYPE=, a few aliases) -> structure classes."""

from __future__ import annotations

import numpy as np

from ...errors import ModelError
from .hetero import AnteDependence, Diagonal, HeteroAutoRegressive, HeteroCompoundSymmetry, HeteroToeplitz
from .spatial import SpatialExponential
from .structures import AutoRegressive, CompoundSymmetry, Homogeneous, Structure, StructureName, Toeplitz, Unstructured

CLASSES: dict[StructureName, type[Structure]] = {
    StructureName.UN: Unstructured,
    StructureName.CS: CompoundSymmetry,
    StructureName.CSH: HeteroCompoundSymmetry,
    StructureName.AR1: AutoRegressive,
    StructureName.ARH1: HeteroAutoRegressive,
    StructureName.TOEP: Toeplitz,
    StructureName.TOEPH: HeteroToeplitz,
    StructureName.SP_EXP: SpatialExponential,
    StructureName.DIAG: Diagonal,
    StructureName.VC: Homogeneous,
    StructureName.ANTE1: AnteDependence,
}

SPATIAL = frozenset({StructureName.SP_EXP})

ALIASES = {
    "un": StructureName.UN,
    "ar(1)": StructureName.AR1,
    "arh(1)": StructureName.ARH1,
    "un(1)": StructureName.DIAG,
    "ante(1)": StructureName.ANTE1,
    "sp(exp)": StructureName.SP_EXP,
    "exp": StructureName.SP_EXP,
    "id": StructureName.VC,
}


def structure_name(text: str | StructureName) -> StructureName:
    """The :class:`StructureName` of ``text`` (mmrm's name or SAS's TYPE=, any case)."""
    if isinstance(text, StructureName):
        return text
    key = str(text).strip().lower()
    try:
        return ALIASES.get(key) or StructureName(key)
    except ValueError:
        known = sorted({s.value for s in StructureName} | set(ALIASES))
        raise ModelError(
            f"residual structure {text!r} is not implemented", field="structure", hint="one of: " + ", ".join(known)
        ) from None


def make_structure(name: str | StructureName, k: int, coords: np.ndarray | None = None) -> Structure:
    """The structure ``name`` over ``k`` visits (``coords``: the visits' time values, for SP(EXP))."""
    key = structure_name(name)
    if key is StructureName.SP_EXP:
        return SpatialExponential(k, coords)
    return CLASSES[key](k)
