"""Comparing at a program's own optimum (``options.optimum: reference``), for a program known to stop
before the optimum: the fit at its printed variance components, and the rounding box around them."""

from __future__ import annotations

from dataclasses import replace

from .case import Case
from .compare import DISCREPANCY, WITHIN, ValueComparison
from .design import Design
from .diagnosis import Diagnosis
from .engine.fit import fit_at
from .engines import Engine
from .errors import CaseError, FitError, NotImplementedOption
from .printed import Printed, printed_unit
from .printed_theta import reference_theta, reference_theta_box
from .results import FitResult


def at_reference_optimum(
    case: Case, i: int, fit: FitResult, design: Design, engine: Engine
) -> tuple[FitResult, Diagnosis, list[FitResult]]:
    """The fit at block ``i``'s own variance components (``options.optimum: reference``).

    For a program known to stop before the optimum: every number of the block
    is then computed at the variance components it printed, and the gap to the
    engine's optimum is reported with the block. Also returns the fits at the
    corners of the box the printed variance components round from (see
    :func:`replicate.diagnose.reference_theta_box`).
    """
    block = case.blocks[i]
    if engine.name != "native":
        raise NotImplementedOption(
            "options.optimum: reference is evaluated by the native engine only", hint="run with --engine native"
        )
    ref = reference_theta(block, design)
    if ref is None:
        raise CaseError(
            f"{case.path}: expected[{i}] ({case.block_label(i)}) sets options.optimum: reference "
            "but does not print every variance component (each random term and the residual)",
            hint="give values.random for every term, or drop options.optimum",
        )
    at = fit_at(design, fit.method, ref[0], like=fit)
    gap = fit.loglik - at.loglik
    crit = "REML log-likelihood" if fit.method == "REML" else "log-likelihood"
    text = (
        f"compared at {block.software}'s own variance components (options.optimum: reference): they lie "
        f"{gap:.3g} {crit} units {'below' if gap >= 0 else 'above'} the engine's optimum"
    )
    corners = []
    for th in reference_theta_box(block, design):
        try:
            corners.append(fit_at(design, fit.method, th, like=fit))
        except FitError:
            continue
    return (
        at,
        Diagnosis(
            "at the reference's optimum",
            (),
            text,
            {"loglik_engine": fit.loglik, "loglik_at_reference": at.loglik, "gap": gap},
        ),
        corners,
    )


def within_rounding(center: list[ValueComparison], corners: list[list[ValueComparison]]) -> list[ValueComparison]:
    """A value that differs at the printed variance components, but whose printed value lies within
    the range the engine's value takes over the box those components round from (its centre and
    corners), agrees within tolerance: the program's own variance components may have been there."""

    out = []
    for k, v in enumerate(center):
        if v.verdict == DISCREPANCY and v.engine is not None and corners:
            same = [c[k] for c in corners if k < len(c) and c[k].name == v.name and c[k].quantity == v.quantity]
            vals = [v.engine] + [other.engine for other in same if other.engine is not None]
            lo, hi = min(vals), max(vals)
            ref = Printed(v.reference_value, v.reference)
            half = 0.5 * (printed_unit(ref) or 0.0)
            bound = v.reference.lstrip()[:1] in ("<", ">")  # a printed bound is not a rounded number
            if not bound and ref.value + half >= lo and ref.value - half <= hi:
                v = replace(
                    v,
                    verdict=WITHIN,
                    note=(v.note + "; " if v.note else "")
                    + f"within the range {lo:.6g} to {hi:.6g} the engine's value takes over the "
                    "rounding of the printed variance components",
                )
        out.append(v)
    return out
