"""SAS PROC MIXED listings of REPEATED models: the residual structure from Model Information, and convergence."""

from __future__ import annotations

from pathlib import Path

import pytest

from replicate.references import parse_printout
from replicate.references.sas_repeated import STRUCTURES
from replicate.scaffold_model import infer_model

PRINTOUTS = Path(__file__).resolve().parents[1] / "data" / "printouts"
MILK = (PRINTOUTS / "sas_mixed_milkprot_un_repeated.lst").read_text(encoding="utf-8")


def _variant(old: str, new: str) -> str:
    assert old in MILK
    return MILK.replace(old, new)


def test_model_information_of_a_repeated_model_gives_the_residual_structure() -> None:
    parsed = parse_printout(MILK, "sas")
    assert parsed.model_info["residual"] == {"type": "UN", "subject": "Cow(Treatment)"}
    assert parsed.model_info["converged"] is True
    assert parsed.model_info["method"] == "REML"
    assert parsed.model_info["df_method"] == "Kenward-Roger"
    assert not parsed.unparsed


@pytest.mark.parametrize(
    ("printed", "sas_type"),
    [
        ("Autoregressive", "AR(1)"),
        ("Compound Symmetry", "CS"),
        ("Heterogeneous Autoregressive", "ARH(1)"),
        ("Toeplitz", "TOEP"),
    ],
)
def test_each_printed_structure_name_gives_its_type_keyword(printed: str, sas_type: str) -> None:
    parsed = parse_printout(_variant("Covariance Structure Unstructured", f"Covariance Structure {printed}"), "sas")
    assert parsed.model_info["residual"]["type"] == sas_type == STRUCTURES[printed.lower()]


def test_group_and_repeated_effects_are_read() -> None:
    text = _variant("Subject Effect Cow(Treatment)\n", "Subject Effect Cow(Treatment)\nGroup Effect Treatment\n")
    text = text.replace("Data Set WORK.MILK\n", "Data Set WORK.MILK\nRepeated Effect Week\n")
    parsed = parse_printout(text, "sas")
    assert parsed.model_info["residual"] == {
        "type": "UN",
        "subject": "Cow(Treatment)",
        "group": "Treatment",
        "repeated": "Week",
    }


def test_an_unknown_structure_name_is_unparsed_with_the_reason_not_guessed() -> None:
    parsed = parse_printout(_variant("Covariance Structure Unstructured", "Covariance Structure Spatial Wiggly"), "sas")
    assert "residual" not in parsed.model_info
    assert any("Spatial Wiggly" in str(u) and "TYPE=" in str(u) for u in parsed.unparsed)


def test_several_structures_are_not_assigned_to_the_repeated_statement() -> None:
    # As dog_zylkene.lst prints a RANDOM intercept with a REPEATED AR(1) (users.stat.ufl.edu/~winner/data/).
    text = _variant("Covariance Structure Unstructured", "Covariance Structures Variance Components, Autoregressive")
    text = text.replace("Subject Effect Cow(Treatment)", "Subject Effects Cow(Treatment), Cow(Treatment)")
    parsed = parse_printout(text, "sas")
    assert "residual" not in parsed.model_info
    assert any("several covariance structures" in str(u) for u in parsed.unparsed)


@pytest.mark.parametrize(
    "message",
    ["WARNING: Did not converge.", "WARNING: Stopped because of too many likelihood evaluations."],
)
def test_a_not_converged_message_is_recorded(message: str) -> None:
    parsed = parse_printout(_variant("Convergence criteria met.", message), "sas")
    assert parsed.model_info["converged"] is False
    assert parsed.model_info["convergence_message"] == message


def test_neither_message_leaves_convergence_unsaid() -> None:
    parsed = parse_printout(_variant("Convergence criteria met.", ""), "sas")
    assert "converged" not in parsed.model_info


def test_the_scaffold_turns_model_information_into_model_residual() -> None:
    columns = ["Protein", "Cow", "Treatment", "Week"]
    text = _variant("Data Set WORK.MILK\n", "Data Set WORK.MILK\nRepeated Effect Week\n")
    inferred = infer_model(parse_printout(text, "sas"), columns, formula="Protein ~ Treatment * Week")
    # SAS's nested subject Cow(Treatment) is no column of the data: kept as printed, with a to-do to fix it.
    assert inferred.residual == {"type": "UN", "repeated": "Week", "subject": "Cow(Treatment)"}
    assert any("Cow(Treatment)" in t for t in inferred.todo)
    assert "converged" not in inferred.options
    plain = infer_model(parse_printout(MILK, "sas"), columns, formula="Protein ~ Treatment * Week")
    assert any("model.residual.repeated" in t for t in plain.todo)


def test_a_not_converged_listing_gives_options_converged_false() -> None:
    parsed = parse_printout(_variant("Convergence criteria met.", "WARNING: Did not converge."), "sas")
    inferred = infer_model(parsed, ["Protein", "Cow", "Treatment", "Week"], formula="Protein ~ Treatment * Week")
    assert inferred.options["converged"] is False
