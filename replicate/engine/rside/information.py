"""Observed-information standard errors of the natural-scale covariance parameters (SAS's table).

SAS's "Covariance Parameter Estimates" give, for each parameter on its natural scale, the
asymptotic SE from the observed information: the inverse Hessian of -2 log-likelihood (beta
profiled), times 2. The Hessian here is central differences of the analytic gradient.
"""

from __future__ import annotations

import numpy as np

from .blocks import Blocks
from .criterion import unprofiled
from .structures import Structure


def _covs(structure: Structure, nat: np.ndarray, n_groups: int) -> list[np.ndarray]:
    m = structure.n_natural
    return [structure.from_natural(nat[g * m : (g + 1) * m]) for g in range(n_groups)]


def natural_gradient(
    blocks: Blocks, structure: Structure, nat: np.ndarray, reml: bool, jacobians: list[np.ndarray] | None = None
) -> np.ndarray:
    """Gradient of -2 log-likelihood (beta profiled) in the natural-scale parameters.

    ``jacobians`` (per group, of :meth:`Structure.natural_jacobian`) may be passed where they are constant.
    """
    ev = unprofiled(blocks, _covs(structure, nat, blocks.n_groups), reml, gradient=True)
    if ev.grads is None:
        return np.full(len(nat), np.nan)
    m = structure.n_natural
    out = np.zeros(len(nat))
    for g in range(blocks.n_groups):
        J = jacobians[g] if jacobians is not None else structure.natural_jacobian(nat[g * m : (g + 1) * m])
        out[g * m : (g + 1) * m] = np.tensordot(ev.grads[g], J, axes=([0, 1], [0, 1]))
    return out


def natural_value(blocks: Blocks, structure: Structure, nat: np.ndarray, reml: bool) -> float:
    """-2 log-likelihood (beta profiled) at natural-scale parameters."""
    return unprofiled(blocks, _covs(structure, nat, blocks.n_groups), reml).value


def natural_hessian(blocks: Blocks, structure: Structure, nat: np.ndarray, reml: bool) -> np.ndarray:
    """Hessian of -2 log-likelihood in the natural-scale parameters (central differences of the gradient)."""
    nat = np.asarray(nat, dtype=float)
    H = np.zeros((len(nat), len(nat)))
    m = structure.n_natural
    jac = (
        [structure.natural_jacobian(nat[g * m : (g + 1) * m]) for g in range(blocks.n_groups)]
        if structure.natural_linear
        else None
    )
    for i in range(len(nat)):
        h = 1e-5 * max(abs(nat[i]), 1e-3)
        up, down = nat.copy(), nat.copy()
        up[i] += h
        down[i] -= h
        H[:, i] = (
            natural_gradient(blocks, structure, up, reml, jac) - natural_gradient(blocks, structure, down, reml, jac)
        ) / (2 * h)
    return (H + H.T) / 2


def covparm_covariance(blocks: Blocks, structure: Structure, nat: np.ndarray, reml: bool) -> np.ndarray | None:
    """2 H^-1: the asymptotic covariance of the natural-scale parameters; None where H is not invertible."""
    H = natural_hessian(blocks, structure, nat, reml)
    if not np.all(np.isfinite(H)):
        return None
    try:
        return 2.0 * np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None
