"""Kenward-Roger's derivative matrices at one value of the variance parameters.

With ``A = Sigma^-1`` and ``G_i = d Sigma / d gamma_i`` (gamma pbkrtest's linear parameters,
:func:`~replicate.inference.kr_params.varpar_layout`): ``P_i = -X'A G_i A X``,
``Q_ij = X'A G_i A G_j A X``, ``K_ij = tr(A G_i A G_j)`` and twice the expected REML information
``tr(P G_i P G_j) = K_ij - 2 tr(Phi Q_ij) + tr(Phi P_i Phi P_j)``; for the observed information also
``y'P G_i P G_j P y``. Every trace and sandwich is computed in the space of the random effects, one
independent block of Sigma at a time (:mod:`replicate.inference.kr_blocks`):
``tr(A G_i A G_j) = tr(E_i C0 E_j C0)`` with ``C0 = Z'AZ``, ``X'A G_i A X = B1' E_i B1`` with
``B1 = Z'AX``, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .kr_blocks import BlockStructure, Moments
from .kr_params import varpar_layout

FloatArray = npt.NDArray[np.float64]
# per batch, each row's partner row and a 0/1 mask: one E_i (BlockStructure.selector)
Selector = tuple[list[npt.NDArray[np.intp]], list[FloatArray]]


@dataclass(frozen=True)
class KRPieces:
    """The Kenward-Roger building blocks at one value of the variance parameters.

    Attributes:
        Phi: (p, p) ``(X' Sigma^-1 X)^-1``.
        P: (s, p, p) ``P_i = -X'A G_i A X``.
        Q: (s, s, p, p) ``Q_ij = X'A G_i A G_j A X``.
        K: (s, s) ``tr(A G_i A G_j)``.
        IE2: (s, s) ``tr(P G_i P G_j)`` (twice the expected REML information).
        Y2: (s, s) ``y'P G_i P G_j P y`` (only for the observed information), or None.
    """

    Phi: FloatArray
    P: FloatArray
    Q: FloatArray
    K: FloatArray
    IE2: FloatArray
    Y2: FloatArray | None = None


def _gather_rows(C: FloatArray, part: npt.NDArray[np.intp], mask: FloatArray) -> FloatArray:
    """``E C`` for a selector (partner, mask) on (G, m, m) blocks."""
    out: FloatArray = mask[..., None] * np.take_along_axis(C, part[..., None], axis=1)
    return out


def kr_pieces(
    blocks: BlockStructure, theta: FloatArray, sigma2: float, *, observed: bool = False, Phi: FloatArray | None = None
) -> KRPieces:
    """Compute Phi, P_i, Q_ij, K_ij (and the y-terms of the observed information).

    ``Phi`` overrides the covariance of beta used in the information (pbkrtest
    takes it from the fit, which matters only when it ignores prior weights).
    """
    design = blocks.design
    layout = varpar_layout(design)
    s = len(layout)
    R = s - 1  # residual parameter index
    p = blocks.p
    mom: Moments = blocks.moments(theta, sigma2)
    s2 = mom.sigma2

    sel: list[Selector] = [blocks.selector(t, a, b) for (t, a, b, _) in layout[:-1]]
    P = np.zeros((s, p, p))
    Q = np.zeros((s, s, p, p))
    K = np.zeros((s, s))
    for bi, batch in enumerate(blocks.batches):
        B1, B2, C0, ZLMi = mom.B1[bi], mom.B2[bi], mom.C0[bi], mom.ZLMi[bi]
        Ys, Ts = [], []
        for i, (parts, masks) in enumerate(sel):
            part, mask = parts[bi], masks[bi]
            Y = mask[..., None] * np.take_along_axis(B1, part[..., None], axis=1)  # E_i B1
            Ys.append(Y)
            Ts.append(C0 @ Y)
            P[i] -= np.einsum("gmp,gmr->pr", Y, B1)
            Q[i, R] += np.einsum("gmp,gmr->pr", Y, B2)
            # tr(E_i Z'A^2Z) = sum_r mask[r] (Z'A^2Z)[r, partner[r]], with
            # Z'A^2Z = C0 / s2 - ZLMi ZLMi' / s2^2 (only these entries are formed)
            c0_rp = np.take_along_axis(C0, part[..., None], axis=2)[..., 0]
            zz_rp = np.sum(ZLMi * np.take_along_axis(ZLMi, part[..., None], axis=1), axis=2)
            K[i, R] += float(np.sum(mask * (c0_rp / s2 - zz_rp / s2**2)))
        n_rand = len(sel)
        for i in range(n_rand):
            # tr(E_i C0 E_j C0) = sum(D_i * D_j') with D = E C0 (rows gathered)
            Di = _gather_rows(C0, sel[i][0][bi], sel[i][1][bi])
            for j in range(i, n_rand):
                Dj = Di if j == i else _gather_rows(C0, sel[j][0][bi], sel[j][1][bi])
                Q[i, j] += np.einsum("gmp,gmr->pr", Ys[i], Ts[j])
                K[i, j] += float(np.sum(Di * np.swapaxes(Dj, 1, 2)))
    if Phi is None:
        Phi = np.linalg.inv(mom.XtAX)
        Phi = 0.5 * (Phi + Phi.T)
    P[R] = -mom.XtA2X
    Q[R, R] = mom.XtA3X
    K[R, R] = mom.trA2
    for i in range(s):
        K[R, i] = K[i, R]
        for j in range(i + 1, s):
            K[j, i] = K[i, j]
            Q[j, i] = Q[i, j].T
    IE2 = np.empty((s, s))
    for i in range(s):
        PhiPi = Phi @ P[i]
        for j in range(i, s):
            IE2[i, j] = IE2[j, i] = K[i, j] - 2.0 * np.sum(Phi * Q[i, j]) + np.sum(PhiPi * (P[j] @ Phi))

    Y2 = None
    if observed:
        Y2 = _observed_terms(blocks, theta, mom, Phi, sel)
    return KRPieces(Phi, P, Q, K, IE2, Y2)


def _observed_terms(
    blocks: BlockStructure, theta: FloatArray, mom: Moments, Phi: FloatArray, sel: list[Selector]
) -> FloatArray:
    """``y'P G_i P G_j P y`` for all pairs of covariance parameters."""
    s = len(sel) + 1
    R = s - 1
    Xs, ys = blocks.Xs, blocks.ys
    Ay = blocks.apply_inverse(theta, mom, ys)
    beta = Phi @ (Xs.T @ Ay)
    r = blocks.apply_inverse(theta, mom, ys - Xs @ beta)  # P y
    Ar = blocks.apply_inverse(theta, mom, r)
    XtAr = Xs.T @ Ar
    zs = np.asarray(blocks.Zs.T @ r).ravel()  # Z' P y
    B1g = blocks.scatter_vector(mom.B1, (blocks.p,))
    zpr = np.asarray(blocks.Zs.T @ Ar).ravel() - B1g @ (Phi @ XtAr)  # Z' P P y
    Y2 = np.zeros((s, s))
    gs = []
    for i in range(len(sel)):
        gs.append(np.zeros(blocks.p))
    s_b = blocks.gather_vector(zs)
    zpr_b = blocks.gather_vector(zpr)
    for bi, _batch in enumerate(blocks.batches):
        C0, B1 = mom.C0[bi], mom.B1[bi]
        es, ces = [], []
        for i, (parts, masks) in enumerate(sel):
            e = masks[bi] * np.take_along_axis(s_b[bi], parts[bi], axis=1)
            es.append(e)
            ces.append((C0 @ e[..., None])[..., 0])
            gs[i] += np.einsum("gmp,gm->p", B1, e)
            Y2[i, R] += float(np.sum(e * zpr_b[bi]))
        for i in range(len(sel)):
            for j in range(i, len(sel)):
                Y2[i, j] += float(np.sum(es[i] * ces[j]))
    for i in range(len(sel)):
        for j in range(i, len(sel)):
            Y2[i, j] -= gs[i] @ Phi @ gs[j]
    Y2[R, R] = float(r @ Ar - XtAr @ Phi @ XtAr)
    iu = np.triu_indices(s, 1)
    Y2[(iu[1], iu[0])] = Y2[iu]
    return Y2


__all__ = ["KRPieces", "kr_pieces"]
