"""Why a repeated-measures block's numbers differ from the engine's, in words (issue #16).

Tried in order, each value explained once: a transcription error (:mod:`replicate.typos`); the reference
did not converge (``options.converged: false``, its printout said so); a different optimum (the criterion
at the printed covariance parameters against the engine's, and the values the engine reproduces there);
a different df or SE definition (which DDFM= reproduces the printed df); a different structure (another
TYPE= whose fit reproduces the printed -2 log likelihood), including the visit indexed by its time value
instead of its position (SAS's AR(1) against nlme's ``corAR1(form = ~ time)`` = SP(POW) on the time); a
covariance parameter on its boundary; printing precision. What none explains is said to be unexplained.

The stage that calls it hands in ``recompute(block, fit)`` (quantities then comparison for a block against
a fit) and ``refit(sas_type)`` (the case's model with another structure), so the diagnosis never imports
the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .compare import AGREES, DISCREPANCY, WITHIN, ValueComparison
from .diagnosis import Diagnosis, key_of
from .engine.rside.at_params import fit_at_natural
from .engine.rside.result import RsideFit
from .errors import ReplicateError
from .printed import Printed, printed_unit
from .quantities.rside import DDFM
from .reference_block import OptimumAt, ReferenceBlock
from .rside_optimum import criterion_gap, gap_words, printed_covparms
from .typos import transcription_errors
from .vocab import DfMethod, program_name

Recompute = Callable[[ReferenceBlock, RsideFit], list[ValueComparison]]
Refit = Callable[[str], RsideFit]

#: Other TYPE= tried when the printed -2 log likelihood is not the engine's (the case's own is skipped).
CANDIDATES = ("CS", "AR(1)", "UN", "CSH", "ARH(1)", "TOEP", "TOEPH", "UN(1)", "VC", "ANTE(1)", "SP(POW)")
#: The same correlation over the visit's position (SAS, mmrm) and over its time value (nlme's corAR1 on time).
TIME_TWIN = {"AR(1)": "SP(POW)", "SP(POW)": "AR(1)"}
CRITERIA = ("deviance", "reml_criterion", "loglik", "aic", "bic", "aicc")


def _agreeing(values: list[ValueComparison], keys: set[str]) -> tuple[str, ...]:
    """The keys among ``keys`` whose every value agrees in ``values`` (a Type 3 row's numerator and denominator
    df share a key: both must agree)."""
    verdicts: dict[str, list[bool]] = {}
    for v in values:
        if key_of(v) in keys:
            verdicts.setdefault(key_of(v), []).append(v.verdict in (AGREES, WITHIN))
    return tuple(k for k, ok in verdicts.items() if all(ok))


def _safe(recompute: Recompute, block: ReferenceBlock, fit: RsideFit) -> list[ValueComparison]:
    try:
        return recompute(block, fit)
    except (ReplicateError, KeyError, ValueError, ArithmeticError):
        return []


def _not_converged(block: ReferenceBlock, fit: RsideFit, bad: set[str]) -> Diagnosis | None:
    if block.options.converged:
        return None
    gap = criterion_gap(block, fit)
    extra = f"; {gap_words(gap[1], program_name(block.software), fit.method)}" if gap else ""
    return Diagnosis(
        "reference did not converge",
        tuple(sorted(bad)),
        f"{program_name(block.software)} did not converge (its printout says so: options.converged: false): its numbers are "
        f"not at an optimum{extra}",
        {"gap": gap[1] if gap else None},
    )


def _optimum(block: ReferenceBlock, fit: RsideFit, bad: set[str], recompute: Recompute) -> Diagnosis | None:
    gap = criterion_gap(block, fit)
    nat = printed_covparms(block, fit)
    if gap is None or nat is None or block.options.optimum == OptimumAt.REFERENCE:
        return None
    try:
        at = fit_at_natural(fit, nat, "at the reference's covariance parameters")
    except ReplicateError:
        return None
    keys = _agreeing(_safe(recompute, block, at), bad)
    if not keys:
        return None
    return Diagnosis(
        "different optimum",
        keys,
        f"different optimum: {gap_words(gap[1], program_name(block.software), fit.method)}; there the engine reproduces "
        f"{len(keys)} of the {len(bad)} differing values (compare there with options.optimum: reference)",
        {"m2ll_at_reference": gap[0], "m2ll_engine": fit.minus2loglik, "gap": gap[1]},
    )


def _definitions(block: ReferenceBlock, fit: RsideFit, bad: set[str], recompute: Recompute) -> list[Diagnosis]:
    out: list[Diagnosis] = []
    own = block.options.df or DfMethod.BETWEEN_WITHIN
    for method, ddfm in DDFM.items():
        if method == own or not bad:
            continue
        other = replace(block, options=replace(block.options, df=method))
        keys = _agreeing(_safe(recompute, other, fit), {k for k in bad if k.split()[-1] in ("df", "p", "se", "t")})
        if keys:
            out.append(
                Diagnosis(
                    "different definition",
                    keys,
                    f"different definition: the printed df are reproduced with ddfm={ddfm} (options.df: {method}), "
                    f"not with the block's {own}",
                    {"df": str(method)},
                )
            )
            bad = bad - set(keys)
    return out


def _structures(
    block: ReferenceBlock, fit: RsideFit, bad: set[str], recompute: Recompute, refit: Refit
) -> Diagnosis | None:
    printed = {q: block.section("fit")[q] for q in CRITERIA if q in block.section("fit")}
    if not any(f"fit {q} " in " ".join(bad) + " " for q in printed):
        return None
    twin = TIME_TWIN.get(fit.sas_type)
    for sas_type in ([twin] if twin else []) + [c for c in CANDIDATES if c not in (fit.sas_type, twin)]:
        try:
            other = refit(sas_type)
        except (ReplicateError, ValueError, ArithmeticError):
            continue
        trimmed = replace(block, values={k: block.values[k] for k in ("fit", "fixed") if k in block.values})
        again = _safe(recompute, trimmed, other)
        fit_rows = [v for v in again if v.section == "fit" and v.quantity in printed]
        if not fit_rows or any(v.verdict not in (AGREES, WITHIN) for v in fit_rows):
            continue
        keys = _agreeing(again, bad)
        time = sas_type == twin
        kind = "position vs time indexing" if time else "different structure"
        on = ", ".join(fit.residual.coordinates) if fit.residual else "the visit"
        why = (
            f"{program_name(block.software)} indexed the visits by their time value ({sas_type} on {on}), "
            f"the case's {fit.sas_type} by their position (SAS's AR(1) and mmrm's ar1 use the position; nlme's "
            "corAR1(form = ~ time) and SP(POW) the time)"
            if time
            else f"{program_name(block.software)}'s numbers are reproduced by TYPE={sas_type}, not by the case's TYPE={fit.sas_type}"
        )
        return Diagnosis(kind, keys, f"{kind}: {why}", {"type": sas_type, "m2ll": other.minus2loglik})
    return None


def _boundary(fit: RsideFit, bad: set[str]) -> Diagnosis | None:
    notes = [m for m in fit.messages if "boundary" in m or "nearly singular" in m]
    if not notes or not bad:
        return None
    return Diagnosis(
        "boundary",
        tuple(sorted(bad)),
        "on the boundary: " + "; ".join(notes) + " — there the likelihood is flat and programs stop at different "
        "points, and SEs from the information are unreliable",
        {"notes": notes},
    )


def _precision(values: list[ValueComparison], bad: set[str]) -> list[Diagnosis]:
    out = []
    for v in values:
        if key_of(v) not in bad or v.abs_diff is None:
            continue
        unit = printed_unit(Printed(v.reference_value, v.reference))
        if unit and v.abs_diff <= unit * (1 + 1e-9):
            out.append(
                Diagnosis(
                    "printing precision",
                    (key_of(v),),
                    f"printing precision: {v.name} {v.quantity} differs from {v.reference} by less than one unit "
                    "in the last printed digit",
                    {"unit": unit},
                )
            )
    return out


def diagnose_rside_block(
    block: ReferenceBlock, values: list[ValueComparison], fit: RsideFit, *, recompute: Recompute, refit: Refit
) -> list[Diagnosis]:
    """Explanations for the discrepancies of a repeated-measures block against ``fit``."""
    bad = {key_of(v) for v in values if v.verdict == DISCREPANCY}
    if not bad:
        return []
    out: list[Diagnosis] = [
        Diagnosis("transcription error", keys, text, {})
        for keys, text in transcription_errors(block, fit.method, values)
    ]

    def add(found: Diagnosis | list[Diagnosis] | None) -> None:
        nonlocal bad
        for d in found if isinstance(found, list) else [found] if found else []:
            out.append(d)
            bad -= set(d.values)

    bad -= {k for d in out for k in d.values}
    add(_not_converged(block, fit, bad))
    if bad:
        add(_optimum(block, fit, bad, recompute))
    if bad:
        add(_definitions(block, fit, bad, recompute))
    if bad:
        add(_structures(block, fit, bad, recompute, refit))
    if bad:
        add(_boundary(fit, bad))
    if bad:
        add(_precision(values, bad))
    rest = [v for v in values if key_of(v) in bad]
    if rest:
        out.append(
            Diagnosis(
                "unexplained",
                tuple(key_of(v) for v in rest),
                "unexplained: "
                + ", ".join(f"{v.name} {v.quantity} {v.reference} (engine {v.engine})" for v in rest)
                + " — the transcription, convergence, optimum, df definitions, other structures, the boundary and "
                "the printed precision were checked and none accounts for it",
                {},
            )
        )
    return out
