"""`replicate new`: a case written from a printout and its data, run once, with what is left to do."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from replicate.case import load_case
from replicate.cli import main
from replicate.errors import CaseError
from replicate.references import parse_printouts
from replicate.scaffold import case_id_from, new_case
from replicate.scaffold_model import infer_model
from replicate.vocab import DfMethod, SeKind, Status

REPO = Path(__file__).resolve().parents[1]
LMERTEST = REPO / "reference_outputs" / "lmerTest" / "classroom-mathkind-ses-school.txt"
SAS = REPO / "tests" / "data" / "printouts" / "sas_glimmix_model3.txt"
HLM = REPO / "tests" / "data" / "printouts" / "hlm_model1_urban_level1.txt"
SHIPPED = REPO / "replicate" / "datasets"


def _doc(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "cases").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REPLICATE_DATA_PATH", raising=False)
    return tmp_path


def test_lmertest_printout_becomes_an_agreeing_case(here: Path) -> None:
    made = new_case(LMERTEST, "classroom.csv")
    assert made.written and made.path == Path("cases/classroom-mathkind-ses-school.yaml")
    load_case(made.path)  # valid
    case = _doc(made.path)
    assert case["model"] == {"formula": "mathkind ~ ses + (1 | schoolid)", "method": "REML"}
    digest = hashlib.sha256((SHIPPED / "classroom.csv").read_bytes()).hexdigest()
    assert case["data"] == {"file": "classroom.csv", "sha256": digest}
    block = case["expected"][0]
    assert block["options"]["df"] == "satterthwaite" and block["software"] == "lmerTest"
    assert made.result is not None and made.result.status == Status.OK
    n_values = sum(len(b.values) for b in made.result.blocks)
    assert n_values >= 20  # every printed number was compared
    assert any("version and call" in t for t in made.todo)  # provenance is the user's to fill in


def test_a_wrong_printed_number_shows_in_the_first_run(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = here / "typo.txt"
    bad.write_text(LMERTEST.read_text().replace("465.746", "465.946"))
    code = main(["new", "--printout", str(bad), "--data", "classroom.csv"])
    out = capsys.readouterr().out
    assert code == 1
    assert "run: discrepancy" in out and "465.946" in out and "wrote cases/typo.yaml" in out


def test_sas_printout_without_dependent_variable_writes_nothing_and_says_what_to_pass(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["new", "--printout", str(SAS), "--data", "imm23.csv", "--software", "sas"])
    err = capsys.readouterr().err
    assert code == 2 and not list((here / "cases").iterdir())
    assert "nothing written" in err and "--formula 'y ~ urban + (1 | schoolID)'" in err
    assert "'schoolID' is not a column of the data" in err


def test_sas_names_are_mapped_to_the_data_ignoring_case(here: Path) -> None:
    frame = pd.read_csv(SHIPPED / "imm23.csv").rename(columns={"schid": "schoolid"})
    frame.to_csv(here / "imm23b.csv", index=False)
    made = new_case(SAS, here / "imm23b.csv", formula="math ~ urban + (1 | schoolid)", run=False)
    load_case(made.path)
    names = _doc(made.path)["expected"][0]["names"]
    assert names["schoolID"] == "schoolid" and names["Intercept"] == "(Intercept)"
    assert _doc(made.path)["expected"][0]["options"] == {
        "df": "kenward-roger",
        "se": "kenward-roger",
        "information": "observed",
    }


def test_hlm_needs_the_level2_group_and_rebuilds_the_mixed_formula(here: Path) -> None:
    made = new_case(HLM, "imm23.csv", run=False)
    assert not made.written and any("--group" in t for t in made.todo)
    made = new_case(HLM, "imm23.csv", group="schid", run=False)
    assert not made.written
    assert any("'<outcome> ~ urban + (1 | schid)'" in t for t in made.todo)


def test_data_off_the_search_path_is_copied_beside_the_cases(here: Path) -> None:
    other = here / "elsewhere"
    other.mkdir()
    shutil.copy(SHIPPED / "classroom.csv", other / "myclass.csv")
    made = new_case(LMERTEST, other / "myclass.csv", case_id="copied", run=False)
    assert (here / "cases" / "data" / "myclass.csv").is_file()
    assert any("copied" in n for n in made.notes)
    load_case(made.path)
    assert _doc(made.path)["data"]["file"] == "myclass.csv"


def test_an_existing_case_is_not_overwritten_without_force(here: Path) -> None:
    new_case(LMERTEST, "classroom.csv", run=False)
    with pytest.raises(CaseError, match="exists"):
        new_case(LMERTEST, "classroom.csv", run=False)
    assert new_case(LMERTEST, "classroom.csv", run=False, force=True).written


def test_a_second_printout_in_the_file_is_chosen_by_part(here: Path) -> None:
    two = REPO / "reference_outputs" / "hlm" / "seed000-nels-urban.txt"
    made = new_case(two, "imm23.csv", group="schid", formula="math ~ urban + (1 | schid)", part=2, run=False)
    text = made.path.read_text()
    assert "URBAN_LE" in text and "lines 28-" in text
    with pytest.raises(CaseError, match="holds 2 printout"):
        new_case(two, "imm23.csv", group="schid", formula="math ~ 1 + (1 | schid)", part=3, run=False, force=True)


def test_sas_model_inference_from_effects_and_covariance_parameters() -> None:
    text = SAS.read_text().replace(
        "Solutions for Fixed Effects", "Model Information\nDependent Variable math\n\nSolutions for Fixed Effects"
    )
    parsed = parse_printouts(text, "sas")[0]
    got = infer_model(parsed, ["math", "urban", "schoolID"])
    assert got.formula == "math ~ urban + (1 | schoolID)"
    assert got.options["df"] == DfMethod.KENWARD_ROGER and got.options["se"] == SeKind.KENWARD_ROGER


def test_case_ids_from_file_names() -> None:
    assert case_id_from("Model 3 (SAS) output") == "model-3-sas-output"
    assert case_id_from("___") == "new-case"


def test_sas_class_effects_get_sas_coding_and_un_parameters_ask_for_the_formula() -> None:
    from tests.references.test_printouts_variations import SAS_LISTING

    parsed = parse_printouts(SAS_LISTING, "sas")[0]
    got = infer_model(parsed, ["mathgain", "ses", "sex", "schoolid"])
    assert got.contrasts == "sas"  # SAS's GLM coding: the last CLASS level is the reference
    assert any(t.startswith("sex is a CLASS effect") for t in got.todo)
    assert not any(t.startswith("ses is a CLASS effect") for t in got.todo)  # ses is a covariate
    assert got.formula is None  # TYPE=UN parameters are positional: the random effects are the user's to give
    assert any("TYPE=UN parameters by position" in t for t in got.todo)
