"""Shared fixtures: where the shared data lives, and case-file builders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "cases"


def shared_data_dir() -> Path | None:
    """The shared data folder: from REPLICATE_DATA_PATH, or ../shared/data beside the project."""
    for item in os.environ.get("REPLICATE_DATA_PATH", "").split(os.pathsep):
        if item and (Path(item) / "classroom.csv").is_file():
            return Path(item)
    cand = ROOT.parent / "shared" / "data"
    return cand if (cand / "classroom.csv").is_file() else None


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
