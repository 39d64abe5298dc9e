"""Repeated-measures blocks at the reference's own covariance parameters (``options.optimum: reference``).

SAS stops when its relative-Hessian criterion falls under 1e-8, which on a flat likelihood can leave the
printed covariance parameters (and every number computed from them) a unit or so of their last digit away
from the optimum. Compared at the printed parameters, the engine's GLS numbers are SAS's own; the gap
between the two -2 log-likelihoods says which program stopped short.
"""

from __future__ import annotations

import numpy as np

from .block_names import mapped
from .diagnosis import Diagnosis
from .engine.rside.at_params import fit_at_natural
from .engine.rside.information import natural_value
from .engine.rside.result import RsideFit
from .errors import FitError
from .printed import printed_number
from .reference_block import ReferenceBlock
from .vocab import program_name


def printed_covparms(block: ReferenceBlock, fit: RsideFit) -> np.ndarray | None:
    """The block's printed covariance parameters in the fit's order, or None unless every one is printed."""
    printed: dict[tuple[str, str | None], float] = {}
    for label, qs in block.section("covparms").items():
        name, _, group = str(label).partition(" / ")
        value = printed_number(qs.get("estimate")) if isinstance(qs, dict) else None
        if value is not None:
            printed[(mapped(block, name), group or None)] = value
    wanted = [(c.label, c.group) for c in fit.covparms]
    if not wanted or any(k not in printed for k in wanted):
        return None
    return np.array([printed[k] for k in wanted])


def criterion_gap(block: ReferenceBlock, fit: RsideFit) -> tuple[float, float] | None:
    """-2 log-likelihood at the block's printed covariance parameters, and its excess over the engine's optimum
    (positive: the engine's optimum is higher); None when the parameters are not all printed or cannot be
    evaluated."""
    nat = printed_covparms(block, fit)
    if nat is None or fit.blocks is None or fit.covariance is None:
        return None
    try:
        value = natural_value(fit.blocks, fit.covariance, nat, fit.method == "REML")
    except (np.linalg.LinAlgError, ValueError):
        return None
    return (value, value - fit.minus2loglik) if np.isfinite(value) else None


def gap_words(gap: float, software: str, method: str) -> str:
    """Which program stopped short, in words (``gap``: -2 log L at the reference's parameters minus the engine's)."""
    crit = "-2 Res Log Likelihood" if method == "REML" else "-2 Log Likelihood"
    if gap >= 0:
        return f"at {software}'s printed covariance parameters the {crit} is {gap:.3g} above the engine's optimum"
    return f"at {software}'s printed covariance parameters the {crit} is {-gap:.3g} below the engine's: the engine stopped short"


def at_reference(block: ReferenceBlock, fit: RsideFit) -> tuple[RsideFit, Diagnosis]:
    """The fit at the block's printed covariance parameters and the note the report prints with it.

    Raises:
        FitError: a covariance parameter is not printed, or the fit cannot be evaluated there.
    """
    nat = printed_covparms(block, fit)
    if nat is None:
        raise FitError(
            "options.optimum: reference needs every covariance parameter's estimate printed",
            hint="give values.covparms for each of: " + ", ".join(c.label for c in fit.covparms),
        )
    at = fit_at_natural(fit, nat, f"evaluated at {program_name(block.software)}'s printed covariance parameters")
    gap = at.minus2loglik - fit.minus2loglik
    text = "compared at the reference's own optimum (options.optimum: reference): " + gap_words(
        gap, program_name(block.software), fit.method
    )
    data = {"m2ll_engine": fit.minus2loglik, "m2ll_at_reference": at.minus2loglik, "gap": gap}
    return at, Diagnosis("at the reference's optimum", (), text, data)
