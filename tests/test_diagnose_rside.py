"""The diagnosis of repeated-measures blocks (issue #16): each reason named when it is the reason, and only then.

The reasons: the reference stopped short of the optimum (SAS's Example 79.2 under TYPE=UN, compared strictly),
the reference did not converge, another df definition, another structure, the visit indexed by its time value
instead of its position (nlme's corAR1 on the time against SAS's AR(1)), a parameter on its boundary.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from replicate.case import load_case
from replicate.diagnosis import key_of
from replicate.engines import get_engine
from replicate.outcome import OK
from replicate.runner import run_case
from tests.rsupport import need_r

CASES = Path(__file__).resolve().parents[1] / "cases"
UN, CS = CASES / "orthodont-growth-un-sas.yaml", CASES / "orthodont-growth-cs-sas.yaml"
OPTIONS = "    options: {method: ML, df: between-within, se: model}"
STRICT = "\n    tolerance: {estimate: {rtol: 0}, se: {rtol: 0}, variance: {rtol: 0}, p: {rtol: 0}, t: {rtol: 0}}"


def _run(tmp_path: Path, source: Path, *edits: tuple[str, str]):
    text = source.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / source.name
    path.write_text(text, encoding="utf-8")
    res = run_case(load_case(path), get_engine("native"))
    block = res.blocks[0]
    bad = {key_of(v) for v in block.values if v.verdict == "discrepancy"}
    return res, block, bad


def _kinds(block) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for d in block.diagnoses:
        out.setdefault(d.kind, set()).update(d.values)
    return out


def test_at_sas_own_covariance_parameters_every_un_number_agrees(tmp_path):
    res, block, bad = _run(tmp_path, UN, (OPTIONS, OPTIONS.replace("}", ", optimum: reference}")))
    assert not bad and res.status == OK
    note = next(d for d in block.diagnoses if d.kind == "at the reference's optimum")
    assert 0 < note.data["gap"] < 1e-6  # SAS stopped a little short: its parameters lie above the optimum
    assert "above the engine's optimum" in note.text


def test_sas_stopping_short_explains_the_strictly_compared_un_numbers(tmp_path):
    _, block, bad = _run(tmp_path, UN, (OPTIONS, OPTIONS + STRICT))
    assert bad  # compared at the engine's optimum with no tolerance, a few numbers differ in their last digit
    kinds = _kinds(block)
    assert kinds.get("different optimum") == bad, block.diagnoses
    assert "unexplained" not in kinds


def test_a_reference_that_did_not_converge_is_said_to(tmp_path):
    options = OPTIONS.replace("}", ", converged: false}")
    _, block, bad = _run(tmp_path, UN, (OPTIONS, options + STRICT))
    assert bad and _kinds(block).get("reference did not converge") == bad
    assert "did not converge" in block.diagnoses[0].text


def test_a_df_definition_that_reproduces_the_printed_df_is_named(tmp_path):
    # the printed df are SAS's between-within (25 and 79): a block that claims ddfm=residual differs in its df
    _, block, bad = _run(tmp_path, CS, ("df: between-within", "df: residual"))
    df_keys = {k for k in bad if k.endswith(" df")}
    assert df_keys
    found = [d for d in block.diagnoses if d.kind == "different definition"]
    assert found and df_keys <= set(found[0].values), block.diagnoses
    assert "different optimum" not in _kinds(block)  # at SAS's parameters the residual df are still not SAS's
    assert "ddfm=betwithin" in found[0].text


def test_another_structure_that_reproduces_the_printed_likelihood_is_named(tmp_path):
    # SAS's CS numbers (fixed effects and -2 log L) read as if the model were AR(1): the CS fit reproduces them
    text = CS.read_text(encoding="utf-8")
    start, end = text.index("      covparms:"), text.index("      type3:")
    path = tmp_path / "cs-as-ar1.yaml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    _, block, bad = _run(tmp_path, path, ("type: CS", "type: AR(1)"))
    assert "fit deviance deviance" in bad
    found = [d for d in block.diagnoses if d.kind == "different structure"]
    assert found and found[0].data["type"] == "CS", block.diagnoses
    assert "fit deviance deviance" in found[0].values


def test_a_changed_number_is_never_explained_away_as_an_optimum(tmp_path):
    _, block, bad = _run(tmp_path, CS, ("estimate: 0.7844", "estimate: 0.8844"))
    assert bad
    kinds = _kinds(block)
    assert not any(k in kinds for k in ("different optimum", "different structure", "different definition"))


@pytest.mark.r
def _nlme_case(tmp_path: Path, correlation: str) -> Path:
    """A case whose block holds a live nlme::gls fit of Orthodont without age 12 (visits at 8, 10, 14) under
    ``correlation``, read as SAS's AR(1) on the visit's position."""
    ro = need_r("nlme")
    out = ro.r(
        """local({
          d <- subset(nlme::Orthodont, age != 12)
          f <- nlme::gls(distance ~ Sex * age, data = d, correlation = nlme::"""
        + correlation
        + """,
                         method = "ML")
          list(tt = summary(f)$tTable, ll = as.numeric(logLik(f)), n = nrow(d),
               d = data.frame(distance = d$distance, age = d$age, Sex = as.character(d$Sex),
                              Subject = as.character(d$Subject)))
        })"""
    )
    tt = out.rx2("tt")
    names = ["(Intercept)", "SexFemale", "age", "SexFemale:age"]
    rows = "\n".join(
        f"        {n}: {{estimate: {float(tt.rx(i + 1, 1)[0])!r}, se: {float(tt.rx(i + 1, 2)[0])!r}}}"
        for i, n in enumerate(names)
    )
    d = out.rx2("d")
    csv = tmp_path / "orthodont-no12.csv"
    lines = ["distance,age,Sex,Subject"] + [
        f"{d.rx2('distance')[i]!r},{d.rx2('age')[i]!r},{d.rx2('Sex')[i]},{d.rx2('Subject')[i]}"
        for i in range(int(out.rx2("n")[0]))
    ]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    case = tmp_path / "time-vs-position.yaml"
    case.write_text(
        f"""id: time-vs-position
title: nlme corAR1 on age, read as SAS's AR(1)
data: {{file: {csv.name}, sha256: {hashlib.sha256(csv.read_bytes()).hexdigest()}}}
transform:
  Sex: factor(Sex, levels=["Male", "Female"])
model:
  formula: distance ~ Sex * age
  residual: {{type: AR(1), repeated: age, subject: Subject}}
  method: ML
expected:
  - label: nlme-live
    software: nlme
    version: "live R run in this test"
    call: "nlme::gls(distance ~ Sex * age, correlation = {correlation}, method = 'ML')"
    source: "tests/test_diagnose_rside.py, Orthodont without age 12"
    options: {{method: ML, df: residual, se: model}}
    values:
      fixed:
{rows}
      fit:
        loglik: {float(out.rx2("ll")[0])!r}
""",
        encoding="utf-8",
    )
    return case


@pytest.mark.r
def test_nlme_continuous_ar1_on_the_time_value_is_told_from_sas_ar1_on_the_position(tmp_path):
    # visits at 8, 10, 14: nlme's corCAR1(form = ~ age) correlates by the age difference (phi^2, phi^4, phi^6),
    # SAS's AR(1) by the position (rho, rho, rho^2); SAS's SP(POW)(age) is nlme's corCAR1
    case = _nlme_case(tmp_path, "corCAR1(form = ~ age | Subject)")
    res = run_case(load_case(case), get_engine("native"))
    block = res.blocks[0]
    assert block.error is None, block.error
    bad = {key_of(v) for v in block.values if v.verdict == "discrepancy"}
    assert "fit loglik loglik" in bad
    found = [d for d in block.diagnoses if d.kind == "position vs time indexing"]
    assert found and found[0].data["type"] == "SP(POW)", [(d.kind, d.data, d.values) for d in block.diagnoses]
    assert "fit loglik loglik" in found[0].values


@pytest.mark.r
def test_nlme_discrete_ar1_over_gapped_ages_stays_at_independence_and_is_said_to(tmp_path):
    # nlme's corAR1(form = ~ age) on ages 8, 10, 14 (integers with a gap) becomes a corARMA(1) whose Phi stays at
    # exactly 0: its fit is the independence model, which the diagnosis names (TYPE=VC), not SAS's AR(1)
    case = _nlme_case(tmp_path, "corAR1(form = ~ age | Subject)")
    res = run_case(load_case(case), get_engine("native"))
    block = res.blocks[0]
    found = [d for d in block.diagnoses if d.kind == "different structure"]
    assert found and found[0].data["type"] == "VC", [(d.kind, d.data) for d in block.diagnoses]
    assert "fit loglik loglik" in found[0].values


def test_the_report_prints_the_diagnosis_in_text_markdown_and_html(tmp_path, capsys):
    from replicate.cli import main

    text = CS.read_text(encoding="utf-8")
    start, end = text.index("      covparms:"), text.index("      type3:")
    path = tmp_path / "cs-as-ar1.yaml"
    path.write_text((text[:start] + text[end:]).replace("type: CS", "type: AR(1)", 1), encoding="utf-8")
    out = tmp_path / "report"
    assert main(["run", str(path), "--out", str(out), "--format", "markdown,html"]) == 1
    said = "numbers are reproduced by TYPE=CS, not by the case's TYPE=AR(1)"
    assert said in capsys.readouterr().out
    assert said in (out / "report.md").read_text(encoding="utf-8")
    assert "TYPE=CS" in (out / "report.html").read_text(encoding="utf-8")
