"""The R helper code lives in helpers.R beside the R engines and agrees with the Python side."""

from __future__ import annotations

import re

from replicate.engines.r.frames import TIGHT_TOLERANCES
from replicate.engines.r.session import HELPERS_R


def test_helpers_r_ships_with_the_package_and_spells_the_tight_tolerances() -> None:
    text = HELPERS_R.read_text(encoding="utf-8")
    found = {k: float(v) for k, v in re.findall(r"\b([fx]tol_(?:abs|rel)) = ([0-9.e-]+)", text)}
    assert found == TIGHT_TOLERANCES


def test_helpers_r_is_one_local_environment() -> None:
    code = "\n".join(ln for ln in HELPERS_R.read_text(encoding="utf-8").splitlines() if not ln.startswith("#"))
    assert code.lstrip().startswith("local({") and code.rstrip().endswith("})")
