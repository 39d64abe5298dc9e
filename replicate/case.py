"""Case files: YAML -> validated :class:`Case`.

YAML is loaded with a safe loader (no tags that build Python objects), every
node's line is remembered, and the document is validated against the JSON
Schema shipped in ``replicate/schema/case.schema.json``. Every error names the
file, the line and the field, and what is allowed there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .case_printout import read_regular_text, values_from_printout
from .case_schema import validate_document
from .case_yaml import Path_, dotted, load_yaml
from .errors import CaseError, ReplicateError
from .reference_block import ReferenceBlock


@dataclass(frozen=True)
class Case:
    """A validated case file.

    Attributes:
        id, title, description, source: as in the file.
        path: the file it was read from.
        raw: the document as plain Python data (numbers in ``expected`` are
            :class:`Printed`).
        lines: field path (tuple of keys/indices) -> line number in the file.
    """

    id: str
    title: str
    description: str
    source: str
    path: Path
    raw: dict[str, Any]
    lines: dict[Path_, int] = field(default_factory=dict, repr=False)

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.raw["data"]
        return data

    @property
    def model(self) -> dict[str, Any]:
        model: dict[str, Any] = self.raw["model"]
        return model

    @property
    def method(self) -> str:
        return str(self.model.get("method", "REML"))

    @property
    def expected(self) -> list[dict[str, Any]]:
        """The reference blocks as the file holds them (for tools that edit case files)."""
        blocks: list[dict[str, Any]] = self.raw.get("expected", [])
        return blocks

    @property
    def blocks(self) -> tuple[ReferenceBlock, ...]:
        """The reference blocks, typed (made from the document each time, so they never go stale)."""
        return tuple(ReferenceBlock.of(i, b) for i, b in enumerate(self.expected))

    @property
    def tags(self) -> list[str]:
        return list(self.raw.get("tags", []))

    def line_of(self, *path: Any) -> int | None:
        """Line of the deepest known node along ``path``."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), None)

    def block_label(self, i: int) -> str:
        return self.blocks[i].label

    def error(
        self, exc_type: type[ReplicateError], message: str, *path: Any, hint: str | None = None
    ) -> ReplicateError:
        return exc_type(message, file=str(self.path), line=self.line_of(*path), field=dotted(path) or None, hint=hint)


def load_case(path: str | Path) -> Case:
    """Read, parse and validate one case file.

    Raises:
        CaseError: the file cannot be read, is not valid YAML, or does not
            follow the case schema.
    """
    p = Path(path)
    file = str(p)
    try:
        text = read_regular_text(p)
    except FileNotFoundError:
        raise CaseError("case file not found", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(f"cannot read case file: {exc}", file=file) from None
    data, lines = load_yaml(text, file)
    validate_document(data, lines, file)
    for i, blk in enumerate(data.get("expected", [])):
        if "printout" in blk:
            blk["values"] = values_from_printout(p, blk, lines.get(("expected", i, "printout")), i)
    return Case(
        id=str(data["id"]),
        title=str(data["title"]),
        description=str(data.get("description", "")).strip(),
        source=str(data.get("source", "")).strip(),
        path=p,
        raw=data,
        lines=lines,
    )


#: Largest case file or printout read (a case is a few kilobytes; a printout a few hundred).
def find_case_files(paths: Sequence[str | Path]) -> list[Path]:
    """Expand files and folders into the sorted list of ``*.yaml`` case files."""
    out: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            out.extend(
                sorted(
                    q
                    for q in p.rglob("*.y*ml")
                    if q.suffix in (".yaml", ".yml") and "data" not in q.relative_to(p).parts[:-1]
                )
            )
        else:
            out.append(p)
    seen: dict[Path, None] = {}
    for q in out:
        seen.setdefault(q, None)
    return list(seen)
