"""The REML/ML criterion of a repeated-measures model, with its gradient, from visit patterns.

For covariance blocks C (per group, over all k visits) the criterion needs, per pattern, the
Cholesky factor of C restricted to the pattern's visits, and then ``A = sum Z_i' C_i^-1 Z_i``
(``Z = [X y]``) from the pattern's precomputed cross-products. Two forms:

* :func:`profiled` -- C is relative (V = s2 * C); beta and s2 are profiled out. -2 log-likelihood:
  ``nu (log(2 pi) + 1 + log(rss/nu)) + sum log|C_i| [+ log|X'C^-1X|]``, nu = N - p (REML) or N (ML).
* :func:`unprofiled` -- C is the covariance itself (V = C); only beta is profiled (exactly, for REML
  it does not enter). Its Hessian gives the observed information of the natural-scale parameters.

The gradient with respect to the entries of each group's k x k block follows from
``d log|C| = tr(C^-1 dC)`` and ``dA = -sum C^-1 dC C^-1`` contracted with the cross-products.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, cholesky

from .blocks import Blocks

LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class Evaluation:
    """One evaluation: -2 log-likelihood, beta, rss, s2 (profiled form) and gradients per group block."""

    value: float
    beta: np.ndarray
    rss: float
    scale: float
    xtvx: np.ndarray
    grads: tuple[np.ndarray, ...] | None


def _assemble(blocks: Blocks, covs: list[np.ndarray]) -> tuple[np.ndarray, float, list[np.ndarray]]:
    q = blocks.p + 1
    A = np.zeros((q, q))
    logdet = 0.0
    cinvs = []
    for pat in blocks.patterns:
        v = pat.visits
        C = covs[pat.group][np.ix_(v, v)]
        L = cholesky(C, lower=True, check_finite=False)
        Cinv = cho_solve((L, True), np.eye(len(v)), check_finite=False)
        logdet += pat.count * 2.0 * float(np.sum(np.log(np.diag(L))))
        A += np.tensordot(Cinv, pat.S, axes=([0, 1], [0, 1]))
        cinvs.append(Cinv)
    return A, logdet, cinvs


def _grads(blocks: Blocks, cinvs: list[np.ndarray], GA: np.ndarray) -> tuple[np.ndarray, ...]:
    k = blocks.k
    out = [np.zeros((k, k)) for _ in range(blocks.n_groups)]
    for pat, Cinv in zip(blocks.patterns, cinvs):
        H = np.tensordot(pat.S, GA, axes=([2, 3], [0, 1]))
        D = pat.count * Cinv - Cinv @ H @ Cinv
        out[pat.group][np.ix_(pat.visits, pat.visits)] += D
    return tuple(out)


def _evaluate(blocks: Blocks, covs: list[np.ndarray], reml: bool, profile_scale: bool, gradient: bool) -> Evaluation:
    p = blocks.p
    try:
        A, logdet, cinvs = _assemble(blocks, covs)
        Lx = cholesky(A[:p, :p], lower=True, check_finite=False) if p else np.zeros((0, 0))
    except np.linalg.LinAlgError:
        return Evaluation(np.inf, np.full(blocks.p, np.nan), np.nan, np.nan, np.full((p, p), np.nan), None)
    beta = cho_solve((Lx, True), A[:p, p], check_finite=False) if p else np.zeros(0)
    rss = float(A[p, p] - A[:p, p] @ beta)
    nu = blocks.n - p if reml else blocks.n
    value = logdet - blocks.log_weights
    if reml and p:
        value += 2.0 * float(np.sum(np.log(np.diag(Lx))))
    if profile_scale:
        if rss <= 0:
            return Evaluation(np.inf, beta, rss, np.nan, A[:p, :p], None)
        value += nu * (LOG_2PI + 1.0 + np.log(rss / nu))
        scale = rss / nu
        weight = nu / rss
    else:
        value += nu * LOG_2PI + rss
        scale = 1.0
        weight = 1.0
    grads = None
    if gradient:
        u = np.concatenate([-beta, [1.0]])
        GA = weight * np.outer(u, u)
        if reml and p:
            GA[:p, :p] += cho_solve((Lx, True), np.eye(p), check_finite=False)
        grads = _grads(blocks, cinvs, GA)
    return Evaluation(float(value), beta, rss, scale, A[:p, :p], grads)


def profiled(blocks: Blocks, covs: list[np.ndarray], reml: bool, gradient: bool = False) -> Evaluation:
    """-2 log-likelihood with beta and the scale profiled; ``covs`` are relative blocks per group."""
    return _evaluate(blocks, covs, reml, True, gradient)


def unprofiled(blocks: Blocks, covs: list[np.ndarray], reml: bool, gradient: bool = False) -> Evaluation:
    """-2 log-likelihood with beta profiled; ``covs`` are the covariance blocks per group."""
    return _evaluate(blocks, covs, reml, False, gradient)
