"""Shared fixtures: the shipped datasets, and case-file builders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests import rsupport
from tests.rsupport import shared_data_dir

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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    rsupport.CURRENT_TEST = item  # need_r / require_engine check that the test carries the r marker
    if "ro" in getattr(item, "fixturenames", ()):  # the R session fixture is set up once, for the first test
        rsupport.check_marker()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    rsupport.CURRENT_TEST = None
