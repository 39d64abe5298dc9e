"""Why a reference number and the engine's disagree, in words.

For the discrepancies of one reference block, the explanations are tried in
order: a transcription error (the printout contradicts itself, a swapped pair, a
lone differing value among many agreeing ones; :mod:`replicate.typos`); different rows used;
different optimum (the likelihood at the
reference's own variance components, evaluated on the same data, against the
engine's optimum: the higher one wins); different definition (which of the
engine's df methods or SE kinds reproduces the printed number); different
parameterization (the other contrast coding); printing precision.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from .block_names import component_columns
from .build import prepare_with
from .case import Case
from .compare import AGREES, DISCREPANCY, WITHIN, ValueComparison
from .comparison import compare_block
from .design import Design
from .diagnose_defs import definitions_of
from .diagnosis import Diagnosis, key_of, matches_printed
from .engine.fit import fit_at
from .errors import ReplicateError
from .inference import Inference
from .inference.marginal import MarginalModel
from .printed import Printed, printed_number, printed_unit
from .printed_theta import reference_theta
from .quantities import block_quantities
from .reference_block import OptimumAt, ReferenceBlock
from .results import FitResult
from .typos import transcription_errors
from .varcorr_values import varcorr_value


def _at_reference_values(
    case: Case, i: int, design: Design, theta: np.ndarray, bad: list[ValueComparison], fit: FitResult
) -> tuple[int, int] | None:
    """How many of the differing values the engine reproduces at the reference's variance components."""

    try:
        at_ref = fit_at(design, fit.method, theta, like=fit)
        block = case.blocks[i]
        redo = {
            key_of(v): v for v in compare_block(case, block, block_quantities(case, block, Inference(at_ref, design)))
        }
    except (ReplicateError, ValueError, np.linalg.LinAlgError):
        return None
    same = sum(1 for v in bad if key_of(v) in redo and redo[key_of(v)].verdict in (AGREES, WITHIN))
    return same, len(bad)


def _optimum(
    case: Case, i: int, fit: FitResult, design: Design, software: str, engine: str, bad: list[ValueComparison]
) -> Diagnosis | None:

    block = case.blocks[i]
    ref = reference_theta(block, design)
    if ref is None:
        return None
    theta, sigma = ref
    mm = MarginalModel(design)
    reml = fit.method == "REML"
    # profile sigma at the reference's theta, so that rounding of the printed
    # residual variance does not count against the reference
    dev_ref_printed = mm.deviance(np.r_[theta, sigma], reml)
    dev_ref = _profiled(mm, theta, reml)
    ll_ref = -0.5 * min(dev_ref, dev_ref_printed)
    gap = fit.loglik - ll_ref
    data: dict[str, Any] = {"loglik_engine": fit.loglik, "loglik_at_reference": ll_ref, "gap": gap}
    crit = "REML log-likelihood" if reml else "log-likelihood"
    # What printing alone costs: the engine's own optimum, rounded as the reference
    # printed its numbers, loses this much likelihood. A smaller gap is no evidence.
    rounded = reference_theta(_rounded_like(block, fit, design), design)
    cost = 0.0
    if rounded is not None:
        cost = max(
            0.0,
            fit.loglik + 0.5 * min(_profiled(mm, rounded[0], reml), mm.deviance(np.r_[rounded[0], rounded[1]], reml)),
        )
    data["printing_cost"] = cost
    if (
        fit.theta is not None
    ):  # the profiled likelihood along the line from the engine's optimum (0) to the program's (1)
        th0 = np.asarray(fit.theta, dtype=float)
        line = [
            (float(t), -0.5 * _profiled(mm, th0 + t * (np.asarray(theta, dtype=float) - th0), reml))
            for t in np.linspace(-0.25, 1.25, 13)
        ]
        data["profile"] = [(t, ll) for t, ll in line if math.isfinite(ll)]
    if abs(gap) <= 2 * cost + 1e-8:
        variance_like = [v for v in bad if v.section == "random" or v.kind in ("se", "df", "t", "p")]
        if cost < 1e-6 and variance_like:
            return Diagnosis(
                "flat likelihood",
                tuple(key_of(v) for v in variance_like),
                f"flat likelihood: {software}'s estimates and the engine's give the same {crit} to within "
                f"{abs(gap):.2g}, yet these values differ: the likelihood hardly changes along this direction, so "
                "the data determine them to few digits (a tighter optimizer in either program moves them)",
                data,
            )
        return None
    if gap > 0:
        text = (
            f"different optimum: on the same data, {software}'s variance components give a {crit} of "
            f"{ll_ref:.6f}, {gap:.3g} below the engine's optimum {fit.loglik:.6f}; {software} stopped "
            "early or at a local optimum"
            + (
                " (the likelihood is flat here, so the variance components are determined to few digits)"
                if gap < 1e-3
                else ""
            )
        )
        redo = _at_reference_values(case, i, design, theta, bad, fit)
        if redo is not None:
            same, total = redo
            data.update(reproduced_at_reference=same, differing=total)
            if same == 0:  # the gap is real but explains none of the values: say so, blame nothing
                return Diagnosis(
                    "likelihood gap",
                    (),
                    f"likelihood gap: {software}'s variance components give a {crit} {gap:.3g} below the engine's "
                    f"optimum, but at them the engine reproduces none of the {total} differing values, so the "
                    "optimum does not explain them",
                    data,
                )
            text += (
                f". At {software}'s own variance components the engine reproduces {same} of the {total} "
                "differing values" + ("; declare options.optimum: reference to compare there" if same == total else "")
            )
    else:
        text = (
            f"different optimum: on the same data, {software}'s variance components give a {crit} of "
            f"{ll_ref:.6f}, {-gap:.3g} above the engine's optimum {fit.loglik:.6f}; the engine "
            f"({engine}) stopped early or at a local optimum"
        )
    return Diagnosis("different optimum", tuple(key_of(v) for v in bad), text, data)


def _rounded_like(block: ReferenceBlock, fit: FitResult, design: Design) -> ReferenceBlock:
    """A copy of ``block`` whose variance components are the engine's, rounded as printed."""

    def rnd(ref: Any, value: float | None) -> Any:
        r = ref.get("value") if isinstance(ref, dict) else ref
        if value is None or not isinstance(r, Printed) or r.bound:
            return ref
        unit = printed_unit(r) or 0.0
        return Printed(round(value / unit) * unit if unit else value, r.text)

    names = block.names
    random = block.section("random")
    out: dict[str, Any] = {}
    for grp, comps in random.items():
        if grp == "Residual":
            eng = {"variance": fit.sigma2, "sd": math.sqrt(fit.sigma2)}
            out[grp] = {q: rnd(v, eng.get(q)) for q, v in comps.items()}
            continue
        out[grp] = {}
        for comp, qs in comps.items():
            cols = ", ".join(component_columns(block, comp))
            out[grp][comp] = {q: rnd(v, varcorr_value(fit, names.get(grp, grp), cols, q)) for q, v in qs.items()}
    return replace(block, values={**block.values, "random": out})


def _profiled(mm: Any, theta: np.ndarray, reml: bool) -> float:
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(
        lambda ls: mm.deviance(np.r_[theta, math.exp(ls)], reml),
        bounds=(-20, 20),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(res.fun)


def _parameterization(
    case: Case, i: int, fit: FitResult, design: Design, engine: Any, bad: list[ValueComparison]
) -> Diagnosis | None:
    fixed_bad = [v for v in bad if v.section == "fixed" and v.quantity == "estimate"]
    if not fixed_bad or engine is None:
        return None

    other = "sas" if case.model.get("contrasts", "treatment") == "treatment" else "treatment"
    try:
        design2 = prepare_with(case, contrasts=other)
        if design2.fixed_names == design.fixed_names and np.array_equal(design2.X, design.X):
            return None  # no categorical predictor: the coding changes nothing
        fit2 = engine.fit(design2, fit.method)
    except (ReplicateError, ValueError, np.linalg.LinAlgError):
        return None
    block = case.blocks[i]
    names = block.names
    fixed = block.section("fixed")
    ok = [
        v
        for v in fixed_bad
        if names.get(v.name, v.name) in fit2.fixed.index
        and matches_printed(fixed[v.name]["estimate"], float(fit2.fixed[names.get(v.name, v.name)]))
    ]
    if not ok:
        return None
    return Diagnosis(
        "different parameterization",
        tuple(key_of(v) for v in ok),
        f"different parameterization: with {other} contrasts the engine reproduces " + ", ".join(v.name for v in ok),
        {"contrasts": other},
    )


def _transcription(block: ReferenceBlock, fit: FitResult, values: list[ValueComparison]) -> list[Diagnosis]:
    """Typos first: a printout that contradicts itself, a swapped pair, a lone differing value."""

    return [
        Diagnosis("transcription error", keys, text, {})
        for keys, text in transcription_errors(block, fit.method, values)
    ]


def _without_defined(opt: Diagnosis | None, definitions: list[Diagnosis]) -> Diagnosis | None:
    """A flat-likelihood note drops the values a definition explains: they get only that explanation."""
    if opt is None or opt.kind != "flat likelihood":
        return opt
    defined = {k for d in definitions for k in d.values}
    keep = tuple(k for k in opt.values if k not in defined)
    return Diagnosis(opt.kind, keep, opt.text, opt.data) if keep else None


def diagnose_block(
    case: Case,
    i: int,
    values: list[ValueComparison],
    fit: FitResult,
    design: Design,
    engine: Any = None,
    *,
    inference: Inference | None = None,
) -> list[Diagnosis]:
    """Explanations for the discrepancies of reference block ``i`` (``inference``: the fit's, shared)."""
    bad = [v for v in values if v.verdict == DISCREPANCY]
    if not bad:
        return []
    block = case.blocks[i]
    software = block.software
    eng = getattr(engine, "name", fit.engine)
    out: list[Diagnosis] = []
    fitv = block.section("fit")
    nobs = printed_number(fitv.get("nobs"))
    if nobs is not None and int(nobs) != fit.nobs:
        out.append(
            Diagnosis(
                "different rows",
                ("*",),
                f"different rows: {software} used {int(nobs)} rows, the engine {fit.nobs}"
                + (f" ({design.n_dropped} dropped for missing values)" if design.n_dropped else ""),
                {"reference_nobs": int(nobs), "engine_nobs": fit.nobs},
            )
        )
    for g, n in (fitv.get("ngroups") or {}).items():
        ng = printed_number(n)
        eng_n = fit.ngroups.get(block.names.get(g, g))
        if ng is not None and eng_n is not None and int(ng) != eng_n:
            out.append(
                Diagnosis(
                    "different rows",
                    ("*",),
                    f"different groups: {software} counts {int(ng)} levels of {g}, the engine {eng_n}",
                    {"group": g, "reference": int(ng), "engine": eng_n},
                )
            )
    rows = bool(out)
    typos = _transcription(block, fit, values)
    out.extend(typos)
    typo_keys = {k for d in typos for k in d.values}
    bad = [v for v in bad if key_of(v) not in typo_keys]
    at_reference = block.options.optimum == OptimumAt.REFERENCE
    definitions = definitions_of(block, inference or Inference(fit, design, refit=getattr(engine, "fit", None)), bad)
    if bad and not rows and not at_reference:  # at the reference's own optimum there is no gap to explain
        opt = _optimum(case, i, fit, design, software, eng, bad)
        opt = _without_defined(opt, definitions)
        if opt:
            out.append(opt)
    out.extend(definitions)
    par = _parameterization(case, i, fit, design, engine, bad)
    if par:
        out.append(par)
    explained = {k for d in out for k in d.values}
    for v in bad:
        if key_of(v) in explained or "*" in explained:
            continue
        r = Printed(v.reference_value, v.reference)
        unit = printed_unit(r)
        if unit and v.abs_diff is not None and v.abs_diff <= 1.0 * unit * (1 + 1e-9):
            out.append(
                Diagnosis(
                    "printing precision",
                    (key_of(v),),
                    f"printing precision: {v.name} {v.quantity} differs from {v.reference} by less "
                    "than one unit in the last printed digit",
                    {"unit": unit},
                )
            )
    explained = {k for d in out for k in d.values}
    rest = [v for v in bad if key_of(v) not in explained and "*" not in explained]
    if rest:
        out.append(
            Diagnosis(
                "unexplained",
                tuple(key_of(v) for v in rest),
                "unexplained: "
                + ", ".join(
                    f"{v.name} {v.quantity} {v.reference} (engine {v.engine:.6g})"
                    if v.engine is not None
                    else f"{v.name} {v.quantity} {v.reference}"
                    for v in rest
                )
                + " — the rows, the optimum, the df and SE definitions, the contrast coding and the printed "
                "precision were checked and none accounts for it: a transcription error, another model, or "
                "a program fault",
                {},
            )
        )
    return out
