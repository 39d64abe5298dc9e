"""The live nlme block of a repeated-measures case (issue #16): nlme's gls with corAR1 on Orthodont, by REML.

The case's numbers were printed by a live ``nlme::gls`` run; the R test re-runs the same call and checks the
stored numbers are what R gives now (so a typed-in or stale number fails), and the native test checks the
engine reproduces them under nlme's conventions (df n - p, AIC/BIC counting the fixed effects, BIC's log of
n - p under REML) and that SAS's conventions would not pass for nlme's.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from replicate.case import load_case
from replicate.engines import get_engine
from replicate.outcome import OK
from replicate.quantities.rside import fit_statistics, nlme_fit_statistics, sas_fit_statistics
from replicate.rside_stage import fit_case
from replicate.runner import run_case
from tests.rsupport import need_r

CASE = Path(__file__).resolve().parents[1] / "cases" / "orthodont-growth-ar1-nlme.yaml"

#: The call the case's block records, run in R on nlme's own copy of the data (idx: the visit's position).
GLS = """
local({
  d <- nlme::Orthodont
  d$idx <- as.integer(factor(d$age))
  f <- nlme::gls(distance ~ Sex * age, data = d, correlation = nlme::corAR1(form = ~ idx | Subject), method = "REML")
  s <- summary(f)
  list(tt = s$tTable, names = rownames(s$tTable), df = f$dims$N - f$dims$p,
       fit = c(loglik = as.numeric(logLik(f)), aic = AIC(f), bic = BIC(f), sigma = f$sigma, nobs = f$dims$N),
       phi = unname(coef(f$modelStruct$corStruct, unconstrained = FALSE)))
})
"""


def gls_values(ro) -> dict:
    """The block's values section as nlme gives it now."""
    out = ro.r(GLS)
    tt, names = out.rx2("tt"), list(out.rx2("names"))
    df = float(out.rx2("df")[0])
    fixed = {
        name: {
            "estimate": float(tt.rx(i + 1, 1)[0]),
            "se": float(tt.rx(i + 1, 2)[0]),
            "df": df,
            "t": float(tt.rx(i + 1, 3)[0]),
            "p": float(tt.rx(i + 1, 4)[0]),
        }
        for i, name in enumerate(names)
    }
    fit = dict(zip(out.rx2("fit").names, (float(v) for v in out.rx2("fit")), strict=True))
    return {"fixed": fixed, "covparms": {"Phi": {"estimate": float(out.rx2("phi")[0])}}, "fit": fit}


def _stored() -> dict:
    """The block's numbers as stored (the float each printed text reads as)."""

    def plain(x):
        return {k: plain(v) for k, v in x.items()} if isinstance(x, dict) else float(getattr(x, "value", x))

    return plain(dict(load_case(CASE).blocks[0].values))


@pytest.mark.r
def test_the_stored_nlme_numbers_are_what_gls_gives_now():
    ro = need_r("nlme")
    live, stored = gls_values(ro), _stored()
    assert set(stored["fixed"]) == set(live["fixed"])
    pairs = [(stored["fixed"][t][q], live["fixed"][t][q]) for t in live["fixed"] for q in live["fixed"][t]]
    pairs += [(stored["covparms"]["Phi"]["estimate"], live["covparms"]["Phi"]["estimate"])]
    pairs += [(stored["fit"][q], live["fit"][q]) for q in ("loglik", "aic", "bic", "sigma", "nobs")]
    for printed, now in pairs:
        assert printed == pytest.approx(now, rel=1e-12, abs=1e-300)


def test_the_engine_reproduces_nlme_gls_ar1():
    res = run_case(load_case(CASE), get_engine("native"))
    values = [v for b in res.blocks for v in b.values]
    assert res.status == OK, [(v.name, v.quantity, v.verdict) for v in values]
    assert {v.section for v in values} == {"fixed", "covparms", "fit"}
    assert len(values) == 4 * 5 + 1 + 5
    assert all(v.verdict in ("agrees", "within tolerance") for v in values)
    df = {v.engine for v in values if v.quantity == "df"}
    assert df == {104.0}  # gls: n - p for every coefficient


def test_nlme_counts_aic_and_bic_its_own_way():
    case = load_case(CASE)
    fit = fit_case(case, "REML")
    nlme, sas = nlme_fit_statistics(fit), sas_fit_statistics(fit)
    # AR(1) under REML: nlme counts 4 fixed effects + Phi + sigma and logs n - p = 104; SAS counts 2 and logs 27
    assert nlme["aic"] == pytest.approx(-2 * fit.loglik + 2 * 6)
    assert nlme["bic"] == pytest.approx(-2 * fit.loglik + 6 * math.log(104))
    assert sas["aic"] == pytest.approx(-2 * fit.loglik + 2 * 2) and sas["bic"] != pytest.approx(nlme["bic"])
    assert fit_statistics(case.blocks[0], fit)["aic"] == nlme["aic"]
    as_sas = replace(case.blocks[0], software="sas")
    assert fit_statistics(as_sas, fit)["aic"] == sas["aic"]
    residual = next(c.estimate for c in fit.covparms if c.label == "Residual")
    assert fit_statistics(case.blocks[0], fit)["sigma"] == pytest.approx(math.sqrt(residual))


def test_a_changed_nlme_number_is_a_discrepancy(tmp_path):
    text = CASE.read_text(encoding="utf-8")
    stored = repr(_stored()["fit"]["aic"])
    assert stored in text
    # SAS's AIC (two covariance parameters, no fixed effects) in place of nlme's must not pass
    path = tmp_path / CASE.name
    path.write_text(text.replace(stored, repr(_stored()["fit"]["aic"] - 8), 1), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    bad = [(v.section, v.name) for b in res.blocks for v in b.values if v.verdict == "discrepancy"]
    assert bad == [("fit", "aic")]
