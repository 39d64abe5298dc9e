"""Declared diagnoses checked: a value a case declares with ``differences[].diagnosis`` is explained only when the
run's own diagnosis of it is of that kind (a case's "why" is checked in every run, never taken on its word)."""

from __future__ import annotations

from dataclasses import replace

from .compare import DISCREPANCY, EXPLAINED, ValueComparison
from .comparison import value_keys
from .diagnosis import Diagnosis, key_of
from .reference_block import ReferenceBlock


def confirm_declared_diagnoses(
    block: ReferenceBlock, values: list[ValueComparison], diagnoses: list[Diagnosis]
) -> list[ValueComparison]:
    """Each value declared with ``differences[].diagnosis``: ``explained`` when a diagnosis of that kind names
    it, else still a discrepancy, with a note of what the run found instead (a case's declared why is checked,
    never taken on trust)."""
    wanted = {str(d["value"]): (str(d["diagnosis"]), str(d["reason"])) for d in block.differences if d.get("diagnosis")}
    if not wanted:
        return values
    out = []
    for v in values:
        hit = next((wanted[k] for k in value_keys(v) if k in wanted), None)
        if hit is not None and v.verdict == DISCREPANCY:
            kind, reason = hit
            found = [d for d in diagnoses if key_of(v) in d.values or "*" in d.values]
            if any(d.kind == kind for d in found):
                v = replace(v, verdict=EXPLAINED, note=f"declared and diagnosed ({kind}): {reason}")
            else:
                said = ", ".join(sorted({d.kind for d in found})) or "nothing"
                v = replace(v, note=f"declared {kind}, but the diagnosis found {said}")
        out.append(v)
    return out
