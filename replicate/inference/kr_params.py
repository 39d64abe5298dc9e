"""Kenward-Roger's covariance parameters and their parameterizations.

pbkrtest's parameters (``parameterization="linear"``) are the entries of every random-effect term's
covariance matrix -- per term the lower triangle column by column, as ``VarCorr`` lists them -- followed
by the residual variance; Sigma is linear in them, ``Sigma = sum_i gamma_i G_i`` with
``G_i = Z_t (I (x) sym(e_a e_b')) Z_t'`` and ``G_res = W^-1``. ``parameterization="cholesky"`` uses the
entries of each term's lower Cholesky factor ``L`` (``G = L L'``; SAS ``type=fa0(k)`` / ``chol``), in which
Sigma is quadratic: :func:`reparameterization` gives the values and the first and second derivatives of the
linear parameters in them, which :mod:`replicate.inference.kr_adjust` needs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..design import Design
from ..engine.theta import ThetaLayout
from ..errors import ModelError, NotImplementedOption

PARAMETERIZATIONS = ("linear", "cholesky")

FloatArray = npt.NDArray[np.float64]


def varpar_layout(design: Design) -> list[tuple[int, int, int, str]]:
    """pbkrtest's covariance parameters: (term, a, b, name), residual last (term -1)."""
    out: list[tuple[int, int, int, str]] = []
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


def term_factors(design: Design, theta: FloatArray, sigma2: float) -> list[FloatArray]:
    """Each term's lower Cholesky factor ``L = sigma Lambda_t`` of its covariance ``G = L L'``."""
    layout = ThetaLayout.of(design)
    return [np.sqrt(sigma2) * lam for lam in layout.factors(np.asarray(theta, dtype=float))]


def varpar_values(design: Design, theta: FloatArray, sigma2: float) -> FloatArray:
    """Values of the covariance parameters: each term's ``G = L L'`` (lower triangle, column by
    column), then sigma2."""
    vals: list[float] = []
    for L in term_factors(design, theta, sigma2):
        G = L @ L.T
        k = G.shape[0]
        vals.extend(G[a, b] for b in range(k) for a in range(b, k))
    vals.append(sigma2)
    return np.asarray(vals)


def reparameterization(
    design: Design, theta: FloatArray, sigma2: float, parameterization: str
) -> tuple[FloatArray, FloatArray, FloatArray, list[str]]:
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
    names: list[str] = []
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


__all__ = ["PARAMETERIZATIONS", "reparameterization", "term_factors", "varpar_layout", "varpar_values"]
