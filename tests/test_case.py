from pathlib import Path

import pytest

from replicate.case import load_case
from replicate.errors import CaseError
from replicate.printed import Printed

GOOD = """\
id: demo
title: A demo case
data:
  file: classroom.csv
  sha256: 76f284efde34b6e2315a8db92b571c48b6e721d58fcab271d080d84e03c80f11
model:
  formula: mathkind ~ ses + (1 | schoolid)
expected:
  - software: lmerTest
    source: somewhere
    options: {df: satterthwaite}
    values:
      fixed:
        ses: {estimate: 10.7220, se: 1.589, p: "<2e-16"}
      fit: {nobs: 1190}
"""


def write(tmp_path: Path, text: str, name: str = "case.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_good_case_loads_with_printed_numbers(tmp_path):
    case = load_case(write(tmp_path, GOOD))
    est = case.expected[0]["values"]["fixed"]["ses"]["estimate"]
    assert isinstance(est, Printed)
    assert est.value == pytest.approx(10.722) and est.text == "10.7220"
    assert est.decimals == 4 and est.significant == 6
    p = case.expected[0]["values"]["fixed"]["ses"]["p"]
    assert p.bound == "<" and p.value == 2e-16
    assert case.method == "REML"
    assert case.line_of("expected", 0, "values", "fixed", "ses", "se") == 14


def error_of(tmp_path: Path, text: str) -> CaseError:
    with pytest.raises(CaseError) as err:
        load_case(write(tmp_path, text))
    return err.value


def test_malformed_yaml_names_the_line(tmp_path):
    err = error_of(tmp_path, GOOD.replace("  formula: mathkind", "  formula: [mathkind"))
    assert "malformed YAML" in str(err) and err.line is not None and err.file.endswith("case.yaml")


def test_unknown_key_is_an_error_with_a_suggestion(tmp_path):
    err = error_of(tmp_path, GOOD.replace("  formula:", "  fromula:"))
    assert "unknown key 'fromula'" in str(err)
    assert "did you mean 'formula'" in str(err)
    assert err.line == 7 and err.field == "model.fromula"


def test_unknown_key_in_values(tmp_path):
    err = error_of(tmp_path, GOOD.replace("se: 1.589", "stderr: 1.589"))
    assert "unknown key 'stderr'" in str(err) and err.field == "expected[0].values.fixed.ses.stderr"
    assert err.line == 14


def test_python_tags_are_refused(tmp_path):
    text = GOOD + "description: !!python/object/apply:os.system ['echo hacked']\n"
    err = error_of(tmp_path, text)
    assert "tag" in str(err) and "not allowed" in str(err)


def test_custom_tags_are_refused(tmp_path):
    err = error_of(tmp_path, GOOD.replace("title: A demo case", "title: !custom A demo case"))
    assert "tag" in str(err)


def test_missing_required_key(tmp_path):
    err = error_of(tmp_path, GOOD.replace("title: A demo case\n", ""))
    assert "missing required key 'title'" in str(err)


def test_data_needs_exactly_one_source(tmp_path):
    err = error_of(tmp_path, GOOD.replace("  sha256: 76f2", "  unavailable: private\n  sha256: 76f2"))
    assert "exactly one of" in str(err) and err.field == "data"


def test_bad_enum_lists_allowed_values(tmp_path):
    err = error_of(tmp_path, GOOD.replace("df: satterthwaite", "df: satterwaite"))
    assert "allowed:" in str(err) and "satterthwaite" in str(err)


def test_duplicate_keys_are_errors(tmp_path):
    err = error_of(tmp_path, GOOD.replace("title: A demo case\n", "title: A\ntitle: B\n"))
    assert "duplicate key 'title'" in str(err) and err.line == 3


def test_data_file_must_be_a_plain_name(tmp_path):
    err = error_of(tmp_path, GOOD.replace("file: classroom.csv", "file: ../../etc/passwd"))
    assert err.field == "data.file"


def test_shipped_cases_are_valid():
    root = Path(__file__).resolve().parents[1] / "cases"
    files = sorted(root.glob("*.yaml"))
    assert files, "the project ships cases"
    for f in files:
        case = load_case(f)
        assert case.source and case.expected, f
        for blk in case.expected:
            assert blk["source"] and blk.get("call"), f"{f}: provenance"


def test_scientific_notation_without_a_point_is_a_number(tmp_path):
    case = load_case(
        write(
            tmp_path,
            GOOD.replace("model:\n", "tolerance: {df: {rtol: 1e-3}}\nmodel:\n").replace("se: 1.589", "se: 2e-2"),
        )
    )
    assert case.raw["tolerance"]["df"]["rtol"] == 1e-3
    se = case.expected[0]["values"]["fixed"]["ses"]["se"]
    assert se.value == 0.02 and se.text == "2e-2"


def test_a_data_file_without_sha256_is_refused_with_its_actual_checksum(tmp_path, data_dir):
    # issue #18: the error now gives the hash to paste in
    import hashlib

    shipped = Path(__file__).resolve().parents[1] / "cases" / "classroom-mathkind-ses-school.yaml"
    case = tmp_path / "c.yaml"
    case.write_text("".join(ln for ln in shipped.read_text().splitlines(True) if "sha256" not in ln))
    digest = hashlib.sha256((data_dir / "classroom.csv").read_bytes()).hexdigest()
    with pytest.raises(CaseError) as err:
        load_case(case)
    assert err.value.field == "data" and f"sha256: {digest}" in str(err.value)
