"""SAS GLIMMIX's METHOD=LAPLACE and QUAD blocks (issue #17): the same likelihood as glmer, printed GLIMMIX's way.

The covariance parameters' SEs (GLIMMIX's ``C(theta, theta)`` of the inverse Hessian, in the variances and
covariances) are checked live against glmmTMB (Laplace; its SEs of log-SDs and correlation parameters carried to
the covariances by the delta method in R); a SAS block's t, containment df and p, its -2 Log Likelihood, AIC,
AICC and BIC by SAS's definitions; its EMPIRICAL SEs (the subjects' sandwich).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from replicate.case import load_case
from replicate.engine.glmm import fit_glmm
from replicate.engine.glmm.covparms import covparm_vcov, covparms
from replicate.engines import get_engine
from replicate.runner import run_case
from tests.engine.glmm.test_empirical import r_sandwich
from tests.rsupport import from_r, need_r, to_r

pytestmark = pytest.mark.r

#: glmmTMB by the Laplace approximation; its theta are log-SDs and, for a pair, t with corr = t / sqrt(1 + t^2).
R_TMB = """
function(d, formula) {
  m <- glmmTMB::glmmTMB(stats::as.formula(formula), data = d, family = binomial)
  V <- stats::vcov(m, full = TRUE)
  p <- m$fit$par
  th <- p[names(p) == "theta"]
  k <- length(th)
  i <- (ncol(V) - k + 1):ncol(V)
  if (k == 1) {
    v <- exp(2 * th)
    J <- matrix(2 * v, 1, 1)
    cp <- v
  } else {
    a <- th[1]; b <- th[2]; t3 <- th[3]; rho <- t3 / sqrt(1 + t3^2); cv <- rho * exp(a + b)
    J <- rbind(c(2 * exp(2 * a), 0, 0), c(cv, cv, exp(a + b) * (1 + t3^2)^(-1.5)), c(0, 2 * exp(2 * b), 0))
    cp <- c(exp(2 * a), cv, exp(2 * b))
  }
  C <- J %*% V[i, i] %*% t(J)
  s <- summary(m)$coefficients$cond
  list(covparm = as.numeric(cp), covparm_se = sqrt(diag(C)), beta = s[, 1], se = s[, 2], z = s[, 3],
       m2ll = -2 * as.numeric(stats::logLik(m)))
}
"""

OK = ("agrees", "within tolerance")
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def ro():
    return need_r("glmmTMB", "lme4", "mlmRev")


def _tmb(ro, frame, formula):
    out = ro.r(R_TMB)(to_r(ro, frame), formula)
    return {k: np.asarray(v, dtype=float) for k, v in zip(out.names, out)}


def test_covariance_parameter_ses_are_glmmtmbs_in_the_covariances(ro):
    cbpp = from_r(ro, "lme4::cbpp")
    contra = from_r(ro, "within(mlmRev::Contraception, {u <- as.integer(use == 'Y'); ur <- as.integer(urban == 'Y')})")
    for frame, formula in ((cbpp, CBPP), (contra, "u ~ age + ur + (1 + ur | district)")):
        tmb = _tmb(ro, frame, formula)
        fit = fit_glmm(frame, formula)
        values = np.array([fit.varcomps[c.term].cov[c.row, c.col] for c in covparms(fit)])
        se = np.sqrt(np.diag(covparm_vcov(fit)))
        # glmmTMB stops ~2e-6 (relative) from the optimum in the variances; the SEs follow
        assert np.allclose(values, tmb["covparm"], rtol=1e-5)
        assert np.allclose(se, tmb["covparm_se"], rtol=1e-5)
        assert fit.minus2loglik == pytest.approx(tmb["m2ll"].item(), abs=1e-5)


def _sas_case(tmp_path: Path, ro) -> tuple[Path, dict]:
    """cbpp with a SAS block of GLIMMIX's Laplace printout, its numbers from glmmTMB (the same likelihood) and
    SAS's definitions: t = z, containment df (herd's intercept 15 - 1 = 14; period, within herds, 56 - rank[X Z]
    = 56 - 18 = 38), p from t, AIC/AICC/BIC with d = 5 parameters, 56 observations, 15 subjects."""
    tmb = _tmb(ro, from_r(ro, "lme4::cbpp"), CBPP)
    m2ll, d, n = tmb["m2ll"].item(), 5, 56
    names = ["(Intercept)", "period2", "period3", "period4"]
    dfs = [14, 38, 38, 38]
    fixed = {
        name: {
            "estimate": float(tmb["beta"][j]),
            "se": float(tmb["se"][j]),
            "t": float(tmb["z"][j]),
            "df": dfs[j],
            "p": float(2 * stats.t.sf(abs(tmb["z"][j]), dfs[j])),
        }
        for j, name in enumerate(names)
    }
    block = {
        "label": "glimmix-laplace",
        "software": "sas",
        "version": "glmmTMB's Laplace fit printed by SAS's definitions (test)",
        "call": "proc glimmix method=laplace; class herd period; model incidence/size = period / solution; "
        "random intercept / subject=herd;",
        "source": "test",
        "options": {"method": "laplace", "df": "containment"},
        "tolerance": {q: {"rtol": 1e-5} for q in ("estimate", "se", "t", "p", "variance", "loglik")},
        "values": {
            "fixed": fixed,
            "random": {
                "herd": {"(Intercept)": {"variance": float(tmb["covparm"][0]), "se": float(tmb["covparm_se"][0])}}
            },
            "fit": {
                "deviance": m2ll,
                "aic": m2ll + 2 * d,
                "aicc": m2ll + 2 * d * n / (n - d - 1),
                "bic": m2ll + d * float(np.log(15)),
            },
        },
    }
    case = {
        "id": "cbpp-glimmix-laplace",
        "title": "cbpp by GLIMMIX's Laplace (test)",
        "description": "test case",
        "source": "test",
        "data": {"dataset": {"package": "lme4", "name": "cbpp"}},
        "transform": {"period": "factor(period, levels=[1, 2, 3, 4])"},
        "model": {"formula": CBPP, "family": "binomial", "method": "laplace"},
        "expected": [block],
    }
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    return path, case


def test_a_glimmix_laplace_block_agrees_by_sas_s_definitions(tmp_path, ro):
    path, _ = _sas_case(tmp_path, ro)
    res = run_case(load_case(path), get_engine("native"))
    values = {(v.name, v.quantity): v for v in res.blocks[0].values}
    assert len(values) == 4 * 5 + 2 + 4
    # glmmTMB stops ~1e-6 (relative) short of the optimum: its numbers agree within the block's tolerance
    bad = {k: (v.verdict, v.reference_value, v.engine, v.note) for k, v in values.items() if v.verdict not in OK}
    assert not bad and res.status in OK


def test_a_wrong_containment_df_or_a_likelihood_without_its_constant_is_a_discrepancy(tmp_path, ro):
    path, case = _sas_case(tmp_path, ro)
    block = case["expected"][0]
    block["values"]["fixed"]["period2"]["df"] = 41  # the residual df n - p = 52 - ... any other rule's df
    block["values"]["fit"]["bic"] = block["values"]["fit"]["deviance"] + 5 * float(
        np.log(56)
    )  # observations, not subjects
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    values = {(v.name, v.quantity): v for v in res.blocks[0].values}
    assert values[("period2", "df")].verdict == "discrepancy"
    bic = next(v for (name, _), v in values.items() if name == "bic")
    assert bic.verdict == "discrepancy"
    assert res.status != "agrees"


def test_glimmix_s_empirical_after_laplace_is_the_subjects_sandwich(tmp_path, ro):
    """EMPIRICAL: the SEs, t and p from the classical sandwich of the herds' likelihood gradients, written out in
    R (tests/engine/glmm/test_empirical.py); the model-based SEs are then a discrepancy."""
    path, case = _sas_case(tmp_path, ro)
    cbpp = from_r(ro, "lme4::cbpp")
    fit = fit_glmm(cbpp, CBPP)
    se = r_sandwich(ro, cbpp, np.concatenate([fit.theta, fit.beta]))["se"]
    block = case["expected"][0]
    block["options"]["se"] = "cr0"
    for j, qs in enumerate(block["values"]["fixed"].values()):
        t = qs["estimate"] / float(se[j])
        qs.update(se=float(se[j]), t=t, p=float(2 * stats.t.sf(abs(t), qs["df"])))
    del block["values"]["random"]["herd"]["(Intercept)"]["se"]  # the sandwich's own, not checked here
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    values = {(v.name, v.quantity): v for v in res.blocks[0].values}
    assert all(values[(n, q)].verdict in OK for n in ("(Intercept)", "period2") for q in ("se", "t", "p"))
    assert "EMPIRICAL" in values[("period2", "se")].note
    block["options"]["se"] = "model"
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    assert {v.verdict for v in res.blocks[0].values if v.quantity == "se"} == {"discrepancy"}


def test_a_variance_on_the_boundary_has_no_se_and_glimmix_options_belong_to_sas_blocks(tmp_path, ro):
    import pandas as pd

    from replicate.engine.glmm.covparms import covparm_vcov

    rng = np.random.default_rng(5)
    d = pd.DataFrame({"y": rng.integers(0, 2, 120), "x": rng.normal(size=120), "g": np.repeat(np.arange(12), 10)})
    d["g"] = pd.Categorical(d["g"].astype(str))
    fit = fit_glmm(d, "y ~ x + (1 | g)")
    assert float(fit.theta[0]) == 0.0  # no group effect in the data: the fit is on the boundary
    assert np.isnan(covparm_vcov(fit)).all()  # SAS prints no SE there; 0 would agree with a printed 0
    path, case = _sas_case(tmp_path, ro)
    block = case["expected"][0]
    block["software"] = "lme4"  # GLIMMIX's df on a glmer block
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    assert res.status != "agrees" and "software: sas" in str(res.blocks[0].error)
    block["software"] = "sas"
    del block["options"]["df"]  # a SAS block without its df: its p cannot be compared, never as a z test's
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    p = next(v for v in res.blocks[0].values if v.quantity == "p")
    assert p.verdict == "not comparable" and "options.df" in p.note


def test_glimmix_s_laplace_is_the_observed_information_one_for_a_probit_link(tmp_path, ro):
    """For a non-canonical link GLIMMIX's METHOD=LAPLACE (and glmmTMB) take the observed information, glmer the
    expected: a SAS block of glmmTMB's probit numbers agrees; the same numbers as a glmer block are a different
    estimation method, named; a block of another program says options.information: observed."""
    out = ro.r(
        "function(d) { t <- glmmTMB::glmmTMB(cbind(incidence, size - incidence) ~ period + (1 | herd), data = d, "
        "family = binomial(link = 'probit')); c(glmmTMB::fixef(t)$cond, sqrt(diag(vcov(t)$cond)), "
        "glmmTMB::VarCorr(t)$cond$herd[1], -2 * as.numeric(logLik(t))) }"
    )(to_r(ro, from_r(ro, "lme4::cbpp")))
    ref = [float(v) for v in out]
    names = ["(Intercept)", "period2", "period3", "period4"]

    def block(label: str, software: str, options: dict) -> dict:
        return {
            "label": label,
            "software": software,
            "version": "glmmTMB's Laplace fit (live)",
            "call": "glmmTMB(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial('probit'))",
            "source": "test",
            "options": options,
            "tolerance": {q: {"rtol": 2e-5} for q in ("estimate", "se", "variance", "loglik")},
            "values": {
                "fixed": {n: {"estimate": ref[j], "se": ref[4 + j]} for j, n in enumerate(names)},
                "random": {"herd": {"(Intercept)": {"variance": ref[8]}}},
                "fit": {"deviance": ref[9]},
            },
        }

    case = {
        "id": "cbpp-probit-laplace",
        "title": "cbpp, probit, by the two Laplace approximations (test)",
        "description": "test case",
        "source": "test",
        "data": {"dataset": {"package": "lme4", "name": "cbpp"}},
        "transform": {"period": "factor(period, levels=[1, 2, 3, 4])"},
        "model": {"formula": CBPP, "family": "binomial", "link": "probit", "method": "laplace"},
        "expected": [
            block("sas", "sas", {"method": "laplace"}),
            block("as-glmer", "lme4", {}),
            block("other", "other", {"information": "observed"}),
        ],
    }
    path = tmp_path / "probit.yaml"
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    sas, as_glmer, other = res.blocks
    assert all(v.verdict in OK for v in sas.values) and all(v.verdict in OK for v in other.values)
    assert any(v.verdict == "discrepancy" for v in as_glmer.values)
    (why,) = [d for d in as_glmer.diagnoses if d.kind == "different estimation method"]
    assert "observed information" in why.text and "glmmTMB" in why.text


def test_options_a_laplace_block_cannot_have_are_the_case_files_errors_and_validate_says_so(tmp_path, ro):
    from replicate.cli import main

    path, case = _sas_case(tmp_path, ro)
    block = case["expected"][0]
    for options, field in (
        ({"method": "laplace", "df": "hlm"}, "df"),  # HLM's df belong to PQL blocks
        ({"method": "agq", "nagq": 9, "information": "observed"}, "information"),  # quadrature has no such choice
    ):
        block["options"] = options
        path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
        res = run_case(load_case(path), get_engine("native"))
        assert res.status == "invalid" and f"options.{field}" in str(res.blocks[0].error)
        assert main(["validate", str(path)]) == 2


def test_empirical_with_crossed_factors_is_the_blocks_error_never_agreement(tmp_path, ro):
    path, case = _sas_case(tmp_path, ro)
    case["model"]["formula"] = "cbind(incidence, size - incidence) ~ 1 + (1 | herd) + (1 | period)"
    block = case["expected"][0]
    block["options"] = {"method": "laplace", "se": "cr0"}
    block["values"] = {"fixed": {"(Intercept)": {"estimate": -2.0, "se": 0.3}}}
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    assert res.status != "agrees" and "independent subjects" in str(res.blocks[0].error)


def test_a_sas_blocks_df_or_ses_of_another_definition_are_named(tmp_path, ro):
    """The block declares containment and model-based SEs, but its df are the residual n - rank(X) = 52 (and its
    p follow them), or its SEs are the subjects' sandwich: the diagnosis names the definition that reproduces them,
    on the same fit."""
    path, case = _sas_case(tmp_path, ro)
    block = case["expected"][0]
    for qs in block["values"]["fixed"].values():
        qs.update(df=52, p=float(2 * stats.t.sf(abs(qs["t"]), 52)))
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    (why,) = [d for d in res.blocks[0].diagnoses if d.kind == "different definition"]
    assert "options.df: residual" in why.text and "fixed period2 df" in why.values
    path, case = _sas_case(tmp_path, ro)
    cbpp = from_r(ro, "lme4::cbpp")
    fit = fit_glmm(cbpp, CBPP)
    se = r_sandwich(ro, cbpp, np.concatenate([fit.theta, fit.beta]))["se"]
    block = case["expected"][0]
    for j, qs in enumerate(block["values"]["fixed"].values()):
        t = qs["estimate"] / float(se[j])
        qs.update(se=float(se[j]), t=t, p=float(2 * stats.t.sf(abs(t), qs["df"])))
    del block["values"]["random"]
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    (why,) = [d for d in res.blocks[0].diagnoses if d.kind == "different definition"]
    assert "options.se: cr0" in why.text and "EMPIRICAL" in why.text and "fixed period2 se" in why.values
