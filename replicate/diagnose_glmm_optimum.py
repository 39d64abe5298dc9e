"""A GLMM block whose program stopped short of the optimum: its own parameters give a worse deviance.

glmer's default settings stop early on some GLMMs (cbpp's intercept SE is printed 0.2312 where the optimum
gives 0.2325). The printed fixed-effect estimates and variance components are the program's parameters
``(theta, beta)``; the engine's deviance function (lme4's, for the block's method) evaluated there says how far
below the optimum the program's log-likelihood lies. What printing alone costs is measured the same way: the
engine's own optimum, rounded as the block printed its numbers. A gap beyond that cost is a different optimum,
named with its size and who stopped short; a gap within it is no evidence and nothing is claimed. The gap is
blamed on where the program stopped only when the block's own printed log-likelihood is the one its printed
parameters give: a mistyped estimate also opens a gap, but then the printout contradicts itself.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from .block_names import component_columns, mapped
from .diagnosis import Diagnosis
from .engine.glmm.result import GlmmFit
from .engine.theta import theta_from_covariance
from .printed import Printed, printed_number, printed_unit
from .printed_theta import printed_covariance
from .reference_block import ReferenceBlock
from .vocab import program_name

#: Smallest log-likelihood gap called a different optimum whatever the printing cost (the optimizers' noise).
MIN_GAP = 1e-6


def reference_params(block: ReferenceBlock, fit: GlmmFit) -> np.ndarray | None:
    """The block's ``(theta, beta)`` in lme4's order, from its printed variance components and estimates, if
    complete."""
    theta: list[float] = []
    for vc in fit.varcomps:
        G = printed_covariance(block, vc.group, vc.names)
        th = None if G is None else theta_from_covariance(G)
        if th is None:
            return None
        theta.extend(th)
    printed = {mapped(block, str(t)): printed_number(qs.get("estimate")) for t, qs in block.section("fixed").items()}
    beta = [printed.get(name) for name in fit.fixed_names]
    if any(b is None for b in beta):
        return None
    return np.asarray([*theta, *beta], dtype=float)


def _rounded(value: float, printed: Any) -> Any:
    unit = printed_unit(printed) if isinstance(printed, Printed) else None
    if not unit:
        return printed
    number = round(value / unit) * unit
    return Printed(number, repr(number))


def _engine_component(fit: GlmmFit, group: str, columns: list[str], q: str) -> float | None:
    for vc in fit.varcomps:
        if vc.group != group or not all(c in vc.names for c in columns):
            continue
        i, j = vc.names.index(columns[0]), vc.names.index(columns[-1])
        cov = vc.cov
        return {
            "variance": cov[i, i],
            "sd": math.sqrt(max(cov[i, i], 0.0)),
            "cov": cov[i, j],
            "corr": cov[i, j] / math.sqrt(cov[i, i] * cov[j, j]) if cov[i, i] > 0 and cov[j, j] > 0 else None,
        }.get(q)
    return None


def rounded_like(block: ReferenceBlock, fit: GlmmFit) -> ReferenceBlock:
    """The block with each printed estimate and variance component replaced by the engine's number, rounded to
    the printed number's last digit."""
    index = {name: j for j, name in enumerate(fit.fixed_names)}
    fixed: dict[str, Any] = {}
    for t, qs in block.section("fixed").items():
        j = index.get(mapped(block, str(t)))
        fixed[t] = {
            q: _rounded(float(fit.beta[j]), v) if q == "estimate" and j is not None else v for q, v in qs.items()
        }
    random: dict[str, Any] = {}
    for g, comps in block.section("random").items():
        random[g] = {}
        for c, qs in comps.items():
            cols = component_columns(block, str(c))
            random[g][c] = {}
            for q, v in qs.items():
                number = _engine_component(fit, mapped(block, str(g)), cols, q)
                random[g][c][q] = v if number is None else _rounded(float(number), v)
    return replace(block, values={**block.values, "fixed": fixed, "random": random})


def optimum_gap(block: ReferenceBlock, fit: GlmmFit) -> tuple[float, float] | None:
    """(log-likelihood gap of the block's parameters below the engine's optimum, what printing costs), or None
    when the block does not print every parameter."""
    params = reference_params(block, fit)
    if params is None:
        return None
    dev_ref = float(fit.deviance_function(params))
    if not math.isfinite(dev_ref):
        return None
    gap = (dev_ref - fit.objective) / 2.0
    rounded = reference_params(rounded_like(block, fit), fit)
    cost = 0.0 if rounded is None else max(0.0, (float(fit.deviance_function(rounded)) - fit.objective) / 2.0)
    return gap, cost


def _printed_loglik(block: ReferenceBlock) -> tuple[float, float] | None:
    """The block's printed log-likelihood (from ``loglik`` or ``deviance``) and half a unit of its last digit."""
    fit = block.section("fit")
    for key, scale in (("loglik", 1.0), ("deviance", -0.5)):
        value = fit.get(key)
        number = printed_number(value)
        if number is not None:
            unit = printed_unit(value) if isinstance(value, Printed) else None
            return number * scale, abs(scale) * (unit or 0.0) / 2.0
    return None


def _own_loglik_agrees(block: ReferenceBlock, fit: GlmmFit, gap: float, cost: float) -> bool:
    """Whether the block's own printed log-likelihood is the one its parameters give (so they are the program's
    own optimum, not a mistyped number): required before any gap is blamed on where the program stopped."""
    printed = _printed_loglik(block)
    if printed is None:
        return False
    loglik, half_unit = printed
    at_theirs = -fit.objective / 2.0 - gap
    return abs(loglik - at_theirs) <= half_unit + 2.0 * cost + 1e-6 * (1.0 + abs(loglik))


def different_optimum(block: ReferenceBlock, fit: GlmmFit, bad: set[str]) -> Diagnosis | None:
    """A different optimum explaining the ``bad`` values, if the block's parameters are measurably off the
    engine's optimum (either way)."""
    found = optimum_gap(block, fit)
    if found is None or not bad:
        return None
    gap, cost = found
    if abs(gap) <= max(2.0 * cost, MIN_GAP) or not _own_loglik_agrees(block, fit, gap, cost):
        return None
    software = program_name(block.software)
    method = "Laplace" if fit.nagq == 1 else f"adaptive quadrature ({fit.nagq} nodes)"
    if gap > 0:
        text = (
            f"different optimum: at {software}'s printed estimates and variance components the {method} "
            f"log-likelihood is {-(fit.objective / 2 + gap):.6f}, {gap:.3g} below the engine's optimum "
            f"{-fit.objective / 2:.6f} (printing alone costs {cost:.2g}); {software} stopped short of the optimum "
            "(glmer's default settings do on some models; bobyqa with rhoend = 1e-10 and tolPwrss = 1e-12 reach it)"
        )
    else:
        text = (
            f"different optimum: at {software}'s printed estimates and variance components the {method} "
            f"log-likelihood is {-gap:.3g} above the engine's optimum {-fit.objective / 2:.6f}; the engine stopped "
            "short of the optimum"
        )
    keys = tuple(sorted(bad))
    return Diagnosis("different optimum", keys, text, {"gap": gap, "printing_cost": cost})


__all__ = ["different_optimum", "optimum_gap", "reference_params", "rounded_like"]
