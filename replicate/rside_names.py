"""Names of the residual covariance structures: mmrm's, SAS's TYPE= and a few aliases (issue #16).

The vocabulary lives here, below the model-building stage, so that the formula syntax
(:mod:`replicate.rside_syntax`) can check a name without importing the engine, and the engine
(:mod:`replicate.engine.rside`) can use the same names.
"""

from __future__ import annotations

import enum

from .errors import ModelError


class StructureName(str, enum.Enum):
    """Structure names, as mmrm spells them (SAS TYPE= in :data:`SAS_TYPE`)."""

    UN = "us"
    CS = "cs"
    CSH = "csh"
    AR1 = "ar1"
    ARH1 = "ar1h"
    TOEP = "toep"
    TOEP2 = "toep2"  # SAS's banded TOEP(2); mmrm has no such structure
    TOEPH = "toeph"
    DIAG = "diag"
    VC = "vc"
    AD = "ad"
    ANTE1 = "adh"
    SP_EXP = "sp_exp"
    SP_GAU = "sp_gau"
    SP_POW = "sp_pow"


SAS_TYPE: dict[StructureName, str] = {
    StructureName.UN: "UN",
    StructureName.CS: "CS",
    StructureName.CSH: "CSH",
    StructureName.AR1: "AR(1)",
    StructureName.ARH1: "ARH(1)",
    StructureName.TOEP: "TOEP",
    StructureName.TOEP2: "TOEP(2)",
    StructureName.TOEPH: "TOEPH",
    StructureName.DIAG: "UN(1)",
    StructureName.VC: "VC",
    StructureName.AD: "AD (mmrm; no SAS TYPE=)",
    StructureName.ANTE1: "ANTE(1)",
    StructureName.SP_EXP: "SP(EXP)",
    StructureName.SP_GAU: "SP(GAU)",
    StructureName.SP_POW: "SP(POW)",
}

#: Structures whose "visits" are points in one or more continuous coordinates.
SPATIAL = frozenset({StructureName.SP_EXP, StructureName.SP_GAU, StructureName.SP_POW})

#: Other spellings (lower case) of the names above: SAS's TYPE= and nlme-like short names.
ALIASES: dict[str, StructureName] = {
    "un": StructureName.UN,
    "ar(1)": StructureName.AR1,
    "arh(1)": StructureName.ARH1,
    "un(1)": StructureName.DIAG,
    "toep(2)": StructureName.TOEP2,
    "ante(1)": StructureName.ANTE1,
    "sp(exp)": StructureName.SP_EXP,
    "sp(gau)": StructureName.SP_GAU,
    "sp(pow)": StructureName.SP_POW,
    "exp": StructureName.SP_EXP,
    "id": StructureName.VC,
}


def known_names() -> list[str]:
    """Every accepted spelling, sorted (for error hints)."""
    return sorted({s.value for s in StructureName} | set(ALIASES))


def structure_name(text: str | StructureName, *, field: str | None = "structure") -> StructureName:
    """The :class:`StructureName` of ``text`` (mmrm's name or SAS's TYPE=, any case).

    Raises:
        ModelError: ``text`` names no implemented structure (the error names ``field``).
    """
    if isinstance(text, StructureName):
        return text
    key = str(text).strip().lower().replace(" ", "")
    if key in ALIASES:
        return ALIASES[key]
    try:
        return StructureName(key)
    except ValueError:
        raise ModelError(
            f"residual structure {text!r} is not implemented", field=field, hint="one of: " + ", ".join(known_names())
        ) from None
