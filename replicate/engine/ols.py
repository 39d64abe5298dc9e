"""Linear models without random effects (R's ``lm``), for cases that compare one.

Least squares through a QR factor. The reported quantities follow R:
``summary(lm)``'s residual variance RSS / (n - p) and model-based covariance,
and ``logLik(lm)``, the maximum-likelihood log-likelihood (AIC and BIC count the
p coefficients and sigma).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design import Design
from ..errors import FitError
from ..results import FitResult, OptSummary
from ..version import __version__


def fit_ols(design: Design, method: str = "REML") -> FitResult:
    """Fit ``design`` (which has no random-effect terms) by least squares."""
    if design.reterms:
        raise FitError("fit_ols is for designs without random-effect terms")
    X, y, n, p = design.X, design.y, design.n, design.p
    w = design.weights if design.weights is not None else np.ones(n)
    sw = np.sqrt(w)
    Q, R = np.linalg.qr(X * sw[:, None])
    beta = np.linalg.solve(R, Q.T @ (y * sw))
    fitted = X @ beta
    resid = y - fitted
    rss = float(np.sum(w * resid**2))
    if n <= p:
        raise FitError(f"{n} rows cannot estimate {p} coefficients and a residual variance")
    sigma2 = rss / (n - p)
    Rinv = np.linalg.inv(R)
    vcov = sigma2 * Rinv @ Rinv.T
    names = list(design.fixed_names)
    loglik = 0.5 * (float(np.sum(np.log(w))) - n * (np.log(2 * np.pi) + 1 - np.log(n) + np.log(rss)))
    npar = p + 1
    varcorr = pd.DataFrame(
        [("Residual", None, None, sigma2, np.sqrt(sigma2))], columns=["grp", "var1", "var2", "vcov", "sdcor"]
    )
    return FitResult(
        engine="native",
        engine_version=__version__,
        method="OLS",
        formula=design.formula,
        fixed=pd.Series(beta, index=names),
        vcov=pd.DataFrame(vcov, index=names, columns=names),
        varcorr=varcorr,
        sigma2=sigma2,
        loglik=loglik,
        deviance=-2 * loglik,
        aic=-2 * loglik + 2 * npar,
        bic=-2 * loglik + np.log(n) * npar,
        npar=npar,
        nobs=n,
        ngroups={},
        n_dropped=design.n_dropped,
        theta=np.zeros(0),
        messages=("no random effects: fitted by least squares (as R's lm)",),
        optinfo=OptSummary(method="least squares (QR)", message="closed form"),
        fitted=fitted,
        residuals=resid,
        rows=design.rows,
    )
