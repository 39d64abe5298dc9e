"""Sandwich SEs of a PQL fit (issue #17): clubSandwich's vcovCR on the lme fit glmmPQL returns (its last working
linear mixed model, with its weights), CR0 / CR1 / CR2 and coef_test's CR2 Satterthwaite df; HLM's robust SEs of
an HGLM are the CR0 of the same working model. A block with ``options.se: cr2`` and ``df: cr2-satterthwaite``
is compared with them, a changed number is a discrepancy, and options that do not go together are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from replicate.case import load_case
from replicate.engines import get_engine
from replicate.glmm_stage import fit_pql_case
from replicate.inference.robust import cluster_robust
from replicate.outcome import DISCREPANT, ERROR, OK
from replicate.runner import run_case
from tests.rsupport import need_r

CASE = Path(__file__).resolve().parents[1] / "cases" / "bacteria-binary-glmmpql.yaml"
LABEL = "MASS-glmmPQL-clubSandwich-CR2-live"


def _block(res):
    return next(b for b in res.blocks if b.label == LABEL)


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = CASE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / CASE.name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_cr2_block_of_the_bacteria_case_is_reproduced():
    res = run_case(load_case(CASE), get_engine("native"))
    block = _block(res)
    assert res.status == OK and block.error is None
    assert len(block.values) == 20 and all(v.verdict in ("agrees", "within tolerance") for v in block.values)
    assert min(v.lre for v in block.values) > 7  # to glmmPQL's own convergence
    assert {v.quantity for v in block.values} == {"estimate", "se", "t", "df", "p"}


def test_a_changed_robust_se_is_a_discrepancy(tmp_path):
    path = _edited(tmp_path, "se: 0.71778331317695243", "se: 0.71978331317695243")
    res = run_case(load_case(path), get_engine("native"))
    bad = [(v.name, v.quantity) for v in _block(res).values if v.verdict == "discrepancy"]
    assert res.status == DISCREPANT and bad == [("trtdrug", "se")]


@pytest.mark.parametrize(
    "options",
    [
        "{method: pql, se: cr0, df: cr2-satterthwaite}",
        "{method: pql, se: cr2, df: satterthwaite}",
        "{method: pql, se: cr2}",  # coef_test's default is Satterthwaite, HLM's its own df: an unsaid df is refused
    ],
)
def test_options_that_do_not_go_together_are_refused(tmp_path, options):
    path = _edited(tmp_path, "{method: pql, se: cr2, df: cr2-satterthwaite}", options)
    res = run_case(load_case(path), get_engine("native"))
    block = _block(res)
    assert res.status == ERROR and "not implemented" in (block.error or "")
    assert not any(v.verdict in ("agrees", "within tolerance") for v in block.values)


def _by_hand_cr0(pql) -> np.ndarray:
    """CR0 by hand: ``M [sum_j X_j' V_j^-1 e_j e_j' V_j^-1 X_j] M`` with V the working model's marginal covariance
    (a random intercept per child: ``tau^2 11' + sigma^2 diag(1 / w)``)."""
    design, fit = pql.working, pql.lmm
    X, y, w = np.asarray(design.X), np.asarray(design.y), np.asarray(design.weights)
    ids = np.asarray(design.reterms[0].index)
    tau2 = float(fit.varcorr.loc[fit.varcorr["grp"] == "ID", "vcov"].iloc[0])
    s2 = float(fit.sigma2)
    e = y - X @ np.asarray(fit.fixed, dtype=float)
    bread, meat = np.zeros((X.shape[1], X.shape[1])), np.zeros((X.shape[1], X.shape[1]))
    for j in np.unique(ids):
        rows = ids == j
        V = tau2 * np.ones((rows.sum(), rows.sum())) + np.diag(s2 / w[rows])
        Vi = np.linalg.inv(V)
        bread += X[rows].T @ Vi @ X[rows]
        g = X[rows].T @ Vi @ e[rows]
        meat += np.outer(g, g)
    M = np.linalg.inv(bread)
    return M @ meat @ M


def test_cr0_is_the_plain_sandwich_of_the_working_model():
    pql = fit_pql_case(load_case(CASE)).pql
    want = np.sqrt(np.diag(_by_hand_cr0(pql)))
    got = cluster_robust(pql.lmm, pql.working, "CR0").se.to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-8)


def test_glimmix_empirical_of_a_pseudo_likelihood_block_is_the_working_models_cr0(tmp_path):
    from replicate.glmm_methods import fit_pl_case

    pl = fit_pl_case(load_case(CASE), "rspl").pql
    assert pl.sigma == 1.0  # GLIMMIX's working model: the scale known to be 1
    se = np.sqrt(np.diag(_by_hand_cr0(pl)))
    rows = "".join(
        f'        "{name}": {{se: {float(s)!r}, t: {float(b / s)!r}, df: {df}}}\n'
        for name, s, b, df in zip(pl.fixed_names, se, pl.beta, (47, 47, 47, 169), strict=True)
    )
    block = (
        "  - label: glimmix-empirical\n    software: sas\n    source: the sandwich by hand (a test)\n"
        "    options: {method: rspl, se: cr0, df: between-within}\n    values:\n      fixed:\n" + rows
    )
    path = tmp_path / CASE.name
    path.write_text(CASE.read_text(encoding="utf-8") + block, encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    values = res.blocks[-1].values
    assert len(values) == 12 and all(v.verdict in ("agrees", "within tolerance") for v in values), values
    assert min(v.lre for v in values if v.quantity in ("se", "t")) > 12  # to the last digits written
    # the sandwich is not the model-based SE: the same block without se: cr0 disagrees
    path.write_text(path.read_text(encoding="utf-8").replace("se: cr0, df: between-within", "df: between-within"))
    res = run_case(load_case(path), get_engine("native"))
    assert any(v.verdict == "discrepancy" and v.quantity == "se" for v in res.blocks[-1].values)


R_CR = """
function(kind) {
  suppressMessages({library(MASS); library(nlme)})
  d <- bacteria
  d$y01 <- as.integer(d$y == "y"); d$after2 <- as.integer(d$week > 2)
  d$trt <- factor(d$trt, levels = c("placebo", "drug", "drug+"))
  f <- glmmPQL(y01 ~ trt + after2, random = ~ 1 | ID, family = binomial, data = d, verbose = FALSE)
  sqrt(diag(as.matrix(clubSandwich::vcovCR(f, type = kind))))
}
"""


@pytest.mark.r
@pytest.mark.parametrize("kind", ["CR0", "CR1", "CR2"])
def test_the_sandwich_kinds_against_clubsandwich_on_glmmpql_live(kind):
    ro = need_r("MASS", "nlme", "clubSandwich")
    r_se = np.asarray(ro.r(R_CR)(kind), dtype=float)
    pql = fit_pql_case(load_case(CASE)).pql
    got = cluster_robust(pql.lmm, pql.working, kind).se.to_numpy()
    np.testing.assert_allclose(got, r_se, rtol=1e-6)
