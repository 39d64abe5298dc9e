"""Issue #14 class 10: the smaller silent mistakes are now said."""

from __future__ import annotations

import pandas as pd
import pytest

from replicate.case import load_case
from replicate.data import read_table
from replicate.errors import DataError
from replicate.printed import Printed
from replicate.yaml12 import plain_scalar
from tests.hostile.hostile_cases import variant
from tests.hostile.runs import run_cli


def test_duplicate_csv_columns_are_refused(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("y,x,x\n1,2,3\n", encoding="utf-8")
    with pytest.raises(DataError, match="more than one column named 'x'"):
        read_table(path)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("012", 12),
        ("0x1F", 31),
        ("0o17", 15),
        ("1:30", "1:30"),
        ("1_000", "1_000"),
        ("yes", "yes"),
        ("off", "off"),
        ("1e-3", 0.001),
        ("2026-12-04", "2026-12-04"),
        ("~", None),
        ("true", True),
    ],
)
def test_yaml_is_read_as_yaml_1_2(text, value):
    assert plain_scalar(text) == value


def test_a_printed_012_is_twelve_as_printed(tmp_path, data_dir):
    case = load_case(variant(tmp_path, "octal", ("nobs: 1190", "nobs: 012")))
    nobs = case.expected[0]["values"]["fit"]["nobs"]
    assert isinstance(nobs, Printed) and nobs.value == 12 and nobs.text == "012"


def test_sexagesimal_is_text_and_refused_where_a_number_is_needed(tmp_path, capsys, data_dir):
    variant(tmp_path / "cases", "sexagesimal", ("nobs: 1190", "nobs: 1:30"))
    run = run_cli(capsys, ["validate", str(tmp_path / "cases")])
    assert run.code == 2 and "'1:30'" in run.out


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "    values:\n      fixed:",
            "    differences:\n      - {value: fixed.nothere.df, reason: r}\n    values:\n      fixed:",
            "differences names 'fixed.nothere.df'",
        ),
        ("ngroups: {schoolid: 107}", "ngroups: {schoolid: 107, nosuch: 3}", "counts groups of 'nosuch'"),
    ],
)
def test_names_of_nothing_are_errors(tmp_path, capsys, data_dir, old, new, says):
    variant(tmp_path / "cases", "names-nothing", (old, new))
    run = run_cli(capsys, ["run", str(tmp_path / "cases")], out=tmp_path / "reports")
    assert run.code == 2 and says in run.out


def test_terminal_escapes_in_a_title_are_shown_not_obeyed(tmp_path, capsys, data_dir):
    title = "title: Kindergarten math score on SES with random school intercepts (WWG classroom data)"
    variant(tmp_path / "cases", "escape", (title, 'title: "\\e[31mred\\e]0;owned\\a title"'))
    for args in (["list", str(tmp_path / "cases")], ["run", str(tmp_path / "cases"), "--out", str(tmp_path / "r")]):
        run = run_cli(capsys, args)
        assert "\x1b" not in run.out + run.err and "\x07" not in run.out + run.err
    assert "\\x1b[31mred" in run_cli(capsys, ["list", str(tmp_path / "cases")]).out


def test_out_of_memory_says_so_with_the_size(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_text("y,x\n1,2\n", encoding="utf-8")

    def no_memory(*a, **k):
        raise MemoryError()

    monkeypatch.setattr(pd, "read_csv", no_memory)
    with pytest.raises(DataError, match=r"out of memory reading a file of \d+ MB"):
        read_table(path)


def test_a_lone_surrogate_escape_is_refused_not_a_report_crash(tmp_path, capsys, data_dir):
    variant(
        tmp_path / "cases",
        "surrogate",
        ("title: Kindergarten", 'title: "\\ud800 Kindergarten'),
        ("(WWG classroom data)", '(WWG classroom data)"'),
    )
    run = run_cli(capsys, ["run", str(tmp_path / "cases")], out=tmp_path / "reports")
    assert run.code == 2 and "lone surrogate" in run.out and run.report is not None
