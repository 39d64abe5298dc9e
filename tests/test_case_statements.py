"""ESTIMATE and CONTRAST statements in case files (``model.estimate`` / ``model.contrast``, issue #16), and
sections a model class does not compute.

A statement's text is read, never evaluated; bad text, a label no statement defines, an effect the model does
not have or a row that is not estimable is an error naming the file, line and field (exit 2 from
``replicate validate``), and a block that prints a section its model class does not compute is refused
instead of agreeing on the rest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from replicate.case import load_case
from replicate.cli import main
from replicate.engines import get_engine
from replicate.outcome import OK
from replicate.runner import run_case

CASES = Path(__file__).resolve().parents[1] / "cases"
NLME = CASES / "orthodont-growth-ar1-nlme.yaml"
ESTIMATE = '    "Female - Male at age 8": "Sex -1 1 Sex*age -8 8"\n'


def _variant(tmp_path: Path, old: str, new: str, source: Path = NLME) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / source.name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _statuses(path: Path) -> tuple[str, str]:
    res = run_case(load_case(path), get_engine("native"))
    errors = " ".join(str(b.error or "") for b in res.blocks) + " " + str(res.error or "")
    return res.status, errors


def test_the_shipped_case_compares_its_estimate_and_contrast():
    res = run_case(load_case(NLME), get_engine("native"))
    assert res.status == OK
    rows = [(v.section, v.name) for b in res.blocks for v in b.values if v.section in ("estimates", "contrasts")]
    assert sorted(set(rows)) == [("contrasts", "Sex at ages 8 and 14"), ("estimates", "Female - Male at age 8")]


def test_a_changed_estimate_is_a_discrepancy(tmp_path):
    path = _variant(tmp_path, "estimate: -1.5620713992969297", "estimate: -1.5720713992969297")
    res = run_case(load_case(path), get_engine("native"))
    bad = [(v.section, v.quantity) for b in res.blocks for v in b.values if v.verdict == "discrepancy"]
    assert bad == [("estimates", "estimate")]


def test_a_different_statement_is_a_discrepancy_not_agreement(tmp_path):
    # the same label, defined at age 10 instead of 8: every number of the row moves
    path = _variant(tmp_path, ESTIMATE, ESTIMATE.replace("-8 8", "-10 10"))
    res = run_case(load_case(path), get_engine("native"))
    bad = {v.quantity for b in res.blocks for v in b.values if v.verdict == "discrepancy"}
    assert {"estimate", "se", "t", "p"} <= bad


@pytest.mark.parametrize(
    ("new", "words"),
    [
        (ESTIMATE.replace("Sex -1 1", "Sex (-1) 1"), "neither an effect name nor a number"),
        (ESTIMATE.replace("Sex -1 1", "system('ls') 1"), "neither an effect name nor a number"),
        (ESTIMATE.replace("Sex -1 1 Sex*age -8 8", "Sex -1 1, Sex -1 1"), "one row"),
    ],
)
def test_bad_statement_text_names_the_file_line_and_field(tmp_path, new, words, capsys):
    path = _variant(tmp_path, ESTIMATE, new)
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr()
    text = out.out + out.err
    assert words in text and f"{path.name}:" in text and "model.estimate" in text


@pytest.mark.parametrize(
    ("new", "words"),
    [
        (ESTIMATE.replace("Sex -1 1 Sex*age", "Sex -1 1 Sex*Race"), "not a term"),
        (ESTIMATE.replace("Sex -1 1 Sex*age -8 8", "Sex 1"), "not estimable"),
        (ESTIMATE.replace("Sex*age -8 8", "age*Sex -8 8"), "written Sex*age"),
    ],
)
def test_a_statement_the_model_cannot_take_is_the_blocks_error(tmp_path, new, words, capsys):
    path = _variant(tmp_path, ESTIMATE, new)
    status, errors = _statuses(path)
    assert status != OK and words in errors and "model.estimate" in errors
    assert main(["validate", "--data", str(path)]) == 2
    out = capsys.readouterr()
    assert words in out.out + out.err


def test_a_printed_label_no_statement_defines_is_refused(tmp_path, capsys):
    path = _variant(tmp_path, '        "Female - Male at age 8": {', '        "Female - Male at 8": {')
    status, errors = _statuses(path)
    assert status != OK and "'Female - Male at 8'" in errors and "does not define" in errors
    assert main(["validate", str(path)]) == 2


def test_a_linear_block_printing_lsmeans_of_no_effect_or_an_undefined_estimate_is_invalid(tmp_path):
    """G-side blocks compute lsmeans and estimates now: an effect the model lacks or a label no statement defines
    is the block's invalid-case error naming the field, never a value left out while the rest agrees."""
    source = CASES / "dyestuff.yaml"
    for section, said in (
        ("      lsmeans:\n        Batch:\n          A: {estimate: 1}\n", "values.lsmeans.Batch"),
        ("      estimates:\n        x: {estimate: 1}\n", "does not define"),
    ):
        path = _variant(tmp_path, "    values:\n", "    values:\n" + section, source)
        status, errors = _statuses(path)
        assert status != OK and said in errors, errors


def test_a_block_compares_slices_and_type3_chisq(tmp_path):
    # wiring: the block's slices and CHISQ columns are the inference functions' numbers, and a changed one is
    # caught (the numbers themselves are checked against nlme in tests/inference/test_rside_slices.py)
    from replicate.inference.rside_slices import rside_slices
    from replicate.inference.rside_tests import rside_type3
    from replicate.rside_stage import fit_case

    text = NLME.read_text(encoding="utf-8").replace("distance ~ Sex * age", "distance ~ Sex * agef", 1)
    text = text.replace(
        '  Sex: factor(Sex, levels=["Male", "Female"])\n',
        '  Sex: factor(Sex, levels=["Male", "Female"])\n  agef: factor(age)\n',
        1,
    )
    head = text[: text.index("expected:")]
    path = tmp_path / "slices.yaml"
    path.write_text(head.replace("  estimate:\n" + ESTIMATE, "").split("  contrast:")[0], encoding="utf-8")
    fit = fit_case(load_case(path), "REML")
    s = rside_slices(fit, "Sex:agef", "Sex", ddfm="residual")["Female"]
    t3 = {t.effect: t for t in rside_type3(fit, ddfm="residual")}["Sex:agef"]
    block = (
        "expected:\n  - label: wiring\n    software: sas\n    source: engine numbers, for wiring\n    options: {method: REML, df: residual}\n    values:\n"
        f"      slices:\n        Sex*agef:\n          Sex Female: {{num_df: {s.num_df}, den_df: {s.den_df}, F: {s.f_value!r}, p: {s.p_value!r}}}\n"
        f"      type3:\n        Sex*agef: {{chisq: {t3.chisq!r}, p_chisq: {t3.p_chisq!r}}}\n"
    )
    path.write_text(path.read_text(encoding="utf-8") + block, encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    values = [v for b in res.blocks for v in b.values]
    assert res.status == OK and len(values) == 6 and {v.section for v in values} == {"slices", "type3"}
    path.write_text(path.read_text(encoding="utf-8").replace(f"F: {s.f_value!r}", f"F: {s.f_value * 1.01!r}"))
    res = run_case(load_case(path), get_engine("native"))
    assert [v.section for b in res.blocks for v in b.values if v.verdict == "discrepancy"] == ["slices"]


def test_statements_on_a_model_without_a_residual_structure_are_computed(tmp_path):
    """An ESTIMATE of the intercept of a G-side model is its fixed intercept, with the block's df (here lmerTest's
    Satterthwaite): the live lme4 numbers of dyestuff's intercept agree as an ESTIMATE row."""
    source = CASES / "dyestuff.yaml"
    text = source.read_text(encoding="utf-8")
    assert "\nmodel:\n" in text and "    values:\n" in text
    text = text.replace("\nmodel:\n", '\nmodel:\n  estimate:\n    "a": "intercept 1"\n', 1)
    row = "{estimate: 1527.500000000001, se: 19.383412178752796, df: 4.999999981092339, t: 78.80449458090646}"
    text = text.replace("    values:\n", f"    values:\n      estimates:\n        a: {row}\n", 1)
    path = tmp_path / source.name
    path.write_text(text, encoding="utf-8")
    status, errors = _statuses(path)
    assert status == OK, errors
    res = run_case(load_case(path), get_engine("native"))
    rows = [v for b in res.blocks for v in b.values if v.section == "estimates"]
    assert len(rows) == 4 and all(v.verdict in ("agrees", "within tolerance") for v in rows)
