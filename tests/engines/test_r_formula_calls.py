"""The live R engines fit formulas with R's formula functions (``I(x^2)``, ``log(z)``, ``poly(x, 2)``,
``factor(h)``, ``offset(o)``) as the native engine does.

The design's columns go to R under generated names (``.col1`` ...), never as the case's text; the
engines report R's printed names. Each fit is checked three ways: its names and numbers against the
native engine, and against R's own ``lmer()`` / ``lme()`` called on the same formula, written here in
the test, on the raw data (so R builds ``I(x^2)``, ``poly(x, 2)`` ... itself).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from replicate.design import build_design
from replicate.engines import get_engine
from replicate.engines.r.lme4 import Lme4Engine
from replicate.engines.r.nlme import NlmeEngine
from replicate.spec import parse_formula
from tests.rsupport import lre, need_r, require_engine, to_r

pytestmark = pytest.mark.r

CALLS = "y ~ I(x^2) + log(z) + poly(x, 2) + (1 | g)"
SLOPES = "y ~ I(x^2) + log(z) + factor(h) + (1 + log(z) | g)"
POLY = "y ~ log(z) + poly(x, 2) + (1 | g)"
#: The same models as nlme's lme writes them: (fixed, random). CALLS is not among them: its I(x^2) and
#: poly(x, 2)2 are collinear, which lmer and the design drop but lme refuses ("Singularity in backsolve").
LME = {
    POLY: ("y ~ log(z) + poly(x, 2)", "~ 1 | g"),
    SLOPES: ("y ~ I(x^2) + log(z) + factor(h)", "~ 1 + log(z) | g"),
}
OFFSET = "y ~ x + log(z) + offset(o) + (1 | g)"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """Groups with a random intercept and a random slope on log(z); an offset column o."""
    rng = np.random.default_rng(20261204)
    n_groups, per = 30, 12
    g = np.repeat(np.arange(n_groups), per)
    x = rng.normal(size=g.size)
    z = rng.uniform(0.5, 4.0, size=g.size)
    h = rng.integers(0, 3, size=g.size)
    b0 = np.repeat(rng.normal(scale=1.0, size=n_groups), per)
    b1 = np.repeat(rng.normal(scale=0.6, size=n_groups), per)
    o = 0.25 * x + 0.5
    y = 1 + 0.3 * x + 0.2 * x**2 + (0.5 + b1) * np.log(z) + 0.4 * (h == 2) + b0 + o
    y = y + rng.normal(scale=0.5, size=g.size)
    return pd.DataFrame({"y": y, "x": x, "z": z, "h": h, "g": [f"s{k}" for k in g], "o": o})


@pytest.fixture(scope="module")
def lme4():
    return require_engine(Lme4Engine, tight=True)


@pytest.fixture(scope="module")
def nlme():
    return require_engine(NlmeEngine)


def _vc(fit) -> dict[tuple, tuple[float, float]]:
    def key(v):
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)

    return {
        (str(r["grp"]), key(r["var1"]), key(r["var2"])): (float(r["vcov"]), float(r["sdcor"]))
        for _, r in fit.varcorr.iterrows()
    }


def _same_as_native(fit, design, *, digits: float) -> None:
    native = get_engine("native").fit(design, "REML")
    assert list(fit.fixed.index) == list(native.fixed.index) == list(design.fixed_names)
    assert lre(fit.fixed, native.fixed).min() >= digits
    assert lre(np.sqrt(np.diag(fit.vcov)), np.sqrt(np.diag(native.vcov))).min() >= digits - 1
    assert lre(fit.loglik, native.loglik) >= digits + 2
    mine, theirs = _vc(fit), _vc(native)
    assert set(mine) == set(theirs)
    for k, (vcov, sdcor) in theirs.items():
        assert lre(mine[k][1], sdcor) >= digits - 2, k
    assert np.allclose(fit.fitted, native.fitted, rtol=0, atol=1e-4)


def _r_fixef(ro, fit) -> pd.Series:
    fixef = ro.r("function(m) nlme::fixef(m)")(fit)
    return pd.Series(np.asarray(fixef, dtype=float), index=[str(n) for n in fixef.names])


@pytest.mark.parametrize("formula", [CALLS, SLOPES])
def test_lme4_fits_formula_functions_as_native(lme4, data, formula):
    design = build_design(parse_formula(formula), data)
    fit = lme4.fit(design, "REML")
    assert ".col1" in fit.extra["r_call"] and "I(x^2)" not in fit.extra["r_call"]
    assert fit.extra["provenance"]["call"] == fit.extra["r_call"] + "; where .col1 = I(x^2), .col2 = log(z), " + (
        ".col3 = poly(x, 2)1" if formula == CALLS else ".col3 = factor(h)1, .col4 = factor(h)2"
    )
    _same_as_native(fit, design, digits=6)


@pytest.mark.parametrize("formula", [CALLS, SLOPES, POLY])
def test_nlme_fits_formula_functions_as_native(nlme, data, formula):
    design = build_design(parse_formula(formula), data)
    fit = nlme.fit(design, "REML")
    assert ".col1" in fit.extra["r_call"] and "log(z)" not in fit.extra["r_call"]
    _same_as_native(fit, design, digits=5)


@pytest.mark.parametrize("formula", [CALLS, SLOPES, OFFSET])
def test_lme4_engine_matches_rs_own_lmer_on_the_formula(lme4, data, formula):
    """R's lmer builds the columns itself from the formula text written here (never from a case file)."""
    ro = need_r("lme4")
    fit = lme4.fit(build_design(parse_formula(formula), data), "REML")
    direct_fit = ro.r(
        "function(d, f) lme4::lmer(stats::as.formula(f), data = d, REML = TRUE, control = lme4::lmerControl("
        "optCtrl = list(ftol_abs = 1e-15, ftol_rel = 1e-15, xtol_abs = 1e-13, xtol_rel = 1e-13)))"
    )(to_r(ro, data), formula)
    direct = _r_fixef(ro, direct_fit)
    assert list(fit.fixed.index) == list(direct.index)
    assert lre(fit.fixed.to_numpy(), direct.to_numpy()).min() >= 6
    loglik = float(ro.r("function(m) as.numeric(stats::logLik(m))")(direct_fit)[0])
    assert lre(fit.loglik, loglik) >= 8
    fitted = np.asarray(ro.r("function(m) as.numeric(stats::fitted(m))")(direct_fit), dtype=float)
    assert np.allclose(fit.fitted, fitted, rtol=0, atol=1e-5)


@pytest.mark.parametrize("formula", [POLY, SLOPES])
def test_nlme_engine_matches_rs_own_lme_on_the_formula(nlme, data, formula):
    ro = need_r("nlme")
    fit = nlme.fit(build_design(parse_formula(formula), data), "REML")
    fixed_text, random_text = LME[formula]
    direct_fit = ro.r("function(d, f, r) nlme::lme(stats::as.formula(f), random = stats::as.formula(r), data = d)")(
        to_r(ro, data), fixed_text, random_text
    )
    direct = _r_fixef(ro, direct_fit)
    assert list(fit.fixed.index) == list(direct.index)
    assert lre(fit.fixed.to_numpy(), direct.to_numpy()).min() >= 6
    loglik = float(ro.r("function(m) as.numeric(stats::logLik(m))")(direct_fit)[0])
    assert lre(fit.loglik, loglik) >= 8


def test_offsets_enter_with_coefficient_one(lme4, nlme, data):
    """offset(o): lme4 gets y and lmer's offset=, nlme (which has no offset) y - o under a generated name;
    both report fitted values that include o, as lme4 and the native engine do."""
    design = build_design(parse_formula(OFFSET), data)
    assert design.offset is not None
    assert "offset = .offset" in lme4.fit(design, "REML").extra["r_call"]
    assert nlme.fit(design, "REML").extra["r_call"].startswith("nlme::lme(fixed = .resp1 ~ 1 + x + .col1")
    for engine in (lme4, nlme):
        fit = engine.fit(design, "REML")
        assert list(fit.fixed.index) == ["(Intercept)", "x", "log(z)"]
        _same_as_native(fit, design, digits=5)
        assert np.allclose(fit.fitted + fit.residuals, data["y"].to_numpy(), rtol=0, atol=1e-8)
