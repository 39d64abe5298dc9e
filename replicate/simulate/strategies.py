"""Hypothesis strategies for hierarchical data sets with known true parameters.

Each strategy draws a :class:`Drawn` triple ``(frame, formula, truth)``: a
pandas DataFrame, the lme4 formula of the true model, and the
:class:`TrueParameters` the data were generated from. Hypothesis draws the
structure (numbers of groups, how unbalanced, the ICC, which predictors,
random slopes, missing values) and a seed; numpy draws the values from that
seed, which keeps large data sets cheap to generate.

* :func:`two_level`: rows in groups ``g``; 3 to a few hundred groups; balanced,
  unbalanced, or with singleton groups; level-1 predictors ``x1`` (normal, with
  a between-group part) and ``x2`` (binary), level-2 predictors ``w1``
  (normal) and ``w2`` (binary); an optional random slope of ``x1``; optional
  missing values (level-1 values at random, level-2 values for whole groups).
* :func:`three_level`: pupils in classes in schools, ``(1 | school/class)``
  with class labels reused across schools; singleton classes and schools
  with one class; predictors at the pupil, class and school level.
* :func:`crossed`: subjects crossed with items, ``(1 | subject) + (1 | item)``,
  with an incomplete crossing.
* :func:`hierarchical`: any of the three.

The ICC (the share of the variance, at zero predictors, that lies between
groups at all levels) ranges from 0 -- the boundary, where the true random-effect
variances are zero -- to 0.5. Every drawn data set can be fitted: there are
more rows than random effects, at least two groups at every level and at least
one group with two rows, and no predictor is constant, also after listwise
deletion of the missing values.

Requires ``hypothesis`` (a test dependency).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from .strategies_multi import crossed, three_level
from .strategy_parts import (
    INTERCEPT,
    Drawn,
    TrueParameters,
    binary_column,
    draw_coef,
    draw_icc,
    ensure_rows,
    feasible,
    group_sizes,
    psd_cholesky,
)

__all__ = [
    "Drawn",
    "TrueParameters",
    "crossed",
    "hierarchical",
    "hlm_notation",
    "psd_cholesky",
    "three_level",
    "two_level",
]


@st.composite
def two_level(
    draw,
    *,
    min_groups: int = 3,
    max_groups: int = 300,
    max_rows: int = 1500,
    balance: str | None = None,
    icc: Any = None,
    level1: tuple[int, int] = (0, 2),
    level2: tuple[int, int] = (0, 2),
    random_slope: bool | None = None,
    missing: bool | None = None,
) -> Drawn:
    """Two-level data: rows in groups ``g`` (see the module text).

    Args:
        min_groups, max_groups: range of the number of groups.
        max_rows: rows at most (about; small groups grow to fit the model).
        balance: ``balanced``, ``unbalanced`` or ``singletons``; None draws one.
        icc: a number, a (low, high) range, or None for [0, 0.5] with 0 and 0.5 themselves likely.
        level1, level2: ranges of the numbers of level-1 and level-2 predictors (0 to 2).
        random_slope: a random slope of ``x1`` (needs a level-1 predictor); None draws.
        missing: add missing values; None draws.
    """
    n2 = draw(st.integers(*level2))
    # At least two between-group df (J - 1 - n2 >= 2): with fewer the level-2 variance is not identified.
    J = draw(st.integers(max(min_groups, n2 + 3), max(max_groups, n2 + 3)))
    bal = balance or draw(st.sampled_from(["balanced", "unbalanced", "singletons"]))
    n1 = draw(st.integers(*level1))
    slope = (draw(st.booleans()) if random_slope is None else random_slope) and n1 > 0
    miss = draw(st.booleans()) if missing is None else missing
    rho = draw_icc(draw, icc)
    seed = draw(st.integers(0, 2**32 - 1))
    fixed = {INTERCEPT: draw_coef(draw, zero_share=False)}
    x_names = ["x1", "x2"][:n1]
    w_names = ["w1", "w2"][:n2]
    for v in x_names + w_names:
        fixed[v] = draw_coef(draw)
    if slope:
        slope_var = draw(st.one_of(st.just(0.0), st.floats(0.01, 0.3, allow_nan=False)))
        corr = draw(st.floats(-0.6, 0.6, allow_nan=False))
    miss_share = draw(st.floats(0.02, 0.15, allow_nan=False)) if miss else 0.0

    rng = np.random.default_rng(seed)
    max_size = max(2, min(40, max_rows // J))
    k = 2 if slope else 1
    p = len(fixed)
    sizes = group_sizes(rng, J, bal, max_size, smallest=k + 1)
    sizes = ensure_rows(sizes, J * k + p + 2, max(max_size, 2 * k + 2))
    n = int(sizes.sum())
    g = np.repeat(np.arange(J), sizes)
    cols: dict[str, np.ndarray] = {}
    big = int(np.argmax(sizes))  # a group with two rows or more
    start = int(sizes[:big].sum())
    for v in x_names:
        if v == "x1":
            cols[v] = rng.normal(0, 1, n) + rng.normal(0, rng.uniform(0, 1), J)[g]
        else:
            cols[v] = binary_column(rng, n, within=np.array([start, start + 1]))
    for v in w_names:
        cols[v] = (rng.normal(0, 1, J) if v == "w1" else binary_column(rng, J))[g]
    tau00, sigma2 = rho, 1.0 - rho
    if slope:
        sd = np.sqrt([tau00, slope_var])
        cov = np.array([[tau00, corr * sd[0] * sd[1]], [corr * sd[0] * sd[1], slope_var]])
        rcols: tuple[str, ...] = (INTERCEPT, "x1")
    else:
        cov = np.array([[tau00]])
        rcols = (INTERCEPT,)
    b = rng.standard_normal((J, k)) @ psd_cholesky(cov).T
    eta = fixed[INTERCEPT] + sum(fixed[v] * cols[v] for v in x_names + w_names) + b[g, 0]
    if slope:
        eta = eta + b[g, 1] * cols["x1"]
    y = eta + rng.normal(0, np.sqrt(sigma2), n)
    frame = pd.DataFrame({"y": y, **cols, "g": g + 1})
    if miss:
        trial = frame.copy()
        trial.loc[rng.random(n) < miss_share, "y"] = np.nan
        for v in x_names:
            trial.loc[rng.random(n) < miss_share, v] = np.nan
        for v in w_names:
            trial.loc[(rng.random(J) < miss_share)[g], v] = np.nan
        if feasible(trial, ["g"], ["y"] + x_names + w_names, k, p, between=1 + len(w_names), level1=tuple(x_names)):
            frame = trial
    rhs = " + ".join(x_names + w_names) or "1"
    re_lhs = "1 + x1" if slope else "1"
    formula = f"y ~ {rhs} + ({re_lhs} | g)"
    truth = TrueParameters(
        fixed=fixed,
        random={"g": (rcols, cov)},
        sigma2=sigma2,
        levels={**{v: 1 for v in x_names}, **{v: 2 for v in w_names}},
        group="g",
        structure="two-level",
        balanced=bool(np.all(sizes == sizes[0])),
        icc=rho,
        slopes=("x1",) if slope else (),
        info={"groups": J, "sizes": bal, "seed": seed, "missing": bool(frame.isna().any().any())},
    )
    return Drawn(frame, formula, truth)


def hlm_notation(drawn: Drawn, *, level2_at: int = 2) -> tuple[dict, dict]:
    """The two-level model of ``drawn`` in HLM level notation (``levels``, ``groups``).

    ``level2_at=2`` puts the level-2 predictors in the intercept's level-2
    equation (``b0 = g00 + g01*w1 + u0``); ``level2_at=1`` enters them in the
    level-1 equation as HLM would take a level-1 variable (``y = b0 + b2*w1 + r``,
    ``b2 = g20``). The fixed and random parts, and so the fit, are the same.
    """
    t = drawn.truth
    if t.structure != "two-level":
        raise ValueError("HLM notation is available for two-level data only")
    xs = [v for v, lev in t.levels.items() if lev == 1]
    ws = [v for v, lev in t.levels.items() if lev == 2]
    l1_vars = xs + (ws if level2_at == 1 else [])
    l1 = "y = b0 + " + "".join(f"b{i + 1}*{v} + " for i, v in enumerate(l1_vars)) + "r"
    b0 = "b0 = g00 + " + ("".join(f"g0{i + 1}*{w} + " for i, w in enumerate(ws)) if level2_at == 2 else "") + "u0"
    eqs = [b0]
    for i, v in enumerate(l1_vars):
        eqs.append(f"b{i + 1} = g{i + 1}0" + (f" + u{i + 1}" if v in t.slopes else ""))
    return {1: l1, 2: eqs}, {2: t.group}


def hierarchical(*, max_rows: int = 1500) -> st.SearchStrategy[Drawn]:
    """Any of :func:`two_level`, :func:`three_level` and :func:`crossed`."""
    return st.one_of(two_level(max_rows=max_rows), three_level(), crossed())
