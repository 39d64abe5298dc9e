"""Fixtures for the native engine tests: an R session with lme4 through rpy2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rbridge import require_r


@pytest.fixture(scope="session")
def ro():
    """rpy2's ``robjects`` with lme4 loaded (skips, or fails under REPLICATE_REQUIRE_R=1)."""
    return require_r()
