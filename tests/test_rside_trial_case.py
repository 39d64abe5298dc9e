"""The simulated MMRM trial (issue #16): its generator, its shipped file and its case against a live nlme gls.

The file is what ``replicate.simulate.mmrm_trial`` writes (byte for byte, so it is not hand-edited), a trial
of the size of a real one with monotone dropout; the case's numbers are what gls and emmeans print now (the R
test re-runs them), and the engine reproduces them, its REML optimum at least as high as gls's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from replicate.case import load_case
from replicate.engines import get_engine
from replicate.outcome import OK
from replicate.rside_stage import fit_case
from replicate.runner import run_case
from replicate.simulate.mmrm_trial import SHIPPED, SUBJECTS_PER_ARM, VISITS, covariance, trial, write
from tests.rside_trial_r import trial_values
from tests.rsupport import need_r

CASE = Path(__file__).resolve().parents[1] / "cases" / "mmrm-trial-un-nlme.yaml"


def test_the_generator_writes_the_shipped_file(tmp_path):
    path = tmp_path / "trial.csv"
    write(path)
    assert path.read_bytes() == SHIPPED.read_bytes()


def test_the_trial_has_two_arms_six_visits_and_monotone_dropout():
    d = trial()
    assert d.groupby("ARM")["USUBJID"].nunique().to_dict() == {"PBO": SUBJECTS_PER_ARM, "TRT": SUBJECTS_PER_ARM}
    visits = d.groupby("USUBJID")["AVISITN"].apply(list)
    assert all(v == list(range(1, len(v) + 1)) for v in visits)  # no gaps: once gone, gone
    share = float(np.mean([len(v) < VISITS for v in visits]))
    assert 0.05 < share < 0.5  # some drop out, most stay
    assert np.all(np.linalg.eigvalsh(covariance()) > 0)
    assert isinstance(d, pd.DataFrame) and len(d) == len(pd.read_csv(SHIPPED))


@pytest.mark.r
def test_the_stored_numbers_are_what_gls_and_emmeans_give_now():
    ro = need_r("nlme", "emmeans")
    live = trial_values(ro)
    stored = load_case(CASE).blocks[0].values

    def number(x):
        return float(getattr(x, "value", x))

    for section in ("fixed", "covparms", "lsmeans", "diffs"):
        table_live = live[section] if section in ("fixed", "covparms") else live[section]["ARM*VISIT"]
        table = stored[section] if section in ("fixed", "covparms") else stored[section]["ARM*VISIT"]
        assert set(table) == set(table_live), section
        for name, qs in table_live.items():
            for q, v in qs.items():
                assert number(table[name][q]) == pytest.approx(v, rel=1e-10, abs=1e-300), (section, name, q)
    for q, v in live["fit"].items():
        assert number(stored["fit"][q]) == pytest.approx(v, rel=1e-12)


def test_the_engine_reproduces_gls_at_an_optimum_at_least_as_high():
    case = load_case(CASE)
    res = run_case(case, get_engine("native"))
    values = [v for b in res.blocks for v in b.values]
    assert res.status == OK, [(v.name, v.quantity, v.verdict) for v in values if v.verdict == "discrepancy"]
    assert {v.section for v in values} == {"fixed", "covparms", "fit", "lsmeans", "diffs"}
    assert len([v for v in values if v.section == "covparms"]) == 21
    fit = fit_case(case, "REML")
    assert fit.loglik >= float(case.blocks[0].values["fit"]["loglik"].value) - 1e-9
