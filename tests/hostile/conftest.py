"""Fixtures of the hostile-input and fault-injection tests: small cases that run in a second."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.hostile_cases import dyestuff_copy


@pytest.fixture
def small_cases(tmp_path: Path, data_dir: Path) -> Path:
    """A folder of three small cases (copies of Dyestuff with their own ids)."""
    d = tmp_path / "cases"
    d.mkdir()
    for s in ("a", "b", "c"):
        dyestuff_copy(d, s)
    return d
