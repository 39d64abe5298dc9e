"""Issue #14, class 7: parsers that read wrong numbers silently.

A SAS table is read by its header's words, not by column position; a value
its column cannot hold (a negative standard error) is refused with the row
reported; a line of text inside a table is reported and the rows after it
are read, so ``replicate parse`` exits 1 (lines not read), never 0 with rows lost.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from replicate.cli import main
from replicate.references import parse_printout

FIXED = """Solution for Fixed Effects
Effect Estimate Standard Error DF t Value Pr > |t|
Intercept 52.6434 0.5460 95.01 96.41 <.0001
urban -0.4501 1.1095 132.4 -0.41 0.6856
"""


def _texts(d: dict) -> dict:
    return {k: _texts(v) if isinstance(v, dict) else v.text for k, v in d.items()}


def test_columns_are_read_by_header_not_position() -> None:
    swapped = """Solution for Fixed Effects
Effect Standard Error Estimate DF Pr > |t| t Value
Intercept 0.5460 52.6434 95.01 <.0001 96.41
urban 1.1095 -0.4501 132.4 0.6856 -0.41
"""
    assert (
        _texts(parse_printout(swapped, "sas").values["fixed"])
        == _texts(parse_printout(FIXED, "sas").values["fixed"])
        == {
            "Intercept": {"estimate": "52.6434", "se": "0.5460", "df": "95.01", "t": "96.41", "p": "<.0001"},
            "urban": {"estimate": "-0.4501", "se": "1.1095", "df": "132.4", "t": "-0.41", "p": "0.6856"},
        }
    )


def test_covariance_parameters_read_by_header() -> None:
    text = """Covariance Parameter Estimates
Cov Parm Standard Error Estimate
schoolID 3.4610 14.2150
Residual 3.7455 70.3913
"""
    v = _texts(parse_printout(text, "sas").values["random"])
    assert v == {
        "schoolID": {"Intercept": {"variance": "14.2150", "se": "3.4610"}},
        "Residual": {"variance": "70.3913", "se": "3.7455"},
    }


def test_aligned_header_over_two_lines_in_another_order() -> None:
    text = """                          Solution for Fixed Effects

                       Standard
          Effect          Error    Estimate      DF    t Value    Pr > |t|

          Intercept      2.5000      465.10    22.1     186.04      <.0001
          ses            1.6000       10.50    19.8       6.56      <.0001
"""
    parsed = parse_printout(text, "sas")
    assert _texts(parsed.values["fixed"])["ses"] == {
        "estimate": "10.50",
        "se": "1.6000",
        "df": "19.8",
        "t": "6.56",
        "p": "<.0001",
    }
    assert parsed.unparsed == []


def test_a_negative_standard_error_is_refused() -> None:
    # the header says Estimate first, but the numbers were pasted with the SE first and its sign lost
    text = FIXED.replace("urban -0.4501 1.1095", "urban 1.1095 -0.4501")
    parsed = parse_printout(text, "sas")
    assert "urban" not in parsed.values["fixed"]
    assert "Intercept" in parsed.values["fixed"]
    [(line, raw, why)] = parsed.unparsed
    assert line == 4 and raw.startswith("urban") and "negative" in why


def test_out_of_range_values_in_other_tables() -> None:
    text = """Covariance Parameter Estimates
Cov Parm Estimate Standard Error Z Value Pr > Z
schoolID 14.2150 3.4610 4.11 1.5
Residual 70.3913 -3.7455 18.79 <.0001
"""
    parsed = parse_printout(text, "sas")
    assert "random" not in parsed.values
    reasons = [why for _l, _r, why in parsed.unparsed]
    assert len(reasons) == 2 and "probability" in reasons[0] and "negative" in reasons[1]


def test_a_line_of_text_inside_the_table_is_reported_and_the_rows_after_it_are_read() -> None:
    text = FIXED.replace("urban -0.4501", "(a note the user pasted between the rows)\nurban -0.4501")
    parsed = parse_printout(text, "sas")
    assert set(parsed.values["fixed"]) == {"Intercept", "urban"}
    [(line, raw, why)] = parsed.unparsed
    assert line == 4 and raw.startswith("(a note") and "inside the table" in why


def test_rows_of_an_untitled_table_after_the_table_are_not_read_as_its_rows() -> None:
    text = FIXED + "\nSome Other Table\nEffect Estimate Standard Error\nIntercept 1.0 2.0\n"
    parsed = parse_printout(text, "sas")
    assert set(parsed.values["fixed"]) == {"Intercept", "urban"}
    assert parsed.values["fixed"]["Intercept"]["estimate"].text == "52.6434"
    assert [ln for ln, _r, _w in parsed.unparsed] == [6, 7, 8]


def test_trailing_text_after_the_table_is_not_a_skipped_row() -> None:
    parsed = parse_printout(FIXED + "\nThis is the end of the listing.\n", "sas")
    assert parsed.unparsed == []


def test_cli_parse_exits_1_when_a_table_line_is_skipped(tmp_path: Path) -> None:
    f = tmp_path / "sas.txt"
    f.write_text(FIXED.replace("urban -0.4501", "a stray line\nurban -0.4501"), encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["parse", str(f), "--software", "sas"])
    assert code == 1
    assert "line 4 not read" in out.getvalue() and "urban:" in out.getvalue()
    f.write_text(FIXED, encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["parse", str(f), "--software", "sas"]) == 0


# ------------------------------------------------------------ the other parsers: the same rules

PRINTOUTS = Path(__file__).resolve().parents[1] / "data" / "printouts"


def test_lme4_text_inside_the_fixed_effects_table_is_reported_and_rows_after_it_read() -> None:
    base = (PRINTOUTS / "lmertest_nels_model1_ml.txt").read_text(encoding="utf-8")
    text = base.replace("\nfamily_inc\t", "\n(pasted from page 2)\nfamily_inc\t")
    parsed = parse_printout(text, "lmerTest")
    assert set(parsed.values["fixed"]) == {"(Intercept)", "family_inc"}
    assert [why for _l, raw, why in parsed.unparsed if raw.startswith("(pasted")] == [
        "a line of text inside the fixed-effects table (the rows after it are read)"
    ]
    assert parse_printout(base, "lmerTest").unparsed == []  # '---' and the significance codes end the table


def test_lme4_negative_standard_error_is_refused() -> None:
    base = (PRINTOUTS / "lmertest_nels_model1_ml.txt").read_text(encoding="utf-8")
    parsed = parse_printout(base.replace("4.053e-02", "-4.053e-02"), "lmerTest")
    assert "family_inc" not in parsed.values["fixed"]
    assert any("negative" in why for _l, _r, why in parsed.unparsed)


def test_hlm_out_of_range_values_are_refused() -> None:
    base = (PRINTOUTS / "hlm_model1_urban_level1.txt").read_text(encoding="utf-8")
    parsed = parse_printout(
        base.replace("-0.450022 1.157924 -0.389 692 0.698", "-0.450022 1.157924 -0.389 692 1.698"), "hlm"
    )
    assert "URBAN slope, γ10" not in parsed.values["fixed"]
    assert any("not a probability" in why for _l, _r, why in parsed.unparsed)


NLME = """Linear mixed-effects model fit by REML
  Data: dat
       AIC      BIC    logLik
  12046.71 12067.03 -6019.356

Random effects:
 Formula: ~1 | schoolid
        (Intercept) Residual
StdDev:    17.57958 36.16411

Fixed effects:  mathkind ~ ses
               Value Std.Error   DF   t-value p-value
(Intercept) 465.7461  2.058211 1082 226.28668       0
ses          10.7217  1.589122 1082   6.74698       0
 Correlation:
    (Intr)
ses 0.034

Number of Observations: 1190
Number of Groups: 107
"""


def test_nlme_text_inside_the_fixed_effects_table() -> None:
    # the nlme printout of tests/references/test_printouts_variations.py (NLME_INTERCEPT), shortened
    assert parse_printout(NLME, "nlme").unparsed == []
    parsed = parse_printout(NLME.replace("\nses          10.7217", "\n(continued)\nses          10.7217"), "nlme")
    assert set(parsed.values["fixed"]) == {"(Intercept)", "ses"}
    assert [why for _l, raw, why in parsed.unparsed if raw == "(continued)"] == [
        "a line of text inside the fixed-effects table (the rows after it are read)"
    ]
    bad = parse_printout(NLME.replace("10.7217  1.589122", "10.7217  -1.589122"), "nlme")
    assert "ses" not in bad.values["fixed"] and any("negative" in w for _l, _r, w in bad.unparsed)


def test_hlm_text_inside_the_fixed_effects_table() -> None:
    base = (PRINTOUTS / "hlm_model1_urban_level1.txt").read_text(encoding="utf-8")
    assert parse_printout(base, "hlm").unparsed == []
    text = base.replace("\nFor URBAN", "\n(page 2)\nFor URBAN", 1)
    assert text != base
    parsed = parse_printout(text, "hlm")
    assert set(parsed.values["fixed"]) == set(parse_printout(base, "hlm").values["fixed"])
    assert [why for _l, raw, why in parsed.unparsed if raw == "(page 2)"] == [
        "a line of text inside the table (the rows after it are read)"
    ]
