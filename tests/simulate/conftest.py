"""Fixtures for the simulation tests: one BLAS thread, the shipped studies, lme4 when present."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUDIES = ROOT / "studies"


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small fits are many times faster with one BLAS thread; the count is restored afterwards."""
    from replicate.simulate.blas import single_threaded_blas

    with single_threaded_blas():
        yield


@pytest.fixture(autouse=True)
def _quiet_engine_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="session")
def lme4_engine():
    """replicate's lme4 engine (rpy2 + R + lme4), or skip; under REPLICATE_REQUIRE_R=1 a missing R fails."""
    try:
        from replicate.engines import get_engine

        eng = get_engine("lme4")
    except Exception as exc:  # noqa: BLE001 - any failure to load R means: no R
        reason = f"R / rpy2 / lme4 not available: {type(exc).__name__}: {exc}"
        if os.environ.get("REPLICATE_REQUIRE_R") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return eng


def tiny_study(**over) -> dict:
    """A study that runs in a second or two: 8 groups of 6, REML, two df methods."""
    doc = {
        "id": "tiny",
        "seed": 99,
        "replicates": 12,
        "chunk_size": 4,
        "design": {"groups": 8, "group_size": 6, "predictors": {"x": {"level": 1}, "w": {"level": 2}}},
        "truth": {"fixed": {"(Intercept)": 1.0, "x": 0.5, "w": 0.0}, "icc": 0.3},
        "methods": {"estimation": ["REML"], "df": ["residual", "kenward-roger"], "se": ["model"]},
    }
    for k, v in over.items():
        doc[k] = v
    return doc


@pytest.fixture
def tiny():
    """A function making the tiny study's document, with top-level keys overridden."""
    return tiny_study
