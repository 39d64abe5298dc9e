"""Small case files for the hostile-input tests (a module, not conftest, so tests can import it)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dyestuff_copy(folder: Path, suffix: str, *, label: str | None = None) -> Path:
    """The shipped Dyestuff case (30 rows) under the id ``dyestuff-<suffix>``."""
    text = (ROOT / "cases" / "dyestuff.yaml").read_text(encoding="utf-8")
    text = text.replace("id: dyestuff\n", f"id: dyestuff-{suffix}\n", 1)
    if label is not None:
        text = text.replace("  - label: lme4-live\n", f"  - label: {label}\n", 1)
    path = folder / f"dyestuff-{suffix}.yaml"
    path.write_text(text, encoding="utf-8")
    return path
