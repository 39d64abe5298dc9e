"""SAS's Estimated R Matrix and R Correlation Matrix (REPEATED / R, RCORR) in repeated-measures blocks (issue #16).

Checked against nlme's ``getVarCov`` of a ``gls`` fit (UN: ``corSymm`` with ``varIdent``, REML, Orthodont), live
(to gls's precision: it stops about 1e-5 short, and the engine's log-likelihood is at least as high);
and, without R, that the first subject's rows follow the data's order and its own visits when some are missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from replicate.case import load_case
from replicate.data import load_r_dataset
from replicate.engine.rside import fit_residual
from replicate.engines import get_engine
from replicate.errors import ModelError
from replicate.outcome import OK
from replicate.quantities.rside_rmatrix import cell, first_subject_r
from replicate.runner import run_case
from tests.rsupport import need_r, to_r

CASE = Path(__file__).resolve().parents[2] / "cases" / "orthodont-growth-ar1-nlme.yaml"


def _orthodont() -> pd.DataFrame:
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    return d.assign(idx=((d["age"] - 6) // 2).astype(int), Subject=d["Subject"].astype(str), Sex=d["Sex"].astype(str))


R_GETVARCOV = """
function(d) {
  ctl <- nlme::glsControl(tolerance = 1e-12, msTol = 1e-12, maxIter = 1000, msMaxIter = 1000)
  f <- nlme::gls(distance ~ Sex * age, data = d, correlation = nlme::corSymm(form = ~ idx | Subject),
                 weights = nlme::varIdent(form = ~ 1 | idx), method = "REML", control = ctl)
  v <- nlme::getVarCov(f)
  list(v = unclass(v), r = stats::cov2cor(unclass(v)), loglik = as.numeric(logLik(f)))
}
"""


@pytest.mark.r
def test_the_r_matrix_is_nlmes_getvarcov():
    ro = need_r("nlme")
    d = _orthodont()
    out = ro.r(R_GETVARCOV)(to_r(ro, d))
    V, C = np.asarray(out.rx2("v")), np.asarray(out.rx2("r"))
    fit = fit_residual(d, "distance ~ Sex * age", "us", visit="idx", subject="Subject")
    R, corr = first_subject_r(fit)
    # gls's optimizer stops about 1e-5 (relative) short in the covariances: the engine's optimum is at least as high
    assert fit.loglik >= float(out.rx2("loglik")[0]) - 1e-9
    np.testing.assert_allclose(R, V, rtol=5e-5)
    np.testing.assert_allclose(corr, C, rtol=5e-5, atol=1e-7)


def test_the_first_subjects_own_visits_in_data_order():
    d = _orthodont()
    first = d["Subject"].iloc[0]
    mine = d.index[d["Subject"] == first]
    d = d.drop(index=mine[1]).reset_index(drop=True)  # the first subject misses its second visit
    fit = fit_residual(d, "distance ~ Sex * age", "us", visit="idx", subject="Subject")
    R, corr = first_subject_r(fit)
    visits = d.loc[d["Subject"] == first, "idx"].to_numpy() - 1
    np.testing.assert_allclose(R, fit.R[0][np.ix_(visits, visits)])
    assert R.shape == (3, 3) and np.allclose(np.diag(corr), 1.0)


@pytest.mark.parametrize(("text", "words"), [("1", "not 'row,col'"), ("0,1", "not 'row,col'"), ("5,1", "outside")])
def test_a_bad_entry_is_refused(text, words):
    with pytest.raises(ModelError) as info:
        cell(text, 4)
    assert words in info.value.message


def test_a_block_compares_the_r_matrix(tmp_path):
    # wiring, on the AR(1) case: R(2,1) = Residual * phi and RCORR(3,1) = phi^2 from the case's own printed numbers
    case = load_case(CASE)
    values = case.blocks[0].values
    phi = float(values["covparms"]["Phi"]["estimate"].value)
    sigma = float(values["fit"]["sigma"].value)
    text = CASE.read_text(encoding="utf-8").rstrip("\n")
    text += f'\n      rmatrix:\n        "2,1": {sigma**2 * phi!r}\n      rcorr:\n        "3,1": {phi**2!r}\n'
    path = tmp_path / CASE.name
    path.write_text(text, encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    got = [v for b in res.blocks for v in b.values if v.section in ("rmatrix", "rcorr")]
    assert res.status == OK and len(got) == 2
