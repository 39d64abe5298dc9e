"""A REPEATED model's SAS listing read into a case block's repeated-measures sections.

The listings are real SAS output (mmrm's stored SAS 9.4 runs, tests/data/printouts/sas_mixed_mmrm_*.lst) and
SAS's own Example 79.2 laid out from its published tables; every number asserted here is the listing's own,
as printed. The variations change one thing of a real listing and check it is refused with its reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from replicate.case import load_case
from replicate.errors import ReferenceError_
from replicate.references import parse_printout, parse_printouts
from tests.rsupport import printed_texts as texts

PRINTOUTS = Path(__file__).resolve().parents[1] / "data" / "printouts"
AR1 = (PRINTOUTS / "sas_mixed_mmrm_kr_ar1.lst").read_text(encoding="utf-8")
GROUP = (PRINTOUTS / "sas_mixed_mmrm_group_ar1.lst").read_text(encoding="utf-8")
GROWTH = (PRINTOUTS / "sas_mixed_example_79_2_growth_un.lst").read_text(encoding="utf-8")
CASES = Path(__file__).resolve().parents[2] / "cases"


def _variant(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _reasons(parsed: object) -> list[str]:
    return [why for _no, _raw, why in parsed.unparsed]  # type: ignore[attr-defined]


def test_every_table_of_an_ar1_listing_is_read_as_printed() -> None:
    parsed = parse_printout(AR1, "sas")
    assert not parsed.unparsed
    got = texts(parsed.values)
    assert list(got) == ["fixed", "fit", "covparms", "type3", "lsmeans", "diffs", "rmatrix", "rcorr"]
    assert got["covparms"] == {
        "AR(1)": {"estimate": "0.3904", "lower": "0.2804", "upper": "0.5003"},
        "Residual": {"estimate": "84.4289", "lower": "74.3072", "upper": "96.7809"},
    }
    assert got["fixed"] == {
        "Intercept": {"estimate": "40.2881", "se": "0.6651", "df": "194", "t": "60.57", "p": "<.0001"},
        "ARMCD TRT": {"estimate": "4.2257", "se": "0.9587", "df": "188", "t": "4.41", "p": "<.0001"},
    }
    assert got["type3"] == {
        "ARMCD": {"num_df": "1", "den_df": "188", "chisq": "19.43", "F": "19.43", "p_chisq": "<.0001", "p": "<.0001"}
    }
    assert got["lsmeans"] == {
        "ARMCD": {
            "TRT": {"estimate": "44.5139", "se": "0.6904", "df": "183", "t": "64.48", "p": "<.0001"},
            "PBO": {"estimate": "40.2881", "se": "0.6651", "df": "194", "t": "60.57", "p": "<.0001"},
        }
    }
    assert got["diffs"] == {
        "ARMCD": {"TRT - PBO": {"estimate": "4.2257", "se": "0.9587", "df": "188", "t": "4.41", "p": "<.0001"}}
    }
    assert got["rmatrix"] == {"1,1": "84.4289", "1,2": "12.8662", "2,1": "12.8662", "2,2": "84.4289"}
    assert got["rcorr"] == {"1,1": "1.0000", "1,2": "0.1524", "2,1": "0.1524", "2,2": "1.0000"}
    assert got["fit"] == {
        "nobs": "537",
        "reml_criterion": "3855.1",
        "aic": "3859.1",
        "aicc": "3859.1",
        "bic": "3865.7",
        "ngroups": {"USUBJID": "200"},
        "null_lrt_df": "1",
        "null_lrt_chisq": "35.96",
        "null_lrt_p": "<.0001",
    }
    assert "random" not in got  # a REPEATED model's covariance parameters are no G-side variances
    # the confidence limits stay in tables
    assert texts(parsed.tables["Least Squares Means"]["ARMCD TRT"])["Lower"] == "43.1518"
    assert texts(parsed.tables["Differences of Least Squares Means"]["ARMCD TRT PBO"])["Upper"] == "6.1168"


def test_group_parameters_are_labelled_as_the_engine_labels_a_group_level() -> None:
    parsed = parse_printout(GROUP, "sas")
    assert not parsed.unparsed
    got = texts(parsed.values)
    assert got["covparms"] == {
        "Variance / PBO": {"estimate": "78.6615", "lower": "65.8205", "upper": "95.6861"},
        "AR(1) / PBO": {"estimate": "0.3693", "lower": "0.2144", "upper": "0.5242"},
        "Variance / TRT": {"estimate": "100.79", "lower": "82.6712", "upper": "125.62"},
        "AR(1) / TRT": {"estimate": "0.4831", "lower": "0.3355", "upper": "0.6306"},
    }
    # R=: the first subject's matrix is the section; the others (titles cut over three lines, pages) in tables
    assert got["rmatrix"] == {"1,1": "100.79", "1,2": "23.5180", "2,1": "23.5180", "2,2": "100.79"}
    assert got["rcorr"] == {"1,1": "1.0000", "1,2": "0.2333", "2,1": "0.2333", "2,2": "1.0000"}
    assert texts(parsed.tables["Estimated R Matrix for USUBJID PT10"]) == {"1": {"Col1": "78.6615"}}
    assert texts(parsed.tables["Estimated R Matrix for USUBJID PT106"])["4"]["Col4"] == "100.79"
    assert len([t for t in parsed.tables if t.startswith("Estimated R Matrix for")]) == 10  # PT1, PT10, PT100-PT107
    assert got["fit"]["null_lrt_df"] == "3" and got["fixed"]["Intercept"]["df"] == "189"


def test_sas_example_79_2_laid_out_as_a_listing_gives_the_shipped_case_values_exactly() -> None:
    parsed = parse_printout(GROWTH, "sas")
    assert not parsed.unparsed
    case = load_case(CASES / "orthodont-growth-un-sas.yaml")
    assert texts(parsed.values) == texts(case.expected[0]["values"])
    assert parsed.model_info["residual"] == {"type": "UN", "subject": "Person"}


def test_a_listing_with_random_effects_is_read_as_before() -> None:
    # Model Information names a RANDOM statement's TYPE= too: with columns in Z, no REPEATED sections.
    text = _variant(AR1, "Columns in Z                      0", "Columns in Z                      1")
    got = texts(parse_printout(text, "sas").values)
    assert "covparms" not in got and "lsmeans" not in got and "rmatrix" not in got
    assert got["random"]["Residual"] == {"variance": "84.4289"}


def test_without_dimensions_a_listing_is_not_taken_for_a_repeated_model() -> None:
    text = _variant(AR1, "Columns in Z                      0\n", "")
    assert "covparms" not in parse_printout(text, "sas").values


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        # a Group column whose group Model Information does not name
        ("Group Effect                 ARMCD", "Weight Variable              W", "names no Group Effect"),
        # a group printed under another effect's name
        ("Variance     USUBJID    ARMCD PBO", "Variance     USUBJID    SEX PBO  ", "expected the group as 'ARMCD"),
    ],
)
def test_a_group_column_that_cannot_be_read_is_refused_with_its_reason(old: str, new: str, reason: str) -> None:
    parsed = parse_printout(_variant(GROUP, old, new), "sas")
    assert any(reason in why for why in _reasons(parsed))
    assert "Variance / PBO" not in parsed.values.get("covparms", {})


@pytest.mark.parametrize(
    ("old", "new", "section", "reason"),
    [
        # a level with a space in it: one token too many for the CLASS column
        ("ARMCD     TRT       44.5139", "ARMCD     T RT      44.5139", "lsmeans", "cannot match 2 printed level"),
        # a difference with one side's level missing
        ("ARMCD     TRT      PBO         4.2257", "ARMCD     TRT                  4.2257", "diffs", "cannot match 1"),
        # a standard error that cannot be one
        ("ARMCD     PBO       40.2881      0.6651", "ARMCD     PBO       40.2881     -0.6651", "lsmeans", "negative"),
        # a matrix row with a cell lost
        ("1     84.4289     12.8662", "1     84.4289", "rmatrix", "expected a row number and 2 values"),
        # a covariance parameter row with a word too many and no Group column
        ("AR(1)        USUBJID      0.3904", "AR(1)        USUBJID  X   0.3904", "covparms", "cannot tell"),
    ],
)
def test_a_row_that_cannot_be_read_is_an_unparsed_line_with_its_reason(
    old: str, new: str, section: str, reason: str
) -> None:
    base = texts(parse_printout(AR1, "sas").values)
    parsed = parse_printout(_variant(AR1, old, new), "sas")
    assert any(reason in why for why in _reasons(parsed)), _reasons(parsed)
    got = texts(parsed.values).get(section, {})
    assert got != base[section]  # the row is not in the section


def test_a_second_least_squares_means_table_in_one_step_is_refused() -> None:
    i = AR1.index("                                                        Least Squares Means")
    j = AR1.index("                                                 Differences of Least Squares Means")
    with pytest.raises(ReferenceError_, match="more than one 'Least Squares Means'"):
        parse_printout(AR1[:j] + AR1[i:j] + AR1[j:], "sas")


def test_two_listings_in_one_paste_are_two_printouts_with_their_own_sections() -> None:
    parts = parse_printouts(AR1 + "\n" + GROUP, "sas")
    assert len(parts) == 2
    assert "AR(1)" in parts[0].values["covparms"] and "AR(1) / PBO" in parts[1].values["covparms"]
    assert "lsmeans" in parts[0].values and "lsmeans" not in parts[1].values


def test_the_sections_round_trip_through_yaml_as_printed() -> None:
    from replicate.case_yaml import load_yaml

    parsed = parse_printout(AR1, "sas")
    back, _lines = load_yaml(parsed.to_yaml(), "<test>")

    def numbers(obj: object) -> object:
        if isinstance(obj, dict):
            return {str(k): numbers(v) for k, v in obj.items()}
        text = getattr(obj, "text", obj)
        return float(str(text).lstrip("<")) if str(text).lstrip("<")[:1] in "0123456789.-" else text

    assert set(back["values"]["rmatrix"]) == {"1,1", "1,2", "2,1", "2,2"}  # "row,col" keys stay strings
    assert numbers(back["values"]) == numbers(parsed.values)


# ESTIMATE, CONTRAST and SLICE tables: no public REPEATED listing with them was found, so these tables are laid
# out in SAS's format from the AR(1) listing's own rows: `estimate 'TRT vs PBO' ARMCD 1 -1;` is the difference
# of the two LS-means (SAS prints the same row), `contrast 'ARMCD' ARMCD 1 -1;` its Type 3 test. The slice table
# reuses the Type 3 row's numbers only to check how a slice's rows are read (it is no slice of this model).
_ESTIMATES = """
                                                             Estimates

                                                    Standard
                   Label           Estimate       Error      DF    t Value    Pr > |t|

                   TRT vs PBO        4.2257      0.9587     188       4.41      <.0001


                                                             Contrasts

                                          Num     Den
                            Label          DF      DF    Chi-Square    F Value      Pr > ChiSq    Pr > F

                            ARMCD           1     188         19.43      19.43          <.0001    <.0001


                                                   Tests of Effect Slices

                                          Num     Den
                 Effect         AVISIT     DF      DF    F Value    Pr > F

                 ARMCD*AVISIT   VIS1        1     188      19.43    <.0001
"""


def test_estimates_contrasts_and_slices_are_read_by_label() -> None:
    parsed = parse_printout(AR1 + "\n" + _ESTIMATES, "sas")
    assert not parsed.unparsed
    got = texts(parsed.values)
    assert got["estimates"] == {
        "TRT vs PBO": {"estimate": "4.2257", "se": "0.9587", "df": "188", "t": "4.41", "p": "<.0001"}
    }
    assert got["contrasts"] == {"ARMCD": {"num_df": "1", "den_df": "188", "F": "19.43", "p": "<.0001"}}
    assert texts(parsed.tables["Contrasts"]["ARMCD"])["Chi-Square"] == "19.43"
    assert got["slices"] == {
        "ARMCD*AVISIT": {"AVISIT VIS1": {"num_df": "1", "den_df": "188", "F": "19.43", "p": "<.0001"}}
    }
    assert list(got)[4:9] == ["lsmeans", "diffs", "slices", "estimates", "contrasts"]


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("TRT vs PBO        4.2257      0.9587", "TRT vs PBO        4.2257     -0.9587", "negative"),
        ("Effect         AVISIT     DF", "Effect  AVISIT  ARMCD     DF", "one slicing column"),
        (
            "ARMCD           1     188         19.43",
            "ARMCD           1     188         19.43  7",
            "the label ends in a number",
        ),
    ],
)
def test_an_estimate_contrast_or_slice_row_that_cannot_be_read_is_refused(old: str, new: str, reason: str) -> None:
    parsed = parse_printout(AR1 + "\n" + _variant(_ESTIMATES, old, new), "sas")
    assert any(reason in why for why in _reasons(parsed)), _reasons(parsed)


def test_a_label_ending_in_a_number_left_of_the_first_column_is_the_label() -> None:
    text = _variant(_ESTIMATES, "TRT vs PBO        4.2257", "TRT-PBO at 8      4.2257")
    parsed = parse_printout(AR1 + "\n" + text, "sas")
    assert not parsed.unparsed
    assert texts(parsed.values["estimates"]) == {
        "TRT-PBO at 8": {"estimate": "4.2257", "se": "0.9587", "df": "188", "t": "4.41", "p": "<.0001"}
    }
    # the same row copied with tabs cannot place its numbers: refused, not guessed
    tabbed = _variant(text, "TRT-PBO at 8      4.2257", "TRT-PBO at 8\t4.2257")
    assert any("the label ends in a number" in why for why in _reasons(parse_printout(AR1 + "\n" + tabbed, "sas")))


def test_names_map_sas_grouped_variance_to_the_engines_residual() -> None:
    from replicate.references.names import suggest_names

    names, problems = suggest_names(parse_printout(GROUP, "sas"), terms=["(Intercept)"])
    assert names.get("Variance") == "Residual" and not problems
