"""The Comparison stage for a block: the engine's values against the printed numbers, pure.

One door in, :func:`compare_block` (the case, the block and the Quantities stage's
:class:`~replicate.quantities.EngineValue` list), one out: a :class:`~replicate.compare.ValueComparison`
per printed number, with the tolerance each value's kind, the case, the block and the value itself set,
and the block's declared definition differences applied. A declared difference that names a diagnosis
(``differences[].diagnosis``) stays a discrepancy here: :func:`confirm_declared_diagnoses`, after the
Diagnosis stage (:mod:`replicate.diagnose_declared`), explains it only if the run's own diagnosis of that value is of
the declared kind.
"""

from __future__ import annotations

from dataclasses import replace

from .case import Case
from .compare import DISCREPANCY, EXPLAINED, QUANTITY_KIND, ValueComparison, compare_value, resolve_tolerance
from .errors import CaseError
from .quantities import EngineValue
from .reference_block import ReferenceBlock


def compare_block(case: Case, block: ReferenceBlock, values: list[EngineValue]) -> list[ValueComparison]:
    """Each engine value compared with its printed number; declared differences become ``explained``."""
    case_tol = case.raw.get("tolerance") or {}
    out = []
    for v in values:
        kind = QUANTITY_KIND.get(v.quantity, "estimate")
        tol = resolve_tolerance(kind, case_tol.get(kind), block.tolerance.get(kind), dict(v.settings))
        line = case.line_of("expected", block.index, "values", *v.path)
        out.append(compare_value(v.section, v.name, v.quantity, v.printed, v.engine, tol, note=v.note, line=line))
    return apply_declared_differences(case, block, out)


def value_keys(v: ValueComparison) -> set[str]:
    """The spellings a case may use to name a compared value in ``differences``."""
    return {f"{v.section}.{v.name}.{v.quantity}", f"{v.section}.{v.name.replace(' ', '.')}.{v.quantity}"}


def apply_declared_differences(
    case: Case, block: ReferenceBlock, values: list[ValueComparison]
) -> list[ValueComparison]:
    """Discrepancies the block declares as definition differences become ``explained``.

    Raises:
        CaseError: a declared difference names no value of the block (a typo would otherwise
            silently declare nothing).
    """
    declared = {str(d["value"]): str(d["reason"]) for d in block.differences}
    if not declared:
        return values
    known = set().union(*(value_keys(v) for v in values))
    for k, d in enumerate(block.differences):
        if str(d["value"]) not in known:
            raise case.error(
                CaseError,
                f"differences names {str(d['value'])!r}, which is not a value of this block",
                *("expected", block.index, "differences", k, "value"),
                hint="name a compared value as section.name.quantity, e.g. " + ", ".join(sorted(known)[:3]),
            )
    to_diagnose = {str(d["value"]) for d in block.differences if d.get("diagnosis")}
    out = []
    for v in values:
        hit = next((declared[k] for k in value_keys(v) if k in declared and k not in to_diagnose), None)
        if hit is not None and v.verdict == DISCREPANCY:
            v = replace(v, verdict=EXPLAINED, note=f"declared difference: {hit}")
        out.append(v)
    return out
