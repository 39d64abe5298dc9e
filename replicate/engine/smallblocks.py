"""Vectorized kernels for stacks of small dense matrices.

The first random-effect term's diagonal block of the penalized system is
block-diagonal: one ``k x k`` block per level. Calling LAPACK once per level
costs more in call overhead than in arithmetic when ``k`` is 1, 2 or 3, so these
kernels loop over the ``k^2 / 2`` entries of the factor and vectorize over the
levels instead (shape ``(nlevels, k, k)``).
"""

from __future__ import annotations

import numpy as np

# Above this block size LAPACK's batched gufuncs are faster than entry loops.
_LOOP_MAX_K = 6


def batched_cholesky(a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of a stack of symmetric positive-definite matrices.

    Args:
        a: array of shape ``(n, k, k)``; only the lower triangle is read.

    Returns:
        Array ``L`` of shape ``(n, k, k)``, lower triangular, with ``L @ L.T == a``.

    Raises:
        np.linalg.LinAlgError: if a block is not positive definite.
    """
    n, k, _ = a.shape
    if k > _LOOP_MAX_K:
        return np.linalg.cholesky(a)
    # Work on columns of the transposed stack: at[i, j] is the (n,) vector a[:, i, j].
    at = a.transpose(1, 2, 0)
    out = np.zeros((k, k, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(k):
            s = at[j, j].copy()
            for m in range(j):
                s -= out[j, m] * out[j, m]
            d = np.sqrt(s)
            out[j, j] = d
            for i in range(j + 1, k):
                t = at[i, j].copy()
                for m in range(j):
                    t -= out[i, m] * out[j, m]
                out[i, j] = t / d
    diag = out[np.arange(k), np.arange(k)]
    if not np.all(diag > 0):
        raise np.linalg.LinAlgError("block not positive definite")
    return out.transpose(2, 0, 1)


def batched_tril_inverse(low: np.ndarray) -> np.ndarray:
    """Inverses of a stack of lower-triangular matrices.

    Args:
        low: array of shape ``(n, k, k)``, lower triangular, nonzero diagonal.

    Returns:
        Array of shape ``(n, k, k)`` holding each block's inverse (lower triangular).
    """
    n, k, _ = low.shape
    if k == 1:
        return 1.0 / low
    if k > _LOOP_MAX_K:
        eye = np.broadcast_to(np.eye(k), low.shape)
        return np.linalg.solve(low, eye)
    lt = low.transpose(1, 2, 0)
    inv = np.zeros((k, k, n))
    for j in range(k):
        inv[j, j] = 1.0 / lt[j, j]
        for i in range(j + 1, k):
            t = lt[i, j] * inv[j, j]
            for m in range(j + 1, i):
                t = t + lt[i, m] * inv[m, j]
            inv[i, j] = -t / lt[i, i]
    return inv.transpose(2, 0, 1)


def batched_logdet_tril(low: np.ndarray) -> float:
    """Sum over the stack of ``log det(L L')`` for lower-triangular blocks ``L``."""
    diag = np.diagonal(low, axis1=1, axis2=2)
    return 2.0 * float(np.sum(np.log(diag)))
