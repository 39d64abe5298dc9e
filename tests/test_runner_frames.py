"""A case's data is read once per run of the case, also for a likelihood-ratio test's other model."""

from __future__ import annotations

from pathlib import Path

from replicate import build, runner
from replicate.engines import get_engine

CASES = Path(__file__).resolve().parents[1] / "cases"


def test_the_other_model_of_a_likelihood_ratio_test_reuses_the_case_s_data(monkeypatch, data_dir):
    reads = []
    real = build.load_frame

    def counting(case):
        reads.append(case.id)
        return real(case)

    monkeypatch.setattr(build, "load_frame", counting)
    res = runner.run_case(CASES / "classroom-mathgain-school-class-lrt.yaml", get_engine("native"))
    assert res.status == "agrees"
    assert any(v.section == "tests" for b in res.blocks for v in b.values)  # the other model was fitted
    assert reads == ["classroom-mathgain-school-class-lrt"]


def test_the_other_model_and_the_ml_refits_are_fitted_by_the_run_s_engine(data_dir):
    from replicate.engines.native import NativeEngine

    class Counting(NativeEngine):
        name = "counting"

        def __init__(self):
            self.fitted = []

        def fit(self, design, method="REML"):
            self.fitted.append((design.formula, method))
            return super().fit(design, method)

    engine = Counting()
    res = runner.run_case(CASES / "classroom-mathgain-common-sample-lrt.yaml", engine)
    assert res.status == "agrees"
    formulas = {f for f, _ in engine.fitted}
    assert len(formulas) == 2, engine.fitted  # the case's model and the test's other model, both by this engine
    assert {m for _, m in engine.fitted} == {"ML"}  # the block's ML fits
