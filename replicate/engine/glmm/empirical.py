"""SAS GLIMMIX's EMPIRICAL covariance after METHOD=LAPLACE or QUAD: the likelihood-based sandwich of the subjects'
gradients.

When the data fall into independent subjects (the levels of the coarsest grouping factor, every other factor
nested in it), the Laplace (or quadrature) log-likelihood is a sum over subjects: the conditional
log-likelihood of a subject's rows, its modes' penalty ``||u_i||^2`` and ``log det`` of its block of
``Lambda'Z'WZ Lambda + I`` (whose Cholesky factor has no entries between independent subjects, so a subject's
log-determinant is the sum over its columns of ``2 log L_jj``). GLIMMIX's classical sandwich is
``H^-1 (sum_i g_i g_i') H^-1`` with ``H`` the Hessian of ``-log L`` in the fixed effects and covariance
parameters and ``g_i`` subject i's gradient; the fixed effects' block of it is the same in any parameters of
the covariance (lme4's ``theta`` here), since a change of covariance parameters leaves the fixed effects
alone. The subjects' gradients are central differences of their contributions.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.stats import norm

from ...errors import NotImplementedOption
from .deviance import GlmmDeviance
from .families import Vector
from .pirls import Matrix
from .quadrature import agq_group_deviance
from .result import GlmmFit

STEP = 1e-5  # relative step of the central differences (PIRLS converges to ~1e-12)


def subjects(dev: GlmmDeviance) -> tuple[np.ndarray, np.ndarray]:
    """(each row's subject, each column of ``u``'s subject): the levels of the coarsest grouping factor, which
    every other term's levels must lie within.

    Raises:
        NotImplementedOption: crossed grouping factors (no independent subjects).
    """
    rnd = dev.random
    sizes = [int(n) for n in rnd.nlevels]
    outer = int(np.argmin(sizes))
    row_subject = np.asarray(rnd.index[outer], dtype=np.int64)
    col_subject = np.empty(rnd.q, dtype=np.int64)
    for t, (index, nlev) in enumerate(zip(rnd.index, rnd.nlevels)):
        k = rnd.xre[t].shape[1]
        level_subject = np.full(int(nlev), -1, dtype=np.int64)
        level_subject[index] = row_subject
        seen = np.zeros(int(nlev), dtype=bool)
        seen[index] = True
        clash = np.zeros(int(nlev), dtype=bool)
        np.logical_or.at(clash, index, level_subject[index] != row_subject)
        if np.any(clash) or not np.all(seen):
            raise NotImplementedOption(
                "GLIMMIX's EMPIRICAL after METHOD=LAPLACE or QUAD needs independent subjects: a grouping factor "
                "crosses the coarsest one",
                hint="nested or single grouping factors only (SUBJECT= of the RANDOM statement)",
            )
        cols = rnd.offsets[t] + np.arange(int(nlev) * k)
        col_subject[cols] = np.repeat(level_subject, k)
    return row_subject, col_subject


def contributions(dev: GlmmDeviance, params: Vector, row_subject: np.ndarray, col_subject: np.ndarray) -> Vector:
    """Each subject's part of the deviance (-2 log L) at ``params`` (``(theta, beta)``): they sum to it."""
    theta, beta = dev.split(np.asarray(params, dtype=float))
    nsub = int(row_subject.max()) + 1
    m = dev.mode(theta, beta)
    if dev.nagq > 1:
        return agq_group_deviance(dev.resp, dev.random.z_lambda(theta), dev.random.index[0], m, dev.nagq)
    resp = dev.resp
    rows = resp.family.minus2_loglik(resp.y, resp.n, m.mu, resp.wt)
    system = dev.determinant_system(theta, m)  # the observed information's, for such a fit
    diag = system.chol_u_diagonal() if dev.random.single_scalar_term() else np.diag(system.chol_u())
    cols = m.u**2 + 2.0 * np.log(diag)
    by_rows = np.bincount(row_subject, weights=rows, minlength=nsub).astype(float)
    out: Vector = by_rows + np.bincount(col_subject, weights=cols, minlength=nsub).astype(float)
    return out


def subject_gradients(fit: GlmmFit) -> Matrix:
    """Each subject's gradient of its log-likelihood contribution at the optimum (subjects x parameters)."""
    dev = fit.deviance_function
    row_subject, col_subject = subjects(dev)
    x = np.concatenate([np.asarray(fit.theta, dtype=float), np.asarray(fit.beta, dtype=float)])
    out = np.empty((int(row_subject.max()) + 1, x.size))
    for j in range(x.size):
        h = STEP * max(1.0, abs(x[j]))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        diff = contributions(dev, up, row_subject, col_subject) - contributions(dev, down, row_subject, col_subject)
        out[:, j] = -0.5 * diff / (2 * h)  # d log L_i = -1/2 d(-2 log L_i)
    return out


def sandwich(fit: GlmmFit) -> Matrix:
    """GLIMMIX's classical sandwich ``H^-1 (sum g_i g_i') H^-1`` in ``(theta, beta)`` (``H`` the Hessian of
    ``-log L``, half the engine's Hessian of the deviance)."""
    H = 0.5 * np.asarray(fit.optimum.hessian, dtype=float)
    if not np.all(np.isfinite(H)) or np.min(np.linalg.eigvalsh(0.5 * (H + H.T))) <= 0:
        raise NotImplementedOption(
            "GLIMMIX's EMPIRICAL needs a positive definite Hessian at the optimum, which this fit has not",
            hint="a fit on the boundary or not at an optimum has no sandwich",
        )
    g = subject_gradients(fit)
    bread = np.linalg.inv(H)
    full = bread @ (g.T @ g) @ bread
    out: Matrix = 0.5 * (full + full.T)
    return out


def empirical_vcov(fit: GlmmFit) -> Matrix:
    """The fixed effects' block of :func:`sandwich`."""
    nt = np.asarray(fit.theta).size
    out: Matrix = sandwich(fit)[nt:, nt:]
    return out


def with_empirical(fit: GlmmFit) -> GlmmFit:
    """``fit`` with GLIMMIX's EMPIRICAL covariance of the fixed effects, and the SEs, z and p from it."""
    vcov = empirical_vcov(fit)
    se = np.sqrt(np.diag(vcov))
    z = np.asarray(fit.beta, dtype=float) / se
    return replace(fit, vcov=vcov, se=se, z=z, p_value=2 * norm.sf(np.abs(z)), vcov_source="empirical")
