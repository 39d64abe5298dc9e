"""A study speaks the project's vocabulary: every df method and SE kind of replicate/vocab.py is accepted,
computed for every coefficient, and reported by its name."""

from __future__ import annotations

import math

import pytest

from replicate.simulate import run_study
from replicate.simulate.config import INFINITE_DF, StudyError, load_study
from replicate.simulate.report import fmt_df
from replicate.simulate.worker import run_replicate
from replicate.vocab import DfMethod, SeKind

EVERY_DF = [m.value for m in DfMethod]
EVERY_SE = [k.value for k in SeKind]


def _every_method_study(tiny, **over):
    methods = {"estimation": ["REML", "ML"], "df": EVERY_DF, "se": EVERY_SE}
    return tiny(methods=methods, **over)


def test_a_study_accepts_every_df_method_and_se_kind_in_the_order_given(tiny):
    study = load_study(_every_method_study(tiny))
    assert study.methods.df == tuple(DfMethod)
    assert study.methods.se == tuple(SeKind)
    # the plain-data form (what workers receive) keeps them
    assert load_study(study.to_dict()).methods == study.methods


@pytest.mark.parametrize("name", EVERY_DF)
def test_each_df_method_alone_is_accepted_whatever_its_case(name, tiny):
    doc = tiny(methods={"df": [name.upper()], "se": ["model"]})
    assert load_study(doc).methods.df == (name,)


def test_an_unknown_df_method_is_refused_naming_the_field_and_the_choices(tiny):
    with pytest.raises(StudyError) as exc:
        load_study(tiny(methods={"df": ["kenward-roger-3"]}))
    err = exc.value
    assert err.field == "methods.df[0]"
    assert "kenward-roger-2" in str(err) and "cr2-satterthwaite" in str(err)


def test_one_replicate_computes_every_df_method_and_se_kind_for_every_coefficient(tiny):
    study = load_study(_every_method_study(tiny))
    rec = run_replicate(study, 0)
    p = len(study.coefficients)
    for est in ("REML", "ML"):
        fit = rec[est]
        assert fit["ok"] and "errors" not in fit, fit.get("errors")
        assert set(fit["df"]) == set(EVERY_DF) and set(fit["se"]) == set(EVERY_SE)
        for name, values in fit["df"].items():
            assert len(values) == p and all(v is not None and v > 0 for v in values), (est, name, values)
        for kind, values in fit["se"].items():
            assert len(values) == p and all(v is not None and 0 < v < 10 for v in values), (est, kind, values)
        # the z test's df is infinite and saved as the JSON-safe stand-in; every other df is finite
        assert fit["df"]["none"] == [INFINITE_DF] * p
        assert all(v < 1e6 for m, vs in fit["df"].items() if m != "none" for v in vs)
        # methods that differ by definition give different numbers on this design (x is level 1, w level 2)
        assert fit["df"]["residual"] != fit["df"]["between-within"]
        assert fit["se"]["model"] != fit["se"]["cr2"]


def test_a_study_with_every_method_reports_each_by_name(tmp_path, tiny):
    study = load_study(_every_method_study(tiny, replicates=4, chunk_size=4))
    result = run_study(study, tmp_path / "out", executor="serial")
    tests = result.summary.tests
    assert {t["df"] for t in tests} == set(EVERY_DF)
    assert {t["se"] for t in tests} == set(EVERY_SE)
    md = (tmp_path / "out" / "results.md").read_text(encoding="utf-8")
    for name in EVERY_DF:
        assert f"| {name} |" in md
    # the infinite df of the z test reads as such, not as 1e+300
    assert "∞ (z)" in md and "e+300" not in md
    assert "e+300" not in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_median_df_formatting():
    assert fmt_df(INFINITE_DF) == "∞ (z)"
    assert fmt_df(5.8123) == "5.81"
    assert fmt_df(math.nan) == "—"
    assert fmt_df(None) == "—"
