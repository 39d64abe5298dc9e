"""SAS's tables of estimates and tests (replicate/references/sas_estimates.py): a table whose header lacks the
columns it needs reports every row, and reads no number from it."""

from __future__ import annotations

from replicate.references import parse_printout

LISTING = """                 The Mixed Procedure

           Covariance Parameter Estimates

       Cov Parm     Subject     Variance
       Intercept    schoolid      8.6097
       Residual                  39.1487

               Solution for Fixed Effects

                            Standard
       Effect       Estimate       Error      DF    t Value    Pr > |t|
       Intercept     12.6362      0.2437     159      51.85      <.0001

             Type 3 Tests of Fixed Effects

                     Foo     Bar
       Effect         Stat    Other
       ses            1.0     2.0
"""


def test_tables_without_the_columns_they_need_report_every_row() -> None:
    parsed = parse_printout(LISTING, "sas")
    assert [(no, why) for no, _raw, why in parsed.unparsed] == [
        (6, "no 'Estimate' column in the covariance parameter header"),
        (7, "no 'Estimate' column in the covariance parameter header"),
        (19, "no known columns (Num DF, Den DF, F Value, Pr > F) in the header"),
    ]
    assert "random" not in parsed.values
    assert "Type III Tests of Fixed Effects" not in parsed.tables
    assert parsed.values["fixed"]["Intercept"]["estimate"].text == "12.6362"  # the table between is read


def test_a_fixed_effects_header_without_estimate_reports_its_rows() -> None:
    text = LISTING.replace("Effect       Estimate       Error", "Effect          Coef       Error")
    parsed = parse_printout(text, "sas")
    assert "fixed" not in parsed.values
    assert (13, "no 'Estimate' column in the fixed-effects header") in [(n, w) for n, _r, w in parsed.unparsed]
