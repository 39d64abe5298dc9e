"""The parts of a validated study: design, truth, methods and the :class:`Study` that holds them.

These are plain frozen dataclasses; :mod:`replicate.simulate.config` builds them from a study file
(and says what a study file holds). Nothing here reads files or checks input.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np

from ..errors import ReplicateError
from ..vocab import DfMethod, SeKind

DF_CHOICES = tuple(m.value for m in DfMethod)  # every df method the inference layer computes
SE_CHOICES = tuple(k.value for k in SeKind)
ESTIMATION_CHOICES = ("REML", "ML")
DISTRIBUTIONS = ("normal", "binary", "uniform")
SIZE_DISTRIBUTIONS = ("poisson", "uniform", "gamma")
INTERCEPT = "(Intercept)"
RESPONSE = "y"
DEFAULT_CHUNK = 25
#: How saved records hold an infinite df (the z test of df ``none``): JSON has no infinity.
INFINITE_DF = 1e300


class StudyError(ReplicateError):
    """A study file is malformed or inconsistent."""


# ------------------------------------------------------------------ model


@dataclass(frozen=True)
class Predictor:
    """A simulated predictor.

    Attributes:
        name: column name.
        level: 1 (varies within groups) or 2 (one value per group).
        distribution: ``normal`` (mean, sd), ``binary`` (p) or ``uniform`` (low, high).
        between_sd: level 1 only: SD of a group-level component added to every
            row of the group (a level-1 predictor with a between-group part).
    """

    name: str
    level: int
    distribution: str = "normal"
    mean: float = 0.0
    sd: float = 1.0
    p: float = 0.5
    low: float = 0.0
    high: float = 1.0
    between_sd: float = 0.0


@dataclass(frozen=True)
class GroupSizes:
    """How many rows each group has: ``fixed`` sizes, or drawn per group.

    ``poisson``: ``min + Poisson(mean - min)``; ``uniform``: integers ``min..max``; ``gamma``: a gamma draw
    with the given mean and coefficient of variation ``cv`` (the imbalance), rounded and at least ``min``
    (``cv: 0`` gives every group ``round(mean)`` rows).
    """

    kind: str  # fixed | poisson | uniform | gamma
    sizes: tuple[int, ...] = ()
    mean: float = 0.0
    min: int = 1
    max: int = 0
    cv: float = 0.0

    def describe(self) -> str:
        if self.kind == "fixed":
            s = set(self.sizes)
            return f"{self.sizes[0]} per group" if len(s) == 1 else f"sizes {list(self.sizes)}"
        if self.kind == "poisson":
            return f"{self.min} + Poisson({self.mean - self.min:g}) per group"
        if self.kind == "gamma":
            return f"gamma sizes per group, mean {self.mean:g}, CV {self.cv:g}, at least {self.min}"
        return f"uniform {self.min}..{self.max} per group"


class Mechanism(str, Enum):
    """Why a value is missing (Rubin's terms)."""

    MCAR = "mcar"  # completely at random: the same chance for every row
    MAR = "mar"  # at random given an observed predictor: the chance rises with it


@dataclass(frozen=True)
class Missingness:
    """Missing values of one variable.

    Attributes:
        variable: ``y`` or a predictor.
        share: expected share of rows (of groups, for a level-2 predictor) without a value.
        mechanism: MCAR, or MAR on ``depends_on``: the chance of row i is
            ``logistic(a + strength * z_i)``, z the replicate's standardized ``depends_on`` (its group mean
            for a level-2 variable), with ``a`` solved so that the chances average ``share``.
    """

    variable: str
    share: float
    mechanism: Mechanism = Mechanism.MCAR
    depends_on: str | None = None
    strength: float = 0.0


@dataclass(frozen=True)
class Analysis:
    """The fitted model where it is not the generating one (model misspecification).

    Attributes:
        fixed: the fixed terms fitted besides the intercept (None: those of ``truth.fixed``).
        random_slopes: the random slopes fitted (None: those of ``design.random_slopes``).
    """

    fixed: tuple[str, ...] | None = None
    random_slopes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DesignSpec:
    groups: int
    sizes: GroupSizes
    predictors: tuple[Predictor, ...]
    random_slopes: tuple[str, ...] = ()
    group: str = "group"
    hold_fixed: bool = False
    missing: tuple[Missingness, ...] = ()

    def predictor(self, name: str) -> Predictor:
        for p in self.predictors:
            if p.name == name:
                return p
        raise KeyError(name)


@dataclass(frozen=True)
class Truth:
    """True parameters.

    Attributes:
        fixed: coefficient name -> value, ``(Intercept)`` first, as R names them.
        cov: covariance matrix of the random effects, order ``(Intercept)`` then slopes.
        sigma2: residual variance.
    """

    fixed: tuple[tuple[str, float], ...]
    cov: tuple[tuple[float, ...], ...]
    sigma2: float

    @property
    def fixed_dict(self) -> dict[str, float]:
        return dict(self.fixed)

    @property
    def cov_matrix(self) -> np.ndarray:
        return np.array(self.cov, dtype=float)

    @property
    def icc(self) -> float:
        t00 = self.cov[0][0]
        return t00 / (t00 + self.sigma2)


@dataclass(frozen=True)
class Methods:
    estimation: tuple[str, ...] = ("REML",)
    df: tuple[str, ...] = ("residual", "satterthwaite", "kenward-roger")
    se: tuple[str, ...] = ("model",)


@dataclass(frozen=True)
class Study:
    """A validated study.

    Attributes:
        raw: the document as given (plain data), kept for the report.
        path: the file it came from, if any.
    """

    id: str
    title: str
    description: str
    seed: int
    replicates: int
    chunk_size: int
    alpha: float
    design: DesignSpec
    truth: Truth
    methods: Methods
    analysis: Analysis = Analysis()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    path: str | None = field(default=None, compare=False)

    # ----- derived
    @property
    def random_columns(self) -> tuple[str, ...]:
        return (INTERCEPT,) + self.design.random_slopes

    @property
    def coefficients(self) -> tuple[str, ...]:
        """The true model's fixed-effect names in the order of the model matrix (R's: by degree); results
        are aligned with them (a coefficient the fitted model leaves out has no estimate)."""
        return _model_order(n for n, _ in self.truth.fixed)

    @property
    def fitted_coefficients(self) -> tuple[str, ...]:
        """The fitted model's fixed-effect names, in the order of its model matrix."""
        fixed = self.analysis.fixed
        return self.coefficients if fixed is None else _model_order(fixed)

    @property
    def fitted_slopes(self) -> tuple[str, ...]:
        slopes = self.analysis.random_slopes
        return self.design.random_slopes if slopes is None else slopes

    @property
    def fitted_random_columns(self) -> tuple[str, ...]:
        return (INTERCEPT,) + self.fitted_slopes

    @property
    def misspecified(self) -> bool:
        """Whether the fitted model differs from the generating one."""
        return (
            set(self.fitted_coefficients) != set(self.coefficients) or self.fitted_slopes != self.design.random_slopes
        )

    @property
    def formula(self) -> str:
        """The fitted model (the generating one unless ``analysis`` says otherwise)."""
        return _formula(self.fitted_coefficients, self.fitted_slopes, self.design.group)

    @property
    def true_formula(self) -> str:
        """The model that generates the data."""
        return _formula(self.coefficients, self.design.random_slopes, self.design.group)

    @property
    def variance_components(self) -> tuple[tuple[str, float], ...]:
        """Names and true values: variances, covariances (lme4's VarCorr order), residual."""
        cols = self.random_columns
        g = self.design.group
        T = self.truth.cov_matrix
        out = [(f"var({c}|{g})", float(T[i, i])) for i, c in enumerate(cols)]
        for j in range(len(cols)):
            for i in range(j + 1, len(cols)):
                out.append((f"cov({cols[j]},{cols[i]}|{g})", float(T[i, j])))
        out.append(("var(Residual)", float(self.truth.sigma2)))
        return tuple(out)

    def with_replicates(self, replicates: int) -> Study:
        """The same study with another number of replicates: the same fingerprint, so saved chunks stay valid.

        Raises:
            StudyError: fewer than one replicate.
        """
        if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
            raise StudyError(f"the number of replicates must be a positive integer, not {replicates!r}")
        return replace(self, replicates=replicates)

    def fingerprint(self) -> str:
        """Hash of everything that decides a replicate's numbers (not their count).

        Chunks saved under a different fingerprint belong to another study and are
        never mixed into this one's results.
        """
        body = {
            "seed": self.seed,
            "chunk_size": self.chunk_size,
            "design": asdict(self.design),
            "truth": asdict(self.truth),
            "methods": asdict(self.methods),
            "analysis": asdict(self.analysis),
            "format": 1,
        }
        text = json.dumps(body, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """A plain-data form that :func:`load_study` accepts again (and workers receive)."""
        d = self.design
        preds = {}
        for p in d.predictors:
            entry: dict[str, Any] = {"level": p.level, "distribution": p.distribution}
            if p.distribution == "normal":
                entry.update(mean=p.mean, sd=p.sd)
            elif p.distribution == "binary":
                entry.update(p=p.p)
            else:
                entry.update(low=p.low, high=p.high)
            if p.level == 1 and p.between_sd:
                entry["between_sd"] = p.between_sd
            preds[p.name] = entry
        if d.sizes.kind == "fixed":
            sizes: Any = list(d.sizes.sizes)
        elif d.sizes.kind == "poisson":
            sizes = {"distribution": "poisson", "mean": d.sizes.mean, "min": d.sizes.min}
        elif d.sizes.kind == "gamma":
            sizes = {"distribution": "gamma", "mean": d.sizes.mean, "cv": d.sizes.cv, "min": d.sizes.min}
        else:
            sizes = {"distribution": "uniform", "min": d.sizes.min, "max": d.sizes.max}
        cols = self.random_columns
        T = self.truth.cov_matrix
        truth: dict[str, Any] = {
            "fixed": dict(self.truth.fixed),
            "intercept_variance": float(T[0, 0]),
            "residual_variance": float(self.truth.sigma2),
        }
        if len(cols) > 1:
            truth["slope_variances"] = {c: float(T[i, i]) for i, c in enumerate(cols) if i > 0}
            corr = {}
            for j in range(len(cols)):
                for i in range(j + 1, len(cols)):
                    den = math.sqrt(T[i, i] * T[j, j])
                    if T[i, j] != 0 and den > 0:
                        corr[f"{cols[j]},{cols[i]}"] = float(T[i, j] / den)
            if corr:
                truth["correlations"] = corr
        design: dict[str, Any] = {
            "groups": d.groups,
            "group_size": sizes,
            "group": d.group,
            "predictors": preds,
            "random_slopes": list(d.random_slopes),
            "hold_fixed": d.hold_fixed,
        }
        if d.missing:
            design["missing"] = {m.variable: _missing_dict(m) for m in d.missing}
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "seed": self.seed,
            "replicates": self.replicates,
            "chunk_size": self.chunk_size,
            "alpha": self.alpha,
            "design": design,
            "truth": truth,
            "methods": {
                "estimation": list(self.methods.estimation),
                "df": list(self.methods.df),
                "se": list(self.methods.se),
            },
        }
        analysis = {k: list(v) for k, v in asdict(self.analysis).items() if v is not None}
        if analysis:
            out["analysis"] = analysis
        return out


def _missing_dict(m: Missingness) -> Any:
    if m.mechanism is Mechanism.MCAR:
        return m.share
    return {"share": m.share, "mechanism": m.mechanism.value, "depends_on": m.depends_on, "strength": m.strength}


def _model_order(names: Any) -> tuple[str, ...]:
    rest = [n for n in names if n != INTERCEPT]
    return (INTERCEPT,) + tuple(sorted(rest, key=lambda n: len(n.split(":"))))


def _formula(coefficients: tuple[str, ...], slopes: tuple[str, ...], group: str) -> str:
    rhs = " + ".join(["1"] + [_quote_term(n) for n in coefficients if n != INTERCEPT])
    re = " + ".join(["1"] + [_quote_term(s) for s in slopes])
    return f"{RESPONSE} ~ {rhs} + ({re} | {_quote(group)})"


def _quote(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*", name) else f"`{name}`"


def _quote_term(term: str) -> str:
    return ":".join(_quote(v) for v in term.split(":"))
