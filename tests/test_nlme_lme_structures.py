"""nlme ``summary(lme)`` with ``correlation =`` or ``weights =`` (issue #16): read, written as a case with its
residual structure beside the random effects, and reproduced; a structure the case format cannot state is said,
never dropped in silence.

The printouts are R 4.2.2's with nlme 3.1-162: ``lme(distance ~ Sex * age, random = ~ 1 | Subject, correlation =
corAR1(form = ~ 1 | Subject), data = Orthodont)`` and the same with ``weights = varIdent(form = ~ 1 | Sex)`` instead.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from replicate.case import load_case
from replicate.data import load_r_dataset
from replicate.engines import get_engine
from replicate.outcome import INVALID, OK
from replicate.references import parse_printouts
from replicate.runner import run_case
from replicate.scaffold import new_case
from tests.rsupport import ROOT

AR1 = ROOT / "tests" / "data" / "printouts" / "nlme_lme_orthodont_ar1_reml.Rout"
VARIDENT = ROOT / "tests" / "data" / "printouts" / "nlme_lme_orthodont_varident_reml.Rout"


def _orthodont(tmp_path: Path) -> Path:
    d, _, _ = load_r_dataset("nlme", "Orthodont")
    out = tmp_path / "orthodont.csv"
    d.to_csv(out, index=False)
    return out


def test_an_lme_summary_with_a_correlation_structure_is_read():
    (part,) = parse_printouts(AR1.read_text(encoding="utf-8"), "nlme")
    assert part.model_info["residual"] == {"type": "AR(1)", "subject": "Subject"}  # ~ 1 | Subject: row order
    assert float(part.values["covparms"]["Phi"]["estimate"].value) == -0.03753313
    assert float(part.values["random"]["Subject"]["(Intercept)"]["sd"].value) == 1.826331
    assert float(part.values["random"]["Residual"]["sd"].value) == 1.3731
    assert not part.unparsed


def test_the_case_written_from_it_fits_the_structure_beside_the_random_intercept_and_agrees(tmp_path):
    out = tmp_path / "lme.yaml"
    new_case(AR1, _orthodont(tmp_path), software="nlme", repeated="age", out=out, run=False)
    case = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert case["model"]["formula"] == "distance ~ Sex * age + (1 | Subject)"
    assert case["model"]["residual"] == {"type": "AR(1)", "repeated": "age", "subject": "Subject"}
    assert case["expected"][0]["names"] == {"Phi": "AR(1)"}
    case["transform"] = {"Sex": 'factor(Sex, levels=["Male", "Female"])'}  # R's level order (a CSV sorts them)
    out.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(out), get_engine("native"))
    values = res.blocks[0].values
    assert res.status == OK and len(values) == 28, [b.error for b in res.blocks]
    assert all(v.verdict in ("agrees", "within tolerance") for v in values)
    random = {(v.name, v.quantity): v for v in values if v.section == "random"}
    assert set(random) == {("Subject (Intercept)", "sd"), ("Residual", "sd")}
    assert all(v.lre >= 5 for v in random.values())  # every printed digit
    # a misspelled group is the block's invalid-case error, not a value left out
    case["expected"][0]["values"]["random"]["Subjekt"] = case["expected"][0]["values"]["random"].pop("Subject")
    out.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")
    res = run_case(load_case(out), get_engine("native"))
    assert res.status == INVALID and "Subjekt" in (res.blocks[0].error or ""), res.blocks[0].error


def test_a_structure_the_case_format_cannot_state_is_said(tmp_path):
    made = new_case(VARIDENT, _orthodont(tmp_path), software="nlme", out=tmp_path / "v.yaml", run=False)
    assert any("nlme_variance" in t and "model.residual" in t for t in made.todo), made.todo
