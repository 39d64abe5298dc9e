"""The live nlme block of a repeated-measures case (issue #16): nlme's gls with corAR1 on Orthodont, by REML,
and the ``lsmeans:`` section (SAS's Least Squares Means; here emmeans's on the gls fit, with gls's df).

The case's numbers were printed by a live ``nlme::gls`` run; the R test re-runs the same call and checks the
stored numbers are what R gives now (so a typed-in or stale number fails), and the native test checks the
engine reproduces them under nlme's conventions (df n - p, AIC/BIC counting the fixed effects, BIC's log of
n - p under REML) and that SAS's conventions would not pass for nlme's.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

import pytest

from replicate.case import load_case
from replicate.engines import get_engine
from replicate.outcome import INVALID, OK
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
       phi = unname(coef(f$modelStruct$corStruct, unconstrained = FALSE)),
       emm = as.data.frame(summary(e <- update(emmeans::emmeans(f, ~ Sex, data = d), df = f$dims$N - f$dims$p),
                                   infer = c(FALSE, TRUE))),
       diffs = as.data.frame(summary(pairs(e, adjust = "none"), infer = c(FALSE, TRUE))),
       est = as.data.frame(summary(emmeans::contrast(
         update(emmeans::emmeans(f, ~ Sex, at = list(age = 8), data = d), df = f$dims$N - f$dims$p),
         list("Female - Male at age 8" = c(-1, 1))), infer = c(FALSE, TRUE))),
       con = unlist(anova(f, L = rbind(c(0, 1, 0, 8), c(0, 1, 0, 14)))[1, c("numDF", "F-value", "p-value")]))
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
    emm = out.rx2("emm")
    columns = {"estimate": "emmean", "se": "SE", "df": "df", "t": "t.ratio", "p": "p.value"}
    sexes = [str(s) for s in ro.r["as.character"](emm.rx2("Sex"))]
    lsmeans = {s: {q: float(emm.rx2(c)[i]) for q, c in columns.items()} for i, s in enumerate(sexes)}
    pairs = out.rx2("diffs")
    columns["estimate"] = "estimate"
    labels = [str(s) for s in ro.r["as.character"](pairs.rx2("contrast"))]
    diffs = {lab: {q: float(pairs.rx2(c)[i]) for q, c in columns.items()} for i, lab in enumerate(labels)}
    est = out.rx2("est")
    labels = [str(s) for s in ro.r["as.character"](est.rx2("contrast"))]
    estimates = {lab: {q: float(est.rx2(c)[i]) for q, c in columns.items()} for i, lab in enumerate(labels)}
    con = [float(v) for v in out.rx2("con")]
    contrasts = {"Sex at ages 8 and 14": {"num_df": con[0], "den_df": df, "F": con[1], "p": con[2]}}
    return {
        "fixed": fixed,
        "covparms": {"Phi": {"estimate": float(out.rx2("phi")[0])}},
        "fit": fit,
        "lsmeans": {"Sex": lsmeans},
        "diffs": {"Sex": diffs},
        "estimates": estimates,
        "contrasts": contrasts,
    }


def _stored() -> dict:
    """The block's numbers as stored (the float each printed text reads as)."""

    def plain(x):
        return {k: plain(v) for k, v in x.items()} if isinstance(x, dict) else float(getattr(x, "value", x))

    return plain(dict(load_case(CASE).blocks[0].values))


@pytest.mark.r
def test_the_stored_nlme_numbers_are_what_gls_gives_now():
    ro = need_r("nlme", "emmeans")
    live, stored = gls_values(ro), _stored()
    assert set(stored["fixed"]) == set(live["fixed"])
    pairs = [(stored["fixed"][t][q], live["fixed"][t][q]) for t in live["fixed"] for q in live["fixed"][t]]
    pairs += [(stored["covparms"]["Phi"]["estimate"], live["covparms"]["Phi"]["estimate"])]
    pairs += [(stored["fit"][q], live["fit"][q]) for q in ("loglik", "aic", "bic", "sigma", "nobs")]
    assert set(stored["lsmeans"]["Sex"]) == {"Male", "Female"}
    pairs += [(stored["lsmeans"]["Sex"][s][q], v) for s, qs in live["lsmeans"]["Sex"].items() for q, v in qs.items()]
    assert set(stored["diffs"]["Sex"]) == set(live["diffs"]["Sex"]) == {"Male - Female"}
    pairs += [(stored["diffs"]["Sex"]["Male - Female"][q], v) for q, v in live["diffs"]["Sex"]["Male - Female"].items()]
    for section in ("estimates", "contrasts"):
        assert set(stored[section]) == set(live[section]) and len(live[section]) == 1
        pairs += [(stored[section][lab][q], v) for lab, qs in live[section].items() for q, v in qs.items()]
    for printed, now in pairs:
        assert printed == pytest.approx(now, rel=1e-12, abs=1e-300)


def test_the_engine_reproduces_nlme_gls_ar1():
    res = run_case(load_case(CASE), get_engine("native"))
    values = [v for b in res.blocks for v in b.values]
    assert res.status == OK, [(v.name, v.quantity, v.verdict) for v in values]
    assert {v.section for v in values} == {"fixed", "covparms", "fit", "lsmeans", "diffs", "estimates", "contrasts"}
    assert len(values) == 4 * 5 + 1 + 5 + 2 * 5 + 5 + 5 + 4
    assert all(v.verdict in ("agrees", "within tolerance") for v in values)
    df = {v.engine for v in values if v.quantity == "df" and not (v.section == "contrasts" and v.engine == 2)}
    assert df == {104.0}  # gls: n - p for every coefficient, LS-mean, estimate and contrast
    assert {v.note for v in values if v.quantity == "df"} == {"gls's residual df, n - p"}


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


def test_the_lsmeans_are_the_fixed_effects_at_the_mean_age():
    # by hand from the stored coefficient table: Male (the reference) = b0 + 11 b_age; Female adds both Sex terms
    stored = _stored()
    b = {name: row["estimate"] for name, row in stored["fixed"].items()}
    male = b["(Intercept)"] + 11 * b["age"]
    female = male + b["SexFemale"] + 11 * b["SexFemale:age"]
    assert stored["lsmeans"]["Sex"]["Male"]["estimate"] == pytest.approx(male, rel=1e-12)
    assert stored["lsmeans"]["Sex"]["Female"]["estimate"] == pytest.approx(female, rel=1e-12)
    res = run_case(load_case(CASE), get_engine("native"))
    got = {(v.name, v.quantity): v.engine for b in res.blocks for v in b.values if v.section == "lsmeans"}
    assert got[("Sex Male", "estimate")] == pytest.approx(male, rel=1e-7)
    assert got[("Sex Female", "df")] == 104.0
    fit = fit_case(load_case(CASE), "REML")
    row = [1.0, 0.0, 11.0, 0.0]  # (Intercept), SexFemale, age, SexFemale:age
    se = math.sqrt(sum(row[i] * fit.vcov_beta[i, j] * row[j] for i in range(4) for j in range(4)))
    assert got[("Sex Male", "se")] == pytest.approx(se, rel=1e-10)


def test_a_changed_lsmean_is_a_discrepancy(tmp_path):
    text = CASE.read_text(encoding="utf-8")
    old = "Female: {estimate: 22.64"
    assert old in text
    path = tmp_path / CASE.name
    path.write_text(text.replace(old, "Female: {estimate: 22.74", 1), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    bad = [(v.section, v.name, v.quantity) for b in res.blocks for v in b.values if v.verdict == "discrepancy"]
    assert bad == [("lsmeans", "Sex Female", "estimate")]


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ("          Female: {", "          Femal: {", "'Femal' is not a level of 'Sex'"),
        ("        Sex:\n          Male", "        Sexx:\n          Male", "'Sexx' is not a term"),
        ("        Sex:\n          Male", "        age:\n          Male", "has a covariate"),
        ("          Male: {", "          Male, 8: {", "gives 2 level(s) for 1 variable(s)"),
    ],
)
def test_an_lsmeans_row_the_model_lacks_is_an_invalid_block(tmp_path, old, new, said):
    text = CASE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / CASE.name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    assert res.status == INVALID and said in res.blocks[0].error, res.blocks[0].error
    assert "values.lsmeans" in res.blocks[0].error


def test_lsmeans_of_a_sas_block_take_its_between_within_df(tmp_path):
    # SAS's CS case (Example 79.2) prints no LS-means: a row is added to read the engine's, whose df must be
    # the between-subject df of Gender (25) and whose estimate is the model at the mean age for each gender
    cs = CASE.parent / "orthodont-growth-cs-sas.yaml"
    text = cs.read_text(encoding="utf-8")
    old = "      fit:\n        deviance"
    assert old in text
    rows = "      lsmeans:\n        Gender:\n          F: {estimate: 1, df: 1}\n          M: {estimate: 1, df: 1}\n"
    path = tmp_path / cs.name
    path.write_text(text.replace(old, rows + old, 1), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    got = {(v.name, v.quantity): v.engine for b in res.blocks for v in b.values if v.section == "lsmeans"}
    fit = fit_case(load_case(cs), "ML")
    b = dict(zip(fit.fixed_names, fit.beta, strict=True))
    assert got[("Gender M", "df")] == got[("Gender F", "df")] == 25.0
    assert got[("Gender M", "estimate")] == pytest.approx(b["(Intercept)"] + 11 * b["Age"], rel=1e-12)
    assert got[("Gender F", "estimate")] == pytest.approx(
        b["(Intercept)"] + b["GenderF"] + 11 * (b["Age"] + b["GenderF:Age"]), rel=1e-12
    )


def test_the_difference_of_lsmeans_is_male_minus_female_with_its_own_se():
    # SAS's DIFF (emmeans's pairs()): the LS-means' difference, and its SE from the difference row L; with the full
    # Sex * age interaction each sex's LS-mean rests on its own children only, so the two are uncorrelated here
    stored = _stored()
    male, female = stored["lsmeans"]["Sex"]["Male"], stored["lsmeans"]["Sex"]["Female"]
    diff = stored["diffs"]["Sex"]["Male - Female"]
    assert diff["estimate"] == pytest.approx(male["estimate"] - female["estimate"], rel=1e-12)
    assert diff["se"] == pytest.approx(math.hypot(male["se"], female["se"]), rel=1e-12)
    fit = fit_case(load_case(CASE), "REML")
    row = [0.0, -1.0, 0.0, -11.0]  # Male - Female at age 11: minus SexFemale and 11 SexFemale:age
    se = math.sqrt(sum(row[i] * fit.vcov_beta[i, j] * row[j] for i in range(4) for j in range(4)))
    res = run_case(load_case(CASE), get_engine("native"))
    got = {v.quantity: v.engine for b in res.blocks for v in b.values if v.section == "diffs"}
    assert got["se"] == pytest.approx(se, rel=1e-10)
    assert got["estimate"] == pytest.approx(sum(r * b for r, b in zip(row, fit.beta, strict=True)), rel=1e-10)


def test_a_difference_printed_the_other_way_round_turns_its_sign(tmp_path):
    text = CASE.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if "Male - Female:" in line)
    stored = _stored()["diffs"]["Sex"]["Male - Female"]
    turned = row.replace("Male - Female", "Female - Male")
    for q in ("estimate", "t"):
        turned = turned.replace(f"{q}: {stored[q]!r}", f"{q}: {-stored[q]!r}")
    path = tmp_path / CASE.name
    path.write_text(text.replace(row, turned, 1), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    assert res.status == OK
    values = {v.quantity: v for b in res.blocks for v in b.values if v.section == "diffs"}
    assert values["estimate"].engine < 0 and values["se"].engine > 0
    # the unturned numbers under the turned label must not pass
    path.write_text(text.replace(row, row.replace("Male - Female", "Female - Male"), 1), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    bad = {v.quantity for b in res.blocks for v in b.values if v.verdict == "discrepancy"}
    assert bad == {"estimate", "t"}


@pytest.mark.parametrize(
    ("new", "said"),
    [
        ("Male - Femal", "'Femal' is not a level of 'Sex'"),
        ("Male vs Female", "is not two LS-means levels joined by ' - '"),
        ("Male - Male", "compares a level with itself"),
    ],
)
def test_a_difference_the_model_lacks_is_an_invalid_block(tmp_path, new, said):
    text = CASE.read_text(encoding="utf-8")
    path = tmp_path / CASE.name
    path.write_text(text.replace("Male - Female:", new + ":", 1), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    assert res.status != OK
    message = res.blocks[0].error or ""
    assert said in message, message


def test_differences_of_a_sas_block_take_its_between_within_df(tmp_path):
    # SAS's CS case prints no DIFF: a row is added to read the engine's: Gender's between-subject df (25), the
    # difference of the two LS-means, and (under ddfm=satterthwaite) a df of its own row
    cs = CASE.parent / "orthodont-growth-cs-sas.yaml"
    text = cs.read_text(encoding="utf-8")
    old = "      fit:\n        deviance"
    rows = (
        "      lsmeans:\n        Gender:\n          F: {estimate: 1}\n          M: {estimate: 1}\n"
        "      diffs:\n        Gender:\n          F - M: {estimate: 1, se: 1, df: 1}\n"
    )
    path = tmp_path / cs.name
    path.write_text(text.replace(old, rows + old, 1), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    got = {(v.section, v.name, v.quantity): v.engine for b in res.blocks for v in b.values}
    assert got[("diffs", "Gender F - M", "df")] == 25.0
    diff = got[("lsmeans", "Gender F", "estimate")] - got[("lsmeans", "Gender M", "estimate")]
    assert got[("diffs", "Gender F - M", "estimate")] == pytest.approx(diff, rel=1e-12)
    fit = fit_case(load_case(cs), "ML")
    row = [0.0, 1.0, 0.0, 11.0]  # F - M at the mean age: GenderF and 11 GenderF:Age
    assert list(fit.fixed_names) == ["(Intercept)", "GenderF", "Age", "GenderF:Age"]
    se = math.sqrt(sum(row[i] * fit.vcov_beta[i, j] * row[j] for i in range(4) for j in range(4)))
    assert got[("diffs", "Gender F - M", "se")] == pytest.approx(se, rel=1e-10)
    satt = tmp_path / "satt.yaml"
    satt.write_text(path.read_text(encoding="utf-8").replace("df: between-within", "df: satterthwaite"), "utf-8")
    assert "df: satterthwaite" in satt.read_text(encoding="utf-8")
    res = run_case(load_case(satt), get_engine("native"))
    df = next(v.engine for b in res.blocks for v in b.values if v.section == "diffs" and v.quantity == "df")
    # a between-subject contrast under CS: Satterthwaite gives the number of subjects (27) from ML's variance
    # estimates, the between-within 25 only from REML's (checked in the engine: 24.99999999 by REML)
    assert df == pytest.approx(27.0, rel=1e-8)


@pytest.mark.r
def test_lsmeans_at_a_given_age_are_emmeans_at(tmp_path):
    # SAS's LSMEANS / AT age=8 is emmeans's at = list(age = 8): a second block with emmeans's numbers from a
    # live run must agree, and the same numbers under the block without AT (the mean age, 11) must not
    ro = need_r("nlme", "emmeans")
    out = ro.r(
        """local({
          d <- nlme::Orthodont; d$idx <- as.integer(factor(d$age))
          f <- nlme::gls(distance ~ Sex * age, data = d, correlation = nlme::corAR1(form = ~ idx | Subject))
          e <- update(emmeans::emmeans(f, ~ Sex, data = d, at = list(age = 8)), df = f$dims$N - f$dims$p)
          s <- as.data.frame(summary(e, infer = c(FALSE, TRUE)))
          p <- as.data.frame(summary(pairs(e, adjust = "none"), infer = c(FALSE, TRUE)))
          list(lev = as.character(s$Sex), est = s$emmean, se = s$SE, pest = p$estimate, pse = p$SE)
        })"""
    )
    lev = list(out.rx2("lev"))
    rows = "\n".join(
        f"          {lv}: {{estimate: {float(out.rx2('est')[i])!r}, se: {float(out.rx2('se')[i])!r}, df: 104}}"
        for i, lv in enumerate(lev)
    )
    block = f"""  - label: emmeans-at-age-8
    software: nlme
    version: "live run in this test"
    call: "emmeans(<the case's gls fit>, ~ Sex, at = list(age = 8)) and pairs()"
    source: tests/test_rside_nlme_case.py
    options: {{method: REML, df: residual, se: model, at: {{age: 8}}}}
    values:
      lsmeans:
        Sex:
{rows}
      diffs:
        Sex:
          Male - Female: {{estimate: {float(out.rx2("pest")[0])!r}, se: {float(out.rx2("pse")[0])!r}}}
"""
    path = tmp_path / CASE.name
    path.write_text(CASE.read_text(encoding="utf-8") + block, encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    at8 = res.blocks[1]
    assert at8.error is None and len(at8.values) == 8
    assert all(v.verdict in ("agrees", "within tolerance") for v in at8.values), at8.values
    path.write_text(path.read_text(encoding="utf-8").replace(", at: {age: 8}}", "}"), encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    assert any(v.verdict == "discrepancy" for v in res.blocks[1].values)


def test_options_at_must_name_a_covariate_and_a_residual_structure(tmp_path):
    text = CASE.read_text(encoding="utf-8").replace(
        "options: {method: REML, df: residual, se: model}",
        "options: {method: REML, df: residual, se: model, at: {Sex: 1}}",
    )
    path = tmp_path / CASE.name
    path.write_text(text, encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    assert res.status == INVALID and "options.at" in res.blocks[0].error and "CLASS variable" in res.blocks[0].error
    dyestuff = CASE.parent / "dyestuff.yaml"
    text = dyestuff.read_text(encoding="utf-8")
    text, n = re.subn(r"(\n    options: \{)", r"\1at: {x: 1}, ", text, count=1)
    assert n == 1
    path = tmp_path / dyestuff.name
    path.write_text(text, encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    assert res.status != OK and "options.at" in (res.blocks[0].error or ""), res.blocks[0].error
