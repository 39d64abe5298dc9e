"""Satterthwaite and Kenward-Roger df for repeated-measures fits, as SAS's ``DDFM=`` computes them.

Both work in SAS's covariance parameters ``theta`` (the natural-scale parameters of the "Covariance
Parameter Estimates": UN(i,j), AR(1) and Residual, Var(j) and CSH, ...) with ``W`` their asymptotic
covariance from the observed information (``2 H^-1``, H the Hessian of -2 log-likelihood; the
engine's :attr:`RsideFit.covparm_vcov`). With ``Phi = (X' V^-1 X)^-1`` and, per parameter,
``P_h = X' (d V^-1 / d theta_h) X = -X' V^-1 V_h V^-1 X`` (so ``d Phi / d theta_h = -Phi P_h Phi``):

* **Satterthwaite** (``ddfm=satterthwaite``). One row ``l``: ``df = 2 (l Phi l')^2 / (g' W g)`` with
  ``g_h = -l Phi P_h Phi l'``. Several rows ``L`` (rank q): SAS's rule -- the spectral decomposition
  ``L Phi L' = E D E'`` gives q independent rows ``E' L`` with df ``nu_m``; ``S = sum nu_m / (nu_m - 2)``
  over ``nu_m > 2``, and ``df = 2 S / (S - q)`` where ``S > q``, else 0.
* **Kenward-Roger** (Kenward & Roger 1997; ``ddfm=kr``). The adjusted covariance
  ``Phi_A = Phi + 2 Phi [sum_hj W_hj (Q_hj - P_h Phi P_j - R_hj / 4)] Phi`` with
  ``Q_hj = X' V^-1 V_h V^-1 V_j V^-1 X`` and ``R_hj = X' V^-1 V_hj V^-1 X`` (``V_hj`` the second
  derivative, zero where V is linear in theta: UN, CS, TOEP, VC, UN(1)); ``kr(firstorder)`` leaves
  ``R`` out (SAS's FIRSTORDER suboption, mmrm's "Kenward-Roger-Linear"). For ``L`` of rank q, with
  ``Theta = L' (L Phi L')^-1 L``: ``A1 = sum W_hj tr(Theta Phi P_h Phi) tr(Theta Phi P_j Phi)``,
  ``A2 = sum W_hj tr(Theta Phi P_h Phi Theta Phi P_j Phi)`` and then B, g, c1..c3, E*, V*, rho, the
  df ``m = 4 + (q + 2) / (q rho - 1)`` and the F scale ``lambda = m / (E* (m - 2))``. One row gives
  ``m = 2 / (a' W a)``, Satterthwaite's df of the unadjusted variance.
* **KR2** (Kenward & Roger 2009; ``ddfm=kr2``): ``Phi_A`` above plus ``Phi (sum_i b_i P_i) Phi`` with ``b`` the
  first-order (Cox and Snell) bias of the REML covariance parameters, ``b = -(1/4) I^-1 c``,
  ``I_rs = tr(Pr V_r Pr V_s) / 2`` the expected REML information and ``c_r = tr(Pr K Pr V_r)``,
  ``K = sum_tu W_tu V_tu`` (``Pr`` the REML projection; :func:`reml_bias`). Zero for a structure linear in
  SAS's parameters (UN, CS, TOEP, VC, UN(1)), where KR2 is KR; the df formula is KR's.

As SAS does, a variance estimated on its boundary (0) is left out: ``W`` is the inverse of the
information of the other parameters, with zero rows and columns for it.

Everything is summed over visit patterns (subjects who share a group and observed visits share
their block of V, see :mod:`replicate.engine.rside.blocks`), so the cost does not grow with the
number of subjects. ``V_hj`` of a non-linear structure is a central difference of the exact
(complex-step) first derivatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, cholesky

from ..engine.rside import RsideFit
from ..engine.rside.structures import Structure
from ..errors import ModelError

APPROXIMATE = ("satterthwaite", "kr", "kr(firstorder)", "kr2")


@dataclass(frozen=True)
class DfParts:
    """What the df of any ``L`` need: ``Phi``, ``W``, the ``P_h``, and (Kenward-Roger) ``Phi_A``.

    Attributes:
        ddfm: ``satterthwaite``, ``kr`` or ``kr(firstorder)``.
        phi: ``(X' V^-1 X)^-1`` (p x p), the model-based covariance of the fixed effects.
        W: asymptotic covariance of the covariance parameters (n_cov x n_cov).
        P: ``P_h`` stacked (n_cov x p x p).
        vcov: the covariance the estimates and tests use: ``Phi`` (Satterthwaite) or ``Phi_A`` (KR).
    """

    ddfm: str
    phi: np.ndarray
    W: np.ndarray
    P: np.ndarray
    vcov: np.ndarray


def _second_derivative(structure: Structure, nat: np.ndarray) -> np.ndarray:
    """d2 C / d theta_h d theta_j (k x k x m x m): zero for linear structures, else differences of exact slopes."""
    m, k = len(nat), structure.k
    out = np.zeros((k, k, m, m))
    if structure.natural_linear:
        return out
    for j in range(m):
        h = 1e-5 * max(abs(nat[j]), 1e-2)
        up, down = nat.copy(), nat.copy()
        up[j] += h
        down[j] -= h
        out[:, :, :, j] = (structure.natural_jacobian(up) - structure.natural_jacobian(down)) / (2 * h)
    out = (out + out.transpose(0, 1, 3, 2)) / 2
    return out


def _natural(fit: RsideFit) -> np.ndarray:
    return np.array([c.estimate for c in fit.covparms])


def without_boundary(W: np.ndarray, structure: Structure, nat: np.ndarray, covs: list[np.ndarray]) -> np.ndarray:
    """``W`` with the variances on their boundary (below 1e-8 of the largest variance) left out of the inversion."""
    m = structure.n_natural
    on_boundary = [
        g * m + i
        for g, C in enumerate(covs)
        for i in structure.variance_labels()
        if nat[g * m + i] < 1e-8 * max(float(np.max(np.diag(C))), 1e-300)
    ]
    if not on_boundary:
        return W
    keep = [i for i in range(len(nat)) if i not in on_boundary]
    out = np.zeros_like(W)
    out[np.ix_(keep, keep)] = np.linalg.inv(np.linalg.inv(W)[np.ix_(keep, keep)])
    return out


def df_parts(fit: RsideFit, ddfm: str) -> DfParts:
    """``Phi``, ``W``, ``P_h`` and the covariance to use for ``ddfm`` (one of :data:`APPROXIMATE`)."""
    if ddfm not in APPROXIMATE:
        raise ModelError(f"ddfm {ddfm!r} is not an approximate df method", field="ddfm", hint=", ".join(APPROXIMATE))
    blocks, structure, W = fit.blocks, fit.covariance, fit.covparm_vcov
    if W is None or not np.all(np.isfinite(W)):
        raise ModelError(
            f"ddfm={ddfm} needs the covariance of the covariance parameters, and their Hessian is singular",
            field="ddfm",
            hint="use ddfm='betwithin' or 'residual', or a simpler structure",
        )
    if blocks is None or structure is None:
        return _numeric_parts(fit, ddfm, np.asarray(W, dtype=float))
    nat = _natural(fit)
    m, p, G = structure.n_natural, blocks.p, blocks.n_groups
    nat_g = [nat[g * m : (g + 1) * m] for g in range(G)]
    covs = [structure.from_natural(n) for n in nat_g]
    W = without_boundary(np.asarray(W, dtype=float), structure, nat, covs)
    jac = [structure.natural_jacobian(n) for n in nat_g]
    kr = ddfm.startswith("kr")
    second = kr and ddfm in ("kr", "kr2") and not structure.natural_linear
    bias = ddfm == "kr2" and not structure.natural_linear
    Wg = [W[g * m : (g + 1) * m, g * m : (g + 1) * m] for g in range(G)]
    K = [np.einsum("abhj,hj->ab", _second_derivative(structure, nat_g[g]), Wg[g]) for g in range(G)] if second else []
    xtvx = np.zeros((p, p))
    P = np.zeros((G * m, p, p))
    QW = np.zeros((p, p))
    RW = np.zeros((p, p))
    n = G * m
    tr_vv = np.zeros((n, n))  # sum over subjects of tr(V^-1 V_r V^-1 V_s)
    xq = np.zeros((n, n, p, p))  # X' V^-1 V_r V^-1 V_s V^-1 X
    tr_kv = np.zeros(n)  # sum over subjects of tr(V^-1 K V^-1 V_r), K = sum_tu W_tu V_tu
    xk = np.zeros((n, p, p))  # X' V^-1 V_r V^-1 K V^-1 X
    for pat in blocks.patterns:
        v, g = pat.visits, pat.group
        SX = pat.S[:, :, :p, :p]
        Cinv = cho_solve((cholesky(covs[g][np.ix_(v, v)], lower=True), True), np.eye(len(v)))
        xtvx += np.tensordot(Cinv, SX, axes=([0, 1], [0, 1]))
        B = Cinv @ np.moveaxis(jac[g][np.ix_(v, v)], 2, 0)  # m x mv x mv: V^-1 V_h
        P[g * m : (g + 1) * m] -= np.tensordot(B @ Cinv, SX, axes=([1, 2], [0, 1]))
        if kr:
            T = np.einsum("hj,jab->hab", Wg[g], B)
            QW += np.tensordot(np.einsum("hab,hbc->ac", B, T) @ Cinv, SX, axes=([0, 1], [0, 1]))
            if second:
                RW += np.tensordot(Cinv @ K[g][np.ix_(v, v)] @ Cinv, SX, axes=([0, 1], [0, 1]))
            if bias:
                idx = slice(g * m, (g + 1) * m)
                tr_vv[idx, idx] += pat.count * np.einsum("hab,jba->hj", B, B)
                BB = np.einsum("hab,jbc->hjac", B, B)
                xq[idx, idx] += np.tensordot(BB @ Cinv, SX, axes=([2, 3], [0, 1]))
                KC = Cinv @ K[g][np.ix_(v, v)]
                tr_kv[idx] += pat.count * np.einsum("ab,hba->h", KC, B)
                xk[idx] += np.tensordot(B @ KC @ Cinv, SX, axes=([1, 2], [0, 1]))
    phi = np.linalg.inv(xtvx)
    vcov = phi
    if kr:
        WP = np.einsum("hj,jcd->hcd", W, P)
        U = QW - (P @ phi @ WP).sum(axis=0) - RW / 4
        vcov = phi + 2 * phi @ U @ phi
        if bias:
            b = reml_bias(phi, P, RW, tr_vv, xq, tr_kv, xk)
            vcov = vcov + phi @ np.einsum("h,hab->ab", b, P) @ phi
        vcov = (vcov + vcov.T) / 2
    return DfParts(ddfm, phi, W, P, vcov)


def reml_bias(
    phi: np.ndarray,
    P: np.ndarray,
    RW: np.ndarray,
    tr_vv: np.ndarray,
    xq: np.ndarray,
    tr_kv: np.ndarray,
    xk: np.ndarray,
) -> np.ndarray:
    """Cox and Snell's first-order bias of the REML covariance parameters, ``b = -(1/4) I^-1 c`` (Kenward and
    Roger 2009), from the pieces summed over visit patterns.

    With the REML projection ``Pr = V^-1 - V^-1 X Phi X' V^-1``: ``I_rs = tr(Pr V_r Pr V_s) / 2`` (the expected
    REML information) and ``c_r = tr(Pr K Pr V_r)``, ``K = sum_tu W_tu V_tu``, each trace expanded as
    ``tr(V^-1 A V^-1 B) - 2 tr(Phi X'V^-1 A V^-1 B V^-1 X) + tr(Phi X'V^-1 A V^-1 X Phi X'V^-1 B V^-1 X)``
    (``X'V^-1 V_r V^-1 X = -P_r``, ``X'V^-1 K V^-1 X = RW``).
    """
    info = 0.5 * (tr_vv - 2 * np.einsum("ab,rsba->rs", phi, xq) + np.einsum("ab,rbc,cd,sda->rs", phi, P, phi, P))
    c = tr_kv - 2 * np.einsum("ab,rba->r", phi, xk) - np.einsum("ab,rbc,cd,da->r", phi, P, phi, RW)
    keep = np.diag(info) > 1e-12 * max(float(np.max(np.abs(np.diag(info)))), 1e-300)
    out = np.zeros(len(c))
    out[keep] = -0.25 * np.linalg.solve(info[np.ix_(keep, keep)], c[keep])
    return out


def _numeric_parts(fit: RsideFit, ddfm: str, W: np.ndarray) -> DfParts:
    """Satterthwaite's parts from central differences of ``fit.phi_of`` (fits with ``cluster=``)."""
    phi_of = fit.phi_of
    why = ""
    if phi_of is None:
        why = "the fit keeps neither its visit patterns nor Phi(theta)"
    elif ddfm != "satterthwaite":
        why = f"ddfm={ddfm} is not implemented for subjects in clusters (cluster=)"
    elif any("at the boundary" in m for m in fit.messages):
        why = "a covariance parameter is on its boundary, which the numerical derivatives cannot cross"
    if why or phi_of is None:
        raise ModelError(f"{why}: no {ddfm} df", field="ddfm", hint="use ddfm='residual' (or 'satterthwaite')")
    nat = _natural(fit)
    phi = phi_of(nat)
    phi_inv = np.linalg.inv(phi)
    P = np.zeros((len(nat), *phi.shape))
    for h in range(len(nat)):
        step = 1e-5 * max(abs(nat[h]), 1e-3)
        e = np.zeros(len(nat))
        e[h] = step
        d_phi = (phi_of(nat + e) - phi_of(nat - e)) / (2 * step)
        P[h] = -phi_inv @ d_phi @ phi_inv  # d Phi = -Phi P_h Phi
    return DfParts(ddfm, phi, W, P, phi)


def _row_df(parts: DfParts, row: np.ndarray) -> float:
    """Satterthwaite df of one row: 2 (l Phi l')^2 / (g' W g), g_h = -l Phi P_h Phi l'."""
    a = parts.phi @ row
    var = float(row @ a)
    g = -np.einsum("a,hab,b->h", a, parts.P, a)
    denom = float(g @ parts.W @ g)
    return 2 * var**2 / denom if denom > 0 else np.inf


def _independent_rows(parts: DfParts, L: np.ndarray) -> np.ndarray:
    """Rows ``E' L`` of the spectral decomposition of ``L Phi L'`` with non-zero eigenvalues."""
    d, E = np.linalg.eigh(L @ parts.phi @ L.T)
    keep = d > 1e-10 * max(float(np.max(np.abs(d))), 1e-300)
    out: np.ndarray = E[:, keep].T @ L
    return out


def satterthwaite_df(parts: DfParts, L: np.ndarray) -> float:
    """SAS's Satterthwaite df of ``L beta`` (one row or several)."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    if L.shape[0] == 1:
        return _row_df(parts, L[0])
    rows = _independent_rows(parts, L)
    nus = np.array([_row_df(parts, r) for r in rows])
    q = len(nus)
    s = float(np.sum(nus[nus > 2] / (nus[nus > 2] - 2)))
    return 2 * s / (s - q) if s > q else 0.0


@dataclass(frozen=True)
class KRTest:
    """Kenward-Roger's test of ``L beta = 0``: the scaled F, its df and the scale."""

    f_value: float
    num_df: int
    den_df: float
    scale: float


def kenward_roger_test(parts: DfParts, L: np.ndarray, beta: np.ndarray) -> KRTest:
    """The F statistic ``lambda (L b)' (L Phi_A L')^-1 (L b) / q`` with Kenward-Roger's df ``m``."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    rows = _independent_rows(parts, L)
    q = rows.shape[0]
    if q == 0:
        return KRTest(np.nan, 0, np.nan, np.nan)
    Lb = rows @ beta
    f = float(Lb @ np.linalg.solve(rows @ parts.vcov @ rows.T, Lb)) / q
    if q == 1:
        return KRTest(f, 1, _row_df(parts, rows[0]), 1.0)
    theta = rows.T @ np.linalg.solve(rows @ parts.phi @ rows.T, rows)
    M = theta @ parts.phi @ parts.P @ parts.phi  # n_cov x p x p
    tr = np.trace(M, axis1=1, axis2=2)
    a1 = float(tr @ parts.W @ tr)
    a2 = float(np.einsum("hab,jba,hj->", M, M, parts.W))
    b = (a1 + 6 * a2) / (2 * q)
    g = ((q + 1) * a1 - (q + 4) * a2) / ((q + 2) * a2)
    den = 3 * q + 2 * (1 - g)
    c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
    e_star = 1 / (1 - a2 / q)
    v_star = (2 / q) * (1 + c1 * b) / ((1 - c2 * b) ** 2 * (1 - c3 * b))
    rho = v_star / (2 * e_star**2)
    m = 4 + (q + 2) / (q * rho - 1)
    lam = m / (e_star * (m - 2))
    return KRTest(lam * f, q, m, lam)


def contrast_df(parts: DfParts, L: np.ndarray) -> float:
    """The df of ``L beta`` under ``parts.ddfm`` (one row: the t test's df)."""
    if parts.ddfm == "satterthwaite":
        return satterthwaite_df(parts, L)
    return kenward_roger_test(parts, L, np.zeros(np.atleast_2d(L).shape[1])).den_df
