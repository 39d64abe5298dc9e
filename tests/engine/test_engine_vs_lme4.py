"""The native engine against lme4, live through rpy2.

For every reference model and method, three comparisons:

1. the deviance function: lme4's ``devfun`` at the native optimum equals the
   native objective (the two programs compute the same function);
2. everything derived from theta (beta, vcov, VarCorr, sigma, fitted values,
   conditional modes and variances) against lme4's ``mkMerMod`` at the native
   theta, to near machine precision;
3. the fitted model against ``lmer``: at least 6 significant digits on the
   log-likelihood and 5 on fixed effects, their SEs and the variance
   components, against ``lmer`` run with tight optimizer tolerances; against
   a default ``lmer`` fit the same, except where the native optimum has a
   higher likelihood (lme4's own deviance function says so): then lme4's
   optimizer stopped early in a flat direction, and the test says so and passes.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from replicate.engine import fit_design
from tests.engine.lme4_models import MODELS
from tests.engine.rbridge import lmer_at_theta, lmer_devfun, lmer_fit, lmer_ranef

pytestmark = pytest.mark.r


CASES = [(name, meth) for name, m in MODELS.items() for meth in m.methods]


def lre(a, b) -> np.ndarray:
    """Log relative error (agreeing significant digits); absolute where |b| < 1e-8.

    Two NaNs (a correlation of a zero variance) agree.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    err = np.abs(a - b) / np.where(np.abs(b) < 1e-8, 1.0, np.abs(b))
    err = np.where(np.isnan(a) & np.isnan(b), 0.0, err)
    with np.errstate(divide="ignore"):
        return np.where(err == 0, 15.0, -np.log10(err))


def _vc_values(vc: pd.DataFrame) -> np.ndarray:
    return vc[["vcov", "sdcor"]].to_numpy(dtype=float)


def _vc_keys(vc: pd.DataFrame) -> list[tuple]:
    def s(v):
        return (
            None
            if (v is None or (isinstance(v, float) and math.isnan(v)) or str(v) in ("NA", "NA_character_"))
            else str(v)
        )

    return [(str(g), s(a), s(b)) for g, a, b in zip(vc["grp"], vc["var1"], vc["var2"])]


@pytest.fixture(scope="module")
def fits(ro):
    """Native fit, default lmer fit and lmer at the native theta, per case (cached)."""
    cache: dict = {}

    def get(name: str, meth: str):
        key = (name, meth)
        if key not in cache:
            m = MODELS[name]
            df = m.load(ro)
            design = m.build(df)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nat = fit_design(design, meth)
            tight = lmer_fit(ro, df, m.formula, meth == "REML", m.weights, tight=True)
            ref = lmer_fit(ro, df, m.formula, meth == "REML", m.weights)
            dev_at_native = lmer_devfun(ro, nat.theta)
            at = lmer_at_theta(ro, df, m.formula, meth == "REML", nat.theta, m.weights)
            groups = list(nat.ranef())
            r_ranef = {g: lmer_ranef(ro, g) for g in groups}
            cache[key] = (design, nat, ref, dev_at_native, at, r_ranef, tight)
        return cache[key]

    return get


@pytest.mark.parametrize("name,meth", CASES)
def test_same_deviance_function(fits, name, meth):
    _, nat, _, dev_at_native, _, _, _ = fits(name, meth)
    objective = nat.reml_criterion if meth == "REML" else nat.deviance
    assert objective == pytest.approx(dev_at_native, rel=1e-10, abs=1e-9)


@pytest.mark.parametrize("name,meth", CASES)
def test_results_at_native_theta_match_lme4(fits, name, meth):
    design, nat, _, _, at, r_ranef, _ = fits(name, meth)
    assert np.all(lre(nat.fixed.to_numpy(), at["fixed"].to_numpy()) >= 8)
    assert list(nat.fixed.index) == list(at["fixed"].index)
    assert np.all(lre(nat.vcov.to_numpy(), at["vcov"]) >= 7)
    assert _vc_keys(nat.varcorr) == _vc_keys(at["varcorr"])
    assert np.all(lre(_vc_values(nat.varcorr), _vc_values(at["varcorr"])) >= 7)
    assert nat.sigma2 == pytest.approx(at["sigma"] ** 2, rel=1e-9)
    assert nat.loglik == pytest.approx(at["loglik"], rel=1e-10)
    assert nat.aic == pytest.approx(at["aic"], rel=1e-10)
    assert nat.bic == pytest.approx(at["bic"], rel=1e-10)
    assert nat.npar == at["npar"]
    assert nat.nobs == at["nobs"]
    scale = np.max(np.abs(at["fitted"]))
    assert np.max(np.abs(nat.fitted - at["fitted"])) <= 1e-7 * scale
    assert np.allclose(nat.residuals, design.y - nat.fitted)
    for group, frame in nat.ranef().items():
        r_modes, r_postvar = r_ranef[group]
        r_levels = list(map(str, r_modes.index))
        assert sorted(r_levels) == sorted(frame.index)
        pos = [r_levels.index(lv) for lv in frame.index]
        r_modes = r_modes.iloc[pos]
        tol = 1e-7 * max(1.0, float(np.max(np.abs(r_modes.to_numpy()))))
        assert np.max(np.abs(frame.to_numpy() - r_modes.to_numpy())) <= tol
        cv = frame.attrs["condVar"]
        if r_postvar.ndim == 3:  # k x k x nlevels in R
            ok = ~np.isnan(cv)
            r_cv = np.transpose(r_postvar, (2, 0, 1))[pos]
            assert np.allclose(cv[ok], r_cv[ok], rtol=1e-7, atol=1e-10 * np.max(np.abs(r_cv)))


def _digits(nat, ref) -> dict[str, float]:
    return {
        "loglik": float(lre(nat.loglik, ref["loglik"])),
        "fixed": float(np.min(lre(nat.fixed.to_numpy(), ref["fixed"].to_numpy()))),
        "se": float(np.min(lre(nat.se.to_numpy(), ref["se"].to_numpy()))),
        "varcorr": float(np.min(lre(nat.varcorr["vcov"].to_numpy(), ref["varcorr"]["vcov"].to_numpy()))),
    }


@pytest.mark.parametrize("name,meth", CASES)
def test_fit_agrees_with_tightly_converged_lmer(fits, name, meth):
    _, nat, _, dev_at_native, _, _, tight = fits(name, meth)
    digits = _digits(nat, tight)
    assert digits["loglik"] >= 6 or dev_at_native < tight["objective"], digits
    assert min(digits["fixed"], digits["se"], digits["varcorr"]) >= 5, digits
    assert nat.singular == tight["singular"]


@pytest.mark.parametrize("name,meth", CASES)
def test_fit_agrees_with_default_lmer(fits, name, meth, record_property):
    _, nat, ref, dev_at_native, _, _, _ = fits(name, meth)
    objective = nat.reml_criterion if meth == "REML" else nat.deviance
    # lme4's own deviance function at the native theta, against lme4's optimum.
    better = dev_at_native < ref["objective"] - 1e-10
    digits = _digits(nat, ref)
    assert digits["loglik"] >= 6 or better
    assert nat.singular == ref["singular"]
    if min(digits.values()) < 5:
        assert better, f"{name} {meth}: agreement {digits} below 5 digits and lme4's optimum is not worse"
        # one line for the whole run (tests/engine/conftest.py), not a warning per fit
        record_property(
            "higher_likelihood",
            f"{name} {meth} (objective {objective:.10f} vs lme4 {ref['objective']:.10f}, "
            f"lme4 at native theta {dev_at_native:.10f}; digits {min(digits.values()):.1f})",
        )
        assert min(digits.values()) >= 2
