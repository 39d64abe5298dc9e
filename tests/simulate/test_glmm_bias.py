"""The PQL-bias study (issue #17): PQL underestimates the random-intercept variance of a binary outcome with
small clusters, Laplace less, and adaptive quadrature least (Breslow and Clayton 1993; Rodriguez and Goldman
1995). A CI-size run of the shipped study's condition: the orderings are measured by paired differences, whose
Monte Carlo SE is small, and each claim must hold by more than three of its MC SEs (so the test could fail).
"""

from __future__ import annotations

import pandas as pd

from replicate.simulate.glmm_bias import METHODS, Design, draw, markdown, run, summary

REPS = 10


def test_pql_underestimates_the_variance_more_than_laplace_and_quadrature():
    design = Design()
    table = summary(run(design, REPS, seed=1993), design).set_index("method")
    assert table.attrs["not_converged"] == 0
    pql, laplace = table.loc["PQL"], table.loc["Laplace"]
    # PQL below quadrature, by more than 3 MC SEs of the paired difference
    assert pql["tau_minus_agq"] < -3 * pql["tau_minus_agq_mcse"]
    # Laplace below quadrature too, but less than PQL
    assert laplace["tau_minus_agq"] < -3 * laplace["tau_minus_agq_mcse"]
    assert pql["tau_minus_agq"] < laplace["tau_minus_agq"]
    assert "| PQL |" in markdown(table.reset_index(), design, REPS, 1993)


def test_replicate_r_is_the_same_whatever_the_runs_around_it():
    design = Design(clusters=20, size=3)
    alone = draw(design, 7, 5)
    assert alone.equals(draw(design, 7, 5))
    assert not alone.equals(draw(design, 7, 4))
    two = run(design, 2, seed=7)
    assert isinstance(two, pd.DataFrame) and len(two) == 2 * len(METHODS)
