"""GLMM reference blocks (issue #17): the live glmer and glmmPQL writer, blocks of another method in one case.

The shipped cases hold blocks written by ``replicate reference`` from live R runs (R 4.2.2, lme4 1.1-31,
MASS 7.3-58.2, nlme 3.1-162): ``contraception-binary-glmm-methods`` has glmer's Laplace, glmer's nAGQ = 25
and MASS::glmmPQL blocks on one binary model, ``grouseticks-poisson-glmer`` a live glmer block and glmer's
printed summary. Each block must be compared with the fit of its own method, never agree with another
method's, and a block that names no method a GLMM has is invalid, naming the field.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from replicate.case import load_case
from replicate.cli import main
from replicate.engines import get_engine
from replicate.engines.r.glmer import glmer_converged
from replicate.errors import CaseError
from replicate.glmm_methods import fit_pql_case
from replicate.outcome import DISCREPANT, INVALID, OK
from replicate.quantities.glmm_pql import adjust_sigma
from replicate.reference_writer import flatten_values
from replicate.runner import run_case
from tests.rsupport import need_r

CASES = Path(__file__).resolve().parents[1] / "cases"
METHODS = CASES / "contraception-binary-glmm-methods.yaml"
TICKS = CASES / "grouseticks-poisson-glmer.yaml"
CBPP = CASES / "cbpp-binomial-glmer.yaml"
PQL = "MASS-glmmPQL-live"
AGQ = "lme4-glmer-agq25-live"
LAPLACE = "lme4-glmer-live"


@pytest.fixture(scope="module")
def native():
    return get_engine("native")


@pytest.fixture(scope="module")
def methods_result(native):
    return run_case(load_case(METHODS), native)


def _edited(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    out = tmp_path / source.name
    out.write_text(text.replace(old, new, 1), encoding="utf-8")
    return out


def _by_block(res):
    return {b.label: {(v.section, v.name, v.quantity): v for v in b.values} for b in res.blocks}


def test_laplace_quadrature_and_pql_each_agree_with_their_own_program(methods_result):
    res = methods_result
    assert res.status == OK, [b.error for b in res.blocks]
    blocks = _by_block(res)
    assert set(blocks) == {LAPLACE, AGQ, PQL}
    for label, values in blocks.items():
        assert values and all(v.verdict in ("agrees", "within tolerance") for v in values.values()), label
    assert {q for (s, _, q) in blocks[PQL] if s == "fixed"} == {"estimate", "se", "df", "t", "p"}
    assert ("random", "Residual", "sd") in blocks[PQL]
    assert {q for (s, _, q) in blocks[AGQ] if s == "fixed"} == {"estimate", "se", "z", "p"}


def test_the_three_methods_visibly_disagree_with_one_another(methods_result):
    """The engine's own numbers for the three blocks differ (by more than 1% in the district variance and the
    urban effect's SE), so the blocks are three fits, not one fit compared three times."""
    blocks = _by_block(methods_result)
    key = ("random", "district (Intercept)", "variance")
    var = {label: blocks[label][key].engine for label in blocks}
    assert abs(var[AGQ] / var[LAPLACE] - 1) > 0.03 and abs(var[PQL] / var[LAPLACE] - 1) > 0.005
    se = {label: blocks[label][("fixed", "urbanY", "se")].engine for label in blocks}
    assert len({round(v, 5) for v in se.values()}) == 3


def test_a_block_compared_with_another_method_is_a_discrepancy(tmp_path, native):
    path = _edited(tmp_path, METHODS, "    options: {method: agq, nagq: 25}\n", "    options: {method: laplace}\n")
    res = run_case(load_case(path), native)
    assert res.status == DISCREPANT
    bad = {(v.section, v.name, v.quantity) for b in res.blocks if b.label == AGQ for v in b.values}
    bad = {k for k in bad if _by_block(res)[AGQ][k].verdict == "discrepancy"}
    assert ("random", "district (Intercept)", "variance") in bad
    assert all(v.verdict in ("agrees", "within tolerance") for b in res.blocks if b.label != AGQ for v in b.values)


def test_software_mass_without_a_method_is_pql(tmp_path, native):
    path = _edited(tmp_path, METHODS, "    options: {method: pql}\n", "")
    res = run_case(load_case(path), native)
    assert res.status == OK and _by_block(res)[PQL]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("{method: agq, nagq: 25}", "{method: agq}", "options.nagq"),
        ("{method: agq, nagq: 25}", "{method: laplace, nagq: 25}", "options.nagq"),
    ],
)
def test_a_block_method_a_glmm_lacks_is_an_invalid_block_naming_the_field(tmp_path, native, old, new, message):
    res = run_case(load_case(_edited(tmp_path, METHODS, old, new)), native)
    bad = [b for b in res.blocks if b.error]
    assert res.status == INVALID and [b.label for b in bad] == [AGQ] and message in bad[0].error
    assert all(v.verdict in ("agrees", "within tolerance") for b in res.blocks if not b.error for v in b.values)


def test_nagq_out_of_range_is_refused_at_load(tmp_path):
    with pytest.raises(CaseError, match=r"expected\[1\]\.options\.nagq"):
        load_case(_edited(tmp_path, METHODS, "nagq: 25}", "nagq: 40}"))


def test_a_linear_method_on_a_glmm_block_and_a_glmm_method_on_a_linear_block_are_refused_at_load(tmp_path):
    with pytest.raises(CaseError, match=r"expected\[1\]\.options\.method'?: 'REML' is not allowed"):
        load_case(_edited(tmp_path, METHODS, "{method: agq, nagq: 25}", "{method: REML}"))
    linear = CASES / "imm23-null.yaml"
    with pytest.raises(CaseError, match=r"options\.method'?: 'pql' is not allowed \(allowed: REML, ML\)"):
        load_case(
            _edited(
                tmp_path,
                linear,
                "options: {method: REML, df: satterthwaite",
                "options: {method: pql, df: satterthwaite",
            )
        )
    with pytest.raises(CaseError, match=r"options\.nagq'?: 'nagq' is not allowed here"):
        load_case(
            _edited(
                tmp_path,
                linear,
                "options: {method: REML, df: satterthwaite",
                "options: {method: REML, nagq: 3, df: satterthwaite",
            )
        )


def test_pql_standard_errors_are_summary_lme_s_adjusted_ones(methods_result):
    """glmmPQL's printed SEs are vcov's times sqrt(N / (N - p)) (summary.lme's adjustSigma for an ML fit);
    without the factor the engine's SEs would differ from the block's in the 3rd digit."""
    fit = fit_pql_case(load_case(METHODS))
    factor = adjust_sigma(fit.nobs, len(fit.pql.beta))
    assert factor == pytest.approx(np.sqrt(483 / 480))
    printed = flatten_values(load_case(METHODS).blocks[2].values)
    raw = fit.pql.se[list(fit.pql.fixed_names).index("urbanY")]
    assert printed["fixed.urbanY.se"] == pytest.approx(raw * factor, rel=1e-5)
    assert abs(printed["fixed.urbanY.se"] / raw - 1) > 1e-3


def test_a_changed_pql_number_and_a_pql_loglik_never_agree(tmp_path, native):
    text = METHODS.read_text(encoding="utf-8")
    start = text.index(f"label: {PQL}")
    head, tail = text[:start], text[start:]
    assert "df: 422.0" in tail and "        nobs: 483\n" in tail
    tail = tail.replace("df: 422.0", "df: 421.0", 1).replace(
        "        nobs: 483\n", "        nobs: 483\n        loglik: -1.0\n"
    )
    path = tmp_path / METHODS.name
    path.write_text(head + tail, encoding="utf-8")
    res = run_case(load_case(path), native)
    values = _by_block(res)[PQL]
    assert res.status == DISCREPANT
    loglik = values[("fit", "loglik", "loglik")]
    assert loglik.verdict == "not comparable" and "no likelihood of the data" in loglik.note
    assert any(k[2] == "df" and v.verdict == "discrepancy" for k, v in values.items())


def test_grouseticks_live_block_and_printed_summary_agree(native):
    res = run_case(load_case(TICKS), native)
    blocks = _by_block(res)
    assert res.status == OK and set(blocks) == {"lme4-printout", LAPLACE}
    assert all(v.verdict in ("agrees", "within tolerance") for b in blocks.values() for v in b.values())
    live = blocks[LAPLACE]
    assert live[("fit", "deviance", "deviance")].lre > 8  # the same optimum, not a nearby one
    assert sum(q == "residual" for (_, _, q) in live) == 5


def test_a_singular_glmer_fit_is_converged_but_a_convergence_warning_is_not():
    assert glmer_converged(0, ["boundary (singular) fit: see help('isSingular')"])
    assert not glmer_converged(0, ["Model failed to converge with max|grad| = 0.0113 (tol = 0.002, component 1)"])
    assert not glmer_converged(0, ["Model is nearly unidentifiable: very large eigenvalue\n - Rescale variables?"])
    assert not glmer_converged(1, []) and glmer_converged(0, [])


def test_reference_command_refuses_glmm_options_on_a_linear_case_and_a_bad_nagq(capsys):
    linear = next(p for p in sorted(CASES.glob("*.yaml")) if "family:" not in p.read_text(encoding="utf-8"))
    assert main(["reference", str(linear), "--engine", "glmmpql"]) == 2
    assert "for a GLMM case" in capsys.readouterr().err
    assert main(["reference", str(CBPP), "--nagq", "0"]) == 2
    assert "nAGQ is 1 (Laplace) .. 25" in capsys.readouterr().err
    assert main(["reference", str(CBPP)]) == 1  # the block exists: nothing fitted or written
    assert "already has a reference block labelled 'lme4-glmer-live'" in capsys.readouterr().out


# ---------------------------------------------------------------- live: the writer


@pytest.fixture(scope="module")
def ro():
    return need_r("lme4", "MASS", "nlme")


@pytest.mark.r
def test_the_writer_reproduces_the_shipped_blocks(ro, tmp_path, native):
    """A fresh copy of the three-method case, its blocks removed, written again by ``replicate reference``:
    every number is the shipped one (R is deterministic here), and the case agrees."""
    text = METHODS.read_text(encoding="utf-8")
    path = tmp_path / METHODS.name
    path.write_text(text[: text.index("expected:")] + "expected: []\n", encoding="utf-8")
    assert main(["reference", str(path)]) == 0
    assert main(["reference", str(path), "--nagq", "25"]) == 0
    assert main(["reference", str(path), "--engine", "glmmpql"]) == 0
    new, old = load_case(path).blocks, load_case(METHODS).blocks
    assert [b.label for b in new] == [b.label for b in old]
    for a, b in zip(new, old, strict=True):
        assert a.options == b.options and a.software == b.software
        fa, fb = flatten_values(a.values), flatten_values(b.values)
        assert set(fa) == set(fb)
        for k in fa:
            assert fa[k] == pytest.approx(fb[k], rel=1e-7, abs=1e-12), (a.label, k)
    assert run_case(load_case(path), native).status == OK


@pytest.mark.r
def test_the_writer_on_cbpp_matches_the_earlier_live_run_and_adds_the_scaled_residuals(ro, tmp_path, native):
    path = tmp_path / CBPP.name
    shutil.copy(CBPP, path)
    assert main(["reference", str(path), "--force"]) == 0
    new = flatten_values(load_case(path).blocks[0].values)
    old = flatten_values(load_case(CBPP).blocks[0].values)
    assert set(old) < set(new) and {k for k in new if "scaled_residuals" in k}
    for k, v in old.items():
        assert new[k] == pytest.approx(v, rel=1e-8), k
    block = load_case(path).blocks[0]
    assert "tolPwrss = 1e-12" in block.call and "rhoend = 1e-10" in block.call
    assert run_case(load_case(path), native).status == OK
