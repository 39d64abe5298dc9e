"""How a compared value is named and shown to a person: plain labels, numbers at the printed precision.

``fit loglik loglik`` reads as ``logLik``, ``fit groups Batch ngroups`` as ``groups (Batch)``; the engine's
value is shown to the reference's printed decimals (so 465.74629 beside a printed 465.746 reads 465.746), a
live run's full double to 10 significant digits, and an exact match says "exact" rather than its digits.
"""

from __future__ import annotations

from typing import Any

FIT_LABELS = {
    "loglik": "logLik",
    "reml_criterion": "REML criterion",
    "deviance": "deviance",
    "aic": "AIC",
    "aicc": "AICC",
    "bic": "BIC",
    "nobs": "observations",
    "npar": "parameters",
    "sigma": "sigma",
    "icc": "ICC",
    "r2": "R-squared",
    "adj_r2": "adjusted R-squared",
}


def value_label(v: Any) -> str:
    """A plain label for a compared value (``fixed ses se``, ``logLik``, ``groups (Batch)``)."""
    if v.section == "fit":
        if v.name == v.quantity and v.name in FIT_LABELS:
            return FIT_LABELS[v.name]
        if v.quantity == "ngroups" and v.name.startswith("groups "):
            return f"groups ({v.name.removeprefix('groups ')})"
        if v.quantity == "residual":
            return v.name.replace("_", " ")
    return f"{v.section} {v.name} {v.quantity}"


def _decimals(text: str) -> int | None:
    t = text.strip().lstrip("<>=").strip().lower()
    if not t or "e" in t or "inf" in t or "nan" in t:
        return None
    return len(t.split(".")[1]) if "." in t else 0


def reference_text(text: str) -> str:
    """The reference as printed; a live run's long double shortened to 10 significant digits."""
    d = _decimals(text)
    long_sci = d is None and len(text.strip()) > 14 and text.strip()[:1] not in "<>"
    if (d is not None and d > 6) or long_sci:
        try:
            return f"{float(text):.10g}"
        except ValueError:
            return text
    return text


def engine_text(value: float | None, reference: str) -> str:
    """The engine's value to the reference's printed decimals (10 significant digits for a live run's)."""
    if value is None:
        return "—"
    d = _decimals(reference)
    if d is not None and d <= 6:
        return f"{value:.{d}f}"
    return f"{value:.10g}"


def digits_text(v: Any) -> str:
    if v.abs_diff == 0:
        return "exact"
    return f"{v.lre:.1f}" if v.lre is not None else "—"
