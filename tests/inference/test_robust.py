"""Cluster-robust covariances against R's clubSandwich 0.5.8, live through rpy2.

For each model two comparisons:

1. clubSandwich on lme4's model *at the native theta* (lFormula -> mkMerMod):
   the same formulas evaluated at the same point, so CR0/CR1/CR2 and the CR2
   Satterthwaite df must agree to near machine precision (1e-8);
2. clubSandwich's CR2 on ``lmer`` run with tight optimizer tolerances: the
   complete chain against the real program, at least 4 significant digits on
   the robust SEs and CR2 df (off-diagonal covariances to 1e-4 of sqrt(v_ii v_jj)).

Data go to R as data frames through pandas2ri; no data is written into R code.
Without R the tests skip, saying why; with REPLICATE_REQUIRE_R=1 they fail.

Also: HLM's printed robust SE (CR0) for Kreft & de Leeuw's imm23 null model.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import replicate
from replicate.design import build_design
from replicate.errors import ModelError
from replicate.inference.robust import (
    cluster_robust,
    cluster_robust_vcov,
    cr2_satterthwaite_df,
    hlm_robust_se,
    resolve_cluster,
)
from replicate.spec import parse_formula
from tests.rsupport import data_file, need_r, to_r

TIGHT = "lme4::lmerControl(optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12, ftol_rel = 1e-15, xtol_rel = 1e-12))"


# ------------------------------------------------------------------ helpers


def _load(ro, name: str) -> pd.DataFrame:
    from replicate.rbridge import r_dataset

    if name == "sleepstudy":
        return r_dataset("lme4", "sleepstudy")
    if name == "hsb":
        return r_dataset("nlme", "MathAchieve")  # carries MEANSES (as MathAchSchool's school means)
    if name == "classroom":
        df = pd.read_csv(data_file("classroom.csv"))
        return df.dropna(subset=["mathknow"]).reset_index(drop=True)
    if name == "imm23":
        return pd.read_csv(data_file("imm23.csv"))
    raise KeyError(name)


MODELS = {
    "sleepstudy": ("sleepstudy", "Reaction ~ Days + (Days | Subject)"),
    "hsb-int": ("hsb", "MathAch ~ SES + MEANSES + (1 | School)"),
    "hsb-slope": ("hsb", "MathAch ~ SES + MEANSES + (SES | School)"),
    "classroom": ("classroom", "mathgain ~ ses + mathknow + (1 | schoolid/classid)"),
    "imm23": ("imm23", "math ~ homework + urban + (1 | schid)"),
}


def _club(ro, fm: str, kinds=("CR0", "CR1", "CR2")) -> dict:
    """clubSandwich's vcov of each kind and the CR2 Satterthwaite df for the R model ``fm``."""
    out = {}
    for k in kinds:
        ro.r(f".rep_V_{k} <- clubSandwich::vcovCR({fm}, type = '{k}')")
        out[k] = np.array(ro.r(f"as.matrix(.rep_V_{k})"))
    out["df"] = np.array(ro.r(f"clubSandwich::coef_test({fm}, vcov = .rep_V_CR2, test = 'Satterthwaite')$df_Satt"))
    out["names"] = list(ro.r(f"names(lme4::fixef({fm}))"))
    return out


@pytest.fixture(scope="module")
def cases():
    ro = need_r("lme4", "clubSandwich")
    from rpy2.robjects import FloatVector

    cache: dict = {}

    def get(key: str):
        if key not in cache:
            data_name, formula = MODELS[key]
            df = _load(ro, data_name)
            spec = parse_formula(formula)
            design = build_design(spec, df)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = replicate.fit(formula, df)
            to_r(ro, df, ".rep_df")
            ro.globalenv[".rep_theta"] = FloatVector([float(t) for t in fit.theta])
            ro.r(
                f".rep_lmod <- lme4::lFormula({formula}, data = .rep_df, REML = TRUE);"
                ".rep_dev <- do.call(lme4::mkLmerDevfun, .rep_lmod);"
                ".rep_opt <- list(par = .rep_theta, fval = .rep_dev(.rep_theta), conv = 0, feval = 1L, message = '');"
                ".rep_at <- lme4::mkMerMod(environment(.rep_dev), .rep_opt, .rep_lmod$reTrms, fr = .rep_lmod$fr);"
                f".rep_tight <- lme4::lmer({formula}, data = .rep_df, REML = TRUE, control = {TIGHT})"
            )
            cache[key] = (fit, design, _club(ro, ".rep_at"), _club(ro, ".rep_tight", ("CR2",)))
        return cache[key]

    return get


def _lre(a, b) -> np.ndarray:
    a, b = np.asarray(a, float), np.asarray(b, float)
    err = np.abs(a - b) / np.abs(b)
    with np.errstate(divide="ignore"):
        return np.where(err == 0, 15.0, -np.log10(err))


def _scaled_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b| relative to sqrt(b_ii b_jj) (a correlation-scale error)."""
    d = np.sqrt(np.diag(b))
    return float(np.max(np.abs(a - b) / np.outer(d, d)))


# -------------------------------------------------------------------- tests


@pytest.mark.r
@pytest.mark.parametrize("key", list(MODELS))
def test_same_point_as_clubsandwich(cases, key):
    fit, design, at, _ = cases(key)
    assert at["names"] == list(design.fixed_names)
    for k in ("CR0", "CR1", "CR2"):
        ours = cluster_robust_vcov(fit, design, k).to_numpy()
        assert _scaled_diff(ours, at[k]) < 1e-8, k
    df = cr2_satterthwaite_df(fit, design).to_numpy()
    np.testing.assert_allclose(df, at["df"], rtol=1e-8)


@pytest.mark.r
@pytest.mark.parametrize("key", list(MODELS))
def test_against_lmer_and_clubsandwich(cases, key):
    fit, design, _, ref = cases(key)
    res = cluster_robust(fit, design, "CR2", df=True)
    lre = _lre(res.se.to_numpy(), np.sqrt(np.diag(ref["CR2"])))
    assert lre.min() >= 4, f"CR2 SE agree to {lre.min():.1f} digits"
    assert _scaled_diff(res.vcov.to_numpy(), ref["CR2"]) < 1e-4
    lre_df = _lre(res.df.to_numpy(), ref["df"])
    assert lre_df.min() >= 4, f"CR2 df agree to {lre_df.min():.1f} digits"


@pytest.mark.r
def test_default_cluster_is_outer_factor(cases):
    fit, design, _, _ = cases("classroom")
    name, _codes, J = resolve_cluster(design)
    assert name == "schoolid" and J == 105
    by_name = cluster_robust_vcov(fit, design, "CR2", cluster="schoolid")
    pd.testing.assert_frame_equal(by_name, cluster_robust_vcov(fit, design, "CR2"))
    with pytest.raises(ModelError, match="not nested"):
        cluster_robust_vcov(fit, design, "CR0", cluster="classid:schoolid")


def test_hlm_published_robust_se():
    """HLM2 (REML), Kreft & de Leeuw imm23 null model (UCLA ATS HLM textbook examples, ch. 4,
    Table 4.2): gamma_00 = 50.758849, SE 1.151098, robust SE 1.125728. HLM stops iterating at a
    looser tolerance than the native engine, so the agreement is to about 5 digits."""
    df = pd.read_csv(data_file("imm23.csv"))
    formula = "math ~ 1 + (1 | schid)"
    fit = replicate.fit(formula, df)
    design = build_design(parse_formula(formula), df)
    assert _lre(fit.fixed["(Intercept)"], 50.758849) >= 6
    assert _lre(fit.se()["(Intercept)"], 1.151098) >= 4
    assert _lre(hlm_robust_se(fit, design)["(Intercept)"], 1.125728) >= 5


def test_small_cr_identities():
    """CR1 = CR0 * J/(J-1); a random-intercept model with one observation per group is rejected
    only if clusters < 2; custom cluster labels equal to the grouping factor give the same result."""
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(6), 4)
    x = rng.normal(size=g.size)
    y = 1 + 0.5 * x + rng.normal(size=6)[g] + rng.normal(size=g.size)
    df = pd.DataFrame({"y": y, "x": x, "g": g})
    formula = "y ~ x + (1 | g)"
    fit = replicate.fit(formula, df)
    design = build_design(parse_formula(formula), df)
    v0 = cluster_robust_vcov(fit, design, "CR0").to_numpy()
    v1 = cluster_robust_vcov(fit, design, "CR1").to_numpy()
    np.testing.assert_allclose(v1, v0 * 6 / 5, rtol=1e-12)
    custom = cluster_robust_vcov(fit, design, "CR2", cluster=np.asarray(g) + 100).to_numpy()
    np.testing.assert_allclose(custom, cluster_robust_vcov(fit, design, "CR2").to_numpy(), rtol=1e-12)
    with pytest.raises(ValueError):
        cluster_robust(fit, design, "CR0", df=True)
