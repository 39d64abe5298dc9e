"""A failed or doubtful fit never counts as agreement.

An engine's fit that did not converge (the optimizer's own report, lme4's
gradient check, or a non-finite estimate, variance or likelihood) makes every
comparison of its block a fit failure: the block carries the error (the case
is an error, exit 1) and none of its values keeps a verdict of agreement,
whatever the numbers happen to be. Singular fits are legitimate (lme4 reports
them and goes on): they are shown in every report, not failed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .results import FitResult


def not_finite(fit: FitResult) -> list[str]:
    """The parts of ``fit`` that hold NaN or infinite numbers (estimates, covariance, variances, likelihood)."""
    parts = {
        "fixed effects": fit.fixed.to_numpy(dtype=float),
        "their covariance": fit.vcov.to_numpy(dtype=float),
        "residual variance": np.array([fit.sigma2], dtype=float),
        "log-likelihood": np.array([fit.loglik], dtype=float),
    }
    if "vcov" in getattr(fit.varcorr, "columns", ()):
        parts["variance components"] = fit.varcorr["vcov"].to_numpy(dtype=float)
    return [name for name, v in parts.items() if not np.all(np.isfinite(v))]


def fit_failure(fit: FitResult, engine: str) -> str | None:
    """The error of a block compared against ``fit``, or None when the fit converged to finite numbers."""
    bad = not_finite(fit)
    if fit.converged and not bad:
        return None
    why = "; ".join(m for m in fit.messages if m) or "the optimizer did not report convergence"
    if bad and "not finite" not in why:
        why = f"{', '.join(bad)} not finite; " + why
    return (
        f"{engine} could not fit the model: the fit did not converge ({why}); a comparison against a fit "
        "that did not converge is a fit failure, never agreement"
    )


def fit_record(method: str, fit: FitResult) -> dict[str, Any]:
    """What every report shows of a fit: engine, method, converged and singular flags, messages.

    A fit with non-finite numbers is shown as not converged, whatever its engine said, with the parts named.
    """
    bad = not_finite(fit)
    messages = [str(m) for m in fit.messages]
    if bad and not any("not finite" in m for m in messages):
        messages.append(f"not finite: {', '.join(bad)}")
    return {
        "method": method,
        "engine": fit.engine,
        "converged": bool(fit.converged) and not bad,
        "singular": bool(fit.singular),
        "messages": messages,
    }


def native_record(method: str, fit: Any, what: str) -> dict[str, Any]:
    """:func:`fit_record` of a fit of a model class only the native engine fits (repeated measures, GLMMs): its
    converged and singular flags and messages, as it reports them."""
    return {
        "method": method,
        "engine": f"native ({what} engine)",
        "converged": bool(getattr(fit, "converged", False)),
        "singular": bool(getattr(fit, "singular", False)),
        "messages": [str(m) for m in getattr(fit, "messages", ())],
    }


def fit_summary(rec: dict[str, Any]) -> str:
    """One line: ``REML fit (native): converged, not singular; messages: ...``."""
    flags = (
        ("converged" if rec["converged"] else "NOT CONVERGED")
        + ", "
        + ("singular" if rec["singular"] else "not singular")
    )
    msgs = "; ".join(rec["messages"])
    return f"{rec['method']} fit ({rec['engine']}): {flags}" + (f"; messages: {msgs}" if msgs else "")
