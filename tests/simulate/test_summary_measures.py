"""ADEMP performance measures from records built by hand: the relative error of the model SE,
bias-eliminated coverage and interval width (Morris, White and Crowther 2019)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from replicate.simulate.config import load_study
from replicate.simulate.summary import summarize


def _records(estimates, ses, df):
    """Records of the tiny study (3 coefficients) where only the intercept's numbers matter."""
    out = []
    for r, (e, s) in enumerate(zip(estimates, ses, strict=True)):
        fit = {
            "ok": True,
            "converged": True,
            "singular": False,
            "estimate": [e, 0.5, 0.0],
            "vc": [0.3, 0.7],
            "se": {"model": [s, 0.1, 0.1]},
            "df": {"residual": [df, df, df]},
        }
        out.append({"r": r, "n": 48, "REML": fit})
    return out


def _study(tiny):
    return load_study(tiny(methods={"estimation": ["REML"], "df": ["residual"], "se": ["model"]}))


def test_relative_error_of_the_model_se_and_its_mcse(tiny):
    study = _study(tiny)
    est = [0.0, 1.0, 2.0, 3.0, 4.0]
    ses = [1.0, 2.0, 1.0, 2.0, 1.0]
    row = summarize(study, _records(est, ses, 40.0)).fixed_row("REML", "(Intercept)")
    emp = float(np.std(est, ddof=1))
    mod = math.sqrt(np.mean(np.square(ses)))
    R = len(est)
    expected_mcse = (mod / emp) * math.sqrt(np.var(np.square(ses), ddof=1) / (4 * R * mod**4) + 1 / (2 * (R - 1)))
    assert math.isclose(row["se_relative_error_model"], mod / emp - 1, rel_tol=1e-12)
    assert math.isclose(row["se_relative_error_model_mcse"], expected_mcse, rel_tol=1e-12)


def test_bias_eliminated_coverage_and_width_differ_from_coverage_where_they_should(tiny):
    study = _study(tiny)
    # truth of the intercept is 1.0 in the tiny study; three estimates near it, one far away
    est = [1.0, 1.0, 1.0, 11.0]
    row = summarize(study, _records(est, [1.0] * 4, 30.0)).test("REML", "residual", "model", "(Intercept)")
    crit = float(stats.t.ppf(0.975, 30.0))
    # around the truth the first three intervals cover; around the mean estimate (3.5) none do
    assert row["coverage"] == 0.75
    assert row["bias_eliminated_coverage"] == 0.0
    assert math.isclose(row["mean_width"], 2 * crit, rel_tol=1e-12) and row["mean_width_mcse"] == 0.0


def test_an_infinite_df_gives_the_normal_width(tiny):
    study = _study(tiny)
    row = summarize(study, _records([1.0, 1.2, 0.8], [0.5] * 3, 1e300)).test("REML", "residual", "model", "w")
    assert math.isclose(row["mean_width"], 2 * float(stats.norm.ppf(0.975)) * 0.1, rel_tol=1e-12)


def test_the_markdown_report_shows_the_new_measures(tmp_path, tiny):
    from replicate.simulate import run_study

    res = run_study(tiny(replicates=4, chunk_size=4), tmp_path, executor="serial")
    md = (tmp_path / "results.md").read_text(encoding="utf-8")
    assert "## Standard errors and interval width" in md
    row = res.summary.test("REML", "kenward-roger", "model", "w")
    assert f"| w | REML | kenward-roger | model | {row['mean_width']:.4f} (" in md


def test_tests_are_also_given_without_the_singular_fits(tiny):
    study = _study(tiny)
    recs = _records([1.0, 1.0, 1.0, 11.0], [1.0] * 4, 30.0)
    recs[3]["REML"]["singular"] = True  # the one far-away estimate came from a singular fit
    row = summarize(study, recs).test("REML", "residual", "model", "(Intercept)")
    assert row["n"] == 4 and row["coverage"] == 0.75
    assert row["n_nonsingular"] == 3 and row["coverage_nonsingular"] == 1.0 and row["coverage_nonsingular_mcse"] == 0
    assert row["rejection_nonsingular"] == 0.0 and row["rejection"] == 0.25
