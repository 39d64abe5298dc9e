"""Why a GLMM block's numbers differ from the engine's, in words (issue #17).

A binary or count outcome's numbers depend on the estimation method more than on anything else: glmer's
Laplace approximation, its adaptive Gauss-Hermite quadrature with k nodes, and penalized quasi-likelihood
(MASS::glmmPQL, HLM's HGLM) give visibly different variance components on the same data. Tried in order,
each value explained once: a transcription error (:mod:`replicate.typos`); the reference did not converge
(``options.converged: false``: glmer's "Model failed to converge"); a **different estimation method** (the
block's fixed-effect estimates and variance components are reproduced by another method's fit: named, with
the number of nodes for quadrature); a **different optimum** (the block's own parameters give a log-likelihood
measurably below the engine's optimum of the same method: the program stopped short,
:mod:`replicate.diagnose_glmm_optimum`); **standard errors from RX** (glmer's fallback covariance when its
finite-difference Hessian is not positive definite, :mod:`replicate.diagnose_glmm_rx`); printing precision. What none explains is said to be unexplained.

The stage hands in ``recompute(block, method, nagq)``: the block's estimates and variance components compared
with the case's model fitted by that method, so the diagnosis never imports the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .compare import AGREES, DISCREPANCY, WITHIN, ValueComparison
from .diagnosis import Diagnosis, key_of
from .engine.glmm.observed import OBSERVED_LAPLACE
from .errors import ReplicateError
from .printed import Printed, printed_unit
from .reference_block import ReferenceBlock
from .typos import transcription_errors
from .vocab import program_name

Recompute = Callable[[ReferenceBlock, str, int], list[ValueComparison]]
#: The different-optimum check of the block's own method: the values left unexplained -> a diagnosis or None.
Optimum = Callable[[set[str]], Diagnosis | None]

#: The methods tried, in order, as (method, nagq): glmer's Laplace, its quadrature, glmmPQL's PQL, GLIMMIX's RSPL, MSPL,
#: RMPL and MMPL.
METHODS = (
    ("laplace", 1),
    (OBSERVED_LAPLACE, 1),
    ("agq", 9),
    ("agq", 25),
    ("pql", 1),
    ("rspl", 1),
    ("mspl", 1),
    ("rmpl", 1),
    ("mmpl", 1),
)
NAMES = {
    "laplace": "the Laplace approximation with the expected information (glmer's nAGQ = 1)",
    OBSERVED_LAPLACE: "the Laplace approximation with the observed information (glmmTMB's, SAS GLIMMIX's METHOD=LAPLACE; "
    "for this non-canonical link not glmer's, whose determinant takes PIRLS's expected weights)",
    "agq": "adaptive Gauss-Hermite quadrature with {k} nodes (glmer's nAGQ = {k})",
    "pql": "penalized quasi-likelihood with the dispersion estimated (MASS::glmmPQL)",
    "rspl": "SAS GLIMMIX's residual pseudo-likelihood (METHOD=RSPL, its default: PQL with the dispersion fixed at 1, "
    "as HLM's HGLM fixes its level-1 variance, and a REML working model)",
    "mspl": "SAS GLIMMIX's maximum pseudo-likelihood (METHOD=MSPL: PQL with the dispersion fixed at 1 and an ML "
    "working model)",
    "rmpl": "SAS GLIMMIX's residual marginal pseudo-likelihood (METHOD=RMPL: the expansion about the random effects' mean)",
    "mmpl": "SAS GLIMMIX's maximum marginal pseudo-likelihood (METHOD=MMPL)",
}


def _estimates_only(block: ReferenceBlock, method: str, nagq: int) -> ReferenceBlock:
    """The block's fixed-effect estimates and variance components, read as another method's numbers."""
    fixed = {t: {"estimate": qs["estimate"]} for t, qs in block.section("fixed").items() if "estimate" in qs}
    values = {"fixed": fixed} | ({"random": block.values["random"]} if "random" in block.values else {})
    observed = method == OBSERVED_LAPLACE
    options = replace(
        block.options,
        method="laplace" if observed else method,
        nagq=nagq if method == "agq" else None,
        information="observed" if observed else block.options.information,
    )
    return replace(block, values=values, options=options)


def _method_words(method: str, nagq: int) -> str:
    return NAMES[method].format(k=nagq)


def diagnose_glmm_block(
    block: ReferenceBlock,
    values: list[ValueComparison],
    own: tuple[str, int],
    *,
    recompute: Recompute,
    optimum: Optimum | None = None,
    rx: Optimum | None = None,
    definitions: Optimum | None = None,
) -> list[Diagnosis]:
    """Explanations for the discrepancies of a GLMM block compared with the fit by ``own`` (method, nagq);
    ``optimum`` checks whether the block's program stopped short of the optimum of that method, ``rx`` whether
    its SEs are glmer's fallback covariance from RX (:mod:`replicate.diagnose_glmm_rx`), ``definitions`` whether
    another of the program's df rules or SE kinds reproduces its df, SEs, t and p
    (:mod:`replicate.diagnose_glmm_defs`)."""
    bad = {key_of(v) for v in values if v.verdict == DISCREPANCY}
    if not bad:
        return []
    out = [Diagnosis("transcription error", keys, text, {}) for keys, text in transcription_errors(block, "ML", values)]
    bad -= {k for d in out for k in d.values}
    if bad and not block.options.converged:
        out.append(
            Diagnosis(
                "reference did not converge",
                tuple(sorted(bad)),
                f"{program_name(block.software)} did not converge (its printout says so: options.converged: false): its numbers "
                "are not at an optimum",
                {},
            )
        )
        bad = set()
    if bad:
        found = _other_method(block, bad, own, recompute)
        if found:
            out.append(found)
            bad -= set(found.values)
    for check in (definitions, rx, optimum):  # the same fit's other definitions; RX before the optimum: a program
        # that stopped short may also have fallen back to RX
        found_here = check(bad) if bad and check is not None else None
        if found_here is not None:
            out.append(found_here)
            bad -= set(found_here.values)
    for v in values:
        if key_of(v) in bad and v.abs_diff is not None:
            unit = printed_unit(Printed(v.reference_value, v.reference))
            if unit and v.abs_diff <= unit * (1 + 1e-9):
                out.append(
                    Diagnosis(
                        "printing precision",
                        (key_of(v),),
                        f"printing precision: {v.name} {v.quantity} differs from {v.reference} by less than one "
                        "unit in the last printed digit",
                        {"unit": unit},
                    )
                )
                bad.discard(key_of(v))
    rest = [v for v in values if key_of(v) in bad]
    if rest:
        out.append(
            Diagnosis(
                "unexplained",
                tuple(key_of(v) for v in rest),
                "unexplained: "
                + ", ".join(f"{v.name} {v.quantity} {v.reference} (engine {v.engine})" for v in rest)
                + " — the transcription, convergence, the other estimation methods (Laplace, adaptive quadrature, "
                "PQL), where the program stopped, glmer's RX covariance and the printed precision were checked and "
                "none accounts for it",
                {},
            )
        )
    return out


def _other_method(block: ReferenceBlock, bad: set[str], own: tuple[str, int], recompute: Recompute) -> Diagnosis | None:
    """The first other method whose fit reproduces every printed estimate and variance component."""
    estimates = {k for k in bad if k.startswith(("fixed ", "random ")) and not k.endswith((" se", " z", " p", " t"))}
    if not estimates:
        return None
    for method, nagq in METHODS:
        if (method, nagq) == own or (method != "agq" and method == own[0]):
            continue
        try:
            again = recompute(_estimates_only(block, method, nagq), method, nagq)
        except ReplicateError:
            continue
        compared = [v for v in again if v.verdict != "not comparable"]
        if compared and all(v.verdict in (AGREES, WITHIN) for v in compared):
            explained = tuple(sorted(k for k in bad if k.startswith(("fixed ", "random ", "fit "))))
            theirs, ours = _method_words(method, nagq), _method_words(*own)
            likelihood = (
                f"; {method.upper()} maximizes no likelihood: a log-likelihood, deviance or AIC it prints is not "
                "comparable (a pseudo-likelihood is the linearized model's)"
                if method not in ("laplace", "agq", OBSERVED_LAPLACE)
                else ""
            )
            return Diagnosis(
                "different estimation method",
                explained,
                f"different estimation method: {program_name(block.software)}'s estimates and variance components are reproduced "
                f"by {theirs}, not by {ours}{likelihood}",
                {"method": method, "nagq": nagq},
            )
    return None
