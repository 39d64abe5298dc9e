"""ranova's reductions and likelihood-ratio tests (replicate.inference.variance_lrt) beyond the lmerTest checks
in test_vartests.py."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from replicate.design import build_design
from replicate.engines import get_engine
from replicate.inference.chibar import chibar_pvalue, mixture_text
from replicate.inference.variance_lrt import ranova
from replicate.spec import parse_formula


def test_ranova_counts_the_parameters_when_the_fit_does_not():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(10), 6)
    x = rng.normal(size=g.shape[0])
    y = 1.0 + x + rng.normal(size=10)[g] + rng.normal(size=g.shape[0])
    design = build_design(parse_formula("y ~ x + (1 | g)"), pd.DataFrame({"y": y, "x": x, "g": g.astype(str)}))
    fit = get_engine("native").fit(design, "REML")
    counted = ranova(replace(fit, npar=None), design)
    assert counted.loc["<none>", "npar"] == design.p + 2  # beta, theta, sigma
    pd.testing.assert_frame_equal(counted, ranova(fit, design))


def test_mixture_text_and_p_value_agree():
    mix = {1: 0.5, 0: 0.5}
    assert mixture_text(mix) == "0.5 chi2(0) + 0.5 chi2(1)"
    assert mixture_text(None) == ""
    assert chibar_pvalue(0.0, mix) == 0.5 + 0.5 * 1.0
    assert chibar_pvalue(3.84, mix) == 0.5 * chibar_pvalue(3.84, {1: 1.0})
