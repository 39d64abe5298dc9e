"""The engine against closed forms, with no reference program in between (issue #19's planted bugs).

A balanced one-way random-effects design has textbook estimators: REML gives sigma^2 = MSW and
tau^2 = (MSB - MSW) / n, ML gives sigma^2 = MSW and tau^2 = (SSB / J - MSW) / n (when positive). The
REML criterion and the ML deviance are checked against their definitions computed with the full
covariance matrix V, and the residual df against n - p. Each of the bugs planted in the issue (REML's
sigma^2 over n instead of n - p, the REML criterion with n instead of n - p, residual df n + p) breaks
one of these equalities.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import replicate

J, N_PER = 6, 5


@pytest.fixture(scope="module")
def balanced() -> pd.DataFrame:
    rng = np.random.default_rng(20261204)
    g = np.repeat(np.arange(J), N_PER)
    y = 10 + rng.normal(0, 2.0, J)[g] + rng.normal(0, 1.0, J * N_PER)
    x = rng.normal(size=J * N_PER)
    return pd.DataFrame({"y": y, "g": [f"g{k}" for k in g], "x": x})


def _anova(d: pd.DataFrame) -> tuple[float, float]:
    means = d.groupby("g")["y"].mean()
    ssb = N_PER * float(((means - d["y"].mean()) ** 2).sum())
    ssw = float(((d["y"] - d["g"].map(means)) ** 2).sum())
    return ssb, ssw


def _dense_criterion(fit, d: pd.DataFrame, X: np.ndarray, reml: bool) -> float:
    """-2 log-likelihood (REML: restricted) from V = sigma^2 I + tau^2 Z Z' at the fit's estimates."""
    Z = pd.get_dummies(d["g"]).to_numpy(dtype=float)
    tau2 = float(fit.varcorr.loc[fit.varcorr["grp"] == "g", "vcov"].iloc[0])
    V = fit.sigma2 * np.eye(len(d)) + tau2 * Z @ Z.T
    Vi = np.linalg.inv(V)
    XtViX = X.T @ Vi @ X
    beta = np.linalg.solve(XtViX, X.T @ Vi @ d["y"].to_numpy())
    r = d["y"].to_numpy() - X @ beta
    n, p = X.shape
    out = np.linalg.slogdet(V)[1] + float(r @ Vi @ r)
    if reml:
        return float((n - p) * math.log(2 * math.pi) + out + np.linalg.slogdet(XtViX)[1])
    return float(n * math.log(2 * math.pi) + out)


def test_reml_is_the_anova_estimator_on_balanced_data(balanced):
    fit = replicate.fit("y ~ 1 + (1 | g)", balanced, method="REML")
    ssb, ssw = _anova(balanced)
    msb, msw = ssb / (J - 1), ssw / (J * (N_PER - 1))
    assert msb > msw  # the closed form holds inside the parameter space
    tau2 = float(fit.varcorr.loc[fit.varcorr["grp"] == "g", "vcov"].iloc[0])
    assert fit.sigma2 == pytest.approx(msw, rel=1e-7)
    assert tau2 == pytest.approx((msb - msw) / N_PER, rel=1e-6)


def test_ml_is_its_closed_form_on_balanced_data(balanced):
    fit = replicate.fit("y ~ 1 + (1 | g)", balanced, method="ML")
    ssb, ssw = _anova(balanced)
    msw = ssw / (J * (N_PER - 1))
    tau2 = float(fit.varcorr.loc[fit.varcorr["grp"] == "g", "vcov"].iloc[0])
    assert fit.sigma2 == pytest.approx(msw, rel=1e-7)
    assert tau2 == pytest.approx((ssb / J - msw) / N_PER, rel=1e-6)


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_criterion_is_its_definition_with_the_full_v(balanced, method):
    fit = replicate.fit("y ~ x + (1 | g)", balanced, method=method)
    X = np.column_stack([np.ones(len(balanced)), balanced["x"].to_numpy()])
    dense = _dense_criterion(fit, balanced, X, reml=method == "REML")
    got = fit.reml_criterion if method == "REML" else fit.deviance
    assert got == pytest.approx(dense, rel=1e-10, abs=1e-8)
    assert -2 * fit.loglik == pytest.approx(dense, rel=1e-10, abs=1e-8)


def test_residual_df_is_n_minus_p(balanced):
    fit = replicate.fit("y ~ x + (1 | g)", balanced)
    assert set(fit.df("residual").tolist()) == {float(J * N_PER - 2)}
