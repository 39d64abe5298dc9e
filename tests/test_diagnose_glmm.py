"""The diagnosis of GLMM blocks (issue #17): a block compared with the wrong estimation method is told which
method reproduces its numbers, and a changed number is not explained away as a method.

The Contraception case holds live glmer (Laplace, nAGQ = 25) and glmmPQL blocks for one binary model with small
districts, where the three methods disagree visibly: a block read as another method's must be named for its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from replicate.case import load_case
from replicate.diagnosis import key_of
from replicate.engines import get_engine
from replicate.runner import run_case

CASE = Path(__file__).resolve().parents[1] / "cases" / "contraception-binary-glmm-methods.yaml"


def _run(tmp_path: Path, *edits: tuple[str, str]):
    text = CASE.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / CASE.name
    path.write_text(text, encoding="utf-8")
    return run_case(load_case(path), get_engine("native"))


def _found(block, kind: str):
    return [d for d in block.diagnoses if d.kind == kind]


def test_quadrature_numbers_read_as_laplace_are_named_quadrature(tmp_path):
    res = _run(tmp_path, ("    options: {method: agq, nagq: 25}\n", ""))
    block = res.blocks[1]
    bad = {key_of(v) for v in block.values if v.verdict == "discrepancy"}
    assert any(k.startswith("random ") for k in bad), bad
    found = _found(block, "different estimation method")
    assert found and found[0].data["method"] == "agq", block.diagnoses
    assert "adaptive Gauss-Hermite quadrature" in found[0].text and "not by the Laplace" in found[0].text
    assert {k for k in bad if k.startswith(("fixed", "random"))} <= set(found[0].values)


def test_pql_numbers_read_as_quadrature_are_named_pql(tmp_path):
    res = _run(tmp_path, ("    options: {method: pql}\n", "    options: {method: agq, nagq: 25}\n"))
    block = res.blocks[2]
    found = _found(block, "different estimation method")
    assert found and found[0].data["method"] == "pql", block.diagnoses
    assert "penalized quasi-likelihood" in found[0].text


def test_the_blocks_as_shipped_need_no_diagnosis_and_a_changed_number_is_not_a_method(tmp_path):
    res = run_case(load_case(CASE), get_engine("native"))
    assert all(not b.diagnoses for b in res.blocks)
    text = CASE.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.strip().startswith("age: {estimate:"))
    value = row.split("estimate: ")[1].split(",")[0]
    res = _run(tmp_path, (row, row.replace(f"estimate: {value}", f"estimate: {float(value) * 1.5!r}")))
    block = res.blocks[0]
    assert any(v.verdict == "discrepancy" for v in block.values)
    assert not _found(block, "different estimation method"), block.diagnoses
    assert not _found(block, "different optimum"), block.diagnoses


CBPP = Path(__file__).resolve().parents[1] / "cases" / "cbpp-binomial-glmer.yaml"


def _stopped_short(tmp_path: Path, shrink: float, *, typo: bool = False, ses: str | None = None):
    """The cbpp case with its block printed where an optimizer stopped in theta (theta times ``shrink``, beta and
    the log-likelihood at their best there), as glmer's default settings do; ``typo`` then mistypes an estimate;
    ``ses`` adds SEs: ``rx`` from RX at those parameters (glmer's fallback there), ``off`` those times 1.02."""
    from scipy import optimize

    from replicate.glmm_stage import fit_case

    fit = fit_case(load_case(CBPP))
    theta = np.asarray(fit.theta, dtype=float) * shrink
    dev = fit.deviance_function
    best = optimize.minimize(
        lambda b: dev(np.r_[theta, b]), np.asarray(fit.beta), method="BFGS", options={"gtol": 1e-10}
    )
    beta, loglik = best.x, -best.fun / 2
    text = CBPP.read_text(encoding="utf-8")
    block = text[text.index("    values:\n") :]
    names = ["(Intercept)", "period2", "period3", "period4"]
    if typo:
        beta = beta.copy()
        beta[1] *= 1.5
    lines = ["    values:", "      fixed:"]
    if ses is not None:
        from replicate.engine.glmm.summary import with_rx_vcov

        printed = np.round(beta, 6)
        at = with_rx_vcov(fit, np.r_[np.sqrt(np.round(theta[0] ** 2, 6)), printed]).se * (1.02 if ses == "off" else 1)
        lines += [f"        {n}: {{estimate: {b:.6f}, se: {se:.6f}}}" for n, b, se in zip(names, beta, at, strict=True)]
    else:
        lines += [f"        {n}: {{estimate: {b:.6f}}}" for n, b in zip(names, beta, strict=True)]
    lines += ["      random:", "        herd:", f"          (Intercept): {{variance: {theta[0] ** 2:.6f}}}"]
    lines += ["      fit:", f"        loglik: {loglik:.6f}", ""]
    path = tmp_path / CBPP.name
    path.write_text(text.replace(block, "\n".join(lines)), encoding="utf-8")
    return run_case(load_case(path), get_engine("native")), loglik, -fit.objective / 2


def test_a_program_that_stopped_short_is_named_with_its_gap(tmp_path):
    res, loglik, optimum = _stopped_short(tmp_path, 0.9)
    block = res.blocks[0]
    bad = {key_of(v) for v in block.values if v.verdict == "discrepancy"}
    assert "fit loglik loglik" in bad and any(k.startswith("random ") for k in bad), bad
    found = _found(block, "different optimum")
    assert found, block.diagnoses
    assert found[0].data["gap"] == pytest.approx(optimum - loglik, rel=1e-3, abs=1e-6)
    assert found[0].data["gap"] > 0 and "stopped short" in found[0].text
    assert bad <= set(found[0].values)


def test_a_gap_within_printing_precision_is_not_blamed_on_the_optimizer(tmp_path):
    res, _, _ = _stopped_short(tmp_path, 1.0 + 1e-7)
    assert not any(_found(b, "different optimum") for b in res.blocks)


def test_a_mistyped_estimate_is_not_blamed_on_the_optimizer(tmp_path):
    # the mistyped estimate also lowers the likelihood at the printed parameters, but the block's own log-likelihood
    # is not the one its printed parameters give: the printout contradicts itself, so nothing is said of an optimum
    res, _, _ = _stopped_short(tmp_path, 0.9, typo=True)
    assert not _found(res.blocks[0], "different optimum"), res.blocks[0].diagnoses


def _with_rx_ses(tmp_path: Path, scale: float = 1.0):
    """The Contraception case with its glmer block's SEs, z and p replaced by those of the engine's RX covariance
    (times ``scale``): glmer's fallback when its finite-difference Hessian is not positive definite."""
    from replicate.engine.glmm.summary import with_rx_vcov
    from replicate.glmm_stage import fit_case

    case = load_case(CASE)
    fit = fit_case(case)
    rx = with_rx_vcov(fit)
    text = CASE.read_text(encoding="utf-8")
    first = text.index("  - label: lme4-glmer-agq25-live")
    head, tail = text[:first], text[first:]
    for name, se, z, p in zip(
        rx.fixed_names, map(float, rx.se * scale), map(float, rx.z / scale), map(float, rx.p_value)
    ):
        line = next(x for x in head.splitlines() if x.strip().startswith(f"{name}: {{estimate:"))
        estimate = line.split("estimate: ")[1].split(",")[0]
        new = f"        {name}: {{estimate: {estimate}, se: {se!r}, z: {z!r}, p: {p!r}}}"
        head = head.replace(line, new if scale == 1.0 else new.replace(f", p: {p!r}", ""))
    path = tmp_path / CASE.name
    path.write_text(head + tail, encoding="utf-8")
    return run_case(load_case(path), get_engine("native")), rx, fit


def test_ses_from_glmers_rx_fallback_are_named_as_such(tmp_path):
    res, rx, fit = _with_rx_ses(tmp_path)
    block = res.blocks[0]
    bad = {key_of(v) for v in block.values if v.verdict == "discrepancy"}
    assert bad and all(k.startswith("fixed ") and k.endswith((" se", " z", " p")) for k in bad), bad
    found = _found(block, "standard errors from RX")
    assert found and set(found[0].values) == bad, block.diagnoses
    assert "falling back to var-cov estimated from RX" in found[0].text
    assert not _found(block, "unexplained")
    # the two covariances differ visibly (RX takes theta as known), so the check discriminates
    assert fit.vcov_source == "hessian" and np.max(np.abs(rx.se / fit.se - 1)) > 1e-3


def test_ses_off_the_rx_covariance_are_not_explained_by_it(tmp_path):
    res, _, _ = _with_rx_ses(tmp_path, scale=1.01)
    block = res.blocks[0]
    assert not _found(block, "standard errors from RX"), block.diagnoses
    assert _found(block, "unexplained")


def test_a_program_that_stopped_short_and_fell_back_to_rx_gets_both_diagnoses(tmp_path):
    res, _, _ = _stopped_short(tmp_path, 0.9, ses="rx")
    block = res.blocks[0]
    bad = {key_of(v) for v in block.values if v.verdict == "discrepancy"}
    rx = _found(block, "standard errors from RX")
    gap = _found(block, "different optimum")
    assert rx and gap, block.diagnoses
    assert {k for k in bad if k.endswith(" se")} <= set(rx[0].values)
    assert not _found(block, "unexplained")


def test_ses_off_rx_where_a_program_stopped_short_are_not_called_rx(tmp_path):
    res, _, _ = _stopped_short(tmp_path, 0.9, ses="off")
    block = res.blocks[0]
    assert any(v.verdict == "discrepancy" and v.quantity == "se" for v in block.values)
    assert not _found(block, "standard errors from RX"), block.diagnoses
