"""Catalogue of reference models shared by the engine tests and the benchmark.

Each model names its data (loaded from R through rpy2, or from the shared data
folder), the lme4 formula, and a function that builds the same model's
:class:`~replicate.design.Design` by hand. The data frame handed to lme4 is
the very frame the Design is built from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from replicate.data import SHIPPED_DATA
from replicate.design import Design
from tests.engine.rbridge import make_design, r_to_pandas, re_term

SHARED_DATA = SHIPPED_DATA  # the public datasets shipped inside the package


@dataclass(frozen=True)
class Model:
    """One reference model.

    Attributes:
        name: short identifier.
        formula: lme4 formula (fitted on the frame as data).
        load: ``ro -> DataFrame`` (the frame used by both programs).
        build: ``DataFrame -> Design``.
        methods: which of REML / ML to fit.
        weights: name of the weights column passed to lmer, if any.
    """

    name: str
    formula: str
    load: Callable[[object], pd.DataFrame]
    build: Callable[[pd.DataFrame], Design]
    methods: tuple[str, ...] = ("REML", "ML")
    weights: str | None = None


def _sleep(ro) -> pd.DataFrame:
    df = r_to_pandas(ro, "lme4::sleepstudy")
    df["w"] = 1.0 + (df["Days"].to_numpy() % 3) / 2.0
    return df


def _sleep_extra(ro) -> pd.DataFrame:
    df = _sleep(ro)
    df["D2"] = df["Days"] ** 2 / 10.0
    df["g3"] = (df["Days"].astype(int) % 3).astype(str)
    return df


def _hsb(ro) -> pd.DataFrame:
    stud = r_to_pandas(ro, "as.data.frame(nlme::MathAchieve)")
    sch = r_to_pandas(ro, "as.data.frame(nlme::MathAchSchool)")
    stud["School"] = stud["School"].astype(str)
    sch["School"] = sch["School"].astype(str)
    df = stud.merge(sch[["School", "Sector"]], on="School", how="left")
    df["SectorCatholic"] = (df["Sector"].astype(str) == "Catholic").astype(float)
    df["cses"] = df["SES"] - df["MEANSES"]
    return df[["School", "MathAch", "SES", "MEANSES", "SectorCatholic", "cses"]].reset_index(drop=True)


def _classroom(ro) -> pd.DataFrame:
    path = SHARED_DATA / "classroom.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the package's datasets")
    df = pd.read_csv(path)
    df = df.dropna(subset=["mathknow"]).reset_index(drop=True)
    df["schoolid"] = df["schoolid"].astype(str)
    df["classid"] = df["classid"].astype(str)
    return df


def _r(expr: str) -> Callable[[object], pd.DataFrame]:
    return lambda ro: r_to_pandas(ro, expr)


MODELS: dict[str, Model] = {
    m.name: m
    for m in [
        Model(
            "sleepstudy",
            "Reaction ~ Days + (Days | Subject)",
            _sleep,
            lambda d: make_design(d, "Reaction", ["Days"], [re_term(d, "Subject", ["(Intercept)", "Days"])]),
        ),
        Model(
            "sleepstudy_uncorr",
            "Reaction ~ Days + (Days || Subject)",
            _sleep,
            lambda d: make_design(
                d,
                "Reaction",
                ["Days"],
                [re_term(d, "Subject", ["(Intercept)"]), re_term(d, "Subject", ["Days"])],
            ),
        ),
        Model(
            "sleepstudy_weighted",
            "Reaction ~ Days + (Days | Subject)",
            _sleep,
            lambda d: make_design(
                d, "Reaction", ["Days"], [re_term(d, "Subject", ["(Intercept)", "Days"])], weights="w"
            ),
            weights="w",
        ),
        Model(
            "sleepstudy_quadratic",
            "Reaction ~ Days + (Days + D2 | Subject)",
            _sleep_extra,
            lambda d: make_design(d, "Reaction", ["Days"], [re_term(d, "Subject", ["(Intercept)", "Days", "D2"])]),
            methods=("REML",),
        ),
        Model(
            "sleepstudy_vector_tail",
            "Reaction ~ Days + (1 | Subject) + (Days | g3)",
            _sleep_extra,
            lambda d: make_design(
                d,
                "Reaction",
                ["Days"],
                [re_term(d, "Subject", ["(Intercept)"]), re_term(d, "g3", ["(Intercept)", "Days"])],
            ),
            methods=("ML",),
        ),
        Model(
            "sleepstudy_vector_lead",
            "Reaction ~ Days + (Days | Subject) + (1 | g3)",
            _sleep_extra,
            lambda d: make_design(
                d,
                "Reaction",
                ["Days"],
                [re_term(d, "Subject", ["(Intercept)", "Days"]), re_term(d, "g3", ["(Intercept)"])],
            ),
            methods=("REML",),
        ),
        Model(
            "penicillin",
            "diameter ~ 1 + (1 | plate) + (1 | sample)",
            _r("lme4::Penicillin"),
            lambda d: make_design(
                d, "diameter", [], [re_term(d, "plate", ["(Intercept)"]), re_term(d, "sample", ["(Intercept)"])]
            ),
        ),
        Model(
            "pastes",
            "strength ~ 1 + (1 | batch/cask)",
            _r("lme4::Pastes"),
            lambda d: make_design(
                d,
                "strength",
                [],
                [re_term(d, ["cask", "batch"], ["(Intercept)"]), re_term(d, "batch", ["(Intercept)"])],
            ),
        ),
        Model(
            "dyestuff",
            "Yield ~ 1 + (1 | Batch)",
            _r("lme4::Dyestuff"),
            lambda d: make_design(d, "Yield", [], [re_term(d, "Batch", ["(Intercept)"])]),
        ),
        Model(
            "dyestuff2",
            "Yield ~ 1 + (1 | Batch)",
            _r("lme4::Dyestuff2"),
            lambda d: make_design(d, "Yield", [], [re_term(d, "Batch", ["(Intercept)"])]),
        ),
        Model(
            "hsb_ses",
            "MathAch ~ SES + (SES | School)",
            _hsb,
            lambda d: make_design(d, "MathAch", ["SES"], [re_term(d, "School", ["(Intercept)", "SES"])]),
        ),
        Model(
            "hsb_sector",
            "MathAch ~ MEANSES + SectorCatholic + cses + (cses | School)",
            _hsb,
            lambda d: make_design(
                d,
                "MathAch",
                ["MEANSES", "SectorCatholic", "cses"],
                [re_term(d, "School", ["(Intercept)", "cses"])],
            ),
        ),
        Model(
            "classroom",
            "mathgain ~ ses + mathknow + (1 | schoolid/classid)",
            _classroom,
            lambda d: make_design(
                d,
                "mathgain",
                ["ses", "mathknow"],
                [re_term(d, ["classid", "schoolid"], ["(Intercept)"]), re_term(d, "schoolid", ["(Intercept)"])],
            ),
        ),
    ]
}


def instEval_model() -> Model:
    """InstEval ``y ~ 1 + service + (1|s) + (1|d) + (1|dept)`` by ML (benchmark only)."""

    def load(ro) -> pd.DataFrame:
        df = r_to_pandas(ro, "lme4::InstEval")
        df["service1"] = (df["service"].astype(str) == "1").astype(float)
        df["y"] = df["y"].astype(float)
        return df[["s", "d", "dept", "service", "service1", "y"]]

    return Model(
        "insteval",
        "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)",
        load,
        lambda d: make_design(
            d,
            "y",
            ["service1"],
            [re_term(d, "s", ["(Intercept)"]), re_term(d, "d", ["(Intercept)"]), re_term(d, "dept", ["(Intercept)"])],
        ),
        methods=("ML",),
    )


__all__ = ["MODELS", "Model", "instEval_model"]
