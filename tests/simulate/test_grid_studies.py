"""The shipped grid studies (studies/grids/*.yaml): valid, runnable with a few replicates, and their claims hold."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from replicate.simulate import run_study
from replicate.simulate.config import Methods
from replicate.simulate.grid import load_grid
from replicate.simulate.grid_run import run_grid

GRIDS = Path(__file__).resolve().parents[2] / "studies" / "grids"
SMALL_GROUPS = GRIDS / "small-groups-df.yaml"


@pytest.mark.parametrize("path", sorted(GRIDS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_grids_are_valid_and_each_condition_round_trips(path):
    grid = load_grid(path)
    assert len(grid.conditions) >= 2 and grid.factors
    assert all(c.study.replicates >= 400 for c in grid.conditions)
    assert len({c.study.fingerprint() for c in grid.conditions}) == len(grid.conditions)
    for c in grid.conditions:
        assert load_grid(c.study.to_dict()).conditions[0].study.fingerprint() == c.study.fingerprint()


def test_the_small_groups_grid_runs_every_method_in_every_condition(tmp_path):
    grid = load_grid(SMALL_GROUPS)
    few = dataclasses.replace(
        grid, conditions=tuple(dataclasses.replace(c, study=c.study.with_replicates(3)) for c in grid.conditions)
    )
    res = run_grid(few, tmp_path, executor="serial", write_reports=False)
    methods = grid.conditions[0].study.methods
    per_condition = len(methods.df) * len(methods.se) * len(grid.conditions[0].study.coefficients)
    assert len(res.tests) == per_condition * len(grid.conditions)
    assert all(f["fitted"] == 3 for f in res.fits)
    assert all(t["n"] == 3 and not math.isnan(t["median_df"]) for t in res.tests)


def test_residual_df_over_rejects_where_between_within_keeps_the_level_at_six_schools(tmp_path):
    """The claim the grid is built to show, at one condition with enough replicates to see it.

    With the same SE, a test with more df rejects whenever one with fewer does, so the
    difference in rejection rates is the share of replicates where only the residual-df
    test rejects; its Monte Carlo SE is that of a proportion.
    """
    grid = load_grid(SMALL_GROUPS)
    cond = next(c for c in grid.conditions if c.label == "groups=6, icc=0.3")
    R = 400
    study = dataclasses.replace(
        cond.study.with_replicates(R), methods=Methods(("REML",), ("residual", "between-within"), ("model",))
    )
    s = run_study(study, tmp_path, executor="serial", write_reports=False).summary
    residual = s.test("REML", "residual", "model", "w")
    bw = s.test("REML", "between-within", "model", "w")
    assert residual["n"] == bw["n"] == R
    d = residual["rejection"] - bw["rejection"]
    assert d > 3 * math.sqrt(d * (1 - d) / R)  # residual df rejects more, beyond Monte Carlo error
    assert abs(bw["rejection"] - study.alpha) < 3 * math.sqrt(study.alpha * (1 - study.alpha) / R)
    assert residual["rejection"] > study.alpha + 3 * math.sqrt(study.alpha * (1 - study.alpha) / R)


SMALL_J = GRIDS / "small-j-df.yaml"


def test_the_112_condition_grid_has_its_factors_and_a_ci_twin_runs_on_a_dask_local_cluster(tmp_path):
    """The shipped 100+ condition grid, and its CI-size twin (corner conditions, 2 replicates each) on Dask,
    equal to the same twin run in this process."""
    distributed = pytest.importorskip("distributed")
    grid = load_grid(SMALL_J)
    assert len(grid.conditions) == 112 and all(c.study.replicates == 1000 for c in grid.conditions)
    assert {c.study.misspecified for c in grid.conditions} == {True, False}
    assert {c.study.design.sizes.cv for c in grid.conditions} == {0.0, 0.6}
    picked = [grid.conditions[k] for k in (0, 1, 110, 111)]  # 4 schools and 30, with and without the slope
    twin = dataclasses.replace(
        grid, conditions=tuple(dataclasses.replace(c, study=c.study.with_replicates(2)) for c in picked)
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        on_dask = run_grid(twin, tmp_path / "dask", executor="dask", scheduler=cluster, write_reports=False)
    here = run_grid(twin, tmp_path / "serial", executor="serial", write_reports=False)
    assert all(f["fitted"] == 2 for f in on_dask.fits)
    methods = picked[0].study.methods
    assert len(on_dask.tests) == 4 * len(methods.df) * len(methods.se) * len(picked[0].study.coefficients)
    for a, b in zip(on_dask.tests, here.tests, strict=True):
        assert a.keys() == b.keys()
        for key, v in a.items():
            assert v == (pytest.approx(b[key], rel=1e-9, nan_ok=True) if isinstance(v, float) else b[key])
