"""Profiled deviance of a linear mixed model as a function of theta alone.

Bates et al. (2015, eqs. 34 and 41): with ``L`` the Cholesky factor of the
penalized system ``Lambda' Z' W Z Lambda + I``, ``R_X`` that of the fixed
effects' Schur complement and ``r^2`` the penalized weighted residual sum of
squares (all three read off one blocked Cholesky factor of the augmented
matrix ``[Z Lambda, X, y]``),

    ML:   d(theta)  = log|L|^2 - log|W| + n (1 + log(2 pi r^2 / n))
    REML: dR(theta) = log|L|^2 + log|R_X|^2 - log|W| + (n-p) (1 + log(2 pi r^2 / (n-p)))

The factor is computed in two parts (see :mod:`.crossprod`): the leading
term's block-diagonal part level by level with batched kernels, then the dense
tail (later terms, X, y) after subtracting the leading part's contribution
``A_t1 H A_t1'`` with ``H = lambda (lambda' A11 lambda + I)^-1 lambda'`` per level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from .arrays import Floats
from .crossprod import CrossProducts
from .smallblocks import batched_cholesky, batched_logdet_tril, batched_tril_inverse
from .theta import ThetaLayout

LOG2PI = float(np.log(2.0 * np.pi))


class NotPositiveDefinite(ArithmeticError):
    """The penalized system is not positive definite at this theta."""


@dataclass(frozen=True)
class Factorization:
    """Blocked Cholesky factor of the augmented system at one theta.

    Attributes:
        theta: the parameter vector (design term order).
        lams: relative covariance factor per internal term.
        l11: ``(nlevels_1, k_1, k_1)`` Cholesky blocks of the leading term.
        l11_inv: their inverses.
        g: ``lambda_1 @ l11_inv.T`` per level (``T = Lambda_t' A_t1 G``).
        tail: lower Cholesky factor of the dense tail (``m x m``); its strict
            upper triangle holds leftovers and must not be read.
        ldl2: ``log|L|^2`` (random-effects part).
        ldrx2: ``log|R_X|^2``.
        pwrss: penalized weighted residual sum of squares ``r^2``.
    """

    theta: Floats
    lams: tuple[Floats, ...]
    l11: Floats
    l11_inv: Floats
    g: Floats
    tail: Floats
    ldl2: float
    ldrx2: float
    pwrss: float


class ProfiledDeviance:
    """Callable ``theta -> deviance`` (REML criterion or ML deviance).

    Args:
        cp: stored cross-products.
        layout: theta layout, in the design's term order.
        reml: REML criterion if True, ML deviance otherwise.
    """

    def __init__(self, cp: CrossProducts, layout: ThetaLayout, reml: bool) -> None:
        self.cp = cp
        self.layout = layout
        self.reml = reml
        self.evaluations = 0
        self._scalar_tail = all(k == 1 for k in cp.ks[1:])
        #: The dense augmented cross-products ``[Z X y]' W [Z X y]`` in internal term order, built by the dense
        #: gradient (:mod:`replicate.engine.gradient_blocked`) on its first call and kept for the later ones.
        self.augmented_a: Floats | None = None

    def cost_estimate(self) -> float:
        """Rough time of one evaluation in seconds, from the problem's dimensions.

        Dense BLAS/LAPACK work is counted at 3e10 flop/s, sparse and batched
        small-block work at 5e8, plus a fixed Python overhead. Deterministic
        (unlike a timing), so the optimizer chosen from it does not depend on
        the machine's load.
        """
        cp = self.cp
        m, q1, k1 = cp.m, cp.q1, cp.ks[0]
        dense = m**3 / 3.0
        small = 10.0 * cp.nlevels[0] * k1**3
        if cp.schur_map is not None:
            small += 2.0 * cp.schur_map.nnz
        else:
            dense += 2.0 * m * m * q1
        return 5e-5 + dense / 3e10 + small / 5e8

    # -- pieces -------------------------------------------------------------
    def internal_factors(self, theta: Floats) -> tuple[Floats, ...]:
        """Relative covariance factors in internal term order."""
        return tuple(self.layout.factor(theta, d) for d in self.cp.order)

    def lambda_rows(self, mat: Floats, lams: tuple[Floats, ...], *, transpose: bool) -> Floats:
        """Multiply the tail random-effect rows of ``mat`` by ``Lambda_z'`` (or ``Lambda_z``).

        The first ``qt`` rows of ``mat`` (a vector or a matrix) are the tail
        terms' random effects; ``Lambda_z`` is block diagonal with one
        ``lambda`` per level of each tail term. Rows after ``qt`` (X, y) are
        left alone. Works in place and returns ``mat``.
        """
        cp = self.cp
        for t, off in enumerate(cp.tail_offsets, start=1):
            nl, k = cp.nlevels[t], cp.ks[t]
            lam = lams[t].T if transpose else lams[t]
            sl = slice(off, off + nl * k)
            if k == 1:
                mat[sl] *= lam[0, 0]
            elif mat.ndim == 1:
                mat[sl] = (mat[sl].reshape(nl, k) @ lam.T).ravel()
            else:
                blk = mat[sl].reshape(nl, k, -1)
                mat[sl] = np.einsum("ab,nbm->nam", lam, blk).reshape(nl * k, -1)
        return mat

    def apply_lambda_tail(self, mat: Floats, lams: tuple[Floats, ...]) -> Floats:
        """``Lambda_t' mat Lambda_t`` in place for the square tail matrix.

        ``Lambda_t`` is ``Lambda_z`` on the tail random effects and the
        identity on the X and y rows and columns.
        """
        cp = self.cp
        if self._scalar_tail:
            s = np.ones(cp.m)
            for t, off in enumerate(cp.tail_offsets, start=1):
                s[off : off + cp.nlevels[t]] = lams[t][0, 0]
            mat *= s[:, None]
            mat *= s[None, :]
            return mat
        self.lambda_rows(mat, lams, transpose=True)
        self.lambda_rows(mat.T, lams, transpose=True)  # columns: (Lambda' M')' = M Lambda
        return mat

    def leading_blocks(self, lam1: Floats) -> tuple[Floats, Floats, Floats, Floats]:
        """The leading term's diagonal blocks: per level, ``L11`` (the Cholesky factor of
        ``D = lambda' A11 lambda + I``), its inverse, ``G = lambda L11^-T`` and ``H = G G' = lambda D^-1 lambda'``."""
        k1 = self.cp.ks[0]
        a11 = self.cp.a11
        if k1 == 1:
            l11 = np.sqrt(lam1[0, 0] ** 2 * a11 + 1.0)
            l11_inv = 1.0 / l11
            g = lam1[0, 0] * l11_inv
            return l11, l11_inv, g, g * g
        d = np.matmul(np.matmul(lam1.T, a11), lam1)
        d[:, np.arange(k1), np.arange(k1)] += 1.0
        l11 = batched_cholesky(d)
        l11_inv = batched_tril_inverse(l11)
        g = np.matmul(lam1, np.transpose(l11_inv, (0, 2, 1)))
        return l11, l11_inv, g, np.matmul(g, np.transpose(g, (0, 2, 1)))

    def schur_pre(self, h: Floats, *, full: bool) -> Floats:
        """``A_tt - A_t1 H A_t1'`` (m x m), the tail's system before its own Lambda: with the sparse Schur map
        only its lower triangle unless ``full`` (a tail with vector terms needs both halves)."""
        cp = self.cp
        m = cp.m
        if cp.schur_map is not None:
            c = (cp.schur_map @ h.ravel()).reshape(m, m)  # lower triangle only
            if full:
                c = c + np.tril(c, -1).T
        else:
            a = cp.dense_at1()
            if cp.ks[0] == 1:
                a2 = a[:, :, 0]
                c = (a2 * h[:, 0, 0]) @ a2.T
            else:
                ah = np.einsum("rla,lab->rlb", a, h).reshape(m, -1)
                c = ah @ a.reshape(m, -1).T
        out: Floats = np.subtract(cp.att, c, out=c)
        return out

    def factorize(self, theta: Floats) -> Factorization:
        """Blocked Cholesky factor of the augmented system at ``theta``.

        Raises:
            NotPositiveDefinite: if the tail is numerically not positive definite
                (rank-deficient X or an exact fit).
        """
        cp = self.cp
        theta = np.asarray(theta, dtype=float)
        lams = self.internal_factors(theta)
        l11, l11_inv, g, h = self.leading_blocks(lams[0])
        mat = self.schur_pre(h, full=not self._scalar_tail)
        if cp.qt:
            self.apply_lambda_tail(mat, lams)
            idx = np.arange(cp.qt)
            mat[idx, idx] += 1.0
        tail, info = lapack.dpotrf(mat, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            raise NotPositiveDefinite(f"tail block not positive definite (dpotrf info {info})")
        diag = np.diagonal(tail)
        ldl2 = batched_logdet_tril(l11) + 2.0 * float(np.sum(np.log(diag[: cp.qt])))
        ldrx2 = 2.0 * float(np.sum(np.log(diag[cp.qt : cp.qt + cp.p])))
        pwrss = float(diag[-1] ** 2)
        return Factorization(theta, lams, l11, l11_inv, g, tail, ldl2, ldrx2, pwrss)

    def objective(self, fac: Factorization) -> float:
        """Deviance (ML) or REML criterion from a factorization."""
        cp = self.cp
        if self.reml:
            nmp = cp.n - cp.p
            return fac.ldl2 + fac.ldrx2 - cp.ldw + nmp * (1.0 + LOG2PI + float(np.log(fac.pwrss / nmp)))
        return fac.ldl2 - cp.ldw + cp.n * (1.0 + LOG2PI + float(np.log(fac.pwrss / cp.n)))

    def __call__(self, theta: Floats) -> float:
        """Profiled deviance at ``theta`` (``inf`` where the system is singular)."""
        self.evaluations += 1
        try:
            return float(self.objective(self.factorize(theta)))
        except (NotPositiveDefinite, np.linalg.LinAlgError):
            return float("inf")
