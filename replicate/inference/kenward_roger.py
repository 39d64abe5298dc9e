"""Kenward-Roger small-sample inference, as pbkrtest and SAS ``ddfm=kr`` compute it.

Kenward & Roger (1997, Biometrics 53:983-997) replace the plug-in covariance of
the fixed effects ``Phi = (X' Sigma^-1 X)^-1`` by a bias-adjusted
``Phi_A = Phi + 2 Phi U Phi`` and refer a scaled Wald statistic to an F
distribution whose denominator df come from matching two moments. This module
follows pbkrtest (Halekoh & Hojsgaard 2014, J. Stat. Softw. 59(9)) exactly:

* **Parameterization.** The covariance parameters are the entries of every
  random-effect term's covariance matrix -- per term, the lower triangle taken
  column by column, as ``VarCorr`` lists them -- followed by the residual
  variance. Sigma is *linear* in them:
  ``Sigma = sum_i gamma_i G_i`` with ``G_i = Z_t (I (x) sym(e_a e_b')) Z_t'``
  and ``G_res = W^-1``. Hence the second derivatives of Sigma vanish and KR's
  ``R_ij`` term is zero, so SAS's ``ddfm=kr(firstorder)`` coincides with
  ``ddfm=kr`` here.
* **Information.** pbkrtest uses the *expected* REML information,
  ``I_ij = tr(P G_i P G_j) / 2`` with ``P = Sigma^-1 - Sigma^-1 X Phi X' Sigma^-1``,
  assembled as ``K_ij - 2 tr(Phi Q_ij) + tr(Phi P_i Phi P_j)``, and
  ``W = I^-1`` (a generalized inverse when an eigenvalue of I is below 1e-10).
  ``information="observed"`` uses the observed REML information
  ``-tr(P G_i P G_j) / 2 + y'P G_i P G_j P y`` instead (SAS documents the
  observed information as its default for GLIMMIX).
* **Adjustment.** ``P_i = -X'A G_i A X``, ``Q_ij = X'A G_i A G_j A X``
  (``A = Sigma^-1``), ``U = sum_ij W_ij (Q_ij - P_i Phi P_j)``,
  ``Phi_A = Phi + 2 Phi U Phi``.
* **df and scaling** for a contrast L of rank q: ``Theta = L'(L Phi L')^-1 L``,
  ``A1 = sum W_ij tr(Theta Phi P_i Phi) tr(Theta Phi P_j Phi)``,
  ``A2 = sum W_ij tr(Theta Phi P_i Phi Theta Phi P_j Phi)``, then B, g, c1..c3,
  ``E* = 1/(1 - A2/q)``, ``V* = (2/q)(1 + c1 B)/((1 - c2 B)^2 (1 - c3 B))``,
  ``rho = V*/(2 E*^2)``, ``m = 4 + (q + 2)/(q rho - 1)`` and the F scaling
  ``lambda = m (1 - A2/q)/(m - 2)``. For one coefficient m reduces to
  ``2 / (a'Wa)`` with ``a_i = (Phi P_i Phi)_kk / Phi_kk``.

Speed: pbkrtest forms Sigma^-1 as a dense n x n matrix. Here every trace and
sandwich is computed in the space of the random effects, one independent block
of Sigma at a time with blocks of equal size stacked (see
:mod:`replicate.inference.kr_blocks`): ``tr(A G_i A G_j) = tr(E_i C0 E_j C0)``
with ``C0 = Z'AZ``, ``X'A G_i A X = B1' E_i B1`` with ``B1 = Z'AX``, and so on.

Prior weights: the model's Sigma has residual part ``sigma^2 W^-1``, and that
is what is used by default. pbkrtest 0.5.2 builds Sigma with an identity
residual part whatever the weights while taking Phi from the weighted fit;
``weights="pbkrtest"`` reproduces that (see :func:`kenward_roger`).

ML fits: pbkrtest refits the model by REML before adjusting, and its
``get_Lb_ddf`` then mixes the ML fit's ``vcov`` (for Theta and Phi in the df
formula) with the REML fit's P and W. Both are reproduced: ``vcov_adj`` and
:meth:`KRResult.ftest` use the REML refit throughout, ``df`` uses the fit as
given for ``Phi`` exactly as ``get_Lb_ddf`` does.

Variants and parameterizations (SAS ``ddfm=kr``, ``kr(firstorder)``, ``kr2``).
The 1997 adjustment has a term in the second derivatives of Sigma,
``R_ij = X'A (d2 Sigma / d psi_i d psi_j) A X``:
``Phi_A = Phi + 2 Phi [sum W_ij (Q_ij - P_i Phi P_j - R_ij / 4)] Phi``.
Whether it is zero depends on how the covariance is parameterized.
``parameterization="linear"`` uses the entries of each term's covariance
matrix (pbkrtest; SAS ``type=vc`` / ``type=un``), where Sigma is linear and
``R_ij = 0``. ``parameterization="cholesky"`` uses the entries of each term's
lower Cholesky factor ``L`` (``G = L L'``; SAS ``type=fa0(k)`` / ``chol``,
lme4's own theta up to the factor sigma), where Sigma is quadratic, ``R_ij``
is not zero and ``variant="kr"`` gives smaller standard errors than the
linear form: the adjustment is not invariant, as SAS's documentation warns.
``variant="firstorder"`` drops ``R_ij``. ``variant="kr2"`` (Kenward & Roger
2009, "An improved approximation to the precision of fixed effects from
restricted maximum likelihood", CSDA 53:2583-2595) keeps ``R_ij`` and adds
the term the 1997 expansion left out, the O(1/n) bias ``b`` of the REML
estimates of the covariance parameters:
``Phi_A2 = Phi_A + Phi (sum_i b_i P_i) Phi``. The bias is Cox & Snell's
(1968) first-order bias; for the REML likelihood it reduces to
``b = -(1/4) I^-1 c``, ``c_r = sum_tu W_tu tr(P Sigma_tu P Sigma_r)``
(``I`` the expected REML information, ``P`` the REML projection). For a
linear parameterization ``b = 0`` and KR2 equals KR; for a parameterization
of a structure that some reparameterization makes linear (every structure
fitted here), the bias term cancels ``R_ij`` exactly and KR2 equals KR in
the linear form, whatever the parameterization -- the invariance the 2009
paper was written to restore. The df formula (A1, A2) is the same in all
variants and invariant under reparameterization. In the Cholesky form the
information is transformed from the linear one, ``J' I J`` with
``J = d(linear)/d(cholesky)``: exact for the expected information, and for
the observed information at the REML optimum, where the score vanishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..design import Design
from ..engine.theta import ThetaLayout
from ..errors import ModelError, NotImplementedOption
from ..results import FitResult
from .kr_blocks import BlockStructure, Moments
from .refit import Refit, native_refit

VARIANTS = ("kr", "firstorder", "kr2")
INFORMATION = ("expected", "observed")
PARAMETERIZATIONS = ("linear", "cholesky")


# ---------------------------------------------------------------- parameters


def varpar_layout(design: Design) -> list[tuple[int, int, int, str]]:
    """pbkrtest's covariance parameters: (term, a, b, name), residual last (term -1)."""
    out = []
    for t, term in enumerate(design.reterms):
        for b in range(term.k):  # column-major lower triangle, as lower.tri()
            for a in range(b, term.k):
                if a == b:
                    name = f"var({term.group}|{term.columns[a]})"
                else:
                    name = f"cov({term.group}|{term.columns[a]},{term.columns[b]})"
                out.append((t, a, b, name))
    out.append((-1, 0, 0, "var(Residual)"))
    return out


def term_factors(design: Design, theta: np.ndarray, sigma2: float) -> list[np.ndarray]:
    """Each term's lower Cholesky factor ``L = sigma Lambda_t`` of its covariance ``G = L L'``."""
    layout = ThetaLayout.of(design)
    return [np.sqrt(sigma2) * lam for lam in layout.factors(np.asarray(theta, dtype=float))]


def varpar_values(design: Design, theta: np.ndarray, sigma2: float) -> np.ndarray:
    """Values of the covariance parameters: each term's ``G = L L'`` (lower triangle, column by
    column), then sigma2."""
    vals = []
    for L in term_factors(design, theta, sigma2):
        G = L @ L.T
        k = G.shape[0]
        vals.extend(G[a, b] for b in range(k) for a in range(b, k))
    vals.append(sigma2)
    return np.asarray(vals)


def reparameterization(
    design: Design, theta: np.ndarray, sigma2: float, parameterization: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Values of the covariance parameters in ``parameterization`` and the map to the linear ones.

    Returns:
        psi: the parameter values, in pbkrtest's order (per term the lower
            triangle column by column, residual variance last).
        J: (s, s) ``J[a, i] = d gamma_a / d psi_i`` (gamma the linear parameters).
        H: (s, s, s) ``H[a, i, j] = d2 gamma_a / d psi_i d psi_j``.
        names: the parameter names.
    """
    layout = varpar_layout(design)
    s = len(layout)
    if parameterization == "linear":
        return varpar_values(design, theta, sigma2), np.eye(s), np.zeros((s, s, s)), [nm for *_, nm in layout]
    if parameterization != "cholesky":
        raise NotImplementedOption(
            f"covariance parameterization {parameterization!r} unknown", hint="one of " + ", ".join(PARAMETERIZATIONS)
        )
    factors = term_factors(design, theta, sigma2)
    psi = np.empty(s)
    J = np.zeros((s, s))
    H = np.zeros((s, s, s))
    names = []
    start = 0
    for t, term in enumerate(design.reterms):
        L = factors[t]
        if np.any(np.abs(np.diag(L)) <= 1e-8 * np.sqrt(sigma2)):  # theta's diagonal (scale-free) near 0
            raise ModelError(
                f"the Cholesky parameterization of the {term.group!r} term is singular at this fit "
                "(a variance is estimated as 0)",
                hint="use parameterization='linear' (SAS type=un/vc, pbkrtest); "
                "KR2 in the Cholesky form needs a positive definite covariance",
            )
        idx = [(a, b) for b in range(term.k) for a in range(b, term.k)]
        for u, (a, b) in enumerate(idx):
            psi[start + u] = L[a, b]
            names.append(f"chol({term.group}|{term.columns[a]},{term.columns[b]})")
        # G_ab = sum_m L_am L_bm;  dG_ab/dL_cd = [a=c] L_bd + [b=c] L_ad
        # d2 G_ab / dL_cd dL_ef = [d=f] ([a=c][b=e] + [b=c][a=e])
        for ra, (a, b) in enumerate(idx):
            for ri, (c, d) in enumerate(idx):
                J[start + ra, start + ri] = (L[b, d] if a == c else 0.0) + (L[a, d] if b == c else 0.0)
                for rj, (e, f) in enumerate(idx):
                    if d == f:
                        H[start + ra, start + ri, start + rj] = float(a == c and b == e) + float(b == c and a == e)
        start += len(idx)
    psi[-1] = sigma2
    J[-1, -1] = 1.0
    names.append("var(Residual)")
    return psi, J, H, names


# ---------------------------------------------------------------- pieces


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

    Phi: np.ndarray
    P: np.ndarray
    Q: np.ndarray
    K: np.ndarray
    IE2: np.ndarray
    Y2: np.ndarray | None = None


def _gather_rows(C: np.ndarray, part: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``E C`` for a selector (partner, mask) on (G, m, m) blocks."""
    return mask[..., None] * np.take_along_axis(C, part[..., None], axis=1)


def kr_pieces(
    blocks: BlockStructure, theta: np.ndarray, sigma2: float, *, observed: bool = False, Phi: np.ndarray | None = None
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

    sel = [blocks.selector(t, a, b) for (t, a, b, _) in layout[:-1]]
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


def _observed_terms(blocks: BlockStructure, theta: np.ndarray, mom: Moments, Phi: np.ndarray, sel: list) -> np.ndarray:
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


# ---------------------------------------------------------------- KR formulas


def _generalized_inverse(M: np.ndarray) -> np.ndarray:
    """``solve`` when well conditioned, else MASS::ginv (as pbkrtest)."""
    ev = np.linalg.eigvalsh(0.5 * (M + M.T))
    if np.min(np.abs(ev)) > 1e-10:
        return np.linalg.inv(M)
    return np.linalg.pinv(M, rcond=np.sqrt(np.finfo(float).eps))


def covariance_of_varpar(pc: KRPieces, information: str, J: np.ndarray | None = None) -> np.ndarray:
    """W: asymptotic covariance of the covariance parameters (inverse information).

    ``J`` (``d linear / d psi``) gives W in another parameterization: the
    information becomes ``J' I J``.
    """
    if information == "expected":
        Info2 = pc.IE2
    else:
        Info2 = 2.0 * pc.Y2 - pc.IE2
    if J is not None:
        Info2 = J.T @ Info2 @ J
    W = 2.0 * _generalized_inverse(Info2)
    return 0.5 * (W + W.T)


@dataclass(frozen=True)
class Adjustment:
    """Kenward-Roger's adjustment in one parameterization of the covariance parameters.

    Attributes:
        P: (s, p, p) ``P_i = X' (d Sigma^-1 / d psi_i) X``.
        W: (s, s) covariance of the parameters (inverse information).
        U: ``sum_ij W_ij (Q_ij - P_i Phi P_j)`` (invariant under reparameterization).
        R: ``sum_ij W_ij R_ij`` with ``R_ij = X'A (d2 Sigma / d psi_i d psi_j) A X``.
        bias: (s,) first-order bias of the REML estimates of the parameters.
    """

    P: np.ndarray
    W: np.ndarray
    U: np.ndarray
    R: np.ndarray
    bias: np.ndarray

    def vcov(self, Phi: np.ndarray, variant: str) -> np.ndarray:
        """``Phi_A`` of ``variant``: ``"firstorder"``, ``"kr"`` (with R) or ``"kr2"`` (with R and the bias)."""
        PhiA = Phi + 2.0 * Phi @ self.U @ Phi
        if variant in ("kr", "kr2"):
            PhiA = PhiA - 0.5 * Phi @ self.R @ Phi
        if variant == "kr2":
            PhiA = PhiA + Phi @ np.einsum("i,ipq->pq", self.bias, self.P) @ Phi
        return 0.5 * (PhiA + PhiA.T)


def adjustment(pc: KRPieces, information: str, J: np.ndarray | None = None, H: np.ndarray | None = None) -> Adjustment:
    """The adjustment's pieces in the parameterization given by ``J`` and ``H``
    (see :func:`reparameterization`; None, or the identity and zero: the linear
    parameters themselves, whose transforms are skipped)."""
    Phi = pc.Phi
    s = pc.P.shape[0]
    J = np.eye(s) if J is None else J
    H = np.zeros((s, s, s)) if H is None else H
    linear = not H.any() and np.array_equal(J, np.eye(s))
    W = covariance_of_varpar(pc, information, None if linear else J)
    P = pc.P if linear else np.einsum("ai,apq->ipq", J, pc.P)
    Q = pc.Q if linear else np.einsum("ai,bj,abpq->ijpq", J, J, pc.Q, optimize=True)
    U = np.zeros_like(Phi)
    for i in range(s):
        PiPhi = P[i] @ Phi
        for j in range(s):
            U += W[i, j] * (Q[i, j] - PiPhi @ P[j])
    U = 0.5 * (U + U.T)
    # d2 Sigma / d psi_i d psi_j = sum_a H[a, i, j] G_a, so R_ij = -sum_a H[a, i, j] P_a (linear P)
    h = np.einsum("aij,ij->a", H, W)
    R = -np.einsum("a,apq->pq", h, pc.P)
    # Cox-Snell bias of the REML estimates: b = -(1/4) I^-1 c,
    # c_r = sum_tu W_tu tr(P Sigma_tu P Sigma_r) = (J' tr(P G_a P G_b) h)_r
    c = J.T @ pc.IE2 @ h
    bias = -0.25 * (2.0 * _generalized_inverse(J.T @ pc.IE2 @ J)) @ c
    return Adjustment(P=P, W=W, U=U, R=0.5 * (R + R.T), bias=bias)


def _sqrt_or_nan(v: np.ndarray) -> np.ndarray:
    """Square roots, NaN where a variance is negative (``variant="kr"`` in the
    Cholesky form can make the adjusted covariance indefinite)."""
    v = np.asarray(v, dtype=float)
    return np.where(v >= 0, np.sqrt(np.abs(v)), np.nan)


def _div_zero(x: float, y: float, tol: float = 1e-14) -> float:
    return 1.0 if abs(x) < tol and abs(y) < tol else x / y


def kr_moments(L: np.ndarray, Phi: np.ndarray, P: np.ndarray, W: np.ndarray, q: int | None = None) -> dict[str, float]:
    """A1, A2 and the df / scaling of Kenward & Roger for contrast L (pbkrtest's formulas)."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    if q is None:
        q = L.shape[0]
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    TP = Theta @ Phi
    us = [TP @ P[i] @ Phi for i in range(P.shape[0])]
    tr = np.array([np.trace(u) for u in us])
    A1 = float(tr @ W @ tr)
    A2 = 0.0
    s = len(us)
    for i in range(s):
        for j in range(s):
            A2 += W[i, j] * float(np.sum(us[i] * us[j].T))
    B = (A1 + 6.0 * A2) / (2.0 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    den = 3.0 * q + 2.0 * (1.0 - g)
    c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
    V0 = 1.0 + c1 * B
    V1 = 1.0 - c2 * B
    V2 = 1.0 - c3 * B
    if abs(V0) < 1e-10:
        V0 = 0.0
    rho = (1.0 / q) * _div_zero(1.0 - A2 / q, V1) ** 2 * V0 / V2
    ddf = 4.0 + (q + 2.0) / (q * rho - 1.0)
    scale = 1.0 if abs(ddf - 2.0) < 0.01 else ddf * (1.0 - A2 / q) / (ddf - 2.0)
    return {"A1": A1, "A2": A2, "rho": rho, "ddf": ddf, "scale": scale}


def _full_rank(L: np.ndarray) -> np.ndarray:
    """pbkrtest's force_full_rank: an orthonormal basis of the row space if L is rank deficient."""
    rank = np.linalg.matrix_rank(L)
    if rank < L.shape[0]:
        Qm, _ = np.linalg.qr(L.T)
        return Qm[:, :rank].T
    return L


# ---------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class KRResult:
    """Kenward-Roger inference for the fixed effects of one fit.

    Attributes:
        vcov_adj: KR-adjusted covariance of beta (pbkrtest ``vcovAdj``).
        df: KR denominator df of each coefficient (pbkrtest ``get_Lb_ddf``
            with a unit contrast; SAS ``ddfm=kr``).
        se: ``sqrt(diag(vcov_adj))`` (NaN where that diagonal is negative).
        vcov: the unadjusted covariance ``Phi`` at the (REML) estimates.
        fixed: the fixed-effect estimates.
        varpar: covariance parameters in pbkrtest's order, in ``parameterization``.
        W: their asymptotic covariance (inverse information).
        variant, information, parameterization: what was computed.
        refit_reml: True if an ML fit was refitted by REML (as pbkrtest does).
        P: (s, p, p) the matrices ``P_i``, needed with W for the df of any contrast.
        bias: first-order bias of the REML estimates of ``varpar`` (the term
            KR2 adds; zero in the linear parameterization).
    """

    vcov_adj: pd.DataFrame
    df: pd.Series
    se: pd.Series
    vcov: pd.DataFrame
    fixed: pd.Series
    varpar: pd.Series
    W: pd.DataFrame
    variant: str = "kr"
    information: str = "expected"
    parameterization: str = "linear"
    refit_reml: bool = False
    P: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    bias: pd.Series | None = None

    def ftest(self, L: np.ndarray, beta0: np.ndarray | float = 0.0) -> dict[str, float]:
        """KR F test of ``L beta = L beta0`` (pbkrtest ``KRmodcomp`` with a restriction matrix).

        Returns:
            dict with ``F`` (scaled statistic), ``ndf``, ``ddf``, ``scale`` (the
            F scaling lambda), ``p``, and the unscaled ``F_unscaled`` / ``p_unscaled``.
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[1] != self.fixed.shape[0]:
            raise ValueError(f"L has {L.shape[1]} columns; the model has {self.fixed.shape[0]} fixed effects")
        L = _full_rank(L)
        q = int(np.linalg.matrix_rank(L))
        Phi = self.vcov.to_numpy()
        PhiA = self.vcov_adj.to_numpy()
        mom = kr_moments(L, Phi, self.P, self.W.to_numpy(), q=q)
        d = L @ (self.fixed.to_numpy() - np.broadcast_to(np.asarray(beta0, dtype=float), self.fixed.shape))
        wald = float(d @ np.linalg.solve(L @ PhiA @ L.T, d))
        Fu = wald / q
        F = mom["scale"] * Fu
        return {
            "F": F,
            "ndf": q,
            "ddf": mom["ddf"],
            "scale": mom["scale"],
            "p": float(stats.f.sf(F, q, mom["ddf"])),
            "F_unscaled": Fu,
            "p_unscaled": float(stats.f.sf(Fu, q, mom["ddf"])),
        }


def kenward_roger(
    fit: FitResult,
    design: Design,
    *,
    variant: str = "kr",
    information: str = "expected",
    parameterization: str = "linear",
    weights: str = "model",
    reml_fit: FitResult | None = None,
    refit: Refit = native_refit,
) -> KRResult:
    """Kenward-Roger adjusted covariance, per-coefficient df, and F tests.

    Args:
        fit: a fit from the native engine (needs ``theta`` and ``sigma2``).
        design: the design the fit was made on.
        variant: ``"kr"`` (Kenward & Roger 1997: pbkrtest, SAS ``ddfm=kr``),
            ``"firstorder"`` (SAS ``ddfm=kr(firstorder)``: without the second
            derivatives of Sigma) or ``"kr2"`` (Kenward & Roger 2009, SAS
            ``ddfm=kr2``: with the REML bias term). See the module notes.
        information: ``"expected"`` (pbkrtest) or ``"observed"`` (SAS's default).
        parameterization: ``"linear"`` (variances and covariances: pbkrtest,
            SAS ``type=un``/``vc``) or ``"cholesky"`` (entries of the Cholesky
            factor of each term's covariance: SAS ``type=fa0(k)``/``chol``).
            The three variants agree in the linear form; they differ in the
            Cholesky form, where ``"kr"`` shrinks the standard errors and
            ``"firstorder"`` and ``"kr2"`` give the linear form's numbers.
        weights: only for models with prior weights. ``"model"`` (default)
            uses the model's ``Sigma = sigma^2 W^-1 + Z D Z'``. ``"pbkrtest"``
            reproduces pbkrtest 0.5.2, which builds Sigma with an identity
            residual part whatever the weights, while taking Phi from the
            (weighted) fit; its numbers are then not internally consistent
            (for balanced sleepstudy with weights, df 20.0 / 18.8 instead of 17).
        reml_fit: for an ML ``fit``, the REML fit of the same design, whose variance parameters Kenward-Roger
            uses (pbkrtest refits by REML too); :class:`~replicate.inference.context.Inference` makes it with
            the run's engine. For an ML fit without it, ``refit(design, "REML")`` makes it.
        refit: ``(design, method) -> fit``; the native engine by default.
    """
    if variant not in VARIANTS:
        raise NotImplementedOption(f"Kenward-Roger variant {variant!r} unknown", hint="one of " + ", ".join(VARIANTS))
    if information not in INFORMATION:
        raise NotImplementedOption(f"information {information!r} unknown", hint="'expected' or 'observed'")
    if parameterization not in PARAMETERIZATIONS:
        raise NotImplementedOption(
            f"covariance parameterization {parameterization!r} unknown", hint="one of " + ", ".join(PARAMETERIZATIONS)
        )
    if weights not in ("model", "pbkrtest"):
        raise NotImplementedOption(f"weights handling {weights!r} unknown", hint="'model' or 'pbkrtest'")
    if fit.theta is None:
        raise ValueError("this fit has no theta; Kenward-Roger needs the native engine's fit")
    if (
        parameterization == "cholesky"
        and information == "observed"
        and str(fit.optinfo.method if fit.optinfo else "").startswith("none")
    ):
        # the transformed observed information drops the score term, which vanishes only at an optimum
        raise NotImplementedOption(
            "the observed information in the Cholesky parameterization is implemented at an optimum only; "
            "this fit is evaluated at given variance parameters",
            hint="use parameterization='linear' or information='expected'",
        )
    names = list(fit.fixed.index)
    refitted = str(fit.method).upper() == "ML"
    if not refitted:
        reml_fit = fit
    elif reml_fit is None:
        reml_fit = refit(design, "REML")
    theta = np.asarray(reml_fit.theta, dtype=float)
    sigma2 = float(reml_fit.sigma2)
    pb_weights = weights == "pbkrtest" and design.weights is not None
    blocks = BlockStructure(design, use_weights=not pb_weights)
    Phi_fit = reml_fit.vcov.loc[names, names].to_numpy() if pb_weights else None
    psi, J, H, vp_names = reparameterization(design, theta, sigma2, parameterization)
    pc = kr_pieces(blocks, theta, sigma2, observed=(information == "observed"), Phi=Phi_fit)
    adj = adjustment(pc, information, J, H)
    PhiA = adj.vcov(pc.Phi, variant)
    Phi_df = fit.vcov.loc[names, names].to_numpy() if refitted else pc.Phi
    dfs = []
    for k in range(len(names)):
        e = np.zeros((1, len(names)))
        e[0, k] = 1.0
        dfs.append(kr_moments(e, Phi_df, adj.P, adj.W)["ddf"])
    return KRResult(
        vcov_adj=pd.DataFrame(PhiA, index=names, columns=names),
        df=pd.Series(dfs, index=names, dtype=float),
        se=pd.Series(_sqrt_or_nan(np.diag(PhiA)), index=names),
        vcov=pd.DataFrame(pc.Phi, index=names, columns=names),
        fixed=pd.Series(np.asarray(reml_fit.fixed.loc[names], dtype=float), index=names),
        varpar=pd.Series(psi, index=vp_names),
        W=pd.DataFrame(adj.W, index=vp_names, columns=vp_names),
        variant=variant,
        information=information,
        parameterization=parameterization,
        refit_reml=refitted,
        P=adj.P,
        bias=pd.Series(adj.bias, index=vp_names),
    )


__all__ = [
    "Adjustment",
    "KRPieces",
    "KRResult",
    "adjustment",
    "kenward_roger",
    "kr_moments",
    "kr_pieces",
    "reparameterization",
    "varpar_layout",
]
