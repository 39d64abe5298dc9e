"""Kenward-Roger small-sample inference, as pbkrtest and SAS ``ddfm=kr`` compute it.

Kenward & Roger (1997, Biometrics 53:983-997) replace the plug-in covariance of
the fixed effects ``Phi = (X' Sigma^-1 X)^-1`` by a bias-adjusted
``Phi_A = Phi + 2 Phi U Phi`` and refer a scaled Wald statistic to an F
distribution whose denominator df come from matching two moments. This module
follows pbkrtest (Halekoh & Hojsgaard 2014, J. Stat. Softw. 59(9)) exactly:

* the covariance parameters are the entries of every random-effect term's
  covariance matrix, then the residual variance; Sigma is linear in them, so
  KR's second-derivative term vanishes and ``ddfm=kr(firstorder)`` coincides
  with ``ddfm=kr`` (:mod:`~replicate.inference.kr_params`, which also has the
  Cholesky parameterization of SAS ``type=fa0(k)``/``chol``);
* the derivative matrices ``P_i``, ``Q_ij`` and the REML information, computed
  in the space of the random effects one independent block of Sigma at a time
  where pbkrtest forms a dense n x n Sigma^-1
  (:mod:`~replicate.inference.kr_derivatives`, :mod:`~replicate.inference.kr_blocks`);
* the adjusted covariance ``Phi_A`` with the expected (pbkrtest) or observed
  information, in each variant -- ``kr``, ``kr(firstorder)``, ``kr2``
  (:mod:`~replicate.inference.kr_adjust`);
* the denominator df and F scaling of a contrast (:mod:`~replicate.inference.kr_df`).

Prior weights: the model's Sigma has residual part ``sigma^2 W^-1``, and that
is what is used by default. pbkrtest 0.5.2 builds Sigma with an identity
residual part whatever the weights while taking Phi from the weighted fit;
``weights="pbkrtest"`` reproduces that (see :func:`kenward_roger`).

ML fits: pbkrtest refits the model by REML before adjusting, and its
``get_Lb_ddf`` then mixes the ML fit's ``vcov`` (for Theta and Phi in the df
formula) with the REML fit's P and W. Both are reproduced: ``vcov_adj`` and
:meth:`KRResult.ftest` use the REML refit throughout, ``df`` uses the fit as
given for ``Phi`` exactly as ``get_Lb_ddf`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from ..design import Design
from ..errors import NotImplementedOption
from ..results import FitResult
from .kr_adjust import Adjustment, adjustment
from .kr_blocks import BlockStructure
from .kr_derivatives import KRPieces, kr_pieces
from .kr_df import full_rank, kr_moments
from .kr_params import PARAMETERIZATIONS, reparameterization, varpar_layout, varpar_values
from .refit import Refit, native_refit

VARIANTS = ("kr", "firstorder", "kr2")
INFORMATION = ("expected", "observed")

FloatArray = npt.NDArray[np.float64]


class KRFTest(TypedDict):
    """One Kenward-Roger F test (:meth:`KRResult.ftest`)."""

    F: float
    ndf: int
    ddf: float
    scale: float
    p: float
    F_unscaled: float
    p_unscaled: float


def _sqrt_or_nan(v: FloatArray) -> FloatArray:
    """Square roots, NaN where a variance is negative (``variant="kr"`` in the
    Cholesky form can make the adjusted covariance indefinite)."""
    v = np.asarray(v, dtype=float)
    return np.where(v >= 0, np.sqrt(np.abs(v)), np.nan)


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
    P: FloatArray = field(repr=False)
    variant: str = "kr"
    information: str = "expected"
    parameterization: str = "linear"
    refit_reml: bool = False
    bias: pd.Series | None = None

    def ftest(self, L: FloatArray, beta0: FloatArray | float = 0.0) -> KRFTest:
        """KR F test of ``L beta = L beta0`` (pbkrtest ``KRmodcomp`` with a restriction matrix).

        Returns:
            dict with ``F`` (scaled statistic), ``ndf``, ``ddf``, ``scale`` (the
            F scaling lambda), ``p``, and the unscaled ``F_unscaled`` / ``p_unscaled``.
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[1] != self.fixed.shape[0]:
            raise ValueError(f"L has {L.shape[1]} columns; the model has {self.fixed.shape[0]} fixed effects")
        L = full_rank(L)
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
    "INFORMATION",
    "PARAMETERIZATIONS",
    "VARIANTS",
    "Adjustment",
    "KRFTest",
    "KRPieces",
    "KRResult",
    "adjustment",
    "kenward_roger",
    "kr_moments",
    "kr_pieces",
    "reparameterization",
    "varpar_layout",
    "varpar_values",
]
