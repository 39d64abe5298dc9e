"""SAS GLIMMIX's pseudo-likelihood in case files (issue #17): its listings read as GLMMs, its blocks compared with
the engine's RSPL / MSPL fits, its fit statistics computed as GLIMMIX defines them and never taken for a likelihood.

The listing is a real GLIMMIX run (RSPL then MSPL on a binary outcome with two random effects) published with its
SAS and R code in a public repository; its data are not public, so what is checked is that it is read, and that a
case written from it on data of the same design is a GLMM case with the block's method and GLIMMIX's df.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from replicate.case import load_case
from replicate.engine.glmm import fit_glmm_pl
from replicate.engines import get_engine
from replicate.references import parse_printouts
from replicate.runner import run_case
from replicate.scaffold import new_case
from tests.engine.glmm.test_pseudo_likelihood import FORMULA, LOOP, _bacteria
from tests.rsupport import ROOT, need_r

LISTING = ROOT / "tests" / "data" / "printouts" / "sas_glimmix_binomial_rspl_mspl.lst"


def test_a_glimmix_listing_is_read_as_a_glmm_with_its_method_and_pseudo_likelihood():
    parts = parse_printouts(LISTING.read_text(encoding="utf-8"), "sas")
    assert len(parts) == 2
    for part, method, own in ((parts[0], "rspl", "pseudo_reml_criterion"), (parts[1], "mspl", "pseudo_deviance")):
        info = part.model_info
        assert (info["family"], info["link"], info["method"], info["converged"]) == ("binomial", "logit", method, True)
        fit = part.values["fit"]
        assert own in fit and "gen_chisq" in fit and "gen_chisq_df" in fit
        assert not {"reml_criterion", "deviance", "loglik"} & set(fit)  # a pseudo-likelihood is never a likelihood
        assert set(part.values["random"]) == {"subjectID", "clusterID"}
    assert float(parts[0].values["fit"]["pseudo_reml_criterion"].value) == 1116.14
    assert float(parts[1].values["random"]["clusterID"]["Intercept"]["variance"].value) == 0.1339


def _design_data(path: Path) -> Path:
    """Data of the listing's design (160 subjects in 10 clusters, 260 rows, two times; 100 subjects seen twice),
    with a made-up response: the listing's own data are not public."""
    rng = np.random.default_rng(3)
    rows, sid = [], 0
    for cluster in range(1, 11):
        for _ in range(16):
            sid += 1
            for t in [1, 2] if sid <= 100 else [int(rng.integers(1, 3))]:
                rows.append((sid, t, cluster, int(rng.integers(0, 2))))
    out = path / "design.csv"
    pd.DataFrame(rows, columns=["subjectID", "timeID", "clusterID", "rBern2"]).to_csv(out, index=False)
    return out


def test_a_case_written_from_the_listing_is_a_glmm_case_with_glimmix_s_method_and_df(tmp_path):
    data = _design_data(tmp_path)
    out = tmp_path / "glimmix.yaml"
    new_case(
        LISTING,
        data,
        out=out,
        software="sas",
        formula="rBern2 ~ t1 + (1 | subjectID) + (1 | clusterID)",
        part=1,
        run=False,
    )
    case = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert case["model"]["family"] == "binomial" and case["model"]["link"] == "logit"
    assert case["model"]["method"] == "laplace"  # the model's; the block keeps GLIMMIX's own
    block = case["expected"][0]
    assert block["options"]["method"] == "rspl" and block["options"]["df"] == "containment"
    case["transform"] = {"t1": "timeID == 1"}
    block["names"] = {"Intercept": "(Intercept)", "timeID 1": "t1"}
    out.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(out), get_engine("native"))
    values = {(v.name, v.quantity): v for v in res.blocks[0].values}
    # GLIMMIX's containment df of timeID: n - rank[X Z] = 260 - 161
    assert values[("timeID 1", "df")].verdict == "agrees"
    # SAS takes the RANDOM statement's order (subjectID before clusterID: the clusters add no rank, df 0); the
    # engine takes outer factors first (the clusters' 9), so this one is reported, never passed as agreement
    assert values[("Intercept", "df")].verdict == "discrepancy"
    # the made-up response cannot reproduce the estimates: a discrepancy, and the SEs of covariance
    # parameters are said to be not computed, not agreed
    assert values[("Intercept", "estimate")].verdict == "discrepancy"
    assert values[("subjectID Intercept", "se")].verdict == "discrepancy"  # computed now, on made-up data
    assert res.status != "agrees"


@pytest.fixture(scope="module")
def rspl():
    return fit_glmm_pl(_bacteria(), FORMULA, "binomial", "rspl"), fit_glmm_pl(_bacteria(), FORMULA, "binomial", "mspl")


def test_pseudo_likelihood_fit_statistics_are_glimmix_s_definitions(rspl):
    """-2 (Res) Log Pseudo-Likelihood and the Generalized Chi-Square, by their definitions on the pseudo-data of the
    last linearization: V = Z G Z' + W^-1, r = z - X b, X2 = r' V^-1 r, -2 l_R = (n - p) log 2 pi + log|V| +
    log|X' V^-1 X| + r' V^-1 r (ML: n log 2 pi, no log|X' V^-1 X|)."""
    from replicate.engine.glmm.api import prepare

    d = _bacteria()
    design, resp, _ = prepare(d, FORMULA, "binomial", None, None, None, None)
    X = np.asarray(design.X, dtype=float)
    (term,) = design.reterms
    Z = np.zeros((design.n, term.nlevels))
    Z[np.arange(design.n), term.index] = 1.0
    for fit, reml in ((rspl[0], True), (rspl[1], False)):
        tau = float(fit.varcorr.loc[fit.varcorr["grp"] == "ID", "vcov"].iloc[0])
        eta = np.asarray(fit.lmm.fitted, dtype=float)
        fam = resp.family
        mu, me = fam.link.inverse(eta), fam.link.mu_eta(eta)
        z = eta + (resp.y - mu) / me
        w = resp.wt * me**2 / fam.variance(mu)
        V = tau * Z @ Z.T + np.diag(1.0 / w)
        Vi = np.linalg.inv(V)
        XtViX = X.T @ Vi @ X
        beta = np.linalg.solve(XtViX, X.T @ Vi @ z)
        r = z - X @ beta
        x2 = float(r @ Vi @ r)
        n, p = X.shape
        m2 = (
            x2
            + np.linalg.slogdet(V)[1]
            + (np.linalg.slogdet(XtViX)[1] + (n - p) * np.log(2 * np.pi) if reml else n * np.log(2 * np.pi))
        )
        assert fit.gen_chisq == pytest.approx(x2, rel=1e-6)
        assert -2 * fit.working_loglik == pytest.approx(m2, rel=1e-8)
        assert np.allclose(fit.beta, beta, rtol=1e-6)


def _bacteria_case(tmp_path: Path, block: dict) -> Path:
    case = {
        "id": "bacteria-glimmix",
        "title": "bacteria by GLIMMIX's pseudo-likelihood (test)",
        "description": "test case",
        "source": "test",
        "data": {"dataset": {"package": "MASS", "name": "bacteria"}},
        "transform": {"yy": 'y == "y"', "wk2": "week > 2", "trt": 'factor(trt, levels=["placebo", "drug", "drug+"])'},
        "model": {"formula": FORMULA, "family": "binomial"},
        "expected": [block],
    }
    path = tmp_path / "bacteria.yaml"
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.r
def test_an_rspl_block_agrees_a_pseudo_likelihood_is_not_a_likelihood_and_the_method_is_named(tmp_path):
    ro = need_r("glmmTMB", "MASS")
    ref = [float(v) for v in ro.r(LOOP).rx2("rspl")]
    names = ["(Intercept)", "trtdrug", "trtdrug+", "wk2"]
    lsm = ref[0] + ref[3] * float(_bacteria()["wk2"].mean())
    fixed = {n: {"estimate": ref[i]} for i, n in enumerate(names)}
    block = {
        "label": "rspl-by-definition",
        "software": "sas",
        "version": "R glmmTMB working models iterated to GLIMMIX's RSPL fixed point (live)",
        "call": "glmmTMB(zz ~ trt + wk2 + (1 | ID), weights = wz, REML = TRUE, dispersion fixed at 1), iterated",
        "options": {"method": "rspl"},
        "source": "live run in this test",
        "values": {
            "fixed": fixed,
            "random": {"ID": {"(Intercept)": {"variance": ref[4], "se": ref[5]}}},
            "fit": {"loglik": -100.0},
            # GLIMMIX's LSMEANS trt / ILINK: the placebo row, wk2 at its mean, on the logit scale and inverse-linked
            "lsmeans": {"trt": {"placebo": {"estimate": lsm, "mean": float(1 / (1 + np.exp(-lsm)))}}},
        },
    }
    res = run_case(load_case(_bacteria_case(tmp_path, block)), get_engine("native"))
    values = res.blocks[0].values
    assert all(v.verdict in ("agrees", "within tolerance") for v in values if v.section != "fit"), values
    assert {v.quantity for v in values if v.section == "lsmeans"} == {"estimate", "mean"}
    (loglik,) = [v for v in values if v.section == "fit"]
    assert loglik.verdict == "not comparable" and "not a likelihood" in loglik.note
    # GLIMMIX's -2 Res Log Pseudo-Likelihood in a Laplace block is "not a likelihood", never compared as one
    pseudo = dict(block, label="pseudo-in-laplace", options={}, values={"fit": {"pseudo_reml_criterion": 800.0}})
    res = run_case(load_case(_bacteria_case(tmp_path, pseudo)), get_engine("native"))
    (value,) = res.blocks[0].values
    assert value.verdict == "not comparable" and "not a likelihood" in value.note and "rspl" in value.note
    # the same numbers declared as glmer's Laplace: another method's fit reproduces them, and it is named
    laplace = dict(
        block, label="said-laplace", options={}, values={k: v for k, v in block["values"].items() if k != "fit"}
    )
    res = run_case(load_case(_bacteria_case(tmp_path, laplace)), get_engine("native"))
    why = " ".join(d.text for d in res.blocks[0].diagnoses)
    assert "different estimation method" in why and "RSPL" in why, why


def _case_of_technique(tmp_path: Path, technique: str):
    """``replicate new`` on the listing with its Estimation Technique replaced: (what it made, the case as YAML)."""
    text = LISTING.read_text(encoding="utf-8").replace(
        "Estimation Technique Residual PL", f"Estimation Technique {technique}"
    )
    listing = tmp_path / "glimmix.lst"
    listing.write_text(text, encoding="utf-8")
    out = tmp_path / "g.yaml"
    made = new_case(
        listing,
        _design_data(tmp_path),
        out=out,
        software="sas",
        formula="rBern2 ~ t1 + (1 | subjectID)",
        part=1,
        run=False,
    )
    return made, out, yaml.safe_load(out.read_text(encoding="utf-8"))


def test_a_glimmix_technique_the_case_format_does_not_name_is_a_to_do_not_a_reml_case(tmp_path):
    made, _, case = _case_of_technique(tmp_path, "Foo Bar")
    assert case["model"]["method"] == "laplace" and "method" not in case["expected"][0]["options"]
    assert any("estimation technique" in t and "options.method" in t for t in made.todo), made.todo


@pytest.mark.parametrize(("technique", "method"), [("Residual MPL", "rmpl"), ("MPL", "mmpl")])
def test_a_marginal_pseudo_likelihood_listing_is_written_as_a_valid_rmpl_or_mmpl_block(tmp_path, technique, method):
    _, out, case = _case_of_technique(tmp_path, technique)
    assert case["expected"][0]["options"]["method"] == method
    load_case(out)  # the schema takes the marginal methods


def test_between_within_df_of_a_pseudo_likelihood_block_split_the_between_and_within_child_effects(tmp_path):
    # bacteria: treatment varies between children (50 children, 3 treatment columns with the intercept: 47 df),
    # the visit after week 2 within them (220 - 50 - 1 = 169); containment gives the treatment the residual 169
    case = Path(__file__).resolve().parents[1] / "cases" / "bacteria-binary-glmmpql.yaml"
    block = """
  - label: bw
    software: sas
    source: the df rules' definitions (a test)
    options: {{method: rspl, df: {df}}}
    values:
      fixed:
        (Intercept): {{df: 47}}
        trtdrug: {{df: {trt}}}
        after2: {{df: 169}}
"""
    for df, trt in (("between-within", 47), ("containment", 169)):
        path = tmp_path / f"{df}.yaml"
        path.write_text(case.read_text(encoding="utf-8") + block.format(df=df, trt=trt), encoding="utf-8")
        res = run_case(load_case(path), get_engine("native"))
        values = [v for v in res.blocks[-1].values]
        assert len(values) == 3 and all(v.verdict == "agrees" for v in values), (df, values)


@pytest.mark.r
def test_an_hlm_hgml_block_is_pql_with_the_level_1_variance_fixed_and_hlm_s_df(tmp_path):
    """HLM's unit-specific HGLM results: PQL with the level-1 variance fixed at 1 (here RSPL's working model) and
    HLM's df: the treatment, a child-level (level-2) predictor of the intercept, J - S - 1 = 50 - 2 - 1 = 47, as
    the intercept; wk2, a level-1 predictor without a random part, N - p = 220 - 4 = 216."""
    ro = need_r("glmmTMB", "MASS")
    ref = [float(v) for v in ro.r(LOOP).rx2("rspl")]
    names = ["(Intercept)", "trtdrug", "trtdrug+", "wk2"]
    dfs = [47, 47, 47, 216]
    block = {
        "label": "hlm-by-definition",
        "software": "hlm",
        "version": "R glmmTMB working models iterated to the PQL fixed point with the level-1 variance fixed (live)",
        "call": "glmmTMB(zz ~ trt + wk2 + (1 | ID), weights = wz, REML = TRUE, dispersion fixed at 1), iterated",
        "options": {"method": "rspl", "df": "hlm"},
        "source": "live run in this test; the df by HLM's rule, by hand",
        "values": {"fixed": {n: {"estimate": ref[i], "df": dfs[i]} for i, n in enumerate(names)}},
    }
    res = run_case(load_case(_bacteria_case(tmp_path, block)), get_engine("native"))
    values = {(v.name, v.quantity): v for v in res.blocks[0].values}
    assert all(v.verdict in ("agrees", "within tolerance") for v in values.values()), values
    block["values"]["fixed"]["wk2"]["df"] = 47  # a level-1 predictor given the level-2 df: a discrepancy
    res = run_case(load_case(_bacteria_case(tmp_path, block)), get_engine("native"))
    assert next(v for v in res.blocks[0].values if v.name == "wk2" and v.quantity == "df").verdict == "discrepancy"
