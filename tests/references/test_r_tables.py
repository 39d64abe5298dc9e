"""R's table conventions shared by the lme4 and nlme parsers (replicate/references/r_tables.py)."""

from __future__ import annotations

from replicate.references.numbers import prepare, split_label, tokens
from replicate.references.printout import Builder
from replicate.references.r_tables import coefficient_rows, find_header, header_tokens, unwrap


def _split(text: str) -> tuple[list[str], list[str]]:
    return split_label(tokens(text))


def _read(text: str, *, ruler_ends: bool = False) -> tuple[list[str], list[tuple[int, str]]]:
    b = Builder("lme4")
    rows = coefficient_rows(
        prepare(text), b, width=2, columns="Estimate, Std. Error", split=_split, ruler_ends=ruler_ends
    )
    read = [" ".join(labels) for _ln, labels, _vals in rows]
    return read, [(no, why) for no, _raw, why in b.unparsed]


def test_text_between_two_rows_is_reported_and_the_rows_after_it_read() -> None:
    read, skipped = _read("a 1.0 0.1\n(page 2)\nb 2.0 0.2\n")
    assert read == ["a", "b"]
    assert skipped == [(2, "a line of text inside the fixed-effects table (the rows after it are read)")]


def test_text_after_the_last_row_ends_the_table_without_a_report() -> None:
    read, skipped = _read("a 1.0 0.1\nb 2.0 0.2\n\nCorrelation of Fixed Effects:\n    (Intr)\nb 0.5\n")
    assert read == ["a", "b"]
    assert skipped == []


def test_a_row_of_another_width_is_reported_not_read() -> None:
    read, skipped = _read("a 1.0 0.1\nb 2.0 0.2 7\nc 3.0 0.3\n")
    assert read == ["a", "c"]
    assert skipped == [(2, "expected 2 numbers (Estimate, Std. Error), found 3")]


def test_a_line_before_the_first_row_is_reported() -> None:
    read, skipped = _read("no numbers here\na 1.0 0.1\n")
    assert read == ["a"]
    assert skipped == [(1, "not a row of the fixed-effects table")]


def test_a_ruler_ends_the_table_only_when_asked() -> None:
    text = "a 1.0 0.1\n---\nb 2.0 0.2\n"
    assert _read(text, ruler_ends=True) == (["a"], [])
    read, skipped = _read(text)
    assert read == ["a", "b"] and [no for no, _why in skipped] == [2]


def test_header_tokens_keep_names_of_several_words() -> None:
    assert header_tokens("Estimate Std. Error df t value Pr(>|t|)") == [
        "Estimate",
        "Std. Error",
        "df",
        "t value",
        "Pr(>|t|)",
    ]


def test_unwrap_joins_a_wrapped_p_value_and_its_stars() -> None:
    lines = unwrap(prepare("(Intercept) 41.1 0.47 4165 87.5 <2e-1\n6 ***"))
    assert [ln.text for ln in lines] == ["(Intercept) 41.1 0.47 4165 87.5 <2e-16 ***"]
    assert lines[0].no == 1


def test_find_header_reports_the_lines_before_it_and_leaves_the_rows() -> None:
    b = Builder("nlme")
    lines = iter(prepare("\n(a note)\nValue Std.Error\na 1.0 0.1\n"))
    header = find_header(lines, b, lambda s: s.split() if "Value" in s.split() else None, "Value Std.Error")
    assert header == ["Value", "Std.Error"]
    assert [(no, why) for no, _raw, why in b.unparsed] == [(2, "expected the 'Value Std.Error' header")]
    assert [ln.text for ln in lines] == ["a 1.0 0.1", ""]
    assert find_header(iter(prepare("no header")), Builder("nlme"), lambda s: None, "x") is None
