"""Adaptive Gauss-Hermite quadrature for one scalar random-effect term (lme4's ``nAGQ > 1``).

With one scalar term the groups are independent given beta and theta, and lme4 integrates each group's
likelihood over its spherical random effect ``u_j`` on nodes centred at the conditional mode ``u*_j`` and
scaled by ``1 / l_j`` (``l_j`` the diagonal of the PIRLS Cholesky factor):

    -2 log integral_j = devc_j(u*_j) + u*_j^2 + log l_j^2
                        - 2 log sum_k w_k exp(-(devc_j(u_jk) + u_jk^2 - devc_j(u*_j) - u*_j^2) / 2 + z_k^2 / 2),

where ``u_jk = u*_j + z_k / l_j``, ``devc_j`` is -2 times the group's conditional log-likelihood and ``(z_k, w_k)``
the Gauss-Hermite rule for the standard normal density (weights summing to 1, lme4's ``GHrule``). One node gives
the Laplace deviance.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from ...errors import ModelError
from .families import Vector
from .pirls import Matrix, Mode
from .response import GlmmResponse

MAX_NODES = 25  # lme4's limit on nAGQ


def gh_rule(nagq: int) -> tuple[Vector, Vector]:
    """Nodes and weights of the ``nagq``-point Gauss-Hermite rule for the standard normal density."""
    if not 1 <= nagq <= MAX_NODES:
        raise ModelError(f"nagq = {nagq} is outside 1 .. {MAX_NODES}", field="nagq", hint="lme4 allows 1 to 25")
    if nagq == 1:
        return np.zeros(1), np.ones(1)
    z, w = hermegauss(nagq)
    return z, w / w.sum()


def group_devc(resp: GlmmResponse, eta: Vector, index: np.ndarray, nlevels: int) -> Vector:
    """-2 times each group's conditional log-likelihood at the linear predictor ``eta``."""
    fam = resp.family
    per_row = fam.minus2_loglik(resp.y, resp.n, fam.link.inverse(eta), resp.wt)
    out: Vector = np.bincount(index, weights=per_row, minlength=nlevels).astype(float)
    return out


def agq_deviance(resp: GlmmResponse, A: Matrix, index: np.ndarray, mode: Mode, nagq: int) -> float:
    """The adaptive Gauss-Hermite approximation to -2 log-likelihood (one scalar random-effect term): the sum of
    :func:`agq_group_deviance`."""
    return float(np.sum(agq_group_deviance(resp, A, index, mode, nagq)))


def agq_group_deviance(resp: GlmmResponse, A: Matrix, index: np.ndarray, mode: Mode, nagq: int) -> Vector:
    """Each group's part of the adaptive Gauss-Hermite approximation to -2 log-likelihood.

    Args:
        resp: the response.
        A: ``Z Lambda``, n x q with one nonzero per row (column ``index[r]``).
        index: each row's group.
        mode: the PIRLS mode at beta and theta (its system is diagonal here).
        nagq: number of nodes.
    """
    q = A.shape[1]
    rows = np.arange(A.shape[0])
    a = np.asarray(A[rows, index]).ravel()  # each row's coefficient of its group's u (A sparse or dense)
    base = mode.eta - a * mode.u[index]  # offset + X beta
    ell = mode.system.chol_u_diagonal()
    devc0 = group_devc(resp, mode.eta, index, q)
    at_mode = devc0 + mode.u**2
    z, w = gh_rule(nagq)
    terms = np.empty((len(z), q))
    for k, (zk, wk) in enumerate(zip(z, w)):
        uk = mode.u + zk / ell
        devc = group_devc(resp, base + a * uk[index], index, q)
        terms[k] = np.log(wk) - (devc + uk**2 - at_mode) / 2 + zk**2 / 2
    top = terms.max(axis=0)
    log_sum = top + np.log(np.exp(terms - top).sum(axis=0))
    out: Vector = at_mode + 2 * np.log(ell) - 2 * log_sum
    return out
