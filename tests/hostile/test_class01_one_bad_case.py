"""Issue #14 class 1: one bad case never stops the run; its error is its own, the reports are written,
and 'validate' refuses whatever 'run' refuses as invalid input."""

from __future__ import annotations

import pytest

from replicate import runner
from tests.hostile.hostile_cases import good_case, variant
from tests.hostile.runs import run_cli

DEEP = "[" * 5000 + "]" * 5000
PARENS = "(" * 250 + "ses" + ")" * 250
BAD = {
    "huge-reference": [("estimate: 10.722", "estimate: 1e400")],
    "deep-yaml-list": [("tags: [classroom, wwg, seed-002, two-level]", "tags: " + DEEP)],
    "nested-parentheses": [
        ("formula: mathkind ~ ses + (1 | schoolid)", f"formula: mathkind ~ {PARENS} + (1 | schoolid)")
    ],
    "weights-predictor": [("  method: REML\nexpected", "  method: REML\n  weights: ses\nexpected")],
    "non-utf8-printout": [
        (
            "    source: reference_outputs/lmerTest/classroom-mathkind-ses-school.txt\n    values:",
            (
                "    source: x\n    printout: {file: reference_outputs/lmerTest/latin1.txt, "
                "software: lmerTest}\n    values:"
            ),
        )
    ],
}


@pytest.fixture
def folder(tmp_path, data_dir):
    (tmp_path / "reference_outputs" / "lmerTest").mkdir(parents=True)
    (tmp_path / "reference_outputs" / "lmerTest" / "latin1.txt").write_bytes("Estimate \xe9t\xe9\n".encode("latin-1"))
    return tmp_path / "cases"


@pytest.mark.parametrize("what", sorted(BAD))
def test_one_bad_case_is_its_own_error_and_the_run_goes_on(folder, tmp_path, capsys, what):
    variant(folder, f"bad-{what}", *BAD[what])
    good_case(folder)
    run = run_cli(capsys, ["run", str(folder)], out=tmp_path / "reports")
    assert run.code == 2, run.out
    assert run.line_of(f"bad-{what}").startswith("invalid"), run.out
    assert run.line_of("good-neighbour").startswith("agrees"), run.out
    assert {c["id"] for c in run.report["cases"]} == {f"bad-{what}", "good-neighbour"}
    checked = run_cli(capsys, ["validate", "--data", str(folder)])
    assert checked.code == 2 and f"bad-{what}" in checked.out.split("invalid", 1)[1], checked.out


@pytest.mark.parametrize("column", ["mathkind", "schoolid"])
def test_weights_naming_a_model_column_are_used_not_a_crash(folder, tmp_path, capsys, column):
    variant(folder, f"weights-{column}", ("  method: REML\nexpected", f"  method: REML\n  weights: {column}\nexpected"))
    run = run_cli(capsys, ["run", str(folder)], out=tmp_path / "reports")
    assert run.code == 1 and run.line_of(f"weights-{column}").startswith("discrepancy"), run.out  # other weights


def test_an_unexpected_exception_in_one_case_is_that_case_s_error(folder, tmp_path, capsys, monkeypatch):
    variant(
        folder,
        "explodes",
        ("formula: mathkind ~ ses + (1 | schoolid)", "formula: mathkind ~ ses + sex + (1 | schoolid)"),
    )
    good_case(folder)
    real = runner.prepare

    def prepare(case, **kw):
        if case.id == "explodes":
            raise ZeroDivisionError("a bug")
        return real(case, **kw)

    monkeypatch.setattr(runner, "prepare", prepare)
    run = run_cli(capsys, ["run", str(folder)], out=tmp_path / "reports")
    assert run.code == 2 and "ZeroDivisionError: a bug" in run.out
    assert run.line_of("good-neighbour").startswith("agrees")
