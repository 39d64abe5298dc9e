"""Issue #14 class 5: the README's per-value tolerance works, and a non-number in it is invalid input."""

from __future__ import annotations

import pytest

from tests.hostile.hostile_cases import variant
from tests.hostile.runs import run_cli


@pytest.mark.parametrize(
    ("value", "verdict", "code"),
    [
        ("{value: 10.722, rtol: 1e-3}", "agrees", 0),  # the README's own example
        ("{value: 10.70, rtol: 1e-2}", "agrees", 0),  # 0.5% off, allowed by its rtol
        ("{value: 10.70, rtol: 1e-4}", "discrepancy", 1),  # the same number, a tight rtol
        ("{value: 10.70, atol: 0.1, note: hand-copied}", "agrees", 0),
    ],
)
def test_per_value_tolerance_is_honoured(tmp_path, capsys, data_dir, value, verdict, code):
    folder = tmp_path / "cases"
    variant(folder, "per-value", ("estimate: 10.722", f"estimate: {value}"))
    run = run_cli(capsys, ["run", str(folder)], out=tmp_path / "reports")
    assert run.code == code and run.line_of("per-value").startswith(verdict), run.out


@pytest.mark.parametrize(
    "value",
    ['{value: "abc"}', "{value: [1, 2]}", "{value: 10.7, rtol: -1}", "{value: 10.7, rtol: abc}", "{rtol: 1e-3}"],
)
def test_a_non_number_in_a_per_value_tolerance_is_invalid_input(tmp_path, capsys, data_dir, value):
    folder = tmp_path / "cases"
    variant(folder, "per-value", ("estimate: 10.722", f"estimate: {value}"))
    assert run_cli(capsys, ["validate", str(folder)]).code == 2
    run = run_cli(capsys, ["run", str(folder)], out=tmp_path / "reports")
    assert run.code == 2 and "expected[0].values.fixed.ses.estimate" in run.out
