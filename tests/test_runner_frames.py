"""A case's data is read once per run of the case, also for a likelihood-ratio test's other model."""

from __future__ import annotations

from pathlib import Path

from replicate import runner
from replicate.engines import get_engine

CASES = Path(__file__).resolve().parents[1] / "cases"


def test_the_other_model_of_a_likelihood_ratio_test_reuses_the_case_s_data(monkeypatch, data_dir):
    reads = []
    real = runner.load_frame

    def counting(case):
        reads.append(case.id)
        return real(case)

    monkeypatch.setattr(runner, "load_frame", counting)
    res = runner.run_case(CASES / "classroom-mathgain-school-class-lrt.yaml", get_engine("native"))
    assert res.status == "agrees"
    assert any(v.section == "tests" for b in res.blocks for v in b.values)  # the other model was fitted
    assert reads == ["classroom-mathgain-school-class-lrt"]
