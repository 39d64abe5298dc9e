"""A subject's random intercept and slopes beside a residual structure in a case file (issue #16):
``distance ~ Sex * age + (1 + age | Subject)`` with ``residual: {type: AR(1), ...}`` on Orthodont, against a
live nlme::lme run (``random = ~ age | Subject, correlation = corAR1(form = ~ idx | Subject)``).

The R test re-runs the call the case records and checks the stored numbers are what nlme gives now; the
native tests check the engine reproduces them from the case file, that a changed number is a discrepancy,
how the formula's random terms are read, and that what is not implemented is said with the case's field.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from replicate.case import load_case
from replicate.engines import get_engine
from replicate.outcome import ERROR, INVALID, OK
from replicate.rside_model import rside_model
from replicate.runner import run_case
from tests.rsupport import need_r

CASE = Path(__file__).resolve().parents[1] / "cases" / "orthodont-growth-slopes-ar1-nlme.yaml"
FORMULA = "formula: distance ~ Sex * age + (1 + age | Subject)"

LME = """
local({
  d <- nlme::Orthodont
  d$idx <- as.integer(factor(d$age))
  f <- nlme::lme(distance ~ Sex * age, random = ~ age | Subject,
                 correlation = nlme::corAR1(form = ~ idx | Subject), data = d, method = "REML")
  list(tt = summary(f)$tTable,
       cov = c(as.numeric(nlme::getVarCov(f))[c(1, 2, 4)],
               unname(coef(f$modelStruct$corStruct, unconstrained = FALSE)), f$sigma^2),
       fit = c(loglik = as.numeric(logLik(f)), aic = AIC(f), bic = BIC(f), sigma = f$sigma, nobs = f$dims$N))
})
"""
LABELS = ["UN(1,1)", "UN(2,1)", "UN(2,2)", "AR(1)", "Residual"]


def _stored() -> dict:
    def plain(x):
        return {k: plain(v) for k, v in x.items()} if isinstance(x, dict) else float(getattr(x, "value", x))

    return plain(dict(load_case(CASE).blocks[0].values))


def _write(tmp_path: Path, text: str) -> Path:
    out = tmp_path / CASE.name
    out.write_text(text, encoding="utf-8")
    return out


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = CASE.read_text(encoding="utf-8")
    assert old in text
    return _write(tmp_path, text.replace(old, new, 1))


def test_the_engine_reproduces_nlme_lme_with_slopes_beside_ar1():
    res = run_case(load_case(CASE), get_engine("native"))
    values = [v for b in res.blocks for v in b.values]
    assert res.status == OK, [(v.name, v.quantity, v.verdict) for v in values]
    assert len(values) == 4 * 5 + 5 + 5
    assert all(v.lre is not None and v.lre >= 6 for v in values if v.quantity not in ("nobs", "df", "p")), values
    # lme's df: Sex between children, the rest within; the p-values from them (t's last digits amplified)
    assert {v.name: v.engine for v in values if v.quantity == "df"} == {
        "(Intercept)": 79,
        "SexFemale": 25,
        "age": 79,
        "SexFemale:age": 79,
    }
    assert all(v.lre >= 5 for v in values if v.quantity == "p"), values


def test_a_changed_slope_covariance_is_a_discrepancy(tmp_path):
    path = _edited(tmp_path, "UN(2,1): {estimate: -0.8149", "UN(2,1): {estimate: -0.8249")
    res = run_case(load_case(path), get_engine("native"))
    bad = [(v.section, v.name) for b in res.blocks for v in b.values if v.verdict == "discrepancy"]
    assert bad == [("covparms", "UN(2,1)")]


def test_the_formula_gives_the_subjects_slopes(tmp_path):
    m = rside_model(load_case(CASE))
    assert (m.random_slopes, m.random_intercept, m.cluster, m.fixed) == (("age",), False, None, "distance ~ Sex * age")
    lme4_form = rside_model(load_case(_edited(tmp_path, FORMULA, FORMULA.replace("(1 + age |", "(age |"))))
    assert lme4_form.random_slopes == ("age",) and not lme4_form.random_intercept


@pytest.mark.parametrize(
    ("formula", "status", "said"),
    [
        ("distance ~ Sex * age + (1 + age | Sex)", ERROR, "random slopes of 'Sex' beside a residual structure"),
        ("distance ~ Sex * age + (0 + age | Subject)", ERROR, "the random term '(0 + age | Subject)'"),
        ("distance ~ Sex * age + (1 | Subject) + (age | Subject)", INVALID, "given twice"),
        ("distance ~ Sex * age + (1 + ages | Subject)", INVALID, "'ages' is not in the data"),
        ("distance ~ Sex * age + (1 + Sex | Subject)", INVALID, "'Sex' is not numeric"),
    ],
)
def test_what_is_not_there_is_said_with_the_formula(tmp_path, formula, status, said):
    res = run_case(load_case(_edited(tmp_path, FORMULA, f"formula: {formula}")), get_engine("native"))
    message = res.error or " ".join(b.error or "" for b in res.blocks)
    assert res.status == status, (res.status, res.error)
    assert said in message and "model.formula" in message, message


def test_slopes_beside_a_structure_that_does_not_identify_them_are_refused(tmp_path):
    res = run_case(load_case(_edited(tmp_path, "type: AR(1)", "type: CS")), get_engine("native"))
    assert res.status == INVALID and "random slopes beside TYPE=cs are not identified" in res.blocks[0].error


@pytest.mark.r
def test_the_stored_numbers_are_what_nlme_gives_now():
    ro = need_r("nlme")
    out = ro.r(LME)
    stored = _stored()
    tt = out.rx2("tt")
    for i, name in enumerate(["(Intercept)", "SexFemale", "age", "SexFemale:age"]):
        for j, q in enumerate(["estimate", "se", "df", "t", "p"]):
            assert stored["fixed"][name][q] == pytest.approx(float(tt.rx(i + 1, j + 1)[0]), rel=1e-12)
    cov = [float(v) for v in out.rx2("cov")]
    assert [stored["covparms"][lab]["estimate"] for lab in LABELS] == pytest.approx(cov, rel=1e-12)
    fit = dict(zip(out.rx2("fit").names, (float(v) for v in out.rx2("fit")), strict=True))
    assert {q: stored["fit"][q] for q in fit} == pytest.approx(fit, rel=1e-12)
