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


def _condition(grid, label: str):
    return next(c for c in grid.conditions if c.label == label)


def _run(cond, R: int, tmp_path, df, se):
    study = dataclasses.replace(cond.study.with_replicates(R), methods=Methods(("REML",), df, se))
    return run_study(study, tmp_path, executor="serial", write_reports=False).summary, study.alpha


def _band(alpha: float, R: int) -> float:
    """Three Monte Carlo SEs of a rejection rate at the nominal level."""
    return 3 * math.sqrt(alpha * (1 - alpha) / R)


def test_small_j_claim_residual_df_and_z_over_reject_where_satterthwaite_keeps_the_level(tmp_path):
    """Four schools of 20, ICC 0.3, the true model: the test of the school-level w.

    The 1000-replicate run (studies/results/small-j-df.md) gives residual df 16.5 %, z 16.7 %, Satterthwaite
    5.6 %, Kenward-Roger 1.5 % (conservative with four schools). With R = 300 a rate is tested against
    0.05 +- 3 MCSE(0.05) = [1.2 %, 8.8 %]: the chance that a true 16.5 % falls below 8.8 % is below 1e-5
    (binomial), and that a true 5.6 % falls outside the band about 0.3 %; a residual-df test rejecting
    exactly 5 % fails the first claim with probability 0.9987.
    """
    grid = load_grid(SMALL_J)
    cond = _condition(grid, "groups=4, mean=20, cv=0, icc=0.3, random_slopes=['x']")
    R = 300
    s, alpha = _run(
        cond, R, tmp_path, ("residual", "none", "satterthwaite", "kenward-roger"), ("model", "kenward-roger")
    )
    band = _band(alpha, R)
    for df in ("residual", "none"):
        assert s.test("REML", df, "model", "w")["rejection"] > alpha + band, df
    assert abs(s.test("REML", "satterthwaite", "model", "w")["rejection"] - alpha) < band
    assert s.test("REML", "kenward-roger", "kenward-roger", "w")["rejection"] < alpha + band


def test_small_j_claim_a_left_out_random_slope_inflates_the_cross_level_test_but_not_cr2(tmp_path):
    """Ten schools of 20, ICC 0.1, the data with a random slope of x (variance 0.1): the test of x:w.

    Fitted without the slope, every model-based test over-rejects (its SE ignores the slope variance;
    the 1000-replicate run: Kenward-Roger 28.5 %, Satterthwaite 29.3 %) while the cluster-robust CR2 SE with
    its Satterthwaite df keeps the level (3.9 %); fitted with the slope, Kenward-Roger keeps it too (4.2 %).
    With R = 200 the band is 0.05 +- 4.6 points: a true 28 % falls below 9.6 % with probability < 1e-8.
    """
    grid = load_grid(SMALL_J)
    R = 200
    wrong = _condition(grid, "groups=10, mean=20, cv=0, icc=0.1, random_slopes=[]")
    right = _condition(grid, "groups=10, mean=20, cv=0, icc=0.1, random_slopes=['x']")
    methods = (("satterthwaite", "kenward-roger", "cr2-satterthwaite"), ("model", "kenward-roger", "cr2"))
    s_wrong, alpha = _run(wrong, R, tmp_path / "wrong", *methods)
    s_right, _ = _run(right, R, tmp_path / "right", *methods)
    band = _band(alpha, R)
    assert s_wrong.test("REML", "kenward-roger", "kenward-roger", "x:w")["rejection"] > alpha + band
    assert s_wrong.test("REML", "satterthwaite", "model", "x:w")["rejection"] > alpha + band
    assert abs(s_wrong.test("REML", "cr2-satterthwaite", "cr2", "x:w")["rejection"] - alpha) < band
    assert abs(s_right.test("REML", "kenward-roger", "kenward-roger", "x:w")["rejection"] - alpha) < band
