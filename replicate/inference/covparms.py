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

None of these needs an n x n matrix: every trace and quadratic form above reduces to products of
``q + p`` square matrices (:class:`~replicate.inference.qspace.QSpace`); the parameters and their map
from lme4's theta are in :mod:`~replicate.inference.covparm_values`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from ..design import Design
from ..errors import ModelError
from ..results import FitResult
from .covparm_values import (
    CovParm,
    fit_varpar,
    parameter_label,
    parameter_layout,
    psi_from_varpar,
    varpar_from_psi,
)
from .marginal import MarginalModel, hessian
from .qspace import QSpace

INFORMATION = ("observed", "expected")

FloatArray = npt.NDArray[np.float64]


def deviance_in_psi(design: Design, reml: bool, mm: MarginalModel | None = None) -> Callable[[FloatArray], float]:
    """-2 log L (REML or ML) as a function of the SAS parameters ``psi`` (inf outside the PD cone)."""
    mm = mm or MarginalModel(design)

    def f(psi: FloatArray) -> float:
        vp = varpar_from_psi(design, psi)
        return float("inf") if vp is None else mm.deviance(vp, reml)

    return f


def information_matrix(
    fit: FitResult, design: Design, information: str = "observed", *, numeric: bool = False
) -> FloatArray:
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
    vp = fit_varpar(fit)
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
    psi = psi_from_varpar(design, fit_varpar(fit))
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
    labels = [parameter_label(p) for p in layout]
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
    psi = psi_from_varpar(design, fit_varpar(fit))
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
