"""Fixtures of the hostile-input and fault-injection tests: small cases that run in a second."""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.fixture
def small_cases(tmp_path: Path, data_dir: Path) -> Path:
    """A folder of three small cases (copies of Dyestuff with their own ids)."""
    d = tmp_path / "cases"
    d.mkdir()
    for s in ("a", "b", "c"):
        dyestuff_copy(d, s)
    return d
