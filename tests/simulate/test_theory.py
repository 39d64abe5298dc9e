"""The exact one-way results: against a direct simulation of the sums of squares, and the engine's closed form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from replicate.design import build_design
from replicate.engine import fit_design
from replicate.simulate.theory import oneway_theory
from replicate.spec import parse_formula


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_expectations_match_a_simulation_of_the_sums_of_squares(method):
    J, n, p, tau, s2 = 12, 10, 2, 0.2, 0.8
    th = oneway_theory(method, J, n, p, tau, s2)
    rng = np.random.default_rng(1)
    R = 400_000
    lam = s2 + n * tau
    ssb = lam * rng.chisquare(J - p, R)
    ssw = s2 * rng.chisquare(J * (n - 1), R)
    a = 1 / (J - p) if method == "REML" else 1 / J
    d = 1 / (J * n - p) if method == "REML" else 1 / (J * n)
    inside = a * ssb >= ssw / (J * (n - 1))
    tau_hat = np.where(inside, (a * ssb - ssw / (J * (n - 1))) / n, 0.0)
    s2_hat = np.where(inside, ssw / (J * (n - 1)), (ssb + ssw) * d)
    lam_hat = np.where(inside, a * ssb, s2_hat)
    assert th.tau == pytest.approx(tau_hat.mean(), abs=4 * tau_hat.std() / np.sqrt(R))
    assert th.sigma2 == pytest.approx(s2_hat.mean(), abs=4 * s2_hat.std() / np.sqrt(R))
    assert th.boundary == pytest.approx(1 - inside.mean(), abs=4 * np.sqrt(inside.mean() * (1 - inside.mean()) / R))
    t = rng.standard_normal(R) / np.sqrt(lam_hat / lam)
    for df in (J * n - p, J - p):
        rej = np.abs(t) > stats.t.ppf(0.975, df)
        assert th.rejection(df) == pytest.approx(rej.mean(), abs=4 * np.sqrt(rej.mean() * (1 - rej.mean()) / R))
    if method == "ML":
        assert th.factor == pytest.approx((J - p) / J)
        # inside the space E[tau_ML] = tau - p (tau + s2/n) / J; the boundary adds a little
        assert th.tau > tau - p * (tau + s2 / n) / J


def test_reml_inside_the_space_gives_exact_t():
    th = oneway_theory("REML", 30, 20, 1, 0.5, 0.5)  # boundary practically impossible
    assert th.boundary < 1e-8
    assert th.rejection(29) == pytest.approx(0.05, abs=1e-5)


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_engine_reaches_the_closed_form_estimates(method):
    """Balanced one-way with a level-2 predictor: the engine's estimates are the closed forms."""
    rng = np.random.default_rng(7)
    J, n = 15, 6
    g = np.repeat(np.arange(J), n)
    w = rng.normal(size=J)
    y = 0.3 * w[g] + rng.normal(0, 0.6, J)[g] + rng.normal(0, 1, J * n)
    frame = pd.DataFrame({"y": y, "w": w[g], "g": g})
    fit = fit_design(build_design(parse_formula("y ~ w + (1 | g)"), frame), method)
    means = pd.Series(y).groupby(g).mean().to_numpy()
    W = np.column_stack([np.ones(J), w])
    resid = means - W @ np.linalg.lstsq(W, means, rcond=None)[0]
    ssb = n * np.sum(resid**2)
    ssw = np.sum((y - means[g]) ** 2)
    s2 = ssw / (J * (n - 1))
    lam = ssb / (J - 2 if method == "REML" else J)
    assert lam > s2  # inside the parameter space for this seed
    assert fit.sigma2 == pytest.approx(s2, rel=1e-6)
    assert fit.varcorr["vcov"].iloc[0] == pytest.approx((lam - s2) / n, rel=1e-5)
