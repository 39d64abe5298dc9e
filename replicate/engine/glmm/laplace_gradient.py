"""The exact gradient of the Laplace deviance, for canonical links (binomial-logit, Poisson-log).

The Laplace deviance at ``phi`` (theta, and beta when it is held fixed) is
``D = sum dev(eta) + ||u||^2 + log det M`` with ``M = A'WA + I``, ``A = Z Lambda(theta)``, ``W`` the working
weights and ``eta = offset + X beta + A u`` at the conditional mode ``u`` (and, in the ``nAGQ = 0`` stage, the
joint mode of ``u`` and ``beta``). Its total derivative has three parts:

* the penalized deviance: by the envelope theorem only its explicit dependence on ``phi`` counts, since the mode
  makes its derivative in ``u`` (and ``beta``) vanish;
* ``log det M`` directly: ``d log det M = tr(M^-1 dM)``, with ``dM = dA'WA + A'W dA + A' dW A`` and ``dW`` the
  change of the weights along ``eta`` (``w' = wt V'(mu) V(mu)`` for a canonical link);
* ``log det M`` through the mode: with ``z`` solving the mode's Newton system for the gradient of ``log det M``
  in ``u`` (one solve, the adjoint of ``du/dphi``), ``-z' dG/dphi`` where ``G = A' s/2 + u`` is the mode's
  stationarity condition.

Only the entries of ``M^-1`` that a row of ``A`` touches are needed: ``h_i = a_i' M^-1 a_i`` and, per theta
element, ``tr(M^-1 A'W dA)``. They come from the eliminated system of :mod:`.pirls_system` (the diagonal block
``D`` of the largest scalar term, its coupling ``B`` and the Schur complement ``S``):
``M^-1 = [[D^-1 + C S^-1 C', -C S^-1], [-S^-1 C', S^-1]]`` with ``C = D^-1 B``, so nothing of size ``q x q`` is
formed. For a canonical link the observed and expected information agree, so the Newton system of the mode is
``M`` itself; other links have no exact gradient here and the optimizer differences the deviance.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .deviance import GlmmDeviance
from .families import CANONICAL, Family, Vector
from .pirls import Matrix, Mode
from .pirls_system import PirlsSystem
from .randompart import RandomPart
from .rowsparse import RowSparse


def has_exact_gradient(dev: GlmmDeviance) -> bool:
    """Whether :func:`laplace_gradient` applies: the Laplace deviance (``nagq = 1``) with a canonical link, and for
    a binomial response whole counts. (R's ``family$aic``, which the Laplace deviance adds up, rounds ``m y`` and
    ``m`` to whole numbers; with fractional prior weights the rounded log-likelihood is not the function PIRLS
    minimizes, the envelope argument fails, and the optimizer differences the deviance instead.)"""
    resp = dev.resp
    fam = resp.family
    if dev.nagq != 1 or (fam.name, fam.link.name) not in CANONICAL:
        return False
    if fam.name == "binomial":
        return all(bool(np.allclose(c, np.round(c), rtol=0, atol=1e-8)) for c in resp.aic_counts)
    return True


def _theta_elements(rp: RandomPart) -> Iterator[tuple[int, Vector, NDArray[np.int64], int]]:
    """Per element of theta (lambda's entry ``(r, c)`` of term ``t``): its index in theta, the term's column ``r``
    of Z's block (``dA`` has ``x_r`` in each row), each row's column of ``u`` where it sits, and that column's
    position among a row's entries of ``Z Lambda`` (``c`` within the term)."""
    starts = np.cumsum((0, *rp.layout.sizes[:-1]))
    for t in range(len(rp.nlevels)):
        k, r_of, c_of = rp.layout.sizes[t], rp.layout.rows[t], rp.layout.cols[t]
        base = rp.offsets[t] + rp.index[t] * k
        for e in range(r_of.size):
            r, c = int(r_of[e]), int(c_of[e])
            yield rp.layout.offsets[t] + e, rp.xre[t][:, r], base + c, int(starts[t]) + c


def _dvariance(fam: Family, mu: Vector) -> Vector:
    """``V'(mu)``: ``1 - 2 mu`` (binomial), 1 (Poisson)."""
    out: Vector = 1 - 2 * mu if fam.name == "binomial" else np.ones_like(mu)
    return out


def _inverse_entries(system: PirlsSystem, rows: RowSparse) -> Matrix:
    """``v_i = (M^-1 a_i)`` at row ``i``'s own columns, ``n x m``, from the eliminated system."""
    S, R = system.S, system.R
    cols, vals = rows.cols, rows.vals
    top = system.schur[: R.size, : R.size]
    s_inv = np.linalg.inv(top) if R.size else np.zeros((0, 0))
    if not S.size:  # no diagonal block: M^-1 is S^-1, gathered at each row's columns
        Q = s_inv[cols[:, :, None], cols[:, None, :]]
        out: Matrix = np.einsum("nab,nb->na", Q, vals)
        return out
    s0, width = int(S[0]), S.size
    at_or_none, rest = rows.positions(s0, s0 + width)
    at = int(at_or_none or 0)
    j = cols[:, at] - s0
    a_s = vals[:, at]
    out = np.empty_like(vals)
    if not rest.size:
        out[:, at] = a_s / system.d[j]
        return out
    BA = system.B_A
    C = BA.multiply(1.0 / system.d[:, None]).tocsr() if sp.issparse(BA) else BA / system.d[:, None]
    K = np.asarray(C @ s_inv)  # C S^-1, q_S x q_R
    CK = C.multiply(K).sum(axis=1) if sp.issparse(C) else np.sum(C * K, axis=1)
    diag_s = 1.0 / system.d + np.asarray(CK).ravel()
    r_cols = cols[:, rest]
    r_loc = np.where(r_cols >= s0 + width, r_cols - width, r_cols)
    a_r = vals[:, rest]
    k_rows = K[j[:, None], r_loc]  # the S-R entries of M^-1 a row meets
    out[:, at] = diag_s[j] * a_s - np.sum(k_rows * a_r, axis=1)
    rr = s_inv[r_loc[:, :, None], r_loc[:, None, :]]
    out[:, rest] = np.einsum("nab,nb->na", rr, a_r) - k_rows * a_s[:, None]
    return out


def laplace_gradient(dev: GlmmDeviance, theta: Vector, beta: Vector | None) -> tuple[float, Vector]:
    """The Laplace deviance and its exact gradient.

    Args:
        dev: the deviance (see :func:`has_exact_gradient`).
        theta: the covariance parameters.
        beta: the fixed effects, held fixed (gradient in ``(theta, beta)``), or None for the ``nAGQ = 0``
            objective with beta at its joint mode (gradient in ``theta``).
    """
    resp, rp = dev.resp, dev.random
    theta = np.asarray(theta, dtype=float)
    m: Mode = dev.mode(theta, None if beta is None else np.asarray(beta, dtype=float))
    value = m.laplace(resp)
    A = rows = rp.z_lambda_rows(theta)
    w = m.weights
    half_s = resp.wt * (m.mu - resp.y)  # d(dev)/d(eta) / 2 for a canonical link
    dw = w * _dvariance(resp.family, m.mu)  # d w / d eta
    v = _inverse_entries(m.system, rows)
    h = np.sum(rows.vals * v, axis=1)  # a_i' M^-1 a_i
    dwh = dw * h
    lin = 2 * half_s + dwh  # explicit d D / d eta, the penalty's u term aside
    X = dev.X
    if beta is None:
        system = PirlsSystem(A, X, w, dev._diagonal)
        z_u, z_b = system.solve(np.asarray(A.T @ dwh).ravel(), X.T @ dwh)
        zeta = np.asarray(A @ z_u).ravel() + X @ z_b
    else:
        z_u, _ = m.system.solve(np.asarray(A.T @ dwh).ravel(), np.zeros(0))
        zeta = np.asarray(A @ z_u).ravel()
    wzeta = w * zeta
    grad_theta = np.empty(rp.layout.size)
    for i, x_r, col, pos in _theta_elements(rp):
        du = x_r * m.u[col]  # (dA u)_i
        dz = x_r * z_u[col]  # (dA z)_i
        trace = float(np.sum(w * x_r * v[:, pos]))  # tr(M^-1 A'W dA)
        grad_theta[i] = du @ lin + 2 * trace - dz @ half_s - wzeta @ du
    if beta is None:
        return value, grad_theta
    grad_beta = X.T @ (lin - wzeta)
    return value, np.concatenate([grad_theta, grad_beta])


def mode_jacobian(dev: GlmmDeviance, theta: Vector, beta: Vector) -> tuple[Vector, Matrix]:
    """The conditional mode ``u`` at ``(theta, beta)`` and its derivatives ``du / d(theta, beta)``
    (q x (ntheta + p)).

    From the mode's condition ``G = A' s/2 + u = 0``: ``du = -M^-1 dG``, with ``dG/dbeta = A'WX`` and
    ``dG/dtheta_k = dA_k' s/2 + A'W dA_k u`` (a canonical link). ``u + J dx`` starts PIRLS at a nearby point
    within ``O(|dx|^2)`` of its mode, which the Hessian's differences use.
    """
    resp, rp = dev.resp, dev.random
    theta = np.asarray(theta, dtype=float)
    m = dev.mode(theta, np.asarray(beta, dtype=float))
    A = rp.z_lambda_rows(theta)
    w, half_s = m.weights, resp.wt * (m.mu - resp.y)
    columns = []
    for _, x_r, col, _ in _theta_elements(rp):
        d_eta = x_r * m.u[col]  # dA u
        columns.append(np.bincount(col, x_r * half_s, minlength=rp.q) + A.T @ (w * d_eta))
    dG_beta = A.T @ (w[:, None] * dev.X)
    columns.extend(dG_beta.T)
    J = np.empty((rp.q, len(columns)))
    for j, dG in enumerate(columns):
        J[:, j] = -m.system.solve(np.asarray(dG, dtype=float), np.zeros(0))[0]
    return m.u, J
