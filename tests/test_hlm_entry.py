"""HLM's df by the level at which a predictor is entered (issue #13, item 1), and the df question in words (item 2)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from replicate.case import load_case
from replicate.diagnose import _without_defined
from replicate.diagnosis import Diagnosis
from replicate.engines import get_engine
from replicate.errors import CaseError
from replicate.hlm_entry import entry_checks, gammas, implied_counts
from replicate.inference import fixed_df, fixed_se
from replicate.runner import run_case
from replicate.show import render_show
from replicate.spec import parse_levels

LEVEL1 = {1: "y = b0 + b1*w + r", 2: ["b0 = g00 + u0", "b1 = g10"]}
LEVEL2 = {1: "y = b0 + r", 2: "b0 = g00 + g01*w + u0"}

CASES = Path(__file__).resolve().parents[1] / "cases"


def test_gammas_follow_the_entry():
    g1 = gammas(parse_levels(LEVEL1, {2: "g"}))
    g2 = gammas(parse_levels(LEVEL2, {2: "g"}))
    assert (g1["(Intercept)"].random, g1["(Intercept)"].S, g1["w"].random) == (True, 0, False)
    assert g1["(Intercept)"].df(126, 694) == 125 and g1["w"].df(126, 694) == 692
    assert (g2["w"].random, g2["w"].S) == (True, 1)
    assert g2["(Intercept)"].df(126, None) == 124 and g2["w"].df(126, None) == 124


def test_seed000_printouts_follow_hlms_rule_with_one_model_each():
    case = load_case(CASES / "seed000-nels-urban-hlm-sas.yaml")
    labels = [case.block_label(i) for i in range(len(case.expected))]
    assert labels == ["hlm-model-1", "hlm-model-2", "sas-glimmix-kr"]
    assert implied_counts(case, 0) == {"J": 126, "N": 694} and implied_counts(case, 1) == {"J": 126}
    one, two = entry_checks(case, 0), entry_checks(case, 1)
    assert [f.where for f in one] == ["fixed INTRCPT2, γ00 df"] and all(f.ok for f in one)
    assert {f.where for f in two} == {"fixed INTRCPT2, γ00 df", "fixed URBAN_LE, γ01 df", "counts J"}
    assert all(f.ok for f in two)
    # without its own model, model 1's printout contradicts the rule: 125 would mean J = 127, not 126
    del case.expected[0]["model"]
    assert not all(f.ok for f in entry_checks(case, 1))


def test_a_block_model_must_be_the_same_mixed_model():
    case = load_case(CASES / "seed000-nels-urban-hlm-sas.yaml")
    case.expected[0]["model"] = {
        "levels": {1: "posttest = b0 + b1*urban + r", 2: ["b0 = g00 + u0", "b1 = g10 + u1"]},
        "groups": {2: "schoolID"},
    }
    from replicate.hlm_entry import block_spec

    with pytest.raises(CaseError, match="not the case's mixed model"):
        block_spec(case, 0)


def test_show_of_the_consistency_only_case_prints_its_checks_side_by_side():
    case = load_case(CASES / "seed000-nels-urban-hlm-sas.yaml")
    text = render_show(case, run_case(case, get_engine("native")))
    assert "digits  verdict" not in text  # no empty comparison tables
    assert text.count("printout checks (no data, so no engine values)") == 3 and "inconsistent:" not in text
    assert "urban: the df differ by definition: hlm-model-1 692 = N - p (N = 694 implied by this df, p = 2" in text
    assert "hlm-model-2 124 = J - S - 1 (J = 126, S = 1: entered at level 2)" in text
    assert "urban: the cr0 SEs of hlm-model-1, hlm-model-2 differ by 4e-06" in text


def test_imm23_level1_and_level2_entries(data_dir):
    res = {}
    for which in ("level1", "level2"):
        case = load_case(CASES / f"imm23-urban-{which}.yaml")
        r = run_case(case, get_engine("native"))
        assert r.status == "agrees", which
        fit = r.fits["REML"]
        res[which] = (fit, r.design, render_show(case, r))
    (f1, d1, show1), (f2, d2, show2) = res["level1"], res["level2"]
    assert (f1.fixed - f2.fixed).abs().max() < 1e-9
    assert (fixed_se(f1, d1, "model") - fixed_se(f2, d2, "model")).abs().max() < 1e-9
    h1, h2 = fixed_df(f1, d1, "hlm"), fixed_df(f2, d2, "hlm")
    J, N = d1.reterms[0].nlevels, d1.n
    assert list(h1) == [J - 1, N - 2] and list(h2) == [J - 2, J - 2]
    assert "HLM's df follow the level of entry, not the variable: as entered here, (Intercept) 22" in show1
    assert "urban01 517 = N - p with p = 2" in show1 and "HLM's df follow" not in show2
    for text in (show1, show2):
        assert "nlme: inner/outer" in text and "within-group df N - J - p_1 = 519 - 23 - 0" in text
        assert "pbkrtest's and SAS's Kenward-Roger df differ" in text and "expected information" in text


def test_undeclared_df_is_matched_against_every_definition(data_dir):
    case = load_case(CASES / "imm23-urban-level2.yaml")
    case.expected[:] = [copy.deepcopy(b) for b in case.expected if b["label"] == "nlme-live"]
    del case.expected[0]["options"]["df"]
    r = run_case(case, get_engine("native"))
    notes = {v.name: v.note for v in r.blocks[0].values if v.quantity == "df"}
    assert notes["(Intercept)"].startswith("df 496.0 of (Intercept) is nlme's df")
    assert "within-group df N - J - p_1 = 519 - 23 - 0" in notes["(Intercept)"]
    assert "containment 21" in notes["(Intercept)"]
    assert "nlme's df" in notes["urban01"] and "SAS's between-within df" in notes["urban01"]


def test_a_definition_gets_no_flat_likelihood_note():
    flat = Diagnosis("flat likelihood", ("fixed x df", "random g v variance"), "flat likelihood: ...", {})
    defined = [Diagnosis("different definition", ("fixed x df",), "different definition: ...", {})]
    assert _without_defined(flat, defined).values == ("random g v variance",)
    assert _without_defined(flat, defined + [Diagnosis("d", ("random g v variance",), "", {})]) is None


@pytest.mark.r
def test_imm23_entries_with_the_live_lme4_engine(data_dir):
    from tests.rsupport import need_r

    need_r("lme4")
    engine = get_engine("lme4")
    fits = {}
    for which in ("level1", "level2"):
        r = run_case(load_case(CASES / f"imm23-urban-{which}.yaml"), engine)
        assert r.status == "agrees", which
        fits[which] = (r.fits["REML"], r.design)
    (f1, d1), (f2, d2) = fits["level1"], fits["level2"]
    assert (f1.fixed - f2.fixed).abs().max() < 1e-6 and (f1.se - f2.se).abs().max() < 1e-6
    assert list(fixed_df(f1, d1, "hlm")) == [22, 517] and list(fixed_df(f2, d2, "hlm")) == [21, 21]


def test_a_refused_block_model_is_reported_for_a_case_without_data(tmp_path):
    text = (CASES / "seed000-nels-urban-hlm-sas.yaml").read_text()
    bad = text.replace("2: [b0 = g00 + u0, b1 = g10]", "2: [b0 = g00 + u0, b1 = g10 + u1]")
    assert bad != text
    (tmp_path / "reference_outputs").mkdir()
    src = Path(__file__).resolve().parents[1] / "reference_outputs" / "hlm"
    (tmp_path / "reference_outputs" / "hlm").mkdir()
    for f in src.iterdir():
        (tmp_path / "reference_outputs" / "hlm" / f.name).write_text(f.read_text())
    (tmp_path / "cases").mkdir()
    p = tmp_path / "cases" / "seed000.yaml"
    p.write_text(bad)
    res = run_case(str(p), get_engine("native"))
    assert res.status == "invalid" and "not the case's mixed model" in (res.blocks[0].error or "")
    assert res.blocks[1].error is None
