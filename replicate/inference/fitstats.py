"""Likelihood-based fit statistics as each program defines them, from one fit.

The programs print the same log-likelihood but count parameters, and the
sample size in BIC, differently:

* **lme4**: ``AIC = -2 logL + 2k``, ``BIC = -2 logL + k log n`` with ``k``
  every parameter (fixed effects, variance components, residual variance)
  whether the fit is REML or ML, ``n`` the number of observations.
* **nlme**: the same, except that the BIC of a REML fit uses ``n - p``.
* **SAS PROC MIXED / GLIMMIX** (Fit Statistics table): ``d`` counts the
  covariance parameters only under REML, and adds the fixed effects under ML.
  ``AIC = -2 logL + 2d``; ``AICC = -2 logL + 2d n*/(n* - d - 1)`` with
  ``n* = n - p`` under REML and ``n`` under ML; ``BIC = -2 logL + d log s``
  with ``s`` the number of subjects (levels of the SUBJECT= effect) and, for a
  model without random effects, the number of observations.
* **HLM**: "Deviance" is ``-2 logL`` of the criterion maximized (REML or ML)
  and "Number of estimated parameters" counts the covariance parameters only
  under REML, and adds the fixed effects under ML.

``d`` counts every covariance parameter, also one estimated on its boundary
(a variance of 0); whether SAS drops those from ``d`` is not verified against
a SAS printout. SAS's number of subjects is known here only when every random
term has the same grouping factor; with several grouping factors it depends on how the
RANDOM statements were written, and asking for SAS's BIC raises
:class:`~replicate.errors.NotImplementedOption` saying so.
"""

from __future__ import annotations

import math

import numpy as np

from ..design import Design
from ..errors import NotImplementedOption
from ..results import FitResult

CONVENTIONS = ("lme4", "nlme", "sas", "hlm")
STATISTICS = ("loglik", "deviance", "reml_criterion", "aic", "aicc", "bic", "npar")


def convention_of(software: str | None) -> str:
    """The fit-statistic convention of a reference block's ``software``."""
    s = str(software or "").lower()
    if s == "sas" or s.startswith("sas "):
        return "sas"
    if s == "hlm":
        return "hlm"
    if s == "nlme":
        return "nlme"
    return "lme4"


def n_covariance_parameters(design: Design) -> int:
    """Variance-covariance parameters of the random terms plus the residual variance."""
    return sum(t.k * (t.k + 1) // 2 for t in design.reterms) + 1


def sas_subjects(design: Design) -> int:
    """The number of subjects SAS's BIC uses (see the module notes)."""
    if not design.reterms:
        return int(design.n)
    groups = {t.group for t in design.reterms}
    if len(groups) > 1:
        raise NotImplementedOption(
            "SAS's BIC for a model with several grouping factors is not implemented: its number of "
            f"subjects depends on the SUBJECT= of each RANDOM statement ({', '.join(sorted(groups))})",
            hint="leave bic out of this SAS block, or compare AIC and AICC",
        )
    return int(design.ngroups()[groups.pop()])


def linear_model_reml_loglik(fit: FitResult, design: Design) -> float:
    """The REML log-likelihood of a linear model (no random effects) at its REML variance.

    ``-2 l_R = (n - p)(log 2 pi + log s^2 + 1) + log|X'WX| - sum log w``, which
    is what SAS PROC MIXED prints as ``-2 Res Log Likelihood`` for a model
    without a RANDOM statement. (R's ``logLik`` of an ``lm`` is the ML one.)
    """
    n, p = int(design.n), int(design.p)
    w = design.weights if design.weights is not None else np.ones(n)
    X = np.asarray(design.X, dtype=float)
    logdet = float(np.linalg.slogdet(X.T @ (X * w[:, None]))[1])
    s2 = float(fit.sigma2)
    m2 = (n - p) * (math.log(2 * math.pi) + math.log(s2) + 1.0) + logdet - float(np.sum(np.log(w)))
    return -0.5 * m2


def fit_statistics(
    fit: FitResult, design: Design, convention: str = "lme4", method: str | None = None
) -> dict[str, object]:
    """``loglik``, ``deviance``, ``reml_criterion``, ``aic``, ``aicc``, ``bic``, ``npar`` of ``fit``.

    ``method`` matters only for a linear model fitted by least squares (whose
    fit has method ``OLS``) under the SAS and HLM conventions: ``REML`` (SAS's
    default) or ``ML``. Under lme4's and nlme's it is R's ``logLik(lm)``, the ML one.
    A statistic the convention does not define is absent; one that cannot be
    computed here is the exception that says why (raised when it is read
    through :func:`statistic`).
    """
    if convention not in CONVENTIONS:
        raise NotImplementedOption(
            f"fit-statistic convention {convention!r} unknown", hint="one of " + ", ".join(CONVENTIONS)
        )
    loglik = float(fit.loglik)
    if str(fit.method).upper() == "OLS":
        # R's logLik(lm) is the ML one whatever the case says; SAS fits by REML unless told ML
        reml = convention not in ("lme4", "nlme") and str(method or "REML").upper() == "REML"
        if reml:
            loglik = linear_model_reml_loglik(fit, design)
    else:
        reml = str(fit.method).upper() == "REML"
    m2ll = -2.0 * loglik
    n, p = int(design.n), int(design.p)
    out: dict[str, object] = {"loglik": loglik, "deviance": m2ll}
    if reml:
        out["reml_criterion"] = m2ll
    if convention in ("lme4", "nlme"):
        k = n_covariance_parameters(design) + p
        n_bic = n - p if (convention == "nlme" and reml) else n
        out.update(npar=k, aic=m2ll + 2 * k, bic=m2ll + k * math.log(n_bic))
        return out
    d = n_covariance_parameters(design) + (0 if reml else p)
    out["npar"] = d
    if convention == "hlm":
        return out
    nstar = n - p if reml else n
    out["aic"] = m2ll + 2 * d
    out["aicc"] = m2ll + 2 * d * nstar / (nstar - d - 1)
    try:
        out["bic"] = m2ll + d * math.log(sas_subjects(design))
    except NotImplementedOption as exc:
        out["bic"] = exc
    return out


def statistic(stats: dict[str, object], name: str) -> float | None:
    """One statistic of :func:`fit_statistics`; re-raises the reason it could not be computed."""
    v = stats.get(name)
    if isinstance(v, Exception):
        raise v
    return None if v is None else float(v)  # type: ignore[arg-type]


__all__ = [
    "CONVENTIONS",
    "convention_of",
    "fit_statistics",
    "linear_model_reml_loglik",
    "n_covariance_parameters",
    "sas_subjects",
    "statistic",
]
