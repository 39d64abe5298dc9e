"""A case's ESTIMATE and CONTRAST statements (``model.estimate``, ``model.contrast``), read with the file's lines.

Each maps a label, as the program prints it, to the statement's text (see :mod:`replicate.sas_statement`);
a reference block's ``estimates`` and ``contrasts`` sections give the printed numbers by the same labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .case import Case
from .errors import CaseError, ModelError, NotImplementedOption
from .reference_block import ReferenceBlock
from .sas_statement import Statement, parse_statement

#: The case's model key -> the block section that prints its rows.
KINDS = {"estimate": "estimates", "contrast": "contrasts"}


@dataclass(frozen=True)
class Statements:
    """The case's statements by label."""

    estimate: dict[str, Statement] = field(default_factory=dict)
    contrast: dict[str, Statement] = field(default_factory=dict)


def case_statements(case: Case) -> Statements:
    """Read ``model.estimate`` and ``model.contrast``.

    Raises:
        CaseError: a statement's text is not of SAS's form (the file, line and field named).
        NotImplementedOption: a part of SAS's syntax that is not read (named, with the file and line).
    """
    out = Statements()
    for kind in KINDS:
        for label, text in dict(case.model.get(kind) or {}).items():
            try:
                getattr(out, kind)[str(label)] = parse_statement(text, kind)
            except (ModelError, NotImplementedOption) as exc:
                exc_type = NotImplementedOption if isinstance(exc, NotImplementedOption) else CaseError
                raise case.error(exc_type, exc.message, "model", kind, label, hint=exc.hint) from None
    return out


def check_sections(case: Case, statements: Statements, blocks: Sequence[ReferenceBlock] | None = None) -> None:
    """Every label a block's ``estimates`` / ``contrasts`` section prints (of ``blocks``, by default all the
    case's) must be a statement of the case.

    Raises:
        CaseError: naming the block, the label and the case's statements.
    """
    for block in case.blocks if blocks is None else blocks:
        for kind, section in KINDS.items():
            known = getattr(statements, kind)
            for label in block.section(section):
                if str(label) not in known:
                    raise case.error(
                        CaseError,
                        f"reference block {block.label!r} prints {kind} {label!r}, which model.{kind} does not define",
                        *("expected", block.index, "values", section, label),
                        hint=f"define it under model.{kind} (label: SAS's text after the label), or fix the label; "
                        + (f"defined: {', '.join(known)}" if known else "none is defined"),
                    )
