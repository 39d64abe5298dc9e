"""A native fit runs with one BLAS thread by default and restores the setting afterwards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info

import replicate.engines.native as engine_pkg
from replicate.design import build_design
from replicate.engine.threads import ENV, fit_threads
from replicate.engines.native import NativeEngine
from replicate.errors import ModelError
from replicate.spec import parse_formula


def _blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


@pytest.fixture
def design():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(8), 6)
    df = pd.DataFrame({"y": rng.normal(size=g.size) + rng.normal(size=8)[g], "x": rng.normal(size=g.size), "g": g})
    return build_design(parse_formula("y ~ x + (1 | g)"), df)


def _threads_seen_during_fit(design, monkeypatch) -> list[int]:
    seen: list[int] = []
    real = engine_pkg.fit_design

    def spy(d, method):
        seen.extend(_blas_threads())
        return real(d, method)

    monkeypatch.setattr(engine_pkg, "fit_design", spy)
    NativeEngine().fit(design, "REML")
    return seen


def test_fit_uses_one_thread_and_restores_the_setting(design, monkeypatch):
    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    monkeypatch.delenv(ENV, raising=False)
    before = _blas_threads()
    seen = _threads_seen_during_fit(design, monkeypatch)
    assert seen and set(seen) == {1}
    assert _blas_threads() == before


def test_the_environment_sets_the_count(design, monkeypatch):
    if not _blas_threads():
        pytest.skip("no BLAS library that threadpoolctl can see")
    monkeypatch.setenv(ENV, "auto")
    before = _blas_threads()
    assert _threads_seen_during_fit(design, monkeypatch) == before
    monkeypatch.setenv(ENV, "3")
    assert fit_threads() == 3


@pytest.mark.parametrize("bad", ["0", "-2", "many", "1.5"])
def test_a_bad_count_is_refused_by_name(bad, monkeypatch):
    monkeypatch.setenv(ENV, bad)
    with pytest.raises(ModelError, match=ENV):
        fit_threads()
