"""A GLMM block whose program stopped short of the optimum: its own parameters give a worse deviance.

glmer's default settings stop early on some GLMMs (cbpp's intercept SE is printed 0.2312 where the optimum
gives 0.2325). The printed fixed-effect estimates and variance components are the program's parameters
``(theta, beta)``; the engine's deviance function (lme4's, for the block's method) evaluated there says how far
below the optimum the program's log-likelihood lies. What printing alone costs is measured the same way: the
engine's own optimum, rounded as the block printed its numbers. A gap beyond that cost is a different optimum,
named with its size and who stopped short; a gap within it is no evidence and nothing is claimed. The gap is
blamed on where the program stopped only when the block's own printed log-likelihood is the one its printed
parameters give: a mistyped estimate also opens a gap, but then the printout contradicts itself.

A printed log-likelihood *below* the one its own printed parameters give (by more than printing and the
parameters' rounding cost) is the signature of an objective evaluated inexactly: conditional modes not fully
converged lower the Laplace (or quadrature) log-likelihood, and an optimizer of that inexact objective stops
where it looked best, off the exact optimum. glmer's default PIRLS tolerance (tolPwrss = 1e-7) does this on
lme4's issue #289 (toenail: it prints -626.1709 where the Laplace approximation at its own parameters is
-626.1631). A printed log-likelihood above it is not explained so. SAS blocks print the full -2 log-likelihood,
with quadrature too (glmer's quadrature deviance leaves out the saturated model), and are compared so.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from .block_names import component_columns, mapped
from .diagnosis import Diagnosis
from .engine.glmm.families import make_family
from .engine.glmm.result import GlmmFit
from .engine.theta import theta_from_covariance
from .inference.fitstats import convention_of
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
    dev_ref = float(_deviance_at_block_size(block, fit)(params))
    if not math.isfinite(dev_ref):
        return None
    gap = (dev_ref - fit.objective) / 2.0
    rounded = reference_params(rounded_like(block, fit), fit)
    cost = 0.0 if rounded is None else max(0.0, (float(fit.deviance_function(rounded)) - fit.objective) / 2.0)
    return gap, cost


def _deviance_at_block_size(block: ReferenceBlock, fit: GlmmFit) -> Any:
    """The fit's deviance function, at the negative binomial size the block prints (``fit.nb_theta``) if any: a
    program's parameters include its theta."""
    printed = printed_number(block.section("fit").get("nb_theta"))
    dev = fit.deviance_function
    if fit.nb_theta is None or printed is None or not printed > 0:
        return dev
    family = make_family(dev.resp.family.name, dev.resp.family.link.name, float(printed))
    return replace(dev, resp=replace(dev.resp, family=family))


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
    return abs(loglik - _at_theirs(block, fit, gap)) <= _slack(loglik, half_unit, cost)


def _at_theirs(block: ReferenceBlock, fit: GlmmFit, gap: float) -> float:
    """The log-likelihood at the block's printed parameters, as the block's program defines it (SAS: the full one)."""
    full = convention_of(block.software) == "sas"
    saturated = (fit.minus2loglik - fit.objective) / 2.0 if full else 0.0
    return -fit.objective / 2.0 - gap - saturated


def _slack(loglik: float, half_unit: float, cost: float) -> float:
    return half_unit + 2.0 * cost + 1e-6 * (1.0 + abs(loglik))


#: The largest shortfall (relative to the log-likelihood) an inexact objective is blamed for: a tolerance on the
#: conditional modes costs a few parts in 1e5 (glmer's default on toenail: 1.2e-5); a mistyped digit costs more.
MAX_SHORTFALL = 1e-4

#: Quantities an inexact objective accounts for: the log-likelihood's (always) and the parameters' (when off).
LIKELIHOOD_KEYS = ("loglik", "deviance", "aic", "aicc", "bic")
PARAMETER_KEYS = ("estimate", "variance", "sd", "cov", "corr")


def inexact_objective(block: ReferenceBlock, fit: GlmmFit, bad: set[str]) -> Diagnosis | None:
    """The block's printed log-likelihood lies below the one its own printed parameters give: the program's
    objective was evaluated inexactly (and, when its parameters are off the optimum, optimized so)."""
    found, printed = optimum_gap(block, fit), _printed_loglik(block)
    if found is None or printed is None or not bad:
        return None
    gap, cost = found
    loglik, half_unit = printed
    at_theirs = _at_theirs(block, fit, gap)
    shortfall = at_theirs - loglik
    if shortfall <= half_unit + 2.0 * cost + 1e-9 * (1.0 + abs(loglik)) or shortfall > MAX_SHORTFALL * (
        1.0 + abs(loglik)
    ):
        return None  # agrees, or a gap no inner tolerance makes (a mistyped digit, another model)
    if gap < -max(2.0 * cost, MIN_GAP):
        return None  # the engine stopped short of the block's parameters: not the block's objective
    off = gap > max(2.0 * cost, MIN_GAP)
    wanted = LIKELIHOOD_KEYS + (PARAMETER_KEYS if off else ())
    keys = tuple(sorted(k for k in bad if k.rsplit(" ", 1)[-1] in wanted))
    if not keys:
        return None
    software = program_name(block.software)
    method = "Laplace" if fit.nagq == 1 else f"adaptive quadrature ({fit.nagq} nodes)"
    where = (
        f"they are {gap:.3g} below the engine's optimum, where that inexact objective stopped"
        if off
        else f"they are within what printing costs of the engine's optimum ({max(gap, 0.0):.2g} below it; printing "
        f"alone costs {cost:.2g})"
    )
    why = (
        "glmer's default PIRLS tolerance, tolPwrss = 1e-7, does so: refit with tolPwrss = 1e-12"
        if block.software in ("lme4", "lmerTest")
        else "an inner tolerance on the random effects' modes does so"
    )
    text = (
        f"inexact objective: {software} prints log-likelihood {loglik:.10g}, but the {method} log-likelihood at "
        f"its own printed estimates and variance components is {at_theirs:.6f}, {shortfall:.3g} higher; {where}. "
        f"Conditional modes not fully converged lower the log-likelihood a program computes ({why}), or the "
        "printed log-likelihood is not the one of the printed parameters"
    )
    return Diagnosis("inexact objective", keys, text, {"shortfall": shortfall, "gap": gap, "printing_cost": cost})


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


__all__ = ["different_optimum", "inexact_objective", "optimum_gap", "reference_params", "rounded_like"]
