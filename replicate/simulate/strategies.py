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


def _icc(draw, icc) -> float:
    if icc is None:
        return draw(st.one_of(st.just(0.0), st.floats(0.0, 0.5, allow_nan=False), st.just(0.5)))
    if isinstance(icc, tuple):
        return draw(st.floats(float(icc[0]), float(icc[1]), allow_nan=False))
    return float(icc)


def _sizes(rng: np.random.Generator, J: int, balance: str, max_size: int, smallest: int = 2) -> np.ndarray:
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


def _ensure_rows(sizes: np.ndarray, need: int, cap: int) -> np.ndarray:
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


def _coef(draw, zero_share: bool = True) -> float:
    if zero_share:
        return draw(st.one_of(st.just(0.0), st.floats(-1.0, 1.0, allow_nan=False)))
    return draw(st.floats(-2.0, 2.0, allow_nan=False))


def _binary(rng: np.random.Generator, n: int, within: np.ndarray | None = None) -> np.ndarray:
    """0/1 values with both values present; with ``within`` (two row positions in one group),
    different values there, so that a level-1 binary predictor varies within a group."""
    v = (rng.random(n) < rng.uniform(0.2, 0.8)).astype(float)
    first = within if within is not None else np.arange(min(n, 2))
    if len(first) == 2:
        v[first[0]], v[first[1]] = 0.0, 1.0
    return v


def _feasible(
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
    rho = _icc(draw, icc)
    seed = draw(st.integers(0, 2**32 - 1))
    fixed = {INTERCEPT: _coef(draw, zero_share=False)}
    x_names = ["x1", "x2"][:n1]
    w_names = ["w1", "w2"][:n2]
    for v in x_names + w_names:
        fixed[v] = _coef(draw)
    if slope:
        slope_var = draw(st.one_of(st.just(0.0), st.floats(0.01, 0.3, allow_nan=False)))
        corr = draw(st.floats(-0.6, 0.6, allow_nan=False))
    miss_share = draw(st.floats(0.02, 0.15, allow_nan=False)) if miss else 0.0

    rng = np.random.default_rng(seed)
    max_size = max(2, min(40, max_rows // J))
    k = 2 if slope else 1
    p = len(fixed)
    sizes = _sizes(rng, J, bal, max_size, smallest=k + 1)
    sizes = _ensure_rows(sizes, J * k + p + 2, max(max_size, 2 * k + 2))
    n = int(sizes.sum())
    g = np.repeat(np.arange(J), sizes)
    cols: dict[str, np.ndarray] = {}
    big = int(np.argmax(sizes))  # a group with two rows or more
    start = int(sizes[:big].sum())
    for v in x_names:
        if v == "x1":
            cols[v] = rng.normal(0, 1, n) + rng.normal(0, rng.uniform(0, 1), J)[g]
        else:
            cols[v] = _binary(rng, n, within=np.array([start, start + 1]))
    for v in w_names:
        cols[v] = (rng.normal(0, 1, J) if v == "w1" else _binary(rng, J))[g]
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
        if _feasible(trial, ["g"], ["y"] + x_names + w_names, k, p, between=1 + len(w_names), level1=tuple(x_names)):
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


# ----------------------------------------------------------- three levels


@st.composite
def three_level(
    draw,
    *,
    min_schools: int = 3,
    max_schools: int = 40,
    max_classes: int = 5,
    max_pupils: int = 8,
    icc: Any = None,
    missing: bool | None = None,
) -> Drawn:
    """Pupils in classes in schools: ``y ~ x + c + w + (1 | school/class)``.

    Class labels restart at 1 in every school (so only ``school/class`` -- the
    interaction ``class:school`` -- identifies a class). Schools may have one
    class and classes one pupil.
    """
    J = draw(st.integers(min_schools, max_schools))
    rho = _icc(draw, icc)
    share = draw(st.floats(0.0, 1.0, allow_nan=False))  # part of the ICC that is between schools
    balanced = draw(st.booleans())
    miss = draw(st.booleans()) if missing is None else missing
    seed = draw(st.integers(0, 2**32 - 1))
    fixed = {INTERCEPT: _coef(draw, zero_share=False), "x": _coef(draw), "c": _coef(draw), "w": _coef(draw)}
    rng = np.random.default_rng(seed)
    if balanced:
        m = np.full(J, int(rng.integers(2, max_classes + 1)))
    else:
        m = rng.integers(1, max_classes + 1, size=J)
    C = int(m.sum())
    if balanced:
        sizes = np.full(C, int(rng.integers(2, max_pupils + 1)))
    else:
        sizes = rng.integers(1, max_pupils + 1, size=C)
        sizes[0] = max(sizes[0], 2)
    sizes = _ensure_rows(sizes, C + J + 6, max(max_pupils, 4))
    school_of_class = np.repeat(np.arange(J), m)
    class_label = np.concatenate([np.arange(1, mj + 1) for mj in m])
    cls = np.repeat(np.arange(C), sizes)
    school = school_of_class[cls]
    n = int(sizes.sum())
    tau_s, tau_c, sigma2 = rho * share, rho * (1 - share), 1.0 - rho
    x = rng.normal(0, 1, n)
    c = rng.normal(0, 1, C)[cls]
    w = rng.normal(0, 1, J)[school]
    y = (
        fixed[INTERCEPT]
        + fixed["x"] * x
        + fixed["c"] * c
        + fixed["w"] * w
        + rng.normal(0, np.sqrt(tau_s), J)[school]
        + rng.normal(0, np.sqrt(tau_c), C)[cls]
        + rng.normal(0, np.sqrt(sigma2), n)
    )
    frame = pd.DataFrame({"y": y, "x": x, "c": c, "w": w, "school": school + 1, "class": class_label[cls]})
    if miss:
        trial = frame.copy()
        trial.loc[rng.random(n) < 0.08, "y"] = np.nan
        trial.loc[rng.random(n) < 0.08, "x"] = np.nan
        trial["cs"] = trial["class"].astype(str) + ":" + trial["school"].astype(str)
        if _feasible(trial, ["school", "cs"], ["y", "x", "c", "w"], 1, len(fixed), between=2):
            frame = trial.drop(columns="cs")
    truth = TrueParameters(
        fixed=fixed,
        random={"class:school": ((INTERCEPT,), np.array([[tau_c]])), "school": ((INTERCEPT,), np.array([[tau_s]]))},
        sigma2=sigma2,
        levels={"x": 1, "c": 1, "w": 2},
        group="school",
        structure="three-level",
        balanced=bool(np.all(m == m[0]) and np.all(sizes == sizes[0])),
        icc=rho,
        info={"schools": J, "classes": C, "seed": seed},
    )
    return Drawn(frame, "y ~ x + c + w + (1 | school/class)", truth)


# ---------------------------------------------------------------- crossed


@st.composite
def crossed(
    draw,
    *,
    min_levels: int = 3,
    max_subjects: int = 60,
    max_items: int = 30,
    icc: Any = None,
    missing: bool | None = None,
) -> Drawn:
    """Subjects crossed with items, incompletely: ``y ~ x + (1 | subject) + (1 | item)``."""
    S = draw(st.integers(min_levels, max_subjects))
    I_ = draw(st.integers(min_levels, max_items))
    while S * I_ < S + I_ + 4:  # room for residual df even when fully crossed
        I_ += 1
    rho = _icc(draw, icc)
    share = draw(st.floats(0.0, 1.0, allow_nan=False))
    p_obs = draw(st.floats(0.3, 1.0, allow_nan=False))
    miss = draw(st.booleans()) if missing is None else missing
    seed = draw(st.integers(0, 2**32 - 1))
    fixed = {INTERCEPT: _coef(draw, zero_share=False), "x": _coef(draw)}
    rng = np.random.default_rng(seed)
    obs = rng.random((S, I_)) < p_obs
    obs[np.arange(S), rng.integers(0, I_, S)] = True  # every subject answers an item
    obs[rng.integers(0, S, I_), np.arange(I_)] = True  # every item is answered
    obs[0, :2] = True  # a subject with two rows, an item with two rows
    obs[:2, 0] = True
    # residual df: more answers than subjects + items + fixed effects
    while obs.sum() < S + I_ + 4 and not obs.all():
        free = np.argwhere(~obs)
        obs[tuple(free[rng.integers(len(free))])] = True
    si, ii = np.nonzero(obs)
    n = len(si)
    tau_s, tau_i, sigma2 = rho * share, rho * (1 - share), 1.0 - rho
    x = rng.normal(0, 1, n)
    y = (
        fixed[INTERCEPT]
        + fixed["x"] * x
        + rng.normal(0, np.sqrt(tau_s), S)[si]
        + rng.normal(0, np.sqrt(tau_i), I_)[ii]
        + rng.normal(0, np.sqrt(sigma2), n)
    )
    frame = pd.DataFrame(
        {"y": y, "x": x, "subject": [f"s{v + 1:03d}" for v in si], "item": [f"i{v + 1:03d}" for v in ii]}
    )
    if miss:
        trial = frame.copy()
        trial.loc[rng.random(n) < 0.08, "y"] = np.nan
        if _feasible(trial, ["subject", "item"], ["y", "x"], 1, len(fixed)):
            frame = trial
    truth = TrueParameters(
        fixed=fixed,
        random={"subject": ((INTERCEPT,), np.array([[tau_s]])), "item": ((INTERCEPT,), np.array([[tau_i]]))},
        sigma2=sigma2,
        levels={"x": 1},
        group="subject",
        structure="crossed",
        balanced=bool(obs.all()),
        icc=rho,
        info={"subjects": S, "items": I_, "seed": seed},
    )
    return Drawn(frame, "y ~ x + (1 | subject) + (1 | item)", truth)


def hierarchical(*, max_rows: int = 1500) -> st.SearchStrategy[Drawn]:
    """Any of :func:`two_level`, :func:`three_level` and :func:`crossed`."""
    return st.one_of(two_level(max_rows=max_rows), three_level(), crossed())
