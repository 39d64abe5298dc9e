"""The pattern-based criterion against a dense brute-force computation with the full V matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.engine.rside import StructureName, fit_residual, make_structure
from replicate.engine.rside.blocks import make_blocks
from replicate.engine.rside.criterion import profiled
from replicate.engine.rside.information import natural_gradient, natural_value
from replicate.engine.rside.parameters import GroupedParameters
from replicate.errors import DataError

K = 4


def _data(seed=0, n_subj=30, groups=2):
    """Subjects with dropout and a gap (missing middle visits), a group factor, weights."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subj):
        keep = [v for v in range(K) if rng.random() > 0.25] or [0]
        for v in keep:
            rows.append((s, v, s % groups, rng.normal(), rng.uniform(0.5, 2.0)))
    d = pd.DataFrame(rows, columns=["id", "visit", "g", "x", "w"])
    d["y"] = 1.0 + 0.5 * d["x"] + 0.3 * d["visit"] + rng.normal(size=len(d)) + d["id"] * 0.05
    return d


def _dense_m2ll(d, X, V_of_group, reml, weights):
    """-2 log-likelihood (beta profiled) with a dense block-diagonal V."""
    n = len(d)
    V = np.zeros((n, n))
    for rows in d.groupby("id").indices.values():
        Vg = V_of_group[int(d["g"].iloc[rows[0]])]
        v = d["visit"].to_numpy()[rows]
        V[np.ix_(rows, rows)] = Vg[np.ix_(v, v)]
    if weights is not None:
        D = np.diag(1 / np.sqrt(weights))
        V = D @ V @ D
    y = d["y"].to_numpy()
    Vi = np.linalg.inv(V)
    XtViX = X.T @ Vi @ X
    beta = np.linalg.solve(XtViX, X.T @ Vi @ y)
    r = y - X @ beta
    p = X.shape[1]
    out = np.linalg.slogdet(V)[1] + r @ Vi @ r + (n - p if reml else n) * np.log(2 * np.pi)
    if reml:
        out += np.linalg.slogdet(XtViX)[1]
    return out


@pytest.mark.parametrize("name", list(StructureName))
@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_engine_criterion_equals_dense_at_random_parameters(name, reml, weighted):
    d = _data(seed=hash((name.value, reml, weighted)) % 1000)
    X = np.column_stack([np.ones(len(d)), d["x"], d["visit"] == 1])
    w = d["w"].to_numpy() if weighted else None
    blocks = make_blocks(X, d["y"].to_numpy(), d["id"].to_numpy(), d["visit"].to_numpy(), K, d["g"].to_numpy(), w)
    s = make_structure(name, K, coords=np.array([0.0, 1.0, 3.0, 7.5]))
    gp = GroupedParameters(s, 2)
    rng = np.random.default_rng(3)
    theta = rng.normal(scale=0.5, size=gp.size)
    nat = np.concatenate(gp.natural(theta, 1.7))
    Vs = [s.from_natural(nat[: s.n_natural]), s.from_natural(nat[s.n_natural :])]
    dense = _dense_m2ll(d, X, Vs, reml, w)
    assert natural_value(blocks, s, nat, reml) == pytest.approx(dense, rel=1e-11)
    # the profiled criterion is the unprofiled one at the optimal scale
    ev = profiled(blocks, gp.blocks(theta), reml)
    nat_hat = np.concatenate(gp.natural(theta, ev.scale))
    Vh = [s.from_natural(nat_hat[: s.n_natural]), s.from_natural(nat_hat[s.n_natural :])]
    assert ev.value == pytest.approx(_dense_m2ll(d, X, Vh, reml, w), rel=1e-11)


@pytest.mark.parametrize("name", [StructureName.UN, StructureName.TOEP, StructureName.CSH])
def test_gradients_match_finite_differences(name):
    d = _data(seed=5)
    X = np.column_stack([np.ones(len(d)), d["x"]])
    blocks = make_blocks(X, d["y"].to_numpy(), d["id"].to_numpy(), d["visit"].to_numpy(), K, d["g"].to_numpy())
    s = make_structure(name, K)
    gp = GroupedParameters(s, 2)
    theta = np.random.default_rng(2).normal(scale=0.4, size=gp.size)
    ev = profiled(blocks, gp.blocks(theta), True, gradient=True)
    g = gp.gradient(theta, ev.grads)
    h = 1e-6
    for t in range(gp.size):
        e = np.zeros_like(theta)
        e[t] = h
        fd = profiled(blocks, gp.blocks(theta + e), True).value - profiled(blocks, gp.blocks(theta - e), True).value
        assert g[t] == pytest.approx(fd / (2 * h), rel=1e-5, abs=1e-6)
    nat = np.concatenate(gp.natural(theta, 1.3))
    gn = natural_gradient(blocks, s, nat, False)
    for t in range(len(nat)):
        e = np.zeros_like(nat)
        e[t] = h
        fd = (natural_value(blocks, s, nat + e, False) - natural_value(blocks, s, nat - e, False)) / (2 * h)
        assert gn[t] == pytest.approx(fd, rel=1e-5, abs=1e-6)


def test_fit_reaches_a_stationary_point_and_reports_sas_table():
    d = _data(seed=9, n_subj=60)
    fit = fit_residual(d, "y ~ x", "us", visit="visit", subject="id", group="g")
    assert fit.converged
    assert [c.label for c in fit.covparms[:3]] == ["UN(1,1)", "UN(2,1)", "UN(2,2)"]
    assert {c.group for c in fit.covparms} == {"0", "1"}
    assert len(fit.R) == 2 and np.allclose(np.diag(fit.R_corr[0]), 1.0)
    for c in fit.covparms:
        assert c.se > 0 and c.z == pytest.approx(c.estimate / c.se)
    assert any("one visit" in m for m in fit.messages) or all(len(g) > 1 for _, g in d.groupby("id"))


def test_duplicate_visit_is_a_data_error():
    d = _data(seed=1)
    d = pd.concat([d, d.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match="more than once"):
        fit_residual(d, "y ~ x", "cs", visit="visit", subject="id")


def test_group_must_be_constant_within_subject():
    d = _data(seed=1)
    d.loc[d.index[:2], "g"] = [0, 1]
    d.loc[d.index[:2], "id"] = 999
    d.loc[d.index[:2], "visit"] = [0, 1]
    with pytest.raises(DataError, match="more than one GROUP"):
        fit_residual(d, "y ~ x", "cs", visit="visit", subject="id", group="g")


def test_boundary_is_reported_not_called_converged():
    """Responses that are a subject constant plus 1e-5 noise: the residual variance sits near 0."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(40):
        b = rng.normal()
        rows += [(i, v, rng.normal(), b + 1e-5 * rng.normal()) for v in range(4)]
    d = pd.DataFrame(rows, columns=["id", "visit", "x", "y"])
    fit = fit_residual(d, "y ~ x", "cs", visit="visit", subject="id")
    assert any("boundary" in m for m in fit.messages)
    fit = fit_residual(d, "y ~ x", "ar1", visit="visit", subject="id")
    assert any("correlation near +/-1" in m for m in fit.messages)


def test_one_visit_subjects_are_kept_and_reported():
    d = _data(seed=2, n_subj=40)
    first = d.groupby("id").head(1).iloc[:5]
    d = pd.concat([d[~d["id"].isin(first["id"])], first], ignore_index=True)
    fit = fit_residual(d, "y ~ x", "us", visit="visit", subject="id")
    assert fit.n_subjects == d["id"].nunique() and fit.n == len(d)
    assert any("one visit" in m for m in fit.messages)


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_observed_information_se_of_a_single_variance_has_its_closed_form(method):
    """Independent errors: -2l = nu log s2 + rss / s2, so Var(s2_hat) = 2 s2^2 / nu (nu = N - p or N)."""
    d = _data(seed=4, n_subj=50)
    fit = fit_residual(d, "y ~ x", "vc", visit="visit", subject="id", method=method)
    res = fit.covparm("Residual")
    nu = fit.n - len(fit.beta) if method == "REML" else fit.n
    assert res.se == pytest.approx(res.estimate * np.sqrt(2.0 / nu), rel=1e-6)
