"""Transcription errors are named as such, before any optimum or flat-likelihood diagnosis (issue #13, item 3).

Each test copies one value wrong into a live lme4 block whose other values agree with the engine to
many digits, and checks that the diagnosis names a transcription error with the numbers, and nothing else.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from replicate.case import load_case
from replicate.engines import get_engine
from replicate.printed import Printed
from replicate.runner import run_case

CASES = Path(__file__).resolve().parents[1] / "cases"


@pytest.fixture
def lme4_case(data_dir):
    case = load_case(CASES / "imm23-urban-level2.yaml")
    case.expected[:] = [b for b in case.expected if b["label"] == "lme4-live"]
    return case


def _diagnose(case):
    res = run_case(case, get_engine("native"))
    (blk,) = res.blocks
    texts = [d.text for d in blk.diagnoses]
    for t in texts:
        assert "flat likelihood" not in t and "different optimum" not in t, t
        assert not t.startswith("unexplained"), t
    return blk


def _set(block, path, text):
    node = block["values"]
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = Printed(float(text), text)


def _typo(blk, key):
    hits = [d for d in blk.diagnoses if d.kind == "transcription error" and key in d.values]
    assert hits, [d.text for d in blk.diagnoses]
    return hits[0].text


def test_untouched_block_agrees(lme4_case):
    res = run_case(copy.deepcopy(lme4_case), get_engine("native"))
    assert res.blocks[0].diagnoses == [] and res.status == "agrees"


def test_wrong_se_is_named_by_the_printed_t(lme4_case):
    _set(lme4_case.expected[0], ("fixed", "urban01", "se"), "2.4279147812626125")
    text = _typo(_diagnose(lme4_case), "fixed urban01 se")
    assert text.startswith("the printout contradicts itself: t = 0.6230976810297947 needs SE 2.4179")
    assert "the block says 2.4279147812626125" in text and "transcription error" in text


def test_wrong_variance_is_named_by_the_printed_sd(lme4_case):
    _set(lme4_case.expected[0], ("random", "schid", "(Intercept)", "variance"), "26.883028501462303")
    text = _typo(_diagnose(lme4_case), "random schid (Intercept) variance")
    assert "sd 5.165561779851472 needs variance 26.683" in text and "transcription error" in text


def test_wrong_df_is_named_by_the_printed_p(lme4_case):
    _set(lme4_case.expected[0], ("fixed", "urban01", "df"), "21.605508242468797")
    text = _typo(_diagnose(lme4_case), "fixed urban01 df")
    assert "need df 20.60" in text and "the block says 21.605508242468797" in text


def test_swapped_pair(lme4_case):
    fixed = lme4_case.expected[0]["values"]["fixed"]
    fixed["urban01"]["df"], fixed["(Intercept)"]["df"] = fixed["(Intercept)"]["df"], fixed["urban01"]["df"]
    blk = _diagnose(lme4_case)
    text = _typo(blk, "fixed urban01 df")
    assert text.startswith("swapped pair") and "fixed (Intercept) df" in [k for d in blk.diagnoses for k in d.values]


def test_lone_value_without_redundancy(lme4_case):
    resid = lme4_case.expected[0]["values"]["random"]["Residual"]
    del resid["sd"]  # nothing in the printout can contradict the residual variance now
    _set(lme4_case.expected[0], ("random", "Residual", "variance"), "81.37903715160126")
    text = _typo(_diagnose(lme4_case), "random Residual variance")
    assert (
        text.startswith("only Residual variance differs")
        and "to >= 7 digits: a transcription error is the likeliest cause" in text
    )


def test_a_gap_that_reproduces_nothing_is_not_called_a_different_optimum(lme4_case, monkeypatch):
    import replicate.diagnose as dg
    from replicate.build import prepare
    from replicate.comparison import compare_block
    from replicate.inference import Inference
    from replicate.quantities import block_quantities

    block = lme4_case.expected[0]
    del block["values"]["random"]["schid"]["(Intercept)"]["sd"]
    _set(block, ("random", "schid", "(Intercept)", "variance"), "30.0")  # far from the optimum
    _, design, _ = prepare(lme4_case)
    fit = get_engine("native").fit(design, "REML")
    bad = [
        v
        for v in compare_block(
            lme4_case, lme4_case.blocks[0], block_quantities(lme4_case, lme4_case.blocks[0], Inference(fit, design))
        )
        if v.verdict == "discrepancy"
    ]
    assert [v.quantity for v in bad] == ["variance"]
    monkeypatch.setattr(dg, "_at_reference_values", lambda *a, **k: (0, len(bad)))
    d = dg._optimum(lme4_case, 0, fit, design, "lme4", "native", bad)
    assert d.kind == "likelihood gap" and d.values == () and not d.text.startswith("different optimum")
    assert "reproduces none of the 1 differing values" in d.text
    monkeypatch.setattr(dg, "_at_reference_values", lambda *a, **k: (1, len(bad)))
    assert dg._optimum(lme4_case, 0, fit, design, "lme4", "native", bad).text.startswith("different optimum")
