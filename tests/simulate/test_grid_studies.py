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
