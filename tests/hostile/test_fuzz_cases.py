"""Fuzzing case files and formulas (issue #14): whatever a case file holds, a run ends with exit 0, 1 or 2,
no traceback, reports that parse, and the other case of the run still there and agreeing.

Valid cases are mutated field by field: another type, a huge or non-finite number, deep nesting,
unicode and control characters, a missing or an extra key. Formulas are built from the grammar's
pieces and noise. ``REPLICATE_FUZZ_EXAMPLES`` sets the number of examples (small by default, so CI
runs these in seconds; set it to thousands to search longer).
"""

from __future__ import annotations

import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replicate.errors import ReplicateError
from replicate.spec import parse_formula
from tests.hostile.hostile_cases import BASE, good_case
from tests.hostile.runs import run_cli

EXAMPLES = int(os.environ.get("REPLICATE_FUZZ_EXAMPLES", "25"))
BASE_DOC = yaml.safe_load(BASE.read_text(encoding="utf-8"))

weird_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
weird_value = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        weird_text,
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([1e308, -1e308, 5e-324, 10**30, "1e400", "<2e-16", ".inf", "012", "1:30", "\x1b[2J"]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(weird_text, inner, max_size=3)),
    max_leaves=8,
)


def _paths(doc, prefix=()):
    """Every path into the document (to mutate one of them)."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(BASE_DOC) if p]


def _mutated(path, value, drop):
    import copy

    doc = copy.deepcopy(BASE_DOC)
    node = doc
    for k in path[:-1]:
        node = node[k]
    if drop and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    doc["id"] = "mutant" if path != ("id",) or drop else doc["id"]
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(PATHS), value=weird_value, drop=st.booleans())
def test_a_mutated_case_never_breaks_the_run(tmp_path_factory, capsys, data_dir, path, value, drop):
    root = tmp_path_factory.mktemp("fuzz")
    folder = root / "cases"
    folder.mkdir()
    try:
        text = _mutated(path, value, drop)
    except (TypeError, IndexError):
        return
    (folder / "mutant.yaml").write_text(text, encoding="utf-8")
    good_case(folder)
    run = run_cli(capsys, ["run", str(folder)], out=root / "reports")
    assert run.code in (0, 1, 2)
    assert run.line_of("good-neighbour").startswith("agrees"), run.out
    assert "good-neighbour" in {c["id"] for c in run.report["cases"]}


pieces = st.sampled_from(
    [
        "x",
        "y",
        "g",
        "h",
        "+",
        "-",
        "*",
        "/",
        ":",
        "|",
        "||",
        "(",
        ")",
        "0",
        "1",
        "~",
        "I(x^2)",
        "log(",
        "poly(x, 2)",
        "factor(g)",
        "offset(",
        ",",
        "`",
        "=",
        "^",
        "system(",
        "  ",
        "\n",
        "2",
        "\x00",
        "é",
    ]
)


@settings(max_examples=EXAMPLES * 20, deadline=None, derandomize=True)
@given(st.lists(pieces, max_size=25))
def test_any_formula_parses_or_is_refused_by_name(tokens):
    text = "y ~ " + " ".join(tokens)
    try:
        spec = parse_formula(text)
    except ReplicateError:
        return
    assert spec.response == "y"
    assert parse_formula(spec.formula()).formula() == spec.formula()  # what it rebuilt reads the same


@pytest.mark.parametrize("n", [60, 250, 5000])
def test_deep_formulas_are_refused_not_a_recursion_error(n):
    with pytest.raises(ReplicateError, match="nest"):
        parse_formula("y ~ " + "(" * n + "x" + ")" * n + " + (1 | g)")
    assert parse_formula("y ~ " + "(" * 10 + "x" + ")" * 10 + " + (1 | g)").fixed == (("x",),)


BASE_TEXT = BASE.read_text(encoding="utf-8")
inserts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            '"\\ud800"',
            "\\x1b",
            "&a",
            "*a",
            "!!python/object:os.system",
            "\n  - ",
            ": ",
            "{",
            "[",
            "'",
            '"',
            "\t",
            "\x00",
            "1e999",
        ]
    ),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(at=st.integers(0, len(BASE_TEXT)), cut=st.integers(0, 40), text=inserts)
def test_a_case_text_edited_anywhere_never_breaks_the_run(tmp_path_factory, capsys, data_dir, at, cut, text):
    root = tmp_path_factory.mktemp("fuzztext")
    folder = root / "cases"
    folder.mkdir()
    body = BASE_TEXT[:at] + text + BASE_TEXT[at + cut :]
    (folder / "mutant.yaml").write_text(
        body.replace("id: classroom-mathkind-ses-school", "id: mutant"), encoding="utf-8", errors="surrogatepass"
    )
    good_case(folder)
    run = run_cli(capsys, ["run", str(folder)], out=root / "reports")
    assert run.code in (0, 1, 2)
    assert run.line_of("good-neighbour").startswith("agrees"), run.out
