"""SAS's subject-by-effect split of the within-subject df, on a split plot (nlme's Oats, blocks as subjects)."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.inference.bwsplit import _full_dummies, local_rank, within_variables
from replicate.inference.rside_tests import rside_type3
from replicate.inference.sumcoding import sum_coding


def _oats():
    o, _, _ = load_r_dataset("nlme", "Oats")
    o = o.assign(B=o["Block"].astype(str), V=o["Variety"].astype(str), N=o["nitro"].astype(str))
    return o.assign(plot=o["V"] + "_" + o["N"]).reset_index(drop=True)


def test_split_plot_df_are_the_classical_ones_and_a_missing_plot_costs_the_interaction_one():
    """6 blocks, 3 varieties, 4 nitrogen levels: (6-1)(3-1) = 10, (6-1)(4-1) = 15, (6-1)(3-1)(4-1) = 30."""
    o = _oats()
    fit = fit_residual(o, "yield ~ V * N + cs(plot | B)")
    assert {t.effect: t.den_df for t in rside_type3(fit)} == {"V": 10, "N": 15, "V:N": 30}
    fit = fit_residual(o.iloc[1:], "yield ~ V * N + cs(plot | B)")
    assert {t.effect: t.den_df for t in rside_type3(fit)} == {"V": 10, "N": 15, "V:N": 29}


def test_local_rank_equals_the_dense_rank():
    o = _oats()
    fit = fit_residual(o.iloc[3:], "yield ~ V * N + ar1(plot | B)")
    part = fit.fixed_part
    coding = sum_coding(part)
    groups = [np.flatnonzero(part.subject == s) for s in np.unique(part.subject)]
    assert within_variables(coding, ("V", "N"), groups) == ("V", "N")
    for terms in ([()], [(), ("V",)], [(), ("V",), ("N",), ("V", "N")]):
        dense = [part.X]
        for t in terms:
            for rows in groups:
                block = np.zeros((len(part.X), _full_dummies(t, coding, rows).shape[1]))
                block[rows] = _full_dummies(t, coding, rows)
                dense.append(block)
        assert local_rank(part.X, groups, terms, coding) == np.linalg.matrix_rank(np.column_stack(dense))


def test_a_variable_constant_within_subjects_does_not_enter_the_interaction():
    """Orthodont: Sex is constant within a child, so Sex:age shares Subject x age with age."""
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    d = d.assign(subj=d["Subject"].astype(str), Sex=d["Sex"].astype(str), agef=d["age"].astype(int).astype(str))
    fit = fit_residual(d, "distance ~ Sex * agef + ar1(agef | subj)")
    df = {t.effect: t.den_df for t in rside_type3(fit)}
    assert df["agef"] == df["Sex:agef"] == pytest.approx((4 - 1) * (27 - 2))
