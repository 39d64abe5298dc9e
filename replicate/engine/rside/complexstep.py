"""Exact first derivatives by complex step (Squire and Trapp 1998): Im f(x + ih) / h, no cancellation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

STEP = 1e-30


def complex_jacobian(fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """d fun(x) / dx by complex step: an array of fun's shape plus len(x).

    ``fun`` must be analytic and written without abs, conj or real, as the structures are.
    """
    x = np.asarray(x, dtype=float)
    base = np.asarray(fun(x.astype(complex)))
    out = np.zeros(base.shape + (len(x),))
    for t in range(len(x)):
        xc = x.astype(complex)
        xc[t] += 1j * STEP
        out[..., t] = np.imag(np.asarray(fun(xc))) / STEP
    return out
