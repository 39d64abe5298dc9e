"""nlme ``summary(gls)`` printouts (live R runs, tests/data/printouts/nlme_gls_*.txt) read into the
repeated-measures sections, and a case block that points at one compared by `replicate run`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from replicate.case import load_case
from replicate.engines import get_engine
from replicate.errors import ReferenceError_
from replicate.references import guess_software, parse_printout, parse_printouts
from replicate.runner import run_case
from replicate.scaffold_model import infer_model
from replicate.vocab import Verdict
from tests.rsupport import printed_texts as texts

PRINTOUTS = Path(__file__).resolve().parents[1] / "data" / "printouts"
CASES = Path(__file__).resolve().parents[2] / "cases"
AR1 = (PRINTOUTS / "nlme_gls_orthodont_ar1_reml.Rout").read_text(encoding="utf-8")
UN = (PRINTOUTS / "nlme_gls_orthodont_un_reml.Rout").read_text(encoding="utf-8")
ARH1 = (PRINTOUTS / "nlme_gls_orthodont_arh1_reml.Rout").read_text(encoding="utf-8")
CS = (PRINTOUTS / "nlme_gls_orthodont_cs_ml.Rout").read_text(encoding="utf-8")


def _variant(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _reasons(text: str) -> list[str]:
    return [why for _n, _raw, why in parse_printout(text, "nlme").unparsed]


def test_an_ar1_gls_summary_is_read_as_printed() -> None:
    parsed = parse_printout(AR1, "nlme")
    assert not parsed.unparsed
    got = texts(parsed.values)
    assert got["fixed"]["SexFemale:age"] == {
        "estimate": "-0.285443",
        "se": "0.1832268",
        "df": "104",  # gls's n - p, from 'Degrees of freedom: 108 total; 104 residual'
        "t": "-1.557869",
        "p": "0.1223",
    }
    assert set(got["fixed"]) == {"(Intercept)", "SexFemale", "age", "SexFemale:age"}
    assert got["covparms"] == {"Phi": {"estimate": "0.6244888"}}
    assert got["fit"] == {
        "aic": "456.5874",
        "bic": "472.4538",
        "loglik": "-222.2937",
        "nobs": "108",
        "sigma": "2.283507",
    }
    assert parsed.model_info["method"] == "REML" and parsed.model_info["formula"] == "distance ~ Sex * age"
    assert parsed.model_info["residual"] == {"type": "AR(1)", "repeated": "idx", "subject": "Subject"}
    assert guess_software(AR1) == "nlme"


def test_the_printed_summary_is_the_shipped_cases_live_gls_fit_to_its_printed_digits() -> None:
    # cases/orthodont-growth-ar1-nlme.yaml holds the same gls fit at full precision (another live run)
    case = load_case(CASES / "orthodont-growth-ar1-nlme.yaml")
    full = case.expected[0]["values"]
    parsed = parse_printout(AR1, "nlme").values

    def same(printed: object, value: object) -> bool:
        text = printed.text  # type: ignore[attr-defined]
        digits = len(text.split(".")[1]) if "." in text else 0
        return round(float(value.value), digits) == float(text)  # type: ignore[attr-defined]

    for term, qs in parsed["fixed"].items():
        for q in ("estimate", "se", "t", "df"):
            assert same(qs[q], full["fixed"][term][q]), (term, q)
    assert same(parsed["covparms"]["Phi"]["estimate"], full["covparms"]["Phi"]["estimate"])
    for q in ("loglik", "aic", "bic", "sigma", "nobs"):
        assert same(parsed["fit"][q], full["fit"][q]), q


def test_a_general_structure_and_varident_go_to_tables_with_the_un_type() -> None:
    parsed = parse_printout(UN, "nlme")
    assert not parsed.unparsed
    assert "covparms" not in parsed.values  # nlme's correlations are not SAS's UN covariances
    assert texts(parsed.tables["Correlation Structure"]) == {
        "2,1": {"corr": "0.568"},
        "3,1": {"corr": "0.659"},
        "3,2": {"corr": "0.581"},
        "4,1": {"corr": "0.522"},
        "4,2": {"corr": "0.725"},
        "4,3": {"corr": "0.740"},
    }
    assert texts(parsed.tables["Variance function"])["4"] == {"ratio": "0.9586878"}
    # with a variance function, the residual standard error is the first stratum's SD: not fit.sigma
    assert "sigma" not in parsed.values["fit"]
    assert texts(parsed.tables["Residual standard error"]) == {"sigma": {"value": "2.329213"}}
    assert parsed.model_info["residual"] == {"type": "UN", "repeated": "idx", "subject": "Subject"}


def test_ar1_with_varident_is_arh1_and_cs_by_ml_is_cs() -> None:
    arh = parse_printout(ARH1, "nlme")
    assert not arh.unparsed and arh.model_info["residual"]["type"] == "ARH(1)"
    assert texts(arh.values["covparms"]) == {"Phi": {"estimate": "0.6332579"}}
    cs = parse_printout(CS, "nlme")
    assert not cs.unparsed and cs.model_info["residual"]["type"] == "CS" and cs.model_info["method"] == "ML"
    assert texts(cs.values["covparms"]) == {"Rho": {"estimate": "0.6178309"}}


@pytest.mark.parametrize(
    ("text", "old", "new", "reason"),
    [
        (AR1, "0.6244888 \n", "\n", "names without their numbers"),
        (ARH1, "1.0000000 0.8875549 1.0172458 0.8833067", "1.0000000 0.8875549 1.0172458", "expected 4 numbers"),
        (AR1, "SexFemale      0.721476 2.1294564  0.338808", "SexFemale      0.721476 2.1294564", "expected 4"),
        (UN, "3 0.659 0.581      ", "3 0.659 x        ", "expected a row number"),
        (AR1, "Degrees of freedom: 108 total; 104 residual", "Degrees of freedom: 108 total; n residual", "N total"),
    ],
)
def test_a_line_that_cannot_be_read_is_unparsed_with_its_reason(text: str, old: str, new: str, reason: str) -> None:
    assert any(reason in why for why in _reasons(_variant(text, old, new))), _reasons(_variant(text, old, new))


def test_without_the_degrees_of_freedom_line_the_fixed_effects_have_no_df() -> None:
    parsed = parse_printout(_variant(AR1, "Degrees of freedom: 108 total; 104 residual", ""), "nlme")
    assert "df" not in parsed.values["fixed"]["age"] and "nobs" not in parsed.values["fit"]


def test_two_summaries_are_two_printouts_and_one_part_may_not_hold_both() -> None:
    parts = parse_printouts(AR1 + "\n" + CS, "nlme")
    assert [p.model_info["residual"]["type"] for p in parts] == ["AR(1)", "CS"]
    with pytest.raises(ReferenceError_, match="more than one model summary"):
        parse_printout(AR1 + "\n" + CS, "nlme")


def test_the_scaffold_reads_the_model_of_a_gls_summary() -> None:
    inferred = infer_model(parse_printout(AR1, "nlme"), ["distance", "age", "Subject", "Sex", "idx"])
    assert inferred.formula == "distance ~ Sex * age" and inferred.method == "REML"
    assert inferred.residual == {"type": "AR(1)", "repeated": "idx", "subject": "Subject"}


def test_a_block_reading_the_gls_printout_is_compared_by_run(tmp_path: Path) -> None:
    shipped = (CASES / "orthodont-growth-ar1-nlme.yaml").read_text(encoding="utf-8")
    head = shipped[: shipped.index("expected:")]
    # the printout's visit is idx (the position of age): the case's residual uses age, the same positions
    block = """expected:
  - label: nlme-printout
    software: nlme
    version: "R 4.2.2 Patched (2022-11-10 r83330); nlme 3.1.162"
    call: "summary(nlme::gls(distance ~ Sex * age, data = d, correlation = corAR1(form = ~ idx | Subject)))"
    options: {method: REML, df: residual, se: model}
    source: tests/data/printouts/nlme_gls_orthodont_ar1_reml.Rout (live run)
    names: {Phi: "AR(1)"}
    printout: {file: gls.txt, software: nlme}
"""
    case_file = tmp_path / "gls.yaml"
    case_file.write_text(head + block, encoding="utf-8")
    shutil.copy(PRINTOUTS / "nlme_gls_orthodont_ar1_reml.Rout", tmp_path / "gls.txt")
    result = run_case(case_file, get_engine("native"))
    values = result.blocks[0].values
    assert {v.section for v in values} == {"fixed", "covparms", "fit"}
    assert len(values) == 4 * 5 + 1 + 5
    assert all(v.verdict in (Verdict.AGREES, Verdict.WITHIN) for v in values), [
        (v.section, v.name, v.quantity, v.verdict) for v in values if v.verdict not in (Verdict.AGREES, Verdict.WITHIN)
    ]


def test_names_map_phi_to_sas_ar1_and_leave_rho_unmapped() -> None:
    from replicate.references.names import suggest_names

    names, problems = suggest_names(parse_printout(AR1, "nlme"))
    assert names == {"Phi": "AR(1)"} and not problems
    assert suggest_names(parse_printout(ARH1, "nlme"))[0] == {"Phi": "ARH(1)"}
    names, problems = suggest_names(parse_printout(CS, "nlme"))  # nlme's Rho is a correlation, SAS's CS a covariance
    assert "Rho" not in names and any("'Rho'" in p for p in problems)


def test_an_lme_summary_beside_a_gls_summary_is_refused_not_passed_over() -> None:
    lme = "Linear mixed-effects model fit by REML\n  Data: d\n"
    with pytest.raises(ReferenceError_, match="lme summary"):
        parse_printouts(lme + "\n" + AR1, "nlme")
