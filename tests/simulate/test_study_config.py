"""Study files: safe YAML, validation errors that name the field, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from replicate.simulate.config import StudyError, load_study

STUDIES = Path(__file__).resolve().parents[2] / "studies"


def _error(doc_or_text, tmp_path: Path | None = None) -> StudyError:
    if isinstance(doc_or_text, str):
        assert tmp_path is not None
        p = tmp_path / "study.yaml"
        p.write_text(doc_or_text)
        src = p
    else:
        src = doc_or_text
    with pytest.raises(StudyError) as exc:
        load_study(src)
    return exc.value


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_studies_are_valid(path):
    study = load_study(path)
    assert study.replicates >= 100
    assert study.formula.startswith("y ~ ")
    # the plain-data form validates to the same study
    again = load_study(study.to_dict())
    assert again.fingerprint() == study.fingerprint()
    assert again.design == study.design and again.methods == study.methods


def test_quick_variant_is_the_start_of_the_full_study():
    full = load_study(STUDIES / "small-groups-level2.yaml")
    quick = load_study(STUDIES / "small-groups-level2-quick.yaml")
    assert quick.replicates < full.replicates
    assert quick.fingerprint() == full.fingerprint()  # same seed, design, truth, methods and chunks


@pytest.mark.parametrize(
    "change, field, words",
    [
        (lambda d: d.update(replicats=10), "replicats", "did you mean 'replicates'"),
        (lambda d: d.update(replicates=0), "replicates", "at least 1"),
        (lambda d: d.update(seed=-1), "seed", "at least 0"),
        (lambda d: d.update(alpha=0.7), "alpha", "< 0.5"),
        (lambda d: d["methods"].update(df=["residual", "satterthwait"]), "methods.df[1]", "satterthwaite"),
        (lambda d: d["methods"].update(estimation=["REML", "OLS"]), "methods.estimation[1]", "not a known choice"),
        (lambda d: d["methods"].update(se=["cr3"]), "methods.se[0]", "cr2"),
        (lambda d: d["design"].update(groups=2), "design.groups", "at least 3"),
        (lambda d: d["design"].update(group_size=[10, 10]), "design.group_size", "2 sizes for 8 groups"),
        (lambda d: d["design"].update(group_size={"distribution": "poisson"}), "design.group_size.mean", "missing"),
        (lambda d: d["design"].update(random_slopes=["w"]), "design.random_slopes[0]", "level-2 predictor"),
        (lambda d: d["design"]["predictors"]["x"].update(level=3), "design.predictors.x.level", "at most 2"),
        (lambda d: d["design"]["predictors"]["x"].update(p=0.3), "design.predictors.x.p", "does not apply"),
        (lambda d: d["truth"]["fixed"].pop("w"), "truth.fixed", "'w' has no coefficient"),
        (lambda d: d["truth"]["fixed"].update({"x:z": 1}), "truth.fixed.x:z", "'z' is not a predictor"),
        (lambda d: d["truth"].update(intercept_variance=0.2), "truth.icc", "either icc"),
        (lambda d: d["truth"].update(icc=1.0), "truth.icc", "< 1"),
        (lambda d: d["truth"].update(slope_variances={"x": 0.1}), "truth.slope_variances.x", "no random slope"),
    ],
)
def test_invalid_studies_name_the_field(tiny, change, field, words):
    doc = tiny()
    change(doc)
    err = _error(doc)
    assert err.field == field, str(err)
    assert words in str(err), str(err)


def test_correlations_must_be_valid(tiny):
    doc = tiny()
    doc["design"]["predictors"]["z"] = {"level": 1}
    doc["design"]["random_slopes"] = ["x", "z"]
    doc["truth"]["fixed"]["z"] = 0.0
    doc["truth"]["slope_variances"] = {"x": 0.1, "z": 0.1}
    doc["truth"]["correlations"] = {"(Intercept),x": 0.9, "(Intercept),z": 0.9, "x,z": -0.9}
    err = _error(doc)
    assert err.field == "truth.correlations" and "positive semi-definite" in str(err)


def test_yaml_errors_give_file_and_line(tmp_path):
    text = "id: t\nseed: 1\nreplicates: 10\ndesign:\n  groups: 8\n  group_size: 5\n  groups: 9\n"
    err = _error(text, tmp_path)
    assert err.line == 7 and "duplicate key" in str(err)
    text = "id: t\nseed: !!python/object/apply:os.system ['echo hi']\n"
    err = _error(text, tmp_path)
    assert "tag" in str(err) and "not allowed" in str(err) and err.line == 2
    text = (
        "id: t\nseed: 1\nreplicates: 10\ndesign:\n  groups: 8\n  group_size: 5\ntruth:\n  fixed: {(Intercept): 0}\n"
        "  icc: 0.2\nmethods:\n  df: [kenward-rogers]\n"
    )
    err = _error(text, tmp_path)
    assert err.field == "methods.df[0]" and err.line == 11 and "kenward-roger" in str(err)
    assert str(tmp_path / "study.yaml") in str(err)


def test_missing_file_is_a_study_error(tmp_path):
    err = _error(tmp_path / "nope.yaml")
    assert "cannot read" in str(err)


def test_formula_and_parameters(tiny):
    doc = tiny()
    doc["design"]["predictors"]["z"] = {"level": 2, "distribution": "binary", "p": 0.3}
    doc["design"]["random_slopes"] = ["x"]
    doc["truth"] = {
        "fixed": {"x:w": 0.2, "(Intercept)": 1, "w": 0, "x": 0.5, "z": 1},
        "intercept_variance": 0.4,
        "residual_variance": 1.0,
        "slope_variances": {"x": 0.09},
        "correlations": {"(Intercept),x": 0.5},
    }
    s = load_study(doc)
    assert s.coefficients == ("(Intercept)", "w", "x", "z", "x:w")
    assert s.formula == "y ~ 1 + w + x + z + x:w + (1 + x | group)"
    vc = dict(s.variance_components)
    assert vc["var((Intercept)|group)"] == 0.4 and vc["var(x|group)"] == pytest.approx(0.09)
    assert vc["cov((Intercept),x|group)"] == pytest.approx(0.5 * (0.4 * 0.09) ** 0.5)
    assert vc["var(Residual)"] == 1.0
    assert load_study(s.to_dict()).truth.cov_matrix == pytest.approx(s.truth.cov_matrix)
