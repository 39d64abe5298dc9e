"""The covariance parameters SAS prints: variances and covariances of each G block, then the residual.

Parameters ``psi`` are, per random-effect term in lme4's order, the variances of its columns and then the
covariances (lower triangle, column-major, as in ``as.data.frame(VarCorr(fit))``), and last the residual
variance; lmerTest's ``varpar = (theta, sigma)`` maps to them and back (:func:`psi_from_varpar`,
:func:`varpar_from_psi`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..design import Design
from ..engine.theta import ThetaLayout
from ..engine.varcorr import unique_group_names
from ..errors import NotImplementedOption
from ..results import FitResult

FloatArray = npt.NDArray[np.float64]


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


def psi_from_varpar(design: Design, varpar: FloatArray) -> FloatArray:
    """SAS parameters ``psi`` from lmerTest's ``varpar = (theta, sigma)``."""
    sigma2 = float(varpar[-1]) ** 2
    lams = ThetaLayout.of(design).factors(np.asarray(varpar[:-1], dtype=float))
    out: list[float] = []
    for p in parameter_layout(design):
        if p.term < 0:
            out.append(sigma2)
        else:
            L = lams[p.term]
            out.append(sigma2 * float(L[p.a] @ L[p.b]))
    return np.asarray(out)


def varpar_from_psi(design: Design, psi: FloatArray) -> FloatArray | None:
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


def fit_varpar(fit: FitResult) -> FloatArray:
    """lmerTest's ``varpar = (theta..., sigma)`` of a native-engine fit."""
    if fit.theta is None:
        raise NotImplementedOption(
            f"the {fit.engine!r} fit has no theta", hint="covariance-parameter tests need the native engine's fit"
        )
    return np.concatenate([np.asarray(fit.theta, dtype=float), [np.sqrt(fit.sigma2)]])


def parameter_label(p: CovParm) -> str:
    """The parameter's row and column name in the asymptotic covariance (``g: var(x)``, ``Residual``)."""
    if p.term < 0:
        return "Residual"
    if p.var2 is None:
        return f"{p.group}: var({p.var1})"
    return f"{p.group}: cov({p.var1}, {p.var2})"


__all__ = ["CovParm", "fit_varpar", "parameter_label", "parameter_layout", "psi_from_varpar", "varpar_from_psi"]
