"""Shared fixtures: where the shared data lives, and case-file builders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rsupport import shared_data_dir

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "cases"


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("shared data folder (../shared/data) not found; set REPLICATE_DATA_PATH")
    monkeypatch.setenv("REPLICATE_DATA_PATH", str(d))
    return d


@pytest.fixture
def case_dir(tmp_path: Path, data_dir: Path) -> Path:
    """A fresh copy of the shipped cases (and the raw printouts they read) in a temporary folder."""
    dst = tmp_path / "cases"
    shutil.copytree(CASES, dst, ignore=shutil.ignore_patterns("data"))
    shutil.copytree(ROOT / "reference_outputs", tmp_path / "reference_outputs")
    return dst
