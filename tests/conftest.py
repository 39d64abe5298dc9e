"""Shared fixtures: the shipped datasets, and case-file builders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rsupport import shared_data_dir

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "cases"


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The package's datasets folder; REPLICATE_DATA_PATH is cleared so nothing outside is read."""
    monkeypatch.delenv("REPLICATE_DATA_PATH", raising=False)
    return shared_data_dir()


@pytest.fixture
def case_dir(tmp_path: Path, data_dir: Path) -> Path:
    """A fresh copy of the shipped cases (and the raw printouts they read) in a temporary folder."""
    dst = tmp_path / "cases"
    shutil.copytree(CASES, dst, ignore=shutil.ignore_patterns("data"))
    shutil.copytree(ROOT / "reference_outputs", tmp_path / "reference_outputs")
    return dst
