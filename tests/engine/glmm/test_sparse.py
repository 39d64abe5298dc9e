"""The sparse ``Z Lambda`` of the GLMM engine and the PIRLS solve that eliminates a diagonal block first (issue #17,
speed): the same numbers as the dense forms, and VerbAgg (7,584 rows, crossed id and item) at glmer's optimum.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from replicate.data import load_r_dataset
from replicate.engine.glmm import fit_glmm
from replicate.engine.glmm.api import prepare
from replicate.engine.glmm.pirls_system import PirlsSystem
from replicate.engine.glmm.randompart import RandomPart
from tests.rsupport import need_r


def _crossed(rng: np.random.Generator, n: int, big: int, small: int) -> sp.csr_matrix:
    """``Z Lambda`` of two crossed scalar terms (``big`` and ``small`` levels), as the engine orders ``u``."""
    r = np.arange(n)
    rows, cols = np.r_[r, r], np.r_[rng.integers(0, big, n), big + rng.integers(0, small, n)]
    return sp.csr_matrix((rng.uniform(0.5, 1.5, 2 * n), (rows, cols)), shape=(n, big + small))


@pytest.mark.parametrize(("big", "small", "p"), [(40, 7, 3), (300, 24, 0), (300, 200, 2), (2, 5, 2)])
def test_eliminating_the_diagonal_block_solves_the_same_system(big, small, p):
    rng = np.random.default_rng(big)
    n = 6 * (big + small)
    A, X, w = _crossed(rng, n, big, small), rng.normal(size=(n, p)), rng.uniform(0.1, 2.0, n)
    AX = np.hstack([A.toarray(), X])
    M = AX.T @ (w[:, None] * AX)
    M[np.arange(big + small), np.arange(big + small)] += 1.0
    ru, rx = rng.normal(size=big + small), rng.normal(size=p)
    want = np.linalg.solve(M, np.r_[ru, rx])
    for diagonal in (slice(0, big), None):
        system = PirlsSystem(A, X, w, diagonal)
        if diagonal is not None and big == 300:  # the coupling block kept sparse when it is (200 items), else dense
            assert sp.issparse(system.B_A) is (small == 200)
        u, b = system.solve(ru, rx)
        np.testing.assert_allclose(np.r_[u, b], want, rtol=1e-9, atol=1e-11)
    only_u = PirlsSystem(A, X[:, :0], w, slice(0, big))
    Mu = M[: big + small, : big + small]
    assert only_u.logdet_u() == pytest.approx(np.linalg.slogdet(Mu)[1], rel=1e-12)
    np.testing.assert_allclose(only_u.chol_u(), np.linalg.cholesky(Mu), rtol=1e-12, atol=1e-13)


def test_the_sparse_z_lambda_is_z_times_lambda():
    cbpp, _, _ = load_r_dataset("lme4", "cbpp")
    cbpp = cbpp.assign(t=np.arange(len(cbpp)) % 4 - 1.5, obs=np.arange(len(cbpp)) % 7)
    design, _, _ = prepare(cbpp, "cbind(incidence, size - incidence) ~ period + (1 + t | herd) + (1 | obs)", "binomial")
    part = RandomPart.of(design)
    theta = np.array([0.8, -0.3, 0.5, 1.2])
    dense = np.zeros((len(cbpp), part.q))
    for term, lam in enumerate(part.layout.factors(theta)):
        k = lam.shape[0]
        for r in range(len(cbpp)):
            level = part.index[term][r]
            cols = part.offsets[term] + level * k + np.arange(k)
            dense[r, cols] = part.xre[term][r] @ lam
    np.testing.assert_allclose(part.z_lambda(theta).toarray(), dense, rtol=0, atol=1e-14)
    assert part.diagonal_block() == slice(part.offsets[1], part.offsets[1] + part.nlevels[1])


@pytest.mark.r
def test_verbagg_reaches_glmers_tight_optimum():
    ro = need_r("lme4")
    d, _, _ = load_r_dataset("lme4", "VerbAgg")
    d["r2n"] = (d["r2"].astype(str) == "Y").astype(int)
    formula = "r2n ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)"
    fit = fit_glmm(d, formula, family="binomial")
    out = ro.r(
        """local({
          d <- lme4::VerbAgg; d$r2n <- as.integer(d$r2 == "Y")
          m <- lme4::glmer(r2n ~ Anger + Gender + btype + situ + (1 | id) + (1 | item), data = d, family = binomial,
                           control = lme4::glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12,
                                                        optCtrl = list(rhoend = 1e-10, maxfun = 1e5)))
          c(-2 * as.numeric(logLik(m)), lme4::getME(m, "theta"), lme4::fixef(m))
        })"""
    )
    ref = np.asarray(out, dtype=float)
    assert fit.converged
    assert fit.objective <= ref[0] + 1e-6
    np.testing.assert_allclose(fit.theta, ref[1:3], rtol=1e-4)
    np.testing.assert_allclose(fit.beta, ref[3:], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("stage0", "stage2", "converged"), [(False, True, True), (True, False, False)])
def test_only_the_final_stage_decides_convergence(monkeypatch, stage0, stage2, converged):
    # glmer's nAGQ = 0 stage only starts stage 2: its line search ending abnormally is a note, not a failed fit
    import replicate.engine.glmm.optimize as opt

    real = opt._lbfgsb
    calls = []

    def flagged(f, x0, lower):
        x, _, msg = real(f, x0, lower)
        calls.append(msg)
        ok = stage0 if len(calls) == 1 else stage2
        return x, ok, msg if ok else "ABNORMAL (forced by the test)"

    monkeypatch.setattr(opt, "_lbfgsb", flagged)
    cbpp, _, _ = load_r_dataset("lme4", "cbpp")
    fit = fit_glmm(
        cbpp.assign(period=cbpp["period"].astype(str)), "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    )
    assert len(calls) == 2 and fit.converged is converged
    assert ("ABNORMAL" in " ".join(fit.messages)) is (not converged)
