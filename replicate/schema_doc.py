"""The case format's reference, generated from its JSON Schema: every key, its type, whether it is
required, what it allows, what it means, and an example from a shipped case.

`docs/case-format.md` is this module's output (``python -m replicate.schema_doc > docs/case-format.md``);
``tests/test_schema_doc.py`` fails when the file is stale or a key of the schema is missing from it, so the
documentation can never drift from what the loader accepts.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCHEMA = Path(__file__).with_name("schema") / "case.schema.json"
ROOT = "case"


@dataclass(frozen=True)
class Row:
    """One key of the format: where it sits (``options.df``), its type, its rules and an example."""

    path: str
    type: str
    required: bool
    allowed: str
    description: str


def load_schema() -> dict[str, Any]:
    return dict(json.loads(SCHEMA.read_text(encoding="utf-8")))


def _ref_name(node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    return str(ref).rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _type(node: Mapping[str, Any]) -> str:
    ref = _ref_name(node)
    if ref:
        return f"[{ref}](#{ref.lower()})"
    for key in ("oneOf", "anyOf"):
        if key in node:
            return " or ".join(dict.fromkeys(_type(n) for n in node[key]))
    if "enum" in node:
        return "one of"
    t = node.get("type")
    if isinstance(t, list):
        return " or ".join(str(x) for x in t)
    if t == "array":
        return f"list of {_type(node.get('items', {}))}"
    if t == "object" and isinstance(node.get("additionalProperties"), dict) and "properties" not in node:
        return f"mapping of {_type(node['additionalProperties'])}"
    return str(t or "any")


def _allowed(node: Mapping[str, Any]) -> str:
    parts = []
    if "enum" in node:
        parts.append(", ".join(f"`{v}`" for v in node["enum"]))
    if "pattern" in node:
        parts.append(f"matches `{node['pattern']}`")
    for key, word in (("minimum", ">="), ("maximum", "<="), ("minLength", "length >="), ("minItems", "items >=")):
        if key in node:
            parts.append(f"{word} {node[key]}")
    if "maxItems" in node:
        parts.append(f"items <= {node['maxItems']}")
    return "; ".join(parts)


def _rows(node: Mapping[str, Any], prefix: str) -> Iterator[Row]:
    """The keys under an object node (not following $refs: each definition has its own table); for a node
    that is one of several forms (a number, or a mapping with its own tolerance), the keys of each form."""
    for key in ("oneOf", "anyOf"):
        for alt in node.get(key, []):
            if "properties" in alt:
                yield from _rows(alt, prefix)
    required = set(node.get("required", []))
    for key, sub in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        yield Row(path, _type(sub), key in required, _allowed(sub), str(sub.get("description", "")))
        if _ref_name(sub) is None and sub.get("type") == "object" and "properties" in sub:
            yield from _rows(sub, path + ".")
        extra = sub.get("additionalProperties")
        if _ref_name(sub) is None and isinstance(extra, dict) and "properties" in extra:
            yield from _rows(extra, path + ".<name>.")
        elif _ref_name(sub) is None and isinstance(extra, dict) and isinstance(extra.get("additionalProperties"), dict):
            inner = extra["additionalProperties"]  # two levels of names (an LS-mean's effect, then its level)
            if "properties" in inner:
                yield from _rows(inner, path + ".<name>.<name>.")
        items = sub.get("items")
        if isinstance(items, dict) and _ref_name(items) is None and "properties" in items:
            yield from _rows(items, path + "[].")


def sections(schema: Mapping[str, Any]) -> list[tuple[str, str, list[Row]]]:
    """(name, description, rows): the case itself first, then each definition it refers to."""
    out = [(ROOT, str(schema.get("description", "")), list(_rows(schema, "")))]
    for name, node in schema.get("$defs", {}).items():
        out.append((name, str(node.get("description", "")), list(_rows(node, ""))))
    return out


def _walk(
    doc: Any, node: Mapping[str, Any], where: tuple[str, str], defs: Mapping[str, Any], out: dict[Any, list[Any]]
) -> None:
    """Record every value of each (section, path) met in a case document."""
    ref = _ref_name(node)
    if ref is not None:
        _walk(doc, defs[ref], (ref, ""), defs, out)
        return
    section, path = where
    if isinstance(doc, dict) and "properties" in node:
        for key, value in doc.items():
            sub = node["properties"].get(key)
            if sub is None:
                continue
            here = f"{path}{key}"
            out.setdefault((section, here), []).append(value)
            _walk(value, sub, (section, here + "."), defs, out)
    elif isinstance(doc, list) and isinstance(node.get("items"), dict):
        for value in doc:
            _walk(value, node["items"], (section, path.rstrip(".") + "[]."), defs, out)
    elif isinstance(doc, dict) and isinstance(node.get("additionalProperties"), dict):
        for value in doc.values():
            _walk(value, node["additionalProperties"], (section, path + "<name>."), defs, out)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def examples(schema: Mapping[str, Any], cases: Path) -> dict[tuple[str, str], Any]:
    """(section, path) -> the shortest value the shipped cases give it (a typical one, short enough to show)."""
    found: dict[tuple[str, str], list[Any]] = {}
    for f in sorted(cases.glob("*.yaml")):
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        _walk(doc, schema, (ROOT, ""), schema.get("$defs", {}), found)
    return {k: min(v, key=lambda x: (len(_text(x)), _text(x))) for k, v in found.items() if v}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _example(value: Any) -> str:
    if value is None:
        return ""
    text = _text(value)
    return f"`{_cell(text)}`" if len(text) <= 70 else ""


def render(schema: Mapping[str, Any] | None = None, cases: Path | None = None) -> str:
    """The reference as Markdown."""
    schema = schema or load_schema()
    ex = examples(schema, cases) if cases is not None else {}
    lines = [
        "# The case format, key by key",
        "",
        "Generated from `replicate/schema/case.schema.json` by `python -m replicate.schema_doc` (examples from",
        "the shipped cases); `tests/test_schema_doc.py` fails when this file is stale. The README's \"The case",
        'format" section explains the format in prose; this is the complete list.',
    ]
    for name, description, rows in sections(schema):
        if not rows:
            continue
        lines += ["", f"## {name}", ""]
        if description:
            lines += [_cell(description), ""]
        lines += ["| key | type | required | allowed | meaning | example |", "|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(
                f"| `{r.path}` | {_cell(r.type)} | {'yes' if r.required else ''} | {_cell(r.allowed)} | "
                f"{_cell(r.description)} | {_example(ex.get((name, r.path)))} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    cases = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("cases")
    sys.stdout.write(render(cases=cases if cases.is_dir() else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
