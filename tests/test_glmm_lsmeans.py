"""LS-means (with SAS's ILINK columns), their differences and Type III Wald tests of GLMM blocks (issue #17).

The cbpp case holds emmeans's LS-means of period on a tight glmer fit (logit scale with z limits, and
``type = "response"``: SAS's ILINK Mean, its delta-method SE and the inverse-linked limits), their pairwise
differences and the Wald test of period; the engine reproduces them at its own optimum (the SEs to 6 digits, as
the fixed effects' SEs: the two programs' finite-difference Hessians differ there), R still prints them, and a
level the model lacks is an invalid case, not a value left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from replicate.case import load_case
from replicate.engines import get_engine
from replicate.outcome import INVALID, OK
from replicate.runner import run_case
from tests.rsupport import need_r

CBPP = Path(__file__).resolve().parents[1] / "cases" / "cbpp-binomial-glmer.yaml"

R_EMMEANS = """
local({
  suppressMessages({library(lme4); library(emmeans)})
  m <- lme4::glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial,
        control = glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12,
                               optCtrl = list(rhobeg = 2e-3, rhoend = 1e-10, maxfun = 1e5)))
  e <- emmeans(m, ~ period)
  a <- as.data.frame(summary(e)); r <- as.data.frame(summary(e, type = "response"))
  p <- as.data.frame(summary(pairs(e, adjust = "none")))
  list(emmean = a$emmean, lcl = a$asymp.LCL, prob = r$prob, se_prob = r$SE, ucl_prob = r$asymp.UCL, z = p$z.ratio)
})
"""


def _block(res, label):
    return next(b for b in res.blocks if b.label == label)


def test_emmeans_lsmeans_ilink_differences_and_the_wald_test_are_reproduced():
    res = run_case(load_case(CBPP), get_engine("native"))
    block = _block(res, "emmeans-live")
    values = block.values
    assert res.status == OK and block.error is None, block.error
    assert {v.section for v in values} == {"lsmeans", "diffs", "type3"} and len(values) == 32 + 24 + 4
    assert all(v.verdict in ("agrees", "within tolerance") for v in values)
    lre = {(v.section, v.quantity): v.lre for v in values}
    assert min(v.lre for v in values if v.quantity in ("estimate", "mean")) > 6
    assert min(v.lre for v in values if v.quantity in ("se", "se_mean")) > 5.5
    assert lre[("type3", "df")] >= 1


def test_ilink_columns_are_the_inverse_link_and_the_delta_method():
    case = yaml.safe_load(CBPP.read_text(encoding="utf-8"))
    rows = case["expected"][-1]["values"]["lsmeans"]["period"]
    for row in rows.values():
        p = 1 / (1 + np.exp(-row["estimate"]))
        assert row["mean"] == pytest.approx(p, rel=1e-12)
        assert row["se_mean"] == pytest.approx(p * (1 - p) * row["se"], rel=1e-12)
        assert row["upper_mean"] == pytest.approx(1 / (1 + np.exp(-row["upper"])), rel=1e-12)


def test_a_level_the_model_lacks_is_an_invalid_case(tmp_path):
    text = CBPP.read_text(encoding="utf-8").replace(
        '          "4": {estimate: -2.97884610663640', '          "5": {estimate: -2.97884610663640'
    )
    path = tmp_path / CBPP.name
    path.write_text(text, encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    block = _block(res, "emmeans-live")
    assert res.status == INVALID and "'5' is not a level of 'period'" in (block.error or ""), block.error


@pytest.mark.r
def test_r_still_prints_the_emmeans_block():
    ro = need_r("lme4", "emmeans")
    out = ro.r(R_EMMEANS)
    ref = {k: np.asarray(v, dtype=float) for k, v in zip(out.names, out, strict=True)}
    case = yaml.safe_load(CBPP.read_text(encoding="utf-8"))
    block = case["expected"][-1]["values"]
    rows = [block["lsmeans"]["period"][k] for k in ("1", "2", "3", "4")]
    assert np.allclose([r["estimate"] for r in rows], ref["emmean"], rtol=1e-8)
    assert np.allclose([r["lower"] for r in rows], ref["lcl"], rtol=1e-8)
    assert np.allclose([r["mean"] for r in rows], ref["prob"], rtol=1e-8)
    assert np.allclose([r["se_mean"] for r in rows], ref["se_prob"], rtol=1e-6)
    assert np.allclose([r["upper_mean"] for r in rows], ref["ucl_prob"], rtol=1e-8)
    diffs = block["diffs"]["period"]
    assert np.allclose(
        [diffs[k]["t"] for k in ("1 - 2", "1 - 3", "1 - 4", "2 - 3", "2 - 4", "3 - 4")], ref["z"], rtol=1e-6
    )
