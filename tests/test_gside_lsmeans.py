"""LS-means, their differences and Type III tests of G-side (random-effects) models in case files (issue #16).

Two shipped cases carry SAS's published numbers on lmerTest's data (the LS-means of ham, the Type 3 F values
of carrots, as lmerTest's own test suite records SAS's output) and live lmerTest blocks; the engine must
reproduce them, R must still print what the live blocks hold, and a changed number, a difference printed the
other way round, a block without a df method, a level or effect the model lacks must each be handled as a
validation tool should (never read as agreement).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from replicate.case import load_case
from replicate.engines import get_engine
from replicate.fixed_part import from_design
from replicate.inference import Inference
from replicate.inference.gside_tests import GsideTests
from replicate.outcome import DISCREPANT, INVALID, OK
from replicate.runner import run_case
from tests.rsupport import data_file, fit_formula, from_r, need_r

CASES = Path(__file__).resolve().parents[1] / "cases"
HAM = CASES / "ham-lsmeans-sas.yaml"
CARROTS = CASES / "carrots-type3-sas.yaml"
HAM_MODEL = "Informed.liking ~ Product * Information * Gender + (1 | Product:Consumer) + (1 | Consumer)"
CARROTS_MODEL = "Preference ~ sens2 * Homesize * sens1 + (1 | Product)"


def _ham() -> pd.DataFrame:
    d = pd.read_csv(data_file("ham.csv"))
    return d.assign(**{c: d[c].astype(str) for c in ("Consumer", "Product", "Information", "Gender")})


def _carrots() -> pd.DataFrame:
    d = pd.read_csv(data_file("carrots.csv"))
    return d.assign(Homesize=d["Homesize"].astype(str), Product=d["Product"].astype(str))


@pytest.fixture(scope="module")
def native():
    return get_engine("native")


@pytest.fixture(scope="module")
def ham_tests():
    d = _ham()
    fit, design = fit_formula(HAM_MODEL, d)
    inf = Inference(fit, design)
    part = from_design(design, d)
    return {m: GsideTests(inf, part, m) for m in ("satterthwaite", "kenward-roger", "residual", "containment")}


def _edited(tmp_path: Path, case: Path, old: str, new: str) -> Path:
    text = case.read_text(encoding="utf-8")
    assert old in text, old
    out = tmp_path / case.name
    out.write_text(text.replace(old, new, 1), encoding="utf-8")
    return out


def _values(res):
    return [v for b in res.blocks for v in b.values]


def test_sas_published_lsmeans_and_type3_are_reproduced(native):
    for case, sections in ((HAM, {"lsmeans", "diffs", "type3", "estimates", "contrasts", "fit"}), (CARROTS, {"type3"})):
        res = run_case(load_case(case), native)
        values = _values(res)
        assert res.status == OK, [b.error for b in res.blocks]
        assert all(v.verdict in ("agrees", "within tolerance") for v in values), [v for v in values if v.verdict]
        assert {v.section for v in values} == sections
    # SAS's printed LS-means of ham (4 decimals) to every printed digit, their limits under Satterthwaite's df
    res = run_case(load_case(HAM), native)
    sas = [v for v in res.blocks[0].values]
    assert len(sas) == 16 and all(v.verdict == "agrees" for v in sas)
    live = {(v.section, v.name, v.quantity): v for v in res.blocks[1].values}
    assert min(v.lre for k, v in live.items() if k[2] in ("estimate", "se", "df", "t", "lower", "upper")) > 7


def test_a_changed_sas_number_is_a_discrepancy(tmp_path, native):
    path = _edited(tmp_path, HAM, "lower: 5.3499,", "lower: 5.3599,")
    res = run_case(load_case(path), native)
    bad = [v for v in _values(res) if v.verdict == "discrepancy"]
    assert res.status == DISCREPANT and [(v.name, v.quantity) for v in bad] == [("Product 1", "lower")]
    # the containment df (237) are not SAS's ddfm=satterthwaite (309.5): limits move in the 4th decimal, beyond
    # the tolerance for some rows, while the estimates and t (which do not depend on df) still agree
    path = _edited(
        tmp_path,
        HAM,
        "options: {method: REML, df: satterthwaite, se: model}\n    source: >\n      lmerTest",
        "options: {method: REML, df: containment, se: model}\n    source: >\n      lmerTest",
    )
    res = run_case(load_case(path), native)
    bad = {(v.name, v.quantity) for v in res.blocks[0].values if v.verdict == "discrepancy"}
    assert res.status == DISCREPANT and bad and {q for _, q in bad} <= {"lower", "upper"}


def test_a_difference_printed_the_other_way_round_turns_estimate_t_and_limits(tmp_path, native):
    text = HAM.read_text(encoding="utf-8")
    case = yaml.safe_load(text)
    row = case["expected"][1]["values"]["diffs"]["Product"].pop("1 - 2")
    case["expected"][1]["values"]["diffs"]["Product"]["2 - 1"] = {
        "estimate": -row["estimate"],
        "se": row["se"],
        "df": row["df"],
        "t": -row["t"],
        "p": row["p"],
        "lower": -row["upper"],
        "upper": -row["lower"],
    }
    path = tmp_path / HAM.name
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(path), native)
    turned = [v for v in _values(res) if v.name == "Product 2 - 1"]
    assert res.status == OK and len(turned) == 7
    assert all(v.verdict in ("agrees", "within tolerance") and v.lre > 7 for v in turned)


def test_without_a_df_method_df_p_and_limits_are_not_computed(tmp_path, native):
    path = _edited(
        tmp_path,
        HAM,
        "options: {method: REML, df: satterthwaite, se: model}\n    source: >\n      lmerTest",
        "options: {method: REML, se: model}\n    source: >\n      lmerTest",
    )
    res = run_case(load_case(path), native)
    sas = res.blocks[0].values
    unknown = [v for v in sas if v.engine is None]
    assert {v.quantity for v in unknown} == {"lower", "upper"} and len(unknown) == 8
    assert all(v.verdict not in ("agrees", "within tolerance") for v in unknown)
    assert all("options.df" in v.note for v in unknown)
    assert all(v.verdict == "agrees" for v in sas if v.quantity in ("estimate", "t"))


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ('"1": {estimate: 5.8084', '"7": {estimate: 5.8084', "'7' is not a level of 'Product'"),
        (
            '      lsmeans:\n        Product:\n          "1": {estimate: 5.8084',
            '      lsmeans:\n        Prodct:\n          "1": {estimate: 5.8084',
            "Prodct",
        ),
    ],
)
def test_a_level_or_effect_the_model_lacks_is_an_error_not_agreement(tmp_path, native, old, new, said):
    res = run_case(load_case(_edited(tmp_path, HAM, old, new)), native)
    assert res.status != OK and res.blocks[0].error and said in res.blocks[0].error, res.blocks[0].error


def test_empirical_ses_are_refused_for_these_sections(tmp_path, native):
    path = _edited(
        tmp_path,
        HAM,
        "options: {method: REML, df: satterthwaite, se: model}\n    source: >\n      lmerTest tests",
        "options: {method: REML, df: satterthwaite, se: cr2}\n    source: >\n      lmerTest tests",
    )
    res = run_case(load_case(path), native)
    assert res.status != OK and "options.se" in (res.blocks[0].error or ""), res.blocks[0].error


def test_one_row_df_are_the_coefficient_df_of_each_method(ham_tests):
    """A unit row's Satterthwaite and Kenward-Roger df are the per-coefficient df the fixed section prints."""
    inf = ham_tests["satterthwaite"].inf
    p = len(inf.fit.fixed)
    sat, kr = inf.df("satterthwaite"), inf.df("kenward-roger")
    for j in range(p):
        e = np.eye(p)[j]
        assert ham_tests["satterthwaite"].row_df("Product", e) == pytest.approx(sat.iloc[j], rel=1e-8)
        assert ham_tests["kenward-roger"].row_df("Product", e) == pytest.approx(kr.iloc[j], rel=1e-6)
    # a rule gives every row of an effect the effect's df: containment's 237 for Product, residual n - p
    assert {e.df for e in ham_tests["containment"].lsmeans("Product")} == {237.0}
    assert {e.df for e in ham_tests["residual"].diffs("Product")} == {648.0 - 16}
    t3 = ham_tests["residual"].type3()
    assert t3["Product"].num_df == 3 and t3["Product"].f_value == pytest.approx(
        ham_tests["satterthwaite"].type3()["Product"].f_value, rel=1e-9
    )


@pytest.mark.r
def test_live_lmertest_prints_the_cases_numbers_and_the_engine_reproduces_them(ham_tests):
    ro = need_r("lmerTest")
    ro.r(
        """
        ham_m <- lmerTest::lmer(Informed.liking ~ Product*Information*Gender + (1|Product:Consumer) + (1|Consumer),
          data = lmerTest::ham, control = lme4::lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12)))
        car_m <- lmerTest::lmer(Preference ~ sens2*Homesize*sens1 + (1|Product), data = lmerTest::carrots,
          control = lme4::lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12)))
        """
    )
    lsm = from_r(ro, 'as.data.frame(lmerTest::ls_means(ham_m, which = "Product"))')
    dif = from_r(ro, 'as.data.frame(lmerTest::difflsmeans(ham_m, which = "Product"))')
    a3 = from_r(ro, "as.data.frame(anova(ham_m, type = 3))")
    c3 = from_r(ro, "as.data.frame(anova(car_m, type = 3))")
    lsm_kr = from_r(ro, 'as.data.frame(lmerTest::ls_means(ham_m, which = "Product", ddf = "Kenward-Roger"))')
    a3_kr = from_r(ro, 'as.data.frame(anova(ham_m, type = 3, ddf = "Kenward-Roger"))')

    # the live blocks hold what R prints now
    ham_block = yaml.safe_load(HAM.read_text(encoding="utf-8"))["expected"][1]["values"]
    for i, lev in enumerate(["1", "2", "3", "4"]):
        row = ham_block["lsmeans"]["Product"][lev]
        assert row["estimate"] == pytest.approx(lsm["Estimate"].iloc[i], rel=1e-9)
        assert row["df"] == pytest.approx(lsm["df"].iloc[i], rel=1e-6)
        assert row["lower"] == pytest.approx(lsm["lower"].iloc[i], rel=1e-8)
    for i, pair in enumerate(["1 - 2", "1 - 3", "1 - 4", "2 - 3", "2 - 4", "3 - 4"]):
        assert ham_block["diffs"]["Product"][pair]["t"] == pytest.approx(dif["t value"].iloc[i], rel=1e-7)
    car_block = yaml.safe_load(CARROTS.read_text(encoding="utf-8"))["expected"][1]["values"]["type3"]
    for term, row in car_block.items():
        assert row["F"] == pytest.approx(c3.loc[term, "F value"], rel=1e-7)
        assert row["den_df"] == pytest.approx(c3.loc[term, "DenDF"], rel=1e-6)

    # the engine, Satterthwaite and Kenward-Roger, against lmerTest
    sat, kr = ham_tests["satterthwaite"], ham_tests["kenward-roger"]
    for i, e in enumerate(sat.lsmeans("Product")):
        assert e.estimate == pytest.approx(lsm["Estimate"].iloc[i], rel=1e-7)
        assert e.se == pytest.approx(lsm["Std. Error"].iloc[i], rel=1e-6)
        assert e.df == pytest.approx(lsm["df"].iloc[i], rel=1e-6)
    for i, e in enumerate(sat.diffs("Product")):
        assert e.estimate == pytest.approx(dif["Estimate"].iloc[i], rel=1e-7)
        assert e.df == pytest.approx(dif["df"].iloc[i], rel=1e-6)
    for i, e in enumerate(kr.lsmeans("Product")):
        assert e.se == pytest.approx(lsm_kr["Std. Error"].iloc[i], rel=1e-6)
        assert e.df == pytest.approx(lsm_kr["df"].iloc[i], rel=1e-5)
    for term, t in sat.type3().items():
        assert t.f_value == pytest.approx(a3.loc[term, "F value"], rel=1e-6)
        assert t.den_df == pytest.approx(a3.loc[term, "DenDF"], rel=1e-6)
    for term, t in kr.type3().items():
        assert t.f_value == pytest.approx(a3_kr.loc[term, "F value"], rel=1e-6)
        assert t.den_df == pytest.approx(a3_kr.loc[term, "DenDF"], rel=1e-5)
    d = _carrots()
    fit, design = fit_formula(CARROTS_MODEL, d)
    for term, t in GsideTests(Inference(fit, design), from_design(design, d), "satterthwaite").type3().items():
        assert t.f_value == pytest.approx(c3.loc[term, "F value"], rel=1e-6)


def test_a_section_linear_models_do_not_compute_is_still_refused(tmp_path, native):
    """slices (SAS's LSMEANS / SLICE=) are computed for repeated-measures models only: refused, never skipped."""
    path = _edited(
        tmp_path,
        HAM,
        '    values:\n      lsmeans:\n        Product:\n          "1": {estimate: 5.8084',
        "    values:\n      slices:\n        Product*Gender:\n          Gender 1: {F: 1.0}\n"
        '      lsmeans:\n        Product:\n          "1": {estimate: 5.8084',
    )
    res = run_case(load_case(path), native)
    error = res.error or (res.blocks[0].error if res.blocks else "") or ""
    assert res.status == INVALID and "'slices'" in error and "values.slices" in error, error


def test_estimate_and_contrast_statements_of_a_g_side_model(tmp_path, native, ham_tests):
    """SAS's ESTIMATE of an LS-mean difference is that difference, its CONTRAST of the four LS-means the Type III
    test of Product, under Satterthwaite and Kenward-Roger alike; a non-estimable row is refused naming it."""
    from replicate.case_statements import case_statements
    from replicate.inference.sas_rows import statement_rows

    case = load_case(HAM)
    statements = case_statements(case)
    for method in ("satterthwaite", "kenward-roger", "containment"):
        tests = ham_tests[method]
        L = statement_rows(tests.coding, statements.estimate["Product 1 - 2"])
        diff = tests.diffs("Product")[0]
        est = tests.estimate(L[0], statements.estimate["Product 1 - 2"].last_effect, "Product 1 - 2")
        assert est.effect == "Product 1 - 2"  # the label names the row; the listed effect gives a rule's df
        assert (est.estimate, est.se) == pytest.approx((diff.estimate, diff.se), rel=1e-9)
        # a rule gives an ESTIMATE the df of the last effect it lists (Product*Information*Gender: 316), as SAS
        # takes them from its Tests of Fixed Effects; Satterthwaite and Kenward-Roger the row's own
        assert est.df == pytest.approx(316.0 if method == "containment" else diff.df, rel=1e-9)
        C = statement_rows(tests.coding, statements.contrast["Products"])
        con = tests.contrast(C, statements.contrast["Products"].last_effect)
        t3 = tests.type3()["Product"]
        assert (con.num_df, con.f_value) == (3, pytest.approx(t3.f_value, rel=1e-9))
        if method != "containment":
            assert con.den_df == pytest.approx(t3.den_df, rel=1e-6)
    path = _edited(
        tmp_path,
        HAM,
        '"Product 1 - 2": "Product 1 -1 0 0 Product*Information',
        '"Product 1 - 2": "Product 1 -1 0 0 Information',
    )
    res = run_case(load_case(path), native)
    error = res.error or (res.blocks[0].error if res.blocks else "") or ""
    assert res.status == INVALID and "model.estimate" in error and "Product 1 - 2" in error, error
