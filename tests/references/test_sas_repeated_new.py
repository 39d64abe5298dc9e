"""`replicate new` from a SAS REPEATED listing: the case it writes carries the repeated-measures sections, and
(SAS's Example 79.2, whose data are public) `replicate run` compares them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from replicate.build import frame_of
from replicate.case import load_case
from replicate.cli import main
from replicate.engines import get_engine
from replicate.errors import CaseError
from replicate.runner import run_case
from replicate.scaffold import new_case
from replicate.vocab import Verdict

PRINTOUTS = Path(__file__).resolve().parents[1] / "data" / "printouts"
CASES = Path(__file__).resolve().parents[2] / "cases"
GROWTH = PRINTOUTS / "sas_mixed_example_79_2_growth_un.lst"
AR1 = PRINTOUTS / "sas_mixed_mmrm_kr_ar1.lst"


@pytest.fixture
def growth_csv(tmp_path: Path) -> Path:
    """Potthoff and Roy's growth data as the example's DATA step names its columns (from nlme's Orthodont,
    through the shipped case's transform)."""
    frame = frame_of(load_case(CASES / "orthodont-growth-un-sas.yaml")).df
    path = tmp_path / "growth.csv"
    frame[["Person", "Gender", "Age", "y"]].to_csv(path, index=False)
    return path


def test_new_from_example_79_2_writes_a_case_whose_run_compares_every_section(growth_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "growth.yaml"
    # SAS's REPEATED statement here names no effect (data order): the user gives the visit column.
    made = new_case(GROWTH, growth_csv, software="sas", repeated="Age", out=out, run=False)
    assert made.written
    case = load_case(out)
    assert case.model["residual"] == {"type": "UN", "repeated": "Age", "subject": "Person"}
    values = case.expected[0]["values"]
    assert set(values) == {"fixed", "fit", "covparms", "type3"}
    assert len(values["covparms"]) == 10
    # What the to-do list asks of the user: to check the level order (model.contrasts: sas, written by `new`, makes
    # SAS's last level, M, the reference on the repeated-measures path too) and to map SAS's names.
    assert any("data.levels" in t for t in made.todo)
    assert case.model.get("contrasts") == "sas"
    text = out.read_text(encoding="utf-8")
    names = '{Intercept: (Intercept), Gender F: GenderF, "Age*Gender F": "GenderF:Age", Age*Gender: "Gender:Age"}'
    text = text.replace('    source: "printout', f'    names: {names}\n    source: "printout', 1)
    out.write_text(text, encoding="utf-8")
    result = run_case(out, get_engine("native"))
    compared = result.blocks[0].values
    assert {v.section for v in compared} == {"fixed", "fit", "covparms", "type3"}
    assert len(compared) == 55
    assert all(v.verdict in (Verdict.AGREES, Verdict.WITHIN) for v in compared)


def test_new_without_the_repeated_effect_writes_the_case_and_says_what_to_set(growth_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "growth.yaml"
    with pytest.raises(CaseError, match="repeated"):
        new_case(GROWTH, growth_csv, software="sas", out=out, run=False)
    assert out.is_file()


def test_the_cli_takes_the_repeated_effect(growth_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.yaml"
    args = ["new", "--printout", str(GROWTH), "--data", str(growth_csv), "--software", "sas"]
    code = main([*args, "--repeated", "Age", "--out", str(out), "--no-run"])
    assert code == 0
    assert load_case(out).model["residual"]["repeated"] == "Age"


def test_new_from_an_mmrm_sas_run_writes_a_valid_case_with_its_sections(tmp_path: Path) -> None:
    # fev_data is not here as text: a stand-in file with the listing's columns lets the case be written and
    # validated; it is never run (its rows are no data of the listing).
    data = tmp_path / "fev.csv"
    data.write_text("USUBJID,AVISIT,ARMCD,FEV1\nPT1,VIS2,TRT,0\nPT1,VIS4,TRT,0\n", encoding="utf-8")
    out = tmp_path / "fev.yaml"
    cwd = os.getcwd()
    made = new_case(AR1, data, software="sas", out=out, run=False)
    assert os.getcwd() == cwd and made.written
    case = load_case(out)
    # the repeated effect from the SAS code pasted with the listing (REPEATED AVISIT / ...)
    assert case.model["residual"] == {"type": "AR(1)", "repeated": "AVISIT", "subject": "USUBJID"}
    blk = case.expected[0]
    assert set(blk["values"]) == {"fixed", "fit", "covparms", "type3", "lsmeans", "diffs", "rmatrix", "rcorr"}
    assert blk["values"]["diffs"]["ARMCD"]["TRT - PBO"]["estimate"].text == "4.2257"
    assert blk["values"]["rcorr"]["1,2"].text == "0.1524"
    assert blk["values"]["fit"]["null_lrt_chisq"].text == "35.96"
    assert str(blk["options"]["df"]) in ("kenward-roger", "DfMethod.KENWARD_ROGER")


def test_a_block_pointing_at_the_listing_compares_what_the_typed_values_compare(tmp_path: Path) -> None:
    shipped = (CASES / "orthodont-growth-un-sas.yaml").read_text(encoding="utf-8")
    head, _typed = shipped.split("    values:\n", 1)
    case_file = tmp_path / "growth.yaml"
    case_file.write_text(head + "    printout: {file: growth.lst, software: sas}\n", encoding="utf-8")
    (tmp_path / "growth.lst").write_text(GROWTH.read_text(encoding="utf-8"), encoding="utf-8")
    from_printout = run_case(case_file, get_engine("native")).blocks[0].values
    from_typed = run_case(CASES / "orthodont-growth-un-sas.yaml", get_engine("native")).blocks[0].values
    assert len(from_printout) == len(from_typed) == 55
    assert sorted((v.section, v.name, v.quantity, v.verdict) for v in from_printout) == sorted(
        (v.section, v.name, v.quantity, v.verdict) for v in from_typed
    )
