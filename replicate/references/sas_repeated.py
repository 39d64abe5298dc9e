"""REPEATED-statement models in SAS PROC MIXED listings: the residual structure and whether SAS converged.

Model Information names the R-side covariance structure in words ("Covariance
Structure  Unstructured"); :data:`STRUCTURES` turns the printed name into the
TYPE= keyword a case's ``model.residual.type`` uses. The names are those of
the TYPE= table of the SAS/STAT User's Guide, PROC MIXED, REPEATED statement.
A name not in the table is an unparsed line with the reason, never a guess.
A listing with several structures (``Covariance Structures  Variance
Components, Autoregressive``: RANDOM and REPEATED together) does not say which
one is the REPEATED's, so it is reported, not read.

The iteration history ends with "Convergence criteria met." or a message that
SAS stopped without converging; ``model_info["converged"]`` records which.
"""

from __future__ import annotations

import re

from .numbers import Line
from .printout import Builder

# The printed name (lower case) -> SAS's TYPE= keyword.
STRUCTURES = {
    "variance components": "VC",
    "compound symmetry": "CS",
    "heterogeneous compound symmetry": "CSH",
    "unstructured": "UN",
    "autoregressive": "AR(1)",
    "heterogeneous autoregressive": "ARH(1)",
    "toeplitz": "TOEP",
    "heterogeneous toeplitz": "TOEPH",
}

_CONVERGED = re.compile(r"^Convergence criteri(?:a met|on \(.*\) satisfied)\.?\s*$", re.IGNORECASE)
_NOT_CONVERGED = re.compile(
    r"^(?:WARNING:\s*)?(?:Did not converge|Stopped because of (?:too many|infinite)\b.*|"
    r"Convergence criteria not met|Convergence criterion \(.*\) not satisfied|Iteration limit exceeded\b.*)",
    re.IGNORECASE,
)


def residual(rows: dict[str, tuple[Line, str]], b: Builder) -> None:
    """Read the R-side structure from Model Information's rows (key -> (line, value)) into
    ``model_info["residual"]`` as ``{type, subject, group, repeated}``."""
    if "Covariance Structures" in rows:
        ln, value = rows["Covariance Structures"]
        if "," in value:
            b.skip(
                ln,
                f"several covariance structures ({value}); the listing does not say which one is the REPEATED "
                "statement's, so model.residual is not read",
            )
            return
    key = "Covariance Structure" if "Covariance Structure" in rows else "Covariance Structures"
    if key not in rows:
        return
    ln, value = rows[key]
    sas_type = STRUCTURES.get(value.strip().lower())
    if sas_type is None:
        b.skip(ln, f"covariance structure {value!r} is not one this reader knows the TYPE= keyword of")
        return
    out = {"type": sas_type}
    for field, names in (
        ("subject", ("Subject Effect", "Subject Effects")),
        ("group", ("Group Effect",)),
        ("repeated", ("Repeated Effect",)),
    ):
        found = next((rows[n][1] for n in names if n in rows), None)
        if found:
            out[field] = found
    b.set_info("residual", out)


def convergence(lines: list[Line], b: Builder) -> None:
    """Record in ``model_info["converged"]`` whether the listing says SAS converged (absent when it says neither)."""
    for ln in lines:
        s = ln.stripped
        if _NOT_CONVERGED.match(s):
            b.set_info("converged", False)
            b.set_info("convergence_message", s)
            return
        if _CONVERGED.match(s):
            b.set_info("converged", True)
            return
