"""docs/case-format.md is the schema's complete reference, and is current (issue #18)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from replicate.schema_doc import load_schema, render, sections

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "case-format.md"


def _keys(node: Any) -> Iterator[str]:
    """Every property name anywhere in the schema."""
    if isinstance(node, Mapping):
        for key, sub in node.get("properties", {}).items():
            yield key
            yield from _keys(sub)
        for key, sub in node.items():
            if key != "properties":
                yield from _keys(sub)
    elif isinstance(node, list):
        for sub in node:
            yield from _keys(sub)


def test_the_reference_is_current() -> None:
    expected = render(cases=REPO / "cases")
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/case-format.md is stale: python -m replicate.schema_doc > docs/case-format.md"
    )


def test_every_key_of_the_schema_is_documented() -> None:
    schema = load_schema()
    documented = {r.path.rsplit(".", 1)[-1].removesuffix("[]") for _, _, rows in sections(schema) for r in rows}
    missing = set(_keys(schema)) - documented
    assert not missing, f"keys of the schema with no row in the reference: {sorted(missing)}"


def test_required_keys_and_enums_are_shown() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "| `software` | one of | yes |" in text  # a block's required software, with its allowed names
    assert "`kenward-roger-2`" in text and "`cr2-satterthwaite`" in text
    assert "| `source` | string | yes |" in text  # a block's source is required


def test_an_undocumented_key_would_be_caught() -> None:
    schema = load_schema()
    schema["$defs"]["model"]["properties"]["brand_new_key"] = {"type": "string"}
    documented = {r.path.rsplit(".", 1)[-1] for _, _, rows in sections(schema) for r in rows}
    assert "brand_new_key" in documented  # the generator picks up a new key, so the stale test fails until rerun
    assert "brand_new_key" not in DOC.read_text(encoding="utf-8")
