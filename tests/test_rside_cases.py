"""Repeated-measures cases (``model.residual``, SAS's REPEATED statement) run end to end (issue #16).

The shipped cases hold SAS/STAT 14.3's Example 79.2 (Potthoff and Roy, TYPE=UN and TYPE=CS, ML) as
the manual prints it; the engine must reproduce every printed number, and a changed number, a fit
that did not converge, a name the model lacks or an engine that cannot fit these models must never
read as agreement.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import replicate.rside_stage as stage
from replicate.case import load_case
from replicate.cli import main
from replicate.engines import get_engine
from replicate.outcome import DISCREPANT, ERROR, INVALID, OK
from replicate.runner import run_case

CASES = Path(__file__).resolve().parents[1] / "cases"
UN, CS = CASES / "orthodont-growth-un-sas.yaml", CASES / "orthodont-growth-cs-sas.yaml"


def _edited(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    out = tmp_path / source.name
    out.write_text(text.replace(old, new, 1), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def native():
    return get_engine("native")


def test_sas_example_79_2_cs_is_reproduced_to_every_printed_digit(native):
    res = run_case(load_case(CS), native)
    values = [v for b in res.blocks for v in b.values]
    assert res.status == OK and len(values) == 41
    assert {v.verdict for v in values} == {"agrees"}, [v for v in values if v.verdict != "agrees"]
    sections = {v.section for v in values}
    assert sections == {"fixed", "covparms", "type3", "fit"}


def test_sas_example_79_2_un_agrees_within_its_stopping_rule(native):
    # SAS stopped 1e-8 above the optimum (see tests/engine/rside/test_rside_sas_printout.py): a few last digits
    # are within tolerance, none is a discrepancy
    res = run_case(load_case(UN), native)
    values = [v for b in res.blocks for v in b.values]
    assert res.status == OK and len(values) == 55
    assert sum(v.verdict == "agrees" for v in values) >= 45
    assert all(v.verdict in ("agrees", "within tolerance") for v in values)
    df = {v.name: v.engine for v in values if v.section == "fixed" and v.quantity == "df"}
    assert set(df.values()) == {25.0}  # TYPE=UN: every effect gets the between-subject df


def test_a_wrong_printed_number_is_a_discrepancy(tmp_path, native):
    path = _edited(tmp_path, CS, '"CS": {estimate: 3.0306', '"CS": {estimate: 3.0406')
    res = run_case(load_case(path), native)
    bad = [v for b in res.blocks for v in b.values if v.verdict == "discrepancy"]
    assert res.status == DISCREPANT and [(v.section, v.name, v.quantity) for v in bad] == [
        ("covparms", "CS", "variance")
    ]


def test_within_df_of_the_cs_fit_are_sas_between_within(native):
    res = run_case(load_case(CS), native)
    df = {v.name: v.engine for b in res.blocks for v in b.values if v.section == "fixed" and v.quantity == "df"}
    assert df == {"Intercept": 25.0, "Gender F": 25.0, "Age": 79.0, "Age*Gender F": 79.0}


def test_a_fit_that_did_not_converge_never_agrees(monkeypatch, native):
    real = stage.fit_residual
    monkeypatch.setattr(stage, "fit_residual", lambda *a, **k: replace(real(*a, **k), converged=False))
    res = run_case(load_case(CS), native)
    values = [v for b in res.blocks for v in b.values]
    assert res.status == ERROR and values and not any(v.verdict in ("agrees", "within tolerance") for v in values)
    assert "did not converge" in res.blocks[0].error


def test_a_name_the_model_lacks_is_an_invalid_block(tmp_path, native):
    path = _edited(tmp_path, CS, "        Age: {estimate", "        Aeg: {estimate")
    res = run_case(load_case(path), native)
    assert res.status == INVALID and "names fixed effect 'Aeg'" in res.blocks[0].error


def test_an_unimplemented_df_is_said_not_agreed(tmp_path, native):
    path = _edited(tmp_path, CS, "df: between-within", "df: hlm")
    res = run_case(load_case(path), native)
    assert res.status == ERROR and "hlm is not implemented" in res.blocks[0].error
    # containment without a RANDOM statement is n - rank(X): the printed between-within df are discrepant
    path = _edited(tmp_path, CS, "df: between-within", "df: containment")
    res = run_case(load_case(path), native)
    bad = {(v.name, v.quantity) for b in res.blocks for v in b.values if v.verdict == "discrepancy"}
    assert res.status != OK and ("Gender", "df") in bad


def test_random_terms_beside_a_residual_structure_are_refused_with_the_reason(tmp_path, native):
    # a subject's random intercept is not identified beside CS (the engine says which structures allow one)
    path = _edited(tmp_path, CS, "formula: y ~ Gender * Age", "formula: y ~ Gender * Age + (1 | Person)")
    res = run_case(load_case(path), native)
    assert res.status == INVALID and "random intercept beside TYPE=cs is not identified" in res.blocks[0].error
    # the subject's random slopes are not identified beside CS either (said, never dropped)
    path = _edited(tmp_path, CS, "formula: y ~ Gender * Age", "formula: y ~ Gender * Age + (Age | Person)")
    res = run_case(load_case(path), native)
    assert res.status == INVALID and "random slopes beside TYPE=cs are not identified" in res.blocks[0].error
    # a random term without an intercept is not implemented
    path = _edited(tmp_path, CS, "formula: y ~ Gender * Age", "formula: y ~ Gender * Age + (0 + Age | Person)")
    res = run_case(load_case(path), native)
    assert res.status in (INVALID, ERROR) and "the random term '(0 + Age | Person)'" in res.blocks[0].error
    assert "not implemented" in res.blocks[0].error


def test_only_the_native_engine_fits_these_models():
    class Other:
        name = "lme4"

        def version(self) -> str:
            return "R"

    res = run_case(load_case(CS), Other())  # type: ignore[arg-type]
    assert res.status == ERROR and "native engine only" in res.blocks[0].error
    assert not any(v for b in res.blocks for v in b.values)


def test_a_residual_mapping_with_an_unknown_key_is_refused_at_load(tmp_path):
    from replicate.errors import CaseError

    path = _edited(tmp_path, CS, "residual: {type: CS,", "residual: {typo: CS,")
    with pytest.raises(CaseError, match="residual"):
        load_case(path)


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        ('"CS": {estimate: 3.0306', '"CSX": {estimate: 3.0306', "names covariance parameter 'CSX'"),
        ("        Gender: {num_df", "        Gendr: {num_df", "names Type 3 effect 'Gendr'"),
    ],
)
def test_a_covariance_parameter_or_type3_effect_the_model_lacks_is_an_invalid_block(tmp_path, native, old, new, said):
    # before, an unknown covariance parameter was "not comparable" and the case agreed; an unknown Type 3
    # effect was an internal error
    res = run_case(load_case(_edited(tmp_path, CS, old, new)), native)
    assert res.status == INVALID and said in res.blocks[0].error and "values." in res.blocks[0].error
    assert not any(v.verdict == "agrees" for b in res.blocks for v in b.values)


def test_a_repeated_column_the_data_lacks_names_the_case_field(tmp_path, native):
    res = run_case(load_case(_edited(tmp_path, CS, "repeated: Age,", "repeated: Agee,")), native)
    assert res.status == INVALID and "field 'model.residual.repeated'" in res.blocks[0].error
    assert "orthodont-growth-cs-sas.yaml:" in res.blocks[0].error


def test_validate_reads_a_repeated_measures_model_as_run_does(tmp_path, capsys):
    """`replicate validate` once refused every shipped repeated-measures case ("no random-effect term"),
    while `replicate run` fitted them: validate must read model.residual as the run does."""
    assert main(["validate", "--data", str(UN), str(CS)]) == 0
    assert main(["validate", str(_edited(tmp_path, UN, "type: UN", "type: UNX"))]) == 2
    assert "model.residual.type" in capsys.readouterr().out
    assert main(["validate", "--data", str(_edited(tmp_path, UN, "repeated: Age", "repeated: Agee"))]) == 2
    assert "model.residual.repeated" in capsys.readouterr().out


NLME = CASES / "orthodont-growth-ar1-nlme.yaml"
AS_TERM = ("  formula: distance ~ Sex * age\n  residual: {type: AR(1), repeated: age, subject: Subject}\n",)


def _as_term(tmp_path: Path, term: str = "ar1(age | Subject)", keep_residual: bool = False) -> Path:
    text = NLME.read_text(encoding="utf-8")
    old = AS_TERM[0]
    assert old in text
    new = f"  formula: distance ~ Sex * age + {term}\n"
    if keep_residual:
        new += "  residual: {type: AR(1), repeated: age, subject: Subject}\n"
    out = tmp_path / NLME.name
    out.write_text(text.replace(old, new, 1), encoding="utf-8")
    return out


def test_mmrm_covariance_term_in_the_formula_is_the_residual_mapping(tmp_path, native):
    mapping = run_case(load_case(NLME), native)
    term = run_case(load_case(_as_term(tmp_path)), native)
    assert mapping.status == term.status == OK
    got = {(v.section, v.name, v.quantity): v.engine for b in term.blocks for v in b.values}
    want = {(v.section, v.name, v.quantity): v.engine for b in mapping.blocks for v in b.values}
    assert got == want and len(got) > 40
    assert main(["validate", "--data", str(_as_term(tmp_path))]) == 0


@pytest.mark.parametrize(
    ("term", "keep", "said"),
    [
        ("ar1(age | Subject)", True, "both name the residual structure"),
        ("ar1(agee | Subject)", False, "'agee'"),
        ("ar1(age | Subject) + cs(age | Subject)", False, "a model has one"),
        ("ar1(age | Subject) + (0 + age | Subject)", False, "random term"),
    ],
)
def test_a_bad_covariance_term_in_a_case_formula_names_the_formula(tmp_path, native, term, keep, said):
    res = run_case(load_case(_as_term(tmp_path, term, keep)), native)
    message = res.error or " ".join(b.error or "" for b in res.blocks)
    assert res.status in (INVALID, ERROR), res.status
    assert said in message and "model.formula" in message, message


def test_kr2_blocks_are_computed_with_kr2_ses(tmp_path, native):
    # TYPE=CS is linear in SAS's parameters, so ddfm=kr2 gives KR's numbers; the block must ask for KR2's SEs
    path = _edited(tmp_path, CS, "df: between-within, se: model", "df: kenward-roger-2, se: kenward-roger-2")
    res = run_case(load_case(path), native)
    values = [v for b in res.blocks for v in b.values]
    assert res.blocks[0].error is None and values and all(v.engine is not None for v in values)
    assert any(v.quantity == "df" and v.verdict == "discrepancy" for v in values)  # SAS printed between-within df
    path = _edited(tmp_path, CS, "df: between-within, se: model", "df: kenward-roger-2, se: kenward-roger")
    res = run_case(load_case(path), native)
    assert res.status == ERROR and "options.se: kenward-roger with options.df: kenward-roger-2" in res.blocks[0].error


def test_model_contrasts_sas_gives_sas_class_coding_on_the_repeated_measures_path(tmp_path):
    """SAS's CLASS coding (the last level the reference) reaches the repeated-measures fit: the coefficients are
    SAS's, the likelihood, LS-means and Type 3 tests are the same (they do not depend on the coding)."""
    default = stage.fit_case(load_case(CS), "ML")
    sas = stage.fit_case(load_case(_edited(tmp_path, CS, "  method: ML\n", "  method: ML\n  contrasts: sas\n")), "ML")
    assert default.fixed_names != sas.fixed_names
    assert sas.loglik == pytest.approx(default.loglik, abs=1e-8)
    # the intercept is the reference level's: SAS's is the last level, R's the first
    d_int, s_int = default.beta[0], sas.beta[0]
    shift = default.beta[1]  # the non-reference level's difference under R's coding
    assert s_int == pytest.approx(d_int + shift, rel=1e-8)
    assert sas.beta[1] == pytest.approx(-shift, rel=1e-8)
