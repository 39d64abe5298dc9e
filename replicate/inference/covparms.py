"""Covariance parameters as SAS prints them ("Covariance Parameter Estimates").

SAS PROC MIXED and GLIMMIX report the variances and covariances of each
random-effect block G and the residual variance directly (not lme4's relative
Cholesky factor theta), and with the COVTEST option (MIXED) or by default
(GLIMMIX) their asymptotic standard errors and Wald Z statistics. The SAS
documentation (MIXED, ASYCOV option; Example "Plotting the Likelihood") states
that the asymptotic covariance matrix is the observed inverse Fisher
information ``2 H^-1``, H the Hessian of the objective function -2 log L
(REML or ML, with beta profiled out) at the estimates. With the SCORING= option
the expected information is used instead. Both are offered here.

Parameters ``psi`` are, per random-effect term in lme4's order, the variances
of its columns and then the covariances (lower triangle, column-major, as in
``as.data.frame(VarCorr(fit))``), and last the residual variance. The marginal
covariance is linear in them, ``V = sum_i psi_i V_i`` with ``V_i = Z E_i Z'``
for a G element and ``V_i = W^-1`` for the residual, so with ``P`` the REML
projector::

    d2(-2 l_R)/dpsi_i dpsi_j = -tr(P V_i P V_j) + 2 y'P V_i P V_j P y
    d2(-2 l_ML)/dpsi_i dpsi_j = -tr(V^-1 V_i V^-1 V_j) + 2 y'P V_i P V_j P y
    expected information: tr(P V_i P V_j) / 2   (V^-1 in place of P for ML)

None of these needs an n x n matrix. With ``A = W^1/2 [Z X]``, its
cross-product ``Q = A'A`` (``q + p`` square) and ``Gamma = diag(Lambda, I_p)``,
``sigma^2 P = I - A K A'`` with ``K = Gamma (Gamma'Q Gamma + diag(I_q, 0))^-1 Gamma'``
(Henderson's mixed model equations in lme4's scaling), and every trace and
quadratic form above reduces to products of ``q + p`` square matrices
(:class:`QSpace`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg as sla
from scipy import stats

from ..design import Design
from ..engine.theta import ThetaLayout
from ..engine.varcorr import unique_group_names
from ..errors import ModelError, NotImplementedOption
from ..results import FitResult
from .marginal import MarginalModel, hessian

INFORMATION = ("observed", "expected")


# ----------------------------------------------------------------- parameters


@dataclass(frozen=True)
class CovParm:
    """One covariance parameter: a G element of one term, or the residual.

    Attributes:
        term: index of the random-effect term in ``design.reterms`` (-1: residual).
        a, b: row and column of the element in the term's covariance block.
        group, var1, var2: labels as ``as.data.frame(VarCorr(fit))`` prints them.
    """

    term: int
    a: int
    b: int
    group: str
    var1: str | None
    var2: str | None

    @property
    def is_variance(self) -> bool:
        return self.term < 0 or self.a == self.b


def parameter_layout(design: Design) -> list[CovParm]:
    """The covariance parameters in lme4's VarCorr order, residual last."""
    out: list[CovParm] = []
    names = unique_group_names([t.group for t in design.reterms])
    for ti, (t, grp) in enumerate(zip(design.reterms, names)):
        for i, col in enumerate(t.columns):
            out.append(CovParm(ti, i, i, grp, col, None))
        for j in range(t.k):
            for i in range(j + 1, t.k):
                out.append(CovParm(ti, i, j, grp, t.columns[j], t.columns[i]))
    out.append(CovParm(-1, 0, 0, "Residual", None, None))
    return out


def theta_factors(design: Design, theta: np.ndarray) -> list[np.ndarray]:
    """Lower-triangular relative factors Lambda_t from lme4's theta (:class:`ThetaLayout`'s)."""
    return ThetaLayout.of(design).factors(np.asarray(theta, dtype=float))


def psi_from_varpar(design: Design, varpar: np.ndarray) -> np.ndarray:
    """SAS parameters ``psi`` from lmerTest's ``varpar = (theta, sigma)``."""
    sigma2 = float(varpar[-1]) ** 2
    lams = theta_factors(design, np.asarray(varpar[:-1], dtype=float))
    out = []
    for p in parameter_layout(design):
        if p.term < 0:
            out.append(sigma2)
        else:
            L = lams[p.term]
            out.append(sigma2 * float(L[p.a] @ L[p.b]))
    return np.asarray(out)


def varpar_from_psi(design: Design, psi: np.ndarray) -> np.ndarray | None:
    """``(theta, sigma)`` from ``psi`` by a Cholesky factor of each G block; None if not PD."""
    layout = parameter_layout(design)
    sigma2 = float(psi[-1])
    if not sigma2 > 0:
        return None
    blocks = [np.zeros((t.k, t.k)) for t in design.reterms]
    for p, v in zip(layout, psi):
        if p.term >= 0:
            blocks[p.term][p.a, p.b] = blocks[p.term][p.b, p.a] = v
    theta: list[float] = []
    for B in blocks:
        try:
            L = np.linalg.cholesky(B / sigma2)
        except np.linalg.LinAlgError:
            return None
        for j in range(B.shape[0]):
            theta.extend(L[j:, j])
    return np.asarray(theta + [np.sqrt(sigma2)])


def _varpar(fit: FitResult) -> np.ndarray:
    if fit.theta is None:
        raise NotImplementedOption(
            f"the {fit.engine!r} fit has no theta", hint="covariance-parameter tests need the native engine's fit"
        )
    return np.concatenate([np.asarray(fit.theta, dtype=float), [np.sqrt(fit.sigma2)]])


# -------------------------------------------------------------- q-space algebra


class QSpace:
    """Traces and quadratic forms of the marginal model in the space of [Z X].

    Args:
        design: model matrices.
        varpar: ``(theta..., sigma)`` at which to evaluate.
        mm: a :class:`MarginalModel` of ``design`` to reuse its cross-products.
    """

    def __init__(self, design: Design, varpar: np.ndarray, mm: MarginalModel | None = None) -> None:
        mm = mm or MarginalModel(design)
        self.design = design
        self.layout = parameter_layout(design)
        theta = np.asarray(varpar[:-1], dtype=float)
        self.sigma2 = float(varpar[-1]) ** 2
        q = mm.ZtWZ.shape[0]
        p = mm.p
        self.q, self.p, self.n = q, p, mm.n
        Q = np.zeros((q + p, q + p))
        Q[:q, :q] = mm.ZtWZ.toarray()
        Q[:q, q:] = mm.ZtWX
        Q[q:, :q] = mm.ZtWX.T
        Q[q:, q:] = mm.XtWX
        self.Q = Q
        self.c = np.concatenate([mm.ZtWy, mm.XtWy])
        self.yy = mm.ytWy
        lam = np.zeros((q, q))
        pos = 0
        for t, L in zip(design.reterms, theta_factors(design, theta)):
            m = t.nlevels * t.k
            lam[pos : pos + m, pos : pos + m] = np.kron(np.eye(t.nlevels), L)
            pos += m
        self.offsets = np.cumsum([0] + [t.nlevels * t.k for t in design.reterms])[:-1]
        Gam = np.zeros((q + p, q + p))
        Gam[:q, :q] = lam
        Gam[q:, q:] = np.eye(p)
        S = Gam.T @ Q @ Gam
        S[np.arange(q), np.arange(q)] += 1.0
        self.K = Gam @ sla.cho_solve(sla.cho_factor(S, lower=True), Gam.T)
        Szz = lam.T @ Q[:q, :q] @ lam + np.eye(q)
        self.K_ml = np.zeros((q + p, q + p))
        self.K_ml[:q, :q] = lam @ sla.cho_solve(sla.cho_factor(Szz, lower=True), lam.T)

    # E_i Q: rows of Q rearranged for the G element (a, b) of term t
    def _EQ(self, par: CovParm, M: np.ndarray) -> np.ndarray:
        t = self.design.reterms[par.term]
        base = self.offsets[par.term] + np.arange(t.nlevels) * t.k
        out = np.zeros_like(M)
        out[base + par.a] += M[base + par.b]
        if par.a != par.b:
            out[base + par.b] += M[base + par.a]
        return out

    def _Ev(self, par: CovParm, v: np.ndarray) -> np.ndarray:
        return self._EQ(par, v[:, None])[:, 0]

    def traces(self, ml: bool = False) -> np.ndarray:
        """``T_ij = tr(P V_i P V_j)`` (REML) or ``tr(V^-1 V_i V^-1 V_j)`` (ML)."""
        K = self.K_ml if ml else self.K
        Q = self.Q
        N = np.eye(Q.shape[0]) - K @ Q
        s4 = self.sigma2**2
        pars = self.layout
        M = [N @ self._EQ(p, Q) if p.term >= 0 else None for p in pars]
        m = len(pars)
        T = np.empty((m, m))
        KQ = K @ Q
        for i in range(m):
            for j in range(i + 1):
                if pars[i].term >= 0 and pars[j].term >= 0:
                    v = float(np.sum(M[i] * M[j].T))
                elif pars[i].term >= 0 or pars[j].term >= 0:
                    Mi = M[i] if pars[i].term >= 0 else M[j]
                    v = float(np.sum(Mi * N.T))
                else:
                    v = self.n - 2.0 * float(np.trace(KQ)) + float(np.sum(KQ * KQ.T))
                T[i, j] = T[j, i] = v / s4
        return T

    def quadratic_forms(self) -> np.ndarray:
        """``y'P V_i P V_j P y`` for every pair of parameters."""
        K, Q = self.K, self.Q
        N = np.eye(Q.shape[0]) - K @ Q
        s2 = self.sigma2
        s = (self.c - Q @ (K @ self.c)) / s2
        rr = (self.yy - 2.0 * self.c @ K @ self.c + self.c @ K @ Q @ K @ self.c) / s2**2
        QN = Q @ N
        pars = self.layout
        Es = [self._Ev(p, s) if p.term >= 0 else None for p in pars]
        m = len(pars)
        F = np.empty((m, m))
        for i in range(m):
            for j in range(i + 1):
                if pars[i].term >= 0 and pars[j].term >= 0:
                    v = float(Es[i] @ QN @ Es[j])
                elif pars[i].term >= 0 or pars[j].term >= 0:
                    Ei = Es[i] if pars[i].term >= 0 else Es[j]
                    v = float(Ei @ (N.T @ s))
                else:
                    v = rr - float(s @ K @ s)
                F[i, j] = F[j, i] = v / s2
        return F

    def hessian_m2ll(self, reml: bool) -> np.ndarray:
        """Analytic Hessian of -2 log L (REML or beta-profiled ML) in ``psi``."""
        return -self.traces(ml=not reml) + 2.0 * self.quadratic_forms()

    def expected_information(self, reml: bool) -> np.ndarray:
        """Fisher information ``tr(P V_i P V_j) / 2`` (``V^-1`` for ML)."""
        return 0.5 * self.traces(ml=not reml)


# ----------------------------------------------------------------- public API


def deviance_in_psi(design: Design, reml: bool, mm: MarginalModel | None = None) -> Callable[[np.ndarray], float]:
    """-2 log L (REML or ML) as a function of the SAS parameters ``psi`` (inf outside the PD cone)."""
    mm = mm or MarginalModel(design)

    def f(psi: np.ndarray) -> float:
        vp = varpar_from_psi(design, psi)
        return float("inf") if vp is None else mm.deviance(vp, reml)

    return f


def information_matrix(
    fit: FitResult, design: Design, information: str = "observed", *, numeric: bool = False
) -> np.ndarray:
    """Information matrix of ``psi`` (observed: half the Hessian of -2 log L; or expected).

    Args:
        fit: native-engine fit (REML or ML).
        design: its design.
        information: ``"observed"`` (SAS's default) or ``"expected"`` (Fisher
            scoring, SAS's SCORING= option).
        numeric: for ``"observed"``, differentiate the deviance numerically
            (Richardson extrapolation) instead of the analytic formula.
    """
    if information not in INFORMATION:
        raise ModelError(f"information {information!r} unknown", hint="use 'observed' or 'expected'")
    reml = fit.method == "REML"
    mm = MarginalModel(design)
    vp = _varpar(fit)
    if information == "observed" and numeric:
        psi = psi_from_varpar(design, vp)
        f = deviance_in_psi(design, reml, mm)
        # steps of 5% of each |psi_i|, halved 3 times: on test problems (imm10, sleepstudy,
        # classroom, Orthodont) within ~1e-6 of the analytic SEs; numDeriv's 10% is too
        # coarse near the edge of the positive-definite cone (strongly correlated effects)
        H = hessian(f, psi, d=0.05)
        if not np.all(np.isfinite(H)):  # the steps left the positive-definite cone
            H = hessian(f, psi, d=0.01)
        return 0.5 * H
    qs = QSpace(design, vp, mm)
    if information == "expected":
        return qs.expected_information(reml)
    return 0.5 * qs.hessian_m2ll(reml)


def asymptotic_covariance(
    fit: FitResult, design: Design, information: str = "observed", *, numeric: bool = False, boundary_tol: float = 1e-8
) -> pd.DataFrame:
    """SAS's ASYCOV: inverse information of the covariance parameters not on the boundary.

    A variance estimated as zero (lme4's singular fit; SAS's "boundary") has no
    standard error in SAS; its row and column, and those of covariances with it,
    are left out of the inversion and printed as missing (NaN).
    """
    layout = parameter_layout(design)
    psi = psi_from_varpar(design, _varpar(fit))
    info = information_matrix(fit, design, information, numeric=numeric)
    scale = max(float(np.max(np.abs(psi))), 1e-300)
    zero_var = {
        (p.term, p.a) for p, v in zip(layout, psi) if p.is_variance and p.term >= 0 and abs(v) <= boundary_tol * scale
    }
    keep = [
        i
        for i, p in enumerate(layout)
        if not (p.term >= 0 and ((p.term, p.a) in zero_var or (p.term, p.b) in zero_var))
    ]
    cov = np.full((len(layout), len(layout)), np.nan)
    sub = info[np.ix_(keep, keep)]
    note = ""
    try:
        cov[np.ix_(keep, keep)] = np.linalg.inv(sub)
    except np.linalg.LinAlgError:  # SAS: "final Hessian is not positive definite", no SEs
        note = "the information matrix is singular: no standard errors"
    labels = [_label(p) for p in layout]
    out = pd.DataFrame(cov, index=labels, columns=labels)
    out.attrs["information"] = information
    if note:
        out.attrs["note"] = note
    return out


def covariance_parameters(
    fit: FitResult, design: Design, information: str = "observed", *, numeric: bool = False
) -> pd.DataFrame:
    """The "Covariance Parameter Estimates" table of SAS PROC MIXED (COVTEST) / GLIMMIX.

    Args:
        fit: native-engine fit (REML or ML) of ``design``.
        design: its design.
        information: ``"observed"`` (2 H^-1, SAS's default) or ``"expected"``
            (inverse Fisher information, SAS with SCORING=).
        numeric: compute the observed information by Richardson-extrapolated
            differences of the deviance instead of analytically.

    Returns:
        One row per parameter (lme4's VarCorr order, residual last) with columns
        ``group, var1, var2`` (VarCorr labels), ``estimate``, ``se`` (asymptotic),
        ``z`` (Wald Z) and ``p``: one-sided ``P(Z > z)`` for variances (as SAS's
        ``Pr > Z``), two-sided for covariances (SAS's ``Pr > |Z|``).

    SAS prints a TYPE=UN block row-wise (UN(1,1), UN(2,1), UN(2,2)); the rows
    here follow VarCorr (variances, then covariances). SAS's default TYPE=VC
    for several random effects of one subject is lme4's ``(x || g)``.
    """
    layout = parameter_layout(design)
    psi = psi_from_varpar(design, _varpar(fit))
    acov = asymptotic_covariance(fit, design, information, numeric=numeric)
    cov = acov.to_numpy()
    se = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    z = psi / se
    p = np.array([stats.norm.sf(zi) if par.is_variance else 2.0 * stats.norm.sf(abs(zi)) for par, zi in zip(layout, z)])
    table = pd.DataFrame(
        {
            "group": [par.group for par in layout],
            "var1": pd.Series([np.nan if par.var1 is None else par.var1 for par in layout], dtype=object),
            "var2": pd.Series([np.nan if par.var2 is None else par.var2 for par in layout], dtype=object),
            "estimate": psi,
            "se": se,
            "z": z,
            "p": p,
        }
    )
    table.attrs.update(acov.attrs)
    return table


def _label(p: CovParm) -> str:
    if p.term < 0:
        return "Residual"
    if p.var2 is None:
        return f"{p.group}: var({p.var1})"
    return f"{p.group}: cov({p.var1}, {p.var2})"


__all__ = [
    "CovParm",
    "QSpace",
    "asymptotic_covariance",
    "covariance_parameters",
    "deviance_in_psi",
    "information_matrix",
    "parameter_layout",
    "psi_from_varpar",
    "varpar_from_psi",
]
