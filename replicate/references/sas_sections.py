"""What the SAS table readers share: the state of one listing, the one-table-per-step rule, a table's rows.

A listing is read table by table (:mod:`replicate.references.sas_descriptive`,
:mod:`replicate.references.sas_estimates`); what one table tells another (the
subjects named under the covariance parameters, the number of subjects in
Dimensions) travels in :class:`SasState`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ReferenceError_
from ..printed import Printed
from .numbers import Line, Section
from .printout import Builder
from .sas_columns import table_rows

# SAS numbers its tests' types both ways (MIXED: "Type 3", GLIMMIX: "Type III").
TYPE = {"1": "I", "2": "II", "3": "III", "I": "I", "II": "II", "III": "III"}


@dataclass
class SasState:
    """What the tables of one listing tell each other.

    Attributes:
        subjects: the SUBJECT effects of the covariance parameters, in order.
        n_subjects: ``Subjects`` in the Dimensions table.
        seen: the line of each table read so far (by :func:`once_key`).
    """

    subjects: list[str] = field(default_factory=list)
    n_subjects: Printed | None = None
    seen: dict[str, int] = field(default_factory=dict)


def once_key(sec: Section) -> str:
    """The name under which a table may appear once per PROC step (each type of tests its own)."""
    return sec.kind if sec.kind != "tests" else f"tests {TYPE[sec.match.group('type').upper()]}"


def once(sec: Section, state: SasState) -> None:
    """Refuse a second table of a kind in one listing.

    Raises:
        ReferenceError_: naming both tables' lines.
    """
    key = once_key(sec)
    if key in state.seen:
        raise ReferenceError_(
            f"the text holds more than one '{sec.title.stripped}' table (line {sec.title.no}; the first at "
            f"line {state.seen[key]})",
            line=sec.title.no,
            hint="paste the output of one PROC step per file, or use parse_printouts()",
        )
    state.seen[key] = sec.title.no


def read_rows(sec: Section, b: Builder) -> tuple[list[str], list[tuple[Line, list[str]]]]:
    """(header lines, [(line, tokens)]) of a table (see :func:`replicate.references.sas_columns.table_rows`).

    Every line skipped between the rows is reported with the reason.
    """
    header, found, skipped = table_rows(sec.body)
    for ln, why in skipped:
        b.skip(ln, why)
    return header, found


def joined(header: list[str]) -> str:
    """A header's lines as one line."""
    return " ".join(h.strip() for h in header)
