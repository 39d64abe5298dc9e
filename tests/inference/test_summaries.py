"""lm's R-squared, adjusted R-squared, overall F and the residual quantiles, as R defines them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from replicate.consistency import check_block
from replicate.design import build_design
from replicate.engines import get_engine
from replicate.errors import NotImplementedOption
from replicate.inference.summaries import overall_f, r_squared, residual_quantiles
from replicate.spec import parse_formula


def _data(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 80
    df = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "g": np.repeat(np.arange(10), 8),
            "w": rng.uniform(0.5, 2.0, size=n),
        }
    )
    df["y"] = 1.0 + 0.6 * df["x"] - 0.3 * df["z"] + rng.normal(size=n)
    return df


def _fit(formula: str, df: pd.DataFrame, *, fixed_only: bool, weights: str | None = None):
    design = build_design(parse_formula(formula, fixed_only=fixed_only), df, weights=weights)
    return get_engine("native").fit(design, "REML"), design


@pytest.mark.parametrize("weights", [None, "w"])
def test_r_squared_and_f_match_weighted_least_squares(weights):
    df = _data()
    fit, design = _fit("y ~ x + z", df, fixed_only=True, weights=weights)
    w = np.ones(len(df)) if weights is None else df["w"].to_numpy()
    ols = sm.WLS(df["y"], sm.add_constant(df[["x", "z"]]), weights=w).fit()
    r2, adj = r_squared(fit, design)
    assert r2 == pytest.approx(ols.rsquared, rel=1e-9) and adj == pytest.approx(ols.rsquared_adj, rel=1e-9)
    f = overall_f(fit, design)
    assert f["statistic"] == pytest.approx(ols.fvalue, rel=1e-9) and (f["df"], f["ddf"]) == (2.0, 77.0)
    assert f["p"] == pytest.approx(ols.f_pvalue, rel=1e-7)


def test_residual_quantiles_are_rs_type_7_and_lmer_scales_them_by_sigma():
    df = _data()
    fit, design = _fit("y ~ x + z", df, fixed_only=True)
    q = residual_quantiles(fit, design, scaled=False)
    r = np.asarray(fit.residuals)
    assert q == pytest.approx(
        {"min": r.min(), "q1": np.percentile(r, 25), "median": np.median(r), "q3": np.percentile(r, 75), "max": r.max()}
    )
    mixed, mdesign = _fit("y ~ x + (1 | g)", df, fixed_only=False)
    scaled = residual_quantiles(mixed, mdesign, scaled=True)
    assert scaled["max"] == pytest.approx(np.max(mixed.residuals) / np.sqrt(mixed.sigma2))


def test_r_squared_of_a_mixed_model_is_refused_with_the_reason():
    mixed, design = _fit("y ~ x + (1 | g)", _data(), fixed_only=False)
    with pytest.raises(NotImplementedOption, match="lm's summaries; this model has random effects"):
        r_squared(mixed, design)
    with pytest.raises(NotImplementedOption, match="random effects"):
        overall_f(mixed, design)


def test_quantiles_printed_out_of_order_are_flagged(tmp_path):
    from replicate.case import load_case

    p = tmp_path / "c.yaml"
    p.write_text("""id: t
title: t
data: {unavailable: x}
model: {formula: y ~ x + (1|g)}
expected:
  - software: lme4
    source: s
    values:
      fit:
        scaled_residuals: {min: -3.1, q1: -0.74, median: 0.73, q3: -0.01, max: 2.9}
""")
    findings = check_block(load_case(p).expected[0]["values"], "REML", "lme4")
    assert [f.where for f in findings if not f.ok] == ["fit scaled_residuals q3"]
    assert sum(f.ok for f in findings) == 3
