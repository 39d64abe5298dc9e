"""Cross-program names: SAS, HLM and nlme names as lme4 names them."""

from __future__ import annotations

from pathlib import Path

import pytest

from replicate.errors import ReferenceError_
from replicate.references import names, parse_printout

PRINTOUTS = Path(__file__).resolve().parents[1] / "data" / "printouts"


def test_sas_terms() -> None:
    assert names.sas_term_to_lme4("Intercept") == "(Intercept)"
    assert names.sas_term_to_lme4("urban") == "urban"
    assert names.sas_term_to_lme4("ses*urban") == "ses:urban"
    assert names.sas_term_to_lme4("URBAN*SES", terms=["(Intercept)", "ses", "urban", "urban:ses"]) == "urban:ses"
    with pytest.raises(ReferenceError_):
        names.sas_term_to_lme4("ses*")


def test_sas_class_rows_under_sas_contrasts() -> None:
    order = {"sex": ["F", "M"], "race": ["1", "2", "3"]}
    assert names.sas_class_term_to_r("sex", {"sex": "F"}, order) == "sexF"
    assert names.sas_class_term_to_r("sex", {"sex": "M"}, order) is None  # SAS's reference (last) level
    assert names.sas_class_term_to_r("ses*sex", {"sex": "F"}, order) == "ses:sexF"
    assert names.sas_class_term_to_r("ses*sex", {"sex": "F"}, order, terms=["sexF:ses"]) == "sexF:ses"
    assert names.sas_class_term_to_r("sex*race", {"sex": "F", "race": "2"}, order) == "sexF:race2"
    assert names.sas_class_term_to_r("sex*race", {"sex": "F", "race": "3"}, order) is None
    assert names.sas_class_term_to_r("Intercept", {}, order) == "(Intercept)"


def test_sas_class_rows_are_not_r_treatment_coefficients() -> None:
    with pytest.raises(ReferenceError_, match="FIRST level") as exc:
        names.sas_class_term_to_r("sex", {"sex": "F"}, {"sex": ["F", "M"]}, contrasts="treatment")
    assert "contrasts: sas" in (exc.value.hint or "")
    with pytest.raises(ReferenceError_, match="no level order"):
        names.sas_class_term_to_r("sex", {"sex": "F"}, {})
    with pytest.raises(ReferenceError_, match="not among its levels"):
        names.sas_class_term_to_r("sex", {"sex": "X"}, {"sex": ["F", "M"]})


def test_sas_covariance_parameters() -> None:
    assert names.sas_covparm_to_lme4("Residual") == ("Residual", None)
    assert names.sas_covparm_to_lme4("schoolID") == ("schoolID", "(Intercept)")
    assert names.sas_covparm_to_lme4("classid(schoolid)") == ("classid:schoolid", "(Intercept)")
    assert names.sas_covparm_to_lme4("Intercept", "schoolid") == ("schoolid", "(Intercept)")
    assert names.sas_covparm_to_lme4("Intercept", "classid(schoolid)") == ("classid:schoolid", "(Intercept)")
    assert names.sas_covparm_to_lme4("ses", "schoolid") == ("schoolid", "ses")
    re_ = ["(Intercept)", "ses"]
    assert names.sas_covparm_to_lme4("UN(1,1)", "schoolid", re_) == ("schoolid", "(Intercept)")
    assert names.sas_covparm_to_lme4("UN(2,2)", "schoolid", re_) == ("schoolid", "ses")
    assert names.sas_covparm_to_lme4("UN(2,1)", "schoolid", re_) == ("schoolid", ("(Intercept)", "ses"))
    with pytest.raises(ReferenceError_, match="RANDOM"):
        names.sas_covparm_to_lme4("UN(2,1)", "schoolid")
    with pytest.raises(ReferenceError_, match="cannot tell"):
        names.sas_covparm_to_lme4("ses*schoolid")
    with pytest.raises(ReferenceError_, match="no lme4 counterpart"):
        names.sas_covparm_to_lme4("AR(1)", "id")
    assert names.sas_un_names(re_) == {"UN(1,1)": "(Intercept)", "UN(2,2)": "ses"}


def test_hlm_terms() -> None:
    assert names.hlm_term_to_lme4("INTRCPT1", "INTRCPT2, γ00") == "(Intercept)"
    assert names.hlm_term_to_lme4("For INTRCPT1, β0", "INTRCPT2, γ00") == "(Intercept)"
    assert names.hlm_term_to_lme4("URBAN slope, β1", "INTRCPT2, γ10", terms=["(Intercept)", "urban"]) == "urban"
    assert names.hlm_term_to_lme4("INTRCPT1", "URBAN_LE, γ01", terms=["(Intercept)", "urban_level2"]) == "urban_level2"
    assert names.hlm_term_to_lme4("URBAN slope", "INTRCPT2") == "URBAN"  # no terms: as printed
    assert names.hlm_term_to_lme4("SES slope, B1", "SECTOR, G11", terms=["ses", "sector", "sector:ses"]) == "sector:ses"
    assert names.hlm_term_to_lme4("SES slope", "SECTOR") == "SES:SECTOR"
    with pytest.raises(ReferenceError_, match="none of the model's names"):
        names.hlm_term_to_lme4("INTRCPT1", "MEANSES, γ01", terms=["(Intercept)", "ses"])
    with pytest.raises(ReferenceError_, match="several"):
        names.hlm_term_to_lme4("INTRCPT1", "FAMILY_I", terms=["family_inc", "family_income"])


def test_hlm_random() -> None:
    assert names.hlm_random_to_lme4("INTRCPT1, u0", "schoolid") == ("schoolid", "(Intercept)")
    assert names.hlm_random_to_lme4("INTRCPT1", "schoolid") == ("schoolid", "(Intercept)")
    assert names.hlm_random_to_lme4("level-1, r", "schoolid") == ("Residual", None)
    assert names.hlm_random_to_lme4("URBAN slope, u1", "schoolid", terms=["urban"]) == ("schoolid", "urban")


def test_lme4_and_nlme_labels() -> None:
    assert names.lme4_random_label("schoolid (Intercept)") == ("schoolid", "(Intercept)")
    assert names.lme4_random_label("Residual") == ("Residual", None)
    with pytest.raises(ReferenceError_):
        names.lme4_random_label("a b c")
    assert names.nlme_group_to_lme4("classid %in% schoolid") == "classid:schoolid"
    assert names.nlme_group_to_lme4("schoolid") == "schoolid"


def test_suggest_names_for_the_seed_printouts() -> None:
    hlm = parse_printout((PRINTOUTS / "hlm_model1_urban_level1.txt").read_text(encoding="utf-8"), "hlm")
    mapping, problems = names.suggest_names(hlm, group="schoolID", terms=["(Intercept)", "urban"])
    assert mapping == {
        "level-2": "schoolID",
        "INTRCPT2, γ00": "(Intercept)",
        "URBAN slope, γ10": "urban",
        "INTRCPT1": "(Intercept)",
    }
    assert problems == []
    _m, problems = names.suggest_names(hlm)
    assert any("group=" in p for p in problems)

    hlm2 = parse_printout((PRINTOUTS / "hlm_model2_urban_level2.txt").read_text(encoding="utf-8"), "hlm")
    mapping, problems = names.suggest_names(hlm2, group="schoolID", terms=["(Intercept)", "urban_le"])
    assert mapping["URBAN_LE, γ01"] == "urban_le" and problems == []

    sas = parse_printout((PRINTOUTS / "sas_glimmix_model3.txt").read_text(encoding="utf-8"), "sas")
    mapping, problems = names.suggest_names(sas, terms=["(Intercept)", "urban"])
    assert mapping == {"Intercept": "(Intercept)"} and problems == []

    lmer = parse_printout((PRINTOUTS / "lmertest_mathkind_ses_school.txt").read_text(encoding="utf-8"), "lmerTest")
    assert names.suggest_names(lmer) == ({}, [])
