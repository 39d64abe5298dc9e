"""Draw one replicate's data for a study, and build its Design directly.

Random numbers: replicate ``r`` of a study with seed ``s`` draws from
``SeedSequence(s, spawn_key=(0, r))``, a stream of its own, so its data do not
depend on which chunk, process or machine computes it. With
``design.hold_fixed`` the group sizes, predictors and missing-value pattern are
drawn once from ``SeedSequence(s, spawn_key=(1,))`` and only the random effects
and residuals are drawn per replicate.

Order of draws within a stream (part of the reproducibility contract): group
sizes; predictors in the order the study lists them (level 2: one value per
group; level 1: the group component, if any, then one value per row); the
missing-value masks in the order of ``design.missing`` (one uniform per row, or per group for a
level-2 variable, under MCAR and MAR alike); then the random
effects (one multivariate normal vector per group) and the residuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special

from ..design import Design, ReTerm, build_design
from ..spec import parse_formula
from .config import INTERCEPT, RESPONSE, Study
from .studytypes import Mechanism, Missingness


def replicate_rng(study: Study, r: int) -> np.random.Generator:
    """The random stream of replicate ``r``."""
    return np.random.default_rng(np.random.SeedSequence(study.seed, spawn_key=(0, int(r))))


def design_rng(study: Study) -> np.random.Generator:
    """The stream that draws a held-fixed design."""
    return np.random.default_rng(np.random.SeedSequence(study.seed, spawn_key=(1,)))


@dataclass(frozen=True)
class DrawnDesign:
    """Everything about a replicate's data except the response.

    Attributes:
        group: 0-based group code of each row.
        sizes: rows per group.
        columns: predictor name -> values per row.
        missing: variable name -> boolean mask of rows where it is missing.
    """

    group: np.ndarray
    sizes: np.ndarray
    columns: dict[str, np.ndarray]
    missing: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return int(self.group.shape[0])


def draw_sizes(study: Study, rng: np.random.Generator) -> np.ndarray:
    s = study.design.sizes
    J = study.design.groups
    if s.kind == "fixed":
        return np.asarray(s.sizes, dtype=np.int64)
    if s.kind == "poisson":
        return s.min + rng.poisson(s.mean - s.min, size=J).astype(np.int64)
    if s.kind == "gamma":
        if s.cv == 0:
            return np.full(J, max(s.min, round(s.mean)), dtype=np.int64)
        shape = 1.0 / s.cv**2
        drawn = rng.gamma(shape, s.mean / shape, size=J)
        return np.maximum(s.min, np.rint(drawn)).astype(np.int64)
    return rng.integers(s.min, s.max + 1, size=J).astype(np.int64)


def _values(p, size: int, rng: np.random.Generator) -> np.ndarray:
    if p.distribution == "normal":
        return rng.normal(p.mean, p.sd, size=size)
    if p.distribution == "binary":
        return (rng.random(size) < p.p).astype(float)
    return rng.uniform(p.low, p.high, size=size)


def draw_design(study: Study, rng: np.random.Generator) -> DrawnDesign:
    """Group sizes, predictors and missing-value masks of one replicate."""
    d = study.design
    J = d.groups
    # Sizes drawn until the design is large enough for the model (lme4 refuses
    # n <= number of random effects); the first draw almost always is.
    for _ in range(100):
        sizes = draw_sizes(study, rng)
        if sizes.sum() > J * len(study.random_columns) and sizes.sum() > len(study.coefficients):
            break
    group = np.repeat(np.arange(J), sizes)
    n = int(sizes.sum())
    cols: dict[str, np.ndarray] = {}
    for p in d.predictors:
        if p.level == 2:
            cols[p.name] = _values(p, J, rng)[group]
        else:
            between = rng.normal(0.0, p.between_sd, size=J)[group] if p.between_sd > 0 else 0.0
            cols[p.name] = _values(p, n, rng) + between
    missing: dict[str, np.ndarray] = {}
    for m in d.missing:
        by_group = m.variable != RESPONSE and d.predictor(m.variable).level == 2
        chance = missing_chance(m, cols, group, J, by_group)
        u = rng.random(J if by_group else n)
        missing[m.variable] = (u < chance)[group] if by_group else u < chance
    return DrawnDesign(group=group, sizes=sizes, columns=cols, missing=missing)


def missing_chance(
    m: Missingness, cols: dict[str, np.ndarray], group: np.ndarray, J: int, by_group: bool
) -> float | np.ndarray:
    """Each row's (or group's) chance of a missing value: ``m.share`` under MCAR; under MAR
    ``logistic(a + strength * z)`` with z the standardized ``depends_on`` (its group means for a group-level
    variable) and ``a`` solved so that the chances average ``m.share``."""
    if m.mechanism is Mechanism.MCAR or m.share == 0:
        return m.share
    x = cols[str(m.depends_on)]
    if by_group:
        x = np.bincount(group, weights=x, minlength=J) / np.maximum(np.bincount(group, minlength=J), 1)
    sd = float(np.std(x))
    z = (x - np.mean(x)) / sd if sd > 0 else np.zeros_like(x)
    slope = m.strength * z

    def gap(a: float) -> float:
        return float(np.mean(special.expit(a + slope))) - m.share

    a = optimize.brentq(gap, -60.0, 60.0, xtol=1e-12)
    return np.asarray(special.expit(a + slope))


def term_values(columns: dict[str, np.ndarray], term: str, n: int) -> np.ndarray:
    """Values of a coefficient's column: 1 for the intercept, products for interactions."""
    if term == INTERCEPT:
        return np.ones(n)
    out = np.ones(n)
    for v in term.split(":"):
        out = out * columns[v]
    return out


def draw_response(study: Study, drawn: DrawnDesign, rng: np.random.Generator) -> np.ndarray:
    """``y = X beta + Z b + e`` with b ~ N(0, T) per group and e ~ N(0, sigma^2)."""
    n, J = drawn.n, study.design.groups
    eta = np.zeros(n)
    for name, beta in study.truth.fixed:
        if beta != 0.0:
            eta += beta * term_values(drawn.columns, name, n)
    T = study.truth.cov_matrix
    k = T.shape[0]
    # A factor that also works for a singular T (zero variances): eigen-decomposition.
    w, V = np.linalg.eigh(T)
    F = V * np.sqrt(np.clip(w, 0.0, None))
    b = rng.standard_normal((J, k)) @ F.T
    zcols = [np.ones(n)] + [drawn.columns[s] for s in study.design.random_slopes]
    for j in range(k):
        eta += b[drawn.group, j] * zcols[j]
    return eta + rng.normal(0.0, np.sqrt(study.truth.sigma2), size=n)


def to_frame(study: Study, drawn: DrawnDesign, y: np.ndarray) -> pd.DataFrame:
    """The replicate as a data frame (missing values as NaN), groups labelled 1..J."""
    data = {RESPONSE: y.astype(float).copy(), study.design.group: drawn.group + 1}
    for name, vals in drawn.columns.items():
        data[name] = vals.astype(float).copy()
    for name, mask in drawn.missing.items():
        data[name][mask] = np.nan
    return pd.DataFrame(data)


class DesignFactory:
    """Designs of one study, built without the formula machinery where possible.

    ``build(drawn, y)`` returns the same :class:`Design` that
    ``build_design(parse_formula(study.formula), to_frame(...))`` builds (the
    test suite checks this), but from arrays, in microseconds instead of
    milliseconds. Replicates with missing values or a rank-deficient X take the
    general path.
    """

    def __init__(self, study: Study) -> None:
        self.study = study
        self.spec = parse_formula(study.formula, field="study formula")
        self.formula = self.spec.formula()
        self.names = study.fitted_coefficients
        self.labels = tuple(str(j + 1) for j in range(study.design.groups))

    def general(self, drawn: DrawnDesign, y: np.ndarray) -> Design:
        return build_design(self.spec, to_frame(self.study, drawn, y))

    def build(self, drawn: DrawnDesign, y: np.ndarray) -> Design:
        if any(m.any() for m in drawn.missing.values()) or np.any(drawn.sizes == 0):
            return self.general(drawn, y)
        n = drawn.n
        X = np.column_stack([term_values(drawn.columns, name, n) for name in self.names])
        if np.linalg.matrix_rank(X) < X.shape[1]:
            return self.general(drawn, y)
        cols = self.study.fitted_random_columns
        Xre = np.column_stack([term_values(drawn.columns, c, n) for c in cols])
        term = ReTerm(
            group=self.study.design.group, index=drawn.group.astype(np.int64), levels=self.labels, columns=cols, Xre=Xre
        )
        return Design(
            y=np.asarray(y, dtype=float),
            X=X,
            fixed_names=self.names,
            reterms=(term,),
            weights=None,
            rows=np.arange(n),
            n_dropped=0,
            dropped_fixed=(),
            formula=self.formula,
            response=RESPONSE,
            messages=(),
            fixed_terms=self.names,
            column_term=self.names,
            spec=self.spec,
        )
