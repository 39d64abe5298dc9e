"""Reference blocks from live runs, written into case files.

The text editing, number formatting, refusal and change reports are tested on
hand-made blocks (no R needed); the live tests fit the classroom case with
lme4, write the block, and check that the native engine agrees with it.
"""

from __future__ import annotations

import copy
import math
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import yaml

from replicate.case import load_case
from replicate.engines.r.lme4 import Lme4Engine
from replicate.errors import CaseError
from replicate.reference_writer import (
    SOURCE,
    block_text,
    edit_case_text,
    flatten_values,
    make_reference_block,
    number_text,
    reference_command,
    value_changes,
    version_changes,
    write_reference,
)
from tests.rsupport import require_engine

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "cases" / "classroom-mathkind-ses-school.yaml"


def fake_block(
    scale: float = 1.0, version: str = "R 4.2.2; lme4 1.1-31; lmerTest 3.1-3; pbkrtest 0.5.2", label: str = "lme4-live"
) -> dict:
    return {
        "label": label,
        "software": "lme4",
        "version": version,
        "call": "lmerTest::lmer(formula = mathkind ~ 1 + ses + (1 | schoolid), data = dat, REML = TRUE)",
        "date": "2024-01-02T03:04:05Z",
        "options": {"method": "REML", "df": "satterthwaite", "se": "model"},
        "source": SOURCE,
        "values": {
            "fixed": {
                "(Intercept)": {
                    "estimate": 465.7462940271659 * scale,
                    "se": 2.0577532841748383,
                    "df": 98.75246813126918,
                    "t": 226.33728620869667,
                    "p": 6.4264202458709286e-136,
                },
                "ses": {
                    "estimate": 10.72181385700941,
                    "se": 1.589009321099282,
                    "df": 1187.9954576569107,
                    "t": 6.747483299589472,
                    "p": 2.3451183447575776e-11,
                },
            },
            "random": {
                "schoolid": {"(Intercept)": {"variance": 308.9734791301479, "sd": 17.577641455273454}},
                "Residual": {"variance": 1307.5148432794758, "sd": 36.15957471098735},
            },
            "fit": {
                "loglik": -6019.333272216036,
                "reml_criterion": 12038.666544432072,
                "aic": 12046.666544432072,
                "bic": 12066.993378776493,
                "nobs": 1190,
                "ngroups": {"schoolid": 107},
            },
        },
    }


@pytest.fixture
def case_copy(tmp_path) -> Path:
    d = tmp_path / "cases"
    d.mkdir()
    shutil.copy(CASE, d / CASE.name)
    return d / CASE.name


# ------------------------------------------------------------- numbers

TRICKY = [
    0.1,
    1 / 3,
    -0.0,
    0.0,
    1e-300,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    1e16,
    1e22,
    123456789012345680.0,
    2.35e-11,
    6.4264202458709286e-136,
    12038.666544432072,
    -6019.333272216036,
    100.0,
    1e-5,
    1.5e-7,
    9007199254740993.0,
]


@pytest.mark.parametrize("x", TRICKY)
def test_numbers_round_trip_through_yaml(x):
    t = number_text(x)
    back = yaml.safe_load(t)
    assert isinstance(back, float) and back == x and math.copysign(1, back) == math.copysign(1, x)
    assert t == repr(x) or "e" in t or t.endswith(".0")


def test_random_doubles_round_trip():
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**63 - 1, size=3000, dtype=np.int64)
    for b in bits:
        x = struct.unpack("<d", struct.pack("<q", int(b)))[0]
        if math.isfinite(x):
            assert yaml.safe_load(number_text(x)) == x


def test_non_finite_numbers_are_refused():
    for x in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            number_text(x)


# ---------------------------------------------------------- text edits


def test_block_is_appended_and_the_rest_of_the_file_kept(case_copy):
    before = case_copy.read_text()
    res = write_reference(case_copy, fake_block())
    after = case_copy.read_text()
    assert res.action == "added" and res.written and res.path == case_copy
    assert after.startswith(before) and after[len(before) :].startswith("  - label: lme4-live\n")
    case = load_case(case_copy)
    assert [case.block_label(i) for i in range(len(case.expected))] == ["lmerTest", "lme4-live"]
    blk = case.expected[1]
    assert flatten_values(blk["values"]) == flatten_values(fake_block()["values"])
    assert blk["date"] == "2024-01-02T03:04:05Z" and blk["source"] == SOURCE


def test_second_write_is_refused_and_force_replaces_in_place(case_copy):
    write_reference(case_copy, fake_block())
    text = case_copy.read_text()
    res = write_reference(case_copy, fake_block())
    assert res.action == "refused" and not res.written and "--force" in res.summary()
    assert case_copy.read_text() == text
    res = write_reference(case_copy, fake_block(), force=True)
    assert res.action == "replaced" and res.changes == () and res.version_changes == {}
    assert "no value changed" in res.summary()
    assert case_copy.read_text() == text


def test_regeneration_reports_changed_values_and_versions(case_copy):
    write_reference(case_copy, fake_block())
    new = fake_block(scale=1 + 1e-8, version="R 4.3.1; lme4 1.1-35; lmerTest 3.1-3; pbkrtest 0.5.2")
    new["values"]["fixed"]["ses"]["se"] *= 1 + 1e-12  # below 1e-10: not a change
    del new["values"]["fit"]["bic"]
    refused = write_reference(case_copy, new)
    assert refused.action == "refused" and [c.path for c in refused.changes] == [
        "fixed.(Intercept).estimate",
        "fit.bic",
    ]
    res = write_reference(case_copy, new, force=True)
    assert res.action == "replaced"
    est, bic = res.changes
    assert est.old == 465.7462940271659 and est.new == 465.7462940271659 * (1 + 1e-8)
    assert est.rel_diff == pytest.approx(1e-8, rel=1e-6)
    assert bic.new is None and "removed" in str(bic)
    assert res.version_changes == {"R": ("4.2.2", "4.3.1"), "lme4": ("1.1-31", "1.1-35")}
    text = res.summary()
    assert "version of lme4: 1.1-31 -> 1.1-35" in text and "fixed.(Intercept).estimate" in text
    case = load_case(case_copy)
    assert len(case.expected) == 2 and "bic" not in case.expected[1]["values"]["fit"]


def test_replacing_keeps_following_keys_and_comments(tmp_path):
    src = CASE.read_text()
    head, _, tail = src.partition("expected:\n")
    text = (
        head
        + "expected:\n"
        + tail.rstrip("\n")
        + "\n"
        + "  # a comment after the last block\n\n"
        + "tolerance: {df: {rtol: 0.001}}\n# end of file\n"
    )
    p = tmp_path / "c.yaml"
    p.write_text(text)
    write_reference(p, fake_block())
    one = p.read_text()
    assert one.endswith("tolerance: {df: {rtol: 0.001}}\n# end of file\n")
    assert "  # a comment after the last block\n" in one
    load_case(p)
    write_reference(p, fake_block(scale=2.0), force=True)
    two = p.read_text()
    assert two.replace(number_text(465.7462940271659 * 2), number_text(465.7462940271659)) == one


def test_replacing_a_block_in_the_middle(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(CASE.read_text())
    write_reference(p, fake_block(label="first"))
    write_reference(p, fake_block(label="second"))
    before = p.read_text()
    write_reference(p, fake_block(label="first", scale=3.0), force=True)
    case = load_case(p)
    assert [case.block_label(i) for i in range(3)] == ["lmerTest", "first", "second"]
    assert case.expected[1]["values"]["fixed"]["(Intercept)"]["estimate"].value == 465.7462940271659 * 3
    assert p.read_text().count("\n") == before.count("\n")


@pytest.mark.parametrize("style", ["zero-indent", "no-expected", "empty-flow"])
def test_other_layouts_of_expected(tmp_path, style):
    src = CASE.read_text()
    head, _, tail = src.partition("expected:\n")
    if style == "zero-indent":
        tail = "".join(line[2:] + "\n" for line in tail.splitlines())
        text = head + "expected:\n" + tail
    elif style == "no-expected":
        text = head
    else:
        text = head + "expected: []  # none yet\n"
    new, replaced = edit_case_text(text, fake_block())
    assert not replaced and new.startswith(head)
    p = tmp_path / "c.yaml"
    p.write_text(new)
    case = load_case(p)
    assert case.block_label(len(case.expected) - 1) == "lme4-live"
    if style == "zero-indent":
        assert "\n- label: lme4-live\n" in new
    if style == "empty-flow":
        assert "expected:  # none yet\n  - label: lme4-live\n" in new


@pytest.mark.parametrize("newline,final", [("\r\n", True), ("\n", False)])
def test_line_ends_and_a_missing_final_newline(tmp_path, newline, final):
    src = CASE.read_text().rstrip("\n").replace("\n", newline) + (newline if final else "")
    p = tmp_path / "c.yaml"
    p.write_bytes(src.encode())
    write_reference(p, fake_block())
    out = p.read_bytes().decode()
    assert out.startswith(src.rstrip("\r\n"))
    if newline == "\r\n":
        assert "\n" not in out.replace("\r\n", "")
    assert load_case(p).block_label(1) == "lme4-live"


def test_a_block_that_would_not_validate_is_not_written(case_copy):
    before = case_copy.read_text()
    bad = fake_block()
    bad["software"] = "spss"
    with pytest.raises(CaseError, match="invalid"):
        write_reference(case_copy, bad)
    assert case_copy.read_text() == before
    assert sorted(p.name for p in case_copy.parent.iterdir()) == [CASE.name]  # no temporary files left


def test_names_that_need_quoting(tmp_path):
    blk = fake_block()
    blk["values"]["random"] = {
        "classid:schoolid": {"(Intercept)": {"variance": 1.0}},
        "Subject": {"(Intercept), Days": {"corr": -0.5}, "yes": {"sd": 2.0}},
        "Residual": {"variance": 3.0},
    }
    blk["values"]["fit"]["ngroups"] = {"classid:schoolid": 285, "no": 3}
    text = block_text(blk, None)
    data = yaml.safe_load(text)
    assert flatten_values(data["values"]) == flatten_values(blk["values"])
    assert data["date"] == "2024-01-02T03:04:05Z"  # quoted: not a YAML timestamp


def test_out_directory(case_copy, tmp_path):
    out = tmp_path / "reference_outputs"
    res = write_reference(case_copy, fake_block(), out=out)
    path = out / "lme4" / "classroom-mathkind-ses-school.yaml"
    assert res.action == "added" and res.path == path and path.is_file()
    assert case_copy.read_text() == CASE.read_text()  # the case is untouched
    data = yaml.safe_load(path.read_text())
    assert data["label"] == "lme4-live"
    assert flatten_values(data["values"]) == flatten_values(fake_block()["values"])
    assert write_reference(case_copy, fake_block(), out=out).action == "refused"
    res = write_reference(case_copy, fake_block(scale=2), out=out, force=True)
    assert res.action == "replaced" and [c.path for c in res.changes] == ["fixed.(Intercept).estimate"]
    code, text = reference_command(case_copy, "lme4", False, out)
    assert code == 1 and "refused" in text and "--force" in text


def test_command_refuses_before_fitting_and_reports_errors(case_copy, tmp_path):
    write_reference(case_copy, fake_block())
    code, text = reference_command(case_copy, "lme4", False, None)
    assert code == 1 and "already has a reference block labelled 'lme4-live'" in text
    code, text = reference_command(tmp_path / "missing.yaml", "lme4", False, None)
    assert code == 2 and text.startswith("error:") and "not found" in text
    code, text = reference_command(case_copy, "spss", True, None)
    assert code == 2 and "spss" in text


def test_helpers():
    assert version_changes("R 4.2.2; lme4 1.1-31", "R 4.2.2; lme4 1.1-31") == {}
    assert version_changes("R 4.2.2; lme4 1.1-31", "R 4.2.2; lme4 1.1-31; nlme 3.1") == {"nlme": ("", "3.1")}
    old = {"fixed": {"x": {"estimate": 1.0, "p": "<2e-16"}}}
    new = copy.deepcopy(old)
    assert value_changes(old, new) == ()
    new["fixed"]["x"]["estimate"] = 1.0 + 2e-10
    assert [c.path for c in value_changes(old, new)] == ["fixed.x.estimate"]


# --------------------------------------------------------------- live


@pytest.fixture(scope="module")
def lme4():
    return require_engine(Lme4Engine)


@pytest.mark.r
def test_live_block_agrees_with_native_and_regenerates_unchanged(lme4, case_copy, data_dir):
    from replicate.compare import DISCREPANCY, NOT_COMPARABLE
    from replicate.engines import get_engine
    from replicate.outcome import OK
    from replicate.runner import run_case

    block = make_reference_block(case_copy, "lme4")
    assert block["label"] == "lme4-live" and block["software"] == "lme4" and block["source"] == SOURCE
    assert block["options"] == {"method": "REML", "df": "satterthwaite", "se": "model"}
    assert "lme4 1.1-" in block["version"] and "lmerTest 3." in block["version"]
    assert block["call"] == ("lmerTest::lmer(formula = mathkind ~ 1 + ses + (1 | schoolid), data = dat, REML = TRUE)")
    fixed = block["values"]["fixed"]
    assert set(fixed) == {"(Intercept)", "ses"}
    assert set(fixed["ses"]) == {"estimate", "se", "df", "t", "p"}
    assert round(fixed["(Intercept)"]["df"], 3) == 98.752 and round(fixed["ses"]["estimate"], 3) == 10.722
    assert set(block["values"]["random"]) == {"schoolid", "Residual"}
    fit = block["values"]["fit"]
    assert set(fit) == {"loglik", "reml_criterion", "aic", "bic", "nobs", "ngroups"}
    assert fit["nobs"] == 1190 and fit["ngroups"] == {"schoolid": 107}

    res = write_reference(case_copy, block)
    assert res.action == "added"
    load_case(case_copy)
    run = run_case(case_copy, get_engine("native"))
    assert run.status == OK, run.error
    live = next(b for b in run.blocks if b.label == "lme4-live")
    assert live.error is None and len(live.values) == 20
    assert not [v for v in live.values if v.verdict in (DISCREPANCY, NOT_COMPARABLE)]

    text = case_copy.read_text()
    code, msg = reference_command(case_copy, "lme4", False, None)
    assert code == 1 and "refused" in msg and case_copy.read_text() == text
    code, msg = reference_command(case_copy, "lme4", True, None)
    assert code == 0 and "no value changed beyond 1e-10" in msg and "no package version changed" in msg
    again = load_case(case_copy)
    assert flatten_values(again.expected[1]["values"]) == flatten_values(block["values"])
