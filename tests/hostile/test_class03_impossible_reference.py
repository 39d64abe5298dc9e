"""Issue #14 class 3: a non-finite reference number is invalid input (exit 2), named by field."""

from __future__ import annotations

import pytest

from tests.hostile.hostile_cases import good_case, variant
from tests.hostile.runs import run_cli


@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan", ".NaN", "1e400", "-1e999", '"<1e400"'])
@pytest.mark.parametrize("where", ["estimate: 10.722", "se: 1.589", "variance: 1308"])
def test_non_finite_reference_is_invalid_and_named(tmp_path, capsys, data_dir, text, where):
    folder = tmp_path / "cases"
    key = where.split(":")[0]
    variant(folder, "impossible", (where, f"{key}: {text}"))
    good_case(folder)
    run = run_cli(capsys, ["run", str(folder)], out=tmp_path / "reports")
    assert run.code == 2
    line = run.out.split(" impossible ", 1)[1]
    assert run.line_of("impossible").startswith("invalid")
    if "<" not in text:
        assert "not a finite number" in line and key in line
    assert run.line_of("good-neighbour").startswith("agrees")
    assert run_cli(capsys, ["validate", str(folder)]).code == 2


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "estimate: 10.722",
            "estimate: {value: 10.722, rtol: .inf}",
            "not a finite number",
        ),  # would agree with anything
        ("estimate: 10.722", "estimate: 0xA", "not written as a program prints numbers"),
        ("estimate: 10.722", "estimate: 0o12", "not written as a program prints numbers"),
    ],
)
def test_infinite_tolerances_and_non_decimal_numbers_are_invalid(tmp_path, capsys, data_dir, old, new, says):
    folder = tmp_path / "cases"
    variant(folder, "impossible", (old, new))
    run = run_cli(capsys, ["validate", str(folder)])
    assert run.code == 2 and says in run.out
