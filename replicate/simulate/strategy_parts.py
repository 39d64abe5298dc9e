"""The pieces the data-set strategies share: the true parameters, the drawn data set, and small draws.

See :mod:`replicate.simulate.strategies` for the strategies themselves.
"""

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from hypothesis import strategies as st

INTERCEPT = "(Intercept)"


# ------------------------------------------------------------------ truth


@dataclass(frozen=True)
class TrueParameters:
    """The parameters a data set was generated from.

    Attributes:
        fixed: coefficient name (as R names it) -> true value.
        random: grouping factor, named as the Design names it (``g``,
            ``class:school``, ``subject``) -> (columns, covariance matrix);
            columns in the order of the formula's random term.
        sigma2: residual variance.
        levels: predictor -> 1 (varies within groups of :attr:`group`) or 2 (constant within them).
        group: the top-level grouping factor (the ``g`` of a two-level model).
        structure: ``two-level``, ``three-level`` or ``crossed``.
        balanced: every group has the same size (and, nested, the same classes per school).
        icc: between-group share of the variance at zero predictors.
        slopes: predictors with a random slope.
    """

    fixed: dict[str, float]
    random: dict[str, tuple[tuple[str, ...], np.ndarray]]
    sigma2: float
    levels: dict[str, int]
    group: str
    structure: str
    balanced: bool
    icc: float
    slopes: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    def varpar(self, design) -> np.ndarray:
        """``(theta..., sigma)`` for :class:`~replicate.inference.marginal.MarginalModel`, in ``design``'s term order.

        theta is the column-major lower triangle of each term's relative
        covariance factor ``Lambda`` (``Lambda Lambda' = Cov / sigma^2``), as lme4 stores it.
        """
        out: list[float] = []
        for t in design.reterms:
            cols, cov = self.random[t.group]
            if tuple(cols) != tuple(t.columns):
                idx = [cols.index(c) for c in t.columns]
                cov = cov[np.ix_(idx, idx)]
            L = psd_cholesky(np.asarray(cov, float) / self.sigma2)
            for j in range(L.shape[0]):
                for i in range(j, L.shape[0]):
                    out.append(float(L[i, j]))
        out.append(float(np.sqrt(self.sigma2)))
        return np.asarray(out)


def psd_cholesky(A: np.ndarray, tol: float = 1e-14) -> np.ndarray:
    """Lower Cholesky factor of a positive semi-definite matrix (zero columns where singular)."""
    A = np.asarray(A, dtype=float)
    k = A.shape[0]
    L = np.zeros_like(A)
    scale = max(float(np.max(np.abs(np.diag(A)))), 1.0)
    for j in range(k):
        d = A[j, j] - float(L[j, :j] @ L[j, :j])
        if d <= tol * scale:
            continue
        L[j, j] = np.sqrt(d)
        for i in range(j + 1, k):
            L[i, j] = (A[i, j] - float(L[i, :j] @ L[j, :j])) / L[j, j]
    return L


class Drawn(NamedTuple):
    """A generated data set: ``frame, formula, truth = drawn``."""

    frame: pd.DataFrame
    formula: str
    truth: TrueParameters


# ---------------------------------------------------------------- helpers


def draw_icc(draw, icc) -> float:
    if icc is None:
        return draw(st.one_of(st.just(0.0), st.floats(0.0, 0.5, allow_nan=False), st.just(0.5)))
    if isinstance(icc, tuple):
        return draw(st.floats(float(icc[0]), float(icc[1]), allow_nan=False))
    return float(icc)


def group_sizes(rng: np.random.Generator, J: int, balance: str, max_size: int, smallest: int = 2) -> np.ndarray:
    if balance == "balanced":
        return np.full(J, int(rng.integers(smallest, max(smallest, max_size) + 1)))
    sizes = rng.integers(2, max(2, max_size) + 1, size=J)
    if balance == "singletons":
        ones = rng.random(J) < rng.uniform(0.1, 0.5)
        ones[0] = True  # at least one singleton
        sizes[ones] = 1
        if np.all(sizes == 1):
            sizes[-1] = 2
    return sizes


def ensure_rows(sizes: np.ndarray, need: int, cap: int) -> np.ndarray:
    """Grow group sizes (largest first, up to ``cap``) until there are more than ``need`` rows."""
    sizes = sizes.copy()
    order = np.argsort(-sizes, kind="stable")
    i = 0
    while sizes.sum() <= need and i < 100 * len(sizes):
        j = order[i % len(sizes)]
        if sizes[j] < cap and sizes[j] > 1:
            sizes[j] += 1
        i += 1
    return sizes


def draw_coef(draw, zero_share: bool = True) -> float:
    if zero_share:
        return draw(st.one_of(st.just(0.0), st.floats(-1.0, 1.0, allow_nan=False)))
    return draw(st.floats(-2.0, 2.0, allow_nan=False))


def binary_column(rng: np.random.Generator, n: int, within: np.ndarray | None = None) -> np.ndarray:
    """0/1 values with both values present; with ``within`` (two row positions in one group),
    different values there, so that a level-1 binary predictor varies within a group."""
    v = (rng.random(n) < rng.uniform(0.2, 0.8)).astype(float)
    first = within if within is not None else np.arange(min(n, 2))
    if len(first) == 2:
        v[first[0]], v[first[1]] = 0.0, 1.0
    return v


def feasible(
    frame: pd.DataFrame,
    groups: list[str],
    variables: list[str],
    k: int,
    p: int,
    *,
    between: int = 1,
    level1: tuple[str, ...] = (),
) -> bool:
    """Whether the complete rows still make a fittable, identified model.

    Besides lme4's checks (more rows than random effects of each term, at least
    two levels, a level with two rows), the residual variance needs residual
    degrees of freedom: more rows than fixed effects plus random effects of all
    terms together (else the fit runs off to sigma = 0); the first grouping
    factor needs at least two groups more than its ``between`` group-level
    coefficients (else its variance is not identified); and every ``level1``
    variable must still vary within some group of it.
    """
    sub = frame[variables + groups].dropna()
    n = len(sub)
    if n < p + 2 + sum(sub[g].nunique() * k for g in groups):
        return False
    for g in groups:
        m = sub[g].nunique()
        if m < 2 or m * k >= n or sub.groupby(g, observed=True).size().max() < 2:
            return False
    if sub[groups[0]].nunique() < between + 2:
        return False
    for v in variables:
        if sub[v].nunique() < 2:
            return False
    for v in level1:
        if sub.groupby(groups[0], observed=True)[v].nunique().max() < 2:
            return False
    return True


# ------------------------------------------------------------- two levels
