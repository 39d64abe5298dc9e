"""A GLMM block whose standard errors are glmer's fallback: the fixed effects' covariance from RX.

glmer's summary takes the fixed effects' covariance from the finite-difference Hessian of the deviance in
(theta, beta) (``2 H^-1``, which carries the uncertainty of theta). When that Hessian is not positive definite
(it is differenced from a deviance that PIRLS evaluates to a tolerance, and on a large model its noise can
swamp the curvature, as on lme4's VerbAgg), glmer warns "falling back to var-cov estimated from RX" and prints
the covariance of beta given theta from the penalized least-squares factor at the conditional modes. The
engine's Hessian is differenced from an exact gradient and stays positive definite, so it reports ``2 H^-1``:
the block's SEs, z and p then differ while its estimates agree. They are explained when the engine's own RX
covariance at its optimum reproduces every one of them.
"""

from __future__ import annotations

from collections.abc import Callable

from .compare import AGREES, WITHIN, ValueComparison
from .diagnosis import Diagnosis, key_of
from .reference_block import ReferenceBlock
from .vocab import program_name

INFERENCE = (" se", " z", " p")


def rx_covariance(
    block: ReferenceBlock, bad: set[str], recompute_rx: Callable[[], list[ValueComparison]]
) -> Diagnosis | None:
    """The diagnosis when the values left in ``bad`` are fixed-effect SEs, z and p that the fit's RX covariance
    (``recompute_rx``: the block compared with the same fit, its SEs from RX) reproduces; else None."""
    keys = {k for k in bad if k.startswith("fixed ") and k.endswith(INFERENCE)}
    if not keys or not any(k.endswith(" se") for k in keys):
        return None
    again = {key_of(v): v for v in recompute_rx()}
    if not all(k in again and again[k].verdict in (AGREES, WITHIN) for k in keys):
        return None
    return Diagnosis(
        "standard errors from RX",
        tuple(sorted(keys)),
        f"standard errors from RX: {program_name(block.software)}'s fixed-effect SEs (and the z and p made from "
        "them) are the covariance of beta given theta from RX, the penalized least-squares factor at the "
        "conditional modes at its own printed parameters: glmer's fallback when its finite-difference Hessian of "
        "the deviance is not positive definite (its summary then warns 'falling back to var-cov estimated from "
        "RX'). The engine reports 2 H^-1 from its Hessian, differenced from the exact gradient, which also "
        "carries the uncertainty of theta; the RX covariance at the block's parameters reproduces the printed SEs",
        {"vcov": "RX"},
    )
