"""The diagnosis of GLMM blocks (issue #17): a block compared with the wrong estimation method is told which
method reproduces its numbers, and a changed number is not explained away as a method.

The Contraception case holds live glmer (Laplace, nAGQ = 25) and glmmPQL blocks for one binary model with small
districts, where the three methods disagree visibly: a block read as another method's must be named for its own.
"""

from __future__ import annotations

from pathlib import Path

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
