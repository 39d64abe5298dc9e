"""Kenward-Roger's adjusted covariance from its pieces (replicate.inference.kr_adjust)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.design import build_design
from replicate.engines import get_engine
from replicate.inference.kenward_roger import kenward_roger
from replicate.inference.kr_adjust import adjustment, covariance_of_varpar
from replicate.inference.kr_blocks import BlockStructure
from replicate.inference.kr_derivatives import kr_pieces
from replicate.spec import parse_formula


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(9), rng.integers(3, 8, 9))
    x = rng.normal(size=g.shape[0])
    y = 2.0 + 0.5 * x + rng.normal(size=9)[g] + 0.4 * rng.normal(size=9)[g] * x + rng.normal(size=g.shape[0])
    df = pd.DataFrame({"y": y, "x": x, "g": [f"u{i}" for i in g]})
    design = build_design(parse_formula("y ~ x + (x | g)"), df)
    return get_engine("native").fit(design, "REML"), design


def test_observed_information_needs_the_y_terms(small):
    fit, design = small
    theta, s2 = np.asarray(fit.theta, dtype=float), float(fit.sigma2)
    blocks = BlockStructure(design)
    expected_only = kr_pieces(blocks, theta, s2)
    assert expected_only.Y2 is None
    with pytest.raises(ValueError, match="observed=True"):
        covariance_of_varpar(expected_only, "observed")
    with_y = kr_pieces(blocks, theta, s2, observed=True)
    W = covariance_of_varpar(with_y, "observed")
    np.testing.assert_array_equal(W, kenward_roger(fit, design, information="observed").W.to_numpy())
    # the expected information does not use the y terms: the same W either way
    np.testing.assert_array_equal(
        covariance_of_varpar(expected_only, "expected"), covariance_of_varpar(with_y, "expected")
    )


def test_linear_parameters_have_no_second_derivative_term_nor_bias(small):
    fit, design = small
    pc = kr_pieces(BlockStructure(design), np.asarray(fit.theta, dtype=float), float(fit.sigma2))
    adj = adjustment(pc, "expected")
    assert not adj.R.any() and not adj.bias.any()
    np.testing.assert_array_equal(adj.vcov(pc.Phi, "kr"), adj.vcov(pc.Phi, "firstorder"))
    np.testing.assert_array_equal(
        adj.vcov(pc.Phi, "kr2"), kenward_roger(fit, design, variant="kr2").vcov_adj.to_numpy()
    )
