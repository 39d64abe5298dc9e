"""A published SAS PROC MIXED printout reproduced at engine level (issue #16).

SAS/STAT 14.3 User's Guide, Example 79.2 (Potthoff and Roy's growth data, REPEATED / TYPE=UN and
TYPE=CS, METHOD=ML): the -2 Log Likelihood, the Covariance Parameter Estimates with their SEs, the
Solution for Fixed Effects (estimate, SE, between-within df, t, p) and the Type 3 tests, from
``tests/data/printouts/sas_mixed_example_79_2_growth.csv`` (source and program in its header), each
to the digits printed. The data are nlme's Orthodont (the same 27 children), read without R.

Where the last printed digit is not ours, the UN fit (10 covariance parameters), and why: SAS prints
its -2 Log Likelihood as 419.47704812, ours is 419.4770481099 (lower; it rounds to ...811). SAS stops
when the relative change of the objective is below 1e-8, so its optimum is 1e-8 above ours, and a
difference of 1e-8 in the objective moves the parameters by about sqrt(1e-8) relative; the SEs,
taken at that point, move by as much: UN(4,2) prints 3.0624 (ours 3.062349), UN(2,2)'s SE 1.0824 (ours
1.082458), Gender's p 0.2904 (ours 0.290450). For the UN fit the -2 log likelihood is checked to 2e-8
and every other number to one unit of its last printed digit (df exactly); the CS fit, where SAS's
optimum is ours to all printed digits, to half a unit, i.e. exactly as printed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.inference.rside_tests import rside_type3

PRINTOUT = Path(__file__).resolve().parents[2] / "data" / "printouts" / "sas_mixed_example_79_2_growth.csv"
STRUCTURE = {"growth_un": "UN", "growth_cs": "CS"}
# SAS's names of the fixed effects -> ours, with Gender's levels ordered M, F (SAS's last level M is the reference)
FIXED = {"Intercept": "(Intercept)", "Gender F": "GenderF", "Age": "Age", "Age*Gender F": "GenderF:Age"}
TESTS = {"Gender": "Gender", "Age": "Age", "Age*Gender": "Gender:Age"}


def _printed() -> pd.DataFrame:
    return pd.read_csv(PRINTOUT, comment="#", dtype=str, keep_default_na=False)


def _growth() -> pd.DataFrame:
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    return d.assign(
        Person=d["Subject"].astype(str),
        Gender=pd.Categorical(d["Sex"].map({"Female": "F", "Male": "M"}), categories=["M", "F"]),
        Age=d["age"].astype(float),
        y=d["distance"].astype(float),
    )


def agrees(ours: float, printed: str, units: float = 0.5) -> bool:
    """``ours`` shows as ``printed`` (within ``units`` of its last digit; ``<.0001`` means below 1e-4)."""
    if printed.startswith("<"):
        return ours < float(printed[1:])
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return abs(ours - float(printed)) <= units * 10.0**-decimals * (1 + 1e-9)


@pytest.fixture(scope="module")
def fits():
    d = _growth()
    return {
        model: fit_residual(d, "y ~ Gender * Age", sas, visit="Age", subject="Person", method="ML")
        for model, sas in STRUCTURE.items()
    }


@pytest.mark.parametrize("model", sorted(STRUCTURE))
def test_published_example_79_2_is_reproduced_to_its_printed_digits(fits, model):
    fit = fits[model]
    rows = _printed()
    rows = rows[rows["model"] == model]
    assert fit.converged and fit.n_subjects == 27 and fit.n == 108
    units = 1.0 if model == "growth_un" else 0.5  # see the module's docstring
    checked = 0
    for row in rows.itertuples(index=False):
        if row.table == "fit":
            tol = 2e-8 if model == "growth_un" else 0.5e-8
            assert abs(fit.minus2loglik - float(row.estimate)) <= tol, row
        elif row.table == "covparm":
            c = fit.covparm(row.term)
            assert agrees(c.estimate, row.estimate, units) and agrees(c.se, row.std_error, units), (row, c)
            if row.p_value:
                assert agrees(c.p_value, row.p_value, units), (row, c)
        elif row.table == "solution":
            j = fit.fixed_names.index(FIXED[row.term])
            tests = {t.effect: t for t in rside_type3(fit, ddfm="betwithin")}
            est, se = float(fit.beta[j]), float(fit.se_beta[j])
            assert agrees(est, row.estimate, units) and agrees(se, row.std_error, units), (row, est, se)
            assert agrees(est / se, row.statistic, units), (row, est / se)
            # a single-column effect: its Type III df and p are the coefficient's
            effect = {"Intercept": None, "Gender F": "Gender", "Age": "Age", "Age*Gender F": "Gender:Age"}[row.term]
            if effect is not None:
                assert tests[effect].den_df == float(row.den_df)
                assert agrees(tests[effect].p_value, row.p_value, units), row
        elif row.table == "tests3":
            t = {x.effect: x for x in rside_type3(fit, ddfm="betwithin")}[TESTS[row.term]]
            assert t.num_df == int(row.num_df) and t.den_df == float(row.den_df), (row, t)
            assert agrees(t.f_value, row.statistic, units) and agrees(t.p_value, row.p_value, units), (row, t)
        else:
            raise AssertionError(f"unknown table {row.table!r}")
        checked += 1
    assert checked == len(rows) and checked >= 9


def test_the_printed_digits_check_can_fail():
    assert agrees(419.47704811, "419.47704811") and not agrees(419.4770482, "419.47704811")
    assert agrees(0.00009, "<.0001") and not agrees(0.0002, "<.0001")
    assert not agrees(1.41696, "1.4169") and agrees(1.41696, "1.4169", units=1.0)
    assert not agrees(1.4171, "1.4169", units=1.0)
