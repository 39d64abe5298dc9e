"""The residual structure from mmrm's formula term and from a SAS-like REPEATED mapping (issue #16)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from replicate.engine.rside import fit_residual
from replicate.errors import ModelError
from replicate.rside_names import StructureName
from replicate.rside_syntax import ResidualSpec, parse_sas_type, residual_from_mapping, split_formula
from replicate.spec import parse_formula


@pytest.mark.parametrize(
    ("formula", "fixed", "spec"),
    [
        ("FEV1 ~ ARMCD * AVISIT + us(AVISIT | USUBJID)", "FEV1 ~ ARMCD * AVISIT", ("us", ("AVISIT",), "USUBJID", None)),
        ("y ~ ar1(AVISIT | ARMCD / USUBJID)", "y ~ 1", ("ar1", ("AVISIT",), "USUBJID", "ARMCD")),
        ("y ~ x + sp_exp(x1, x2 | id) + z", "y ~ x + z", ("sp_exp", ("x1", "x2"), "id", None)),
        ("y ~ -1 + x + cs(v | id)", "y ~ - 1 + x", ("cs", ("v",), "id", None)),
        ("y ~ csh(v|id)+log(z)", "y ~ log(z)", ("csh", ("v",), "id", None)),
        ("y ~ x + ad(`visit no` | `subject id`)", "y ~ x", ("ad", ("visit no",), "subject id", None)),
    ]
    + [(f"y ~ x + {n}(t | id)", "y ~ x", (n, ("t",), "id", None)) for n in ("ar1h", "toep", "toeph", "adh", "sp_gau")],
)
def test_formula_term_is_split_off(formula, fixed, spec):
    got_fixed, got = split_formula(formula)
    assert got_fixed == fixed
    assert got == ResidualSpec(StructureName(spec[0]), spec[1], spec[2], spec[3])
    parse_formula(got_fixed, fixed_only=True)  # what is left is an ordinary fixed-effects formula


def test_formula_without_a_covariance_term_is_unchanged():
    assert split_formula("y ~ x * g + log(z)") == ("y ~ x * g + log(z)", None)
    assert split_formula("y ~ x + (1 | g)") == ("y ~ x + (1 | g)", None)


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ x + us(AVISIT)", "one '|'"),
        ("y ~ x + us(AVISIT || id)", "one '|'"),
        ("y ~ x + us(| id)", "no visit variable"),
        ("y ~ x + us(a, b | id)", "takes one visit variable"),
        ("y ~ x + ar1(v | a / b / id)", "one group"),
        ("y ~ x + us(v + 1 | id)", "not a variable name"),
        ("y ~ x + us(v | id) + cs(v | id)", "2 covariance terms"),
        ("y ~ x - us(v | id)", "cannot be subtracted"),
        ("y ~ x * us(v | id)", "on its own"),
        ("y ~ x + (1 | school) + ar1(t | id)", "random effects together"),
        ("y ~ x + us(v | id", "not a covariance term"),
        ("y ~ x + + us(v | id)", "empty term"),
    ],
)
def test_formula_errors_name_the_field_and_the_problem(formula, message):
    with pytest.raises(ModelError, match=message) as err:
        split_formula(formula, field="model.formula")
    assert err.value.field == "model.formula"


@pytest.mark.parametrize(
    ("text", "name", "coords"),
    [
        ("UN", "us", ()),
        ("un", "us", ()),
        ("UN(1)", "diag", ()),
        ("CS", "cs", ()),
        ("CSH", "csh", ()),
        ("AR(1)", "ar1", ()),
        ("ar( 1 )", "ar1", ()),
        ("ARH(1)", "ar1h", ()),
        ("TOEP", "toep", ()),
        ("TOEPH", "toeph", ()),
        ("ANTE(1)", "adh", ()),
        ("VC", "vc", ()),
        ("SP(EXP)(x y)", "sp_exp", ("x", "y")),
        ("sp(gau)(time)", "sp_gau", ("time",)),
        ("SP(POW)(t)", "sp_pow", ("t",)),
        ("ar1h", "ar1h", ()),
        ("TOEP(2)", "toep2", ()),
    ],
)
def test_sas_types(text, name, coords):
    assert parse_sas_type(text) == (StructureName(name), coords)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("TOEP(3)", "banded"),
        ("UN(2)", "banded"),
        ("FA0(2)", "not implemented"),
        ("AR(1)(t)", "only SP"),
        ("SP(EXP)()", "no coordinate"),
        ("SP(EXP)(x+y)", "not a variable name"),
        ("UN; drop table", "SAS's form"),
        ("", "not a covariance type"),
    ],
)
def test_bad_sas_types(text, message):
    with pytest.raises(ModelError, match=message) as err:
        parse_sas_type(text, field="model.residual.type")
    assert err.value.field == "model.residual.type"


def test_mapping_reads_like_sas_repeated():
    m = {"type": "AR(1)", "repeated": "AVISIT", "subject": "USUBJID", "group": "ARMCD"}
    spec = residual_from_mapping(m)
    assert spec == ResidualSpec(StructureName.AR1, ("AVISIT",), "USUBJID", "ARMCD")
    assert spec.term() == "ar1(AVISIT | ARMCD / USUBJID)"
    assert split_formula("y ~ x + " + spec.term())[1] == spec
    sp = residual_from_mapping({"type": "SP(EXP)(x y)", "subject": "id"})
    assert sp.coordinates == ("x", "y") and sp.sas_type == "SP(EXP)(x y)"
    assert residual_from_mapping({"type": "sp_gau", "repeated": ["a", "b"], "subject": "id"}).coordinates == ("a", "b")


@pytest.mark.parametrize(
    ("mapping", "field", "message"),
    [
        ({"type": "UN", "repeated": "v", "subjct": "id"}, "model.residual.subjct", "did you mean 'subject'"),
        ({"repeated": "v", "subject": "id"}, "model.residual.type", "'type' is missing"),
        ({"type": "UN", "subject": "id"}, "model.residual.repeated", "'repeated' is missing"),
        ({"type": "UN", "repeated": "v"}, "model.residual.subject", "'subject' is missing"),
        ({"type": "UN", "repeated": 3, "subject": "id"}, "model.residual.repeated", "column name"),
        ({"type": "UN", "repeated": "v", "subject": "id*g"}, "model.residual.subject", "not a variable name"),
        ({"type": "SP(EXP)(x)", "repeated": "t", "subject": "id"}, "model.residual.repeated", "differs"),
        ({"type": "TOEP(3)", "repeated": "v", "subject": "id"}, "model.residual.type", "banded"),
    ],
)
def test_mapping_errors_name_the_field(mapping, field, message):
    with pytest.raises(ModelError, match=message) as err:
        residual_from_mapping(mapping)
    assert err.value.field == field


def _trial(seed=0, n=60, k=4):
    """Two arms, k visits, monotone dropout."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        arm = "TRT" if s % 2 else "PBO"
        last = k if rng.random() > 0.3 else int(rng.integers(1, k))
        b = rng.normal()
        for v in range(last):
            y = 1.0 + 0.4 * v + (0.3 * v if arm == "TRT" else 0) + b + rng.normal(scale=0.7)
            rows.append((f"S{s:03d}", f"VIS{v + 1}", arm, float(v), y))
    return pd.DataFrame(rows, columns=["USUBJID", "AVISIT", "ARMCD", "t", "FEV1"])


def test_fit_from_the_formula_alone_equals_the_keyword_and_mapping_forms():
    d = _trial()
    a = fit_residual(d, "FEV1 ~ ARMCD * AVISIT + us(AVISIT | USUBJID)")
    b = fit_residual(d, "FEV1 ~ ARMCD * AVISIT", "UN", visit="AVISIT", subject="USUBJID")
    c = fit_residual(d, "FEV1 ~ ARMCD * AVISIT", residual={"type": "UN", "repeated": "AVISIT", "subject": "USUBJID"})
    assert a.converged and a.loglik == b.loglik == c.loglik
    assert np.array_equal(a.beta, b.beta)
    assert a.residual == ResidualSpec(StructureName.UN, ("AVISIT",), "USUBJID")
    g = fit_residual(d, "FEV1 ~ ARMCD * AVISIT + ar1(AVISIT | ARMCD / USUBJID)")
    assert g.group_levels == ("PBO", "TRT") and len(g.R) == 2


def test_structure_named_twice_is_an_error():
    d = _trial()
    with pytest.raises(ModelError, match="both name"):
        fit_residual(d, "FEV1 ~ ARMCD + us(AVISIT | USUBJID)", "cs")
    with pytest.raises(ModelError, match="both name"):
        fit_residual(d, "FEV1 ~ ARMCD", residual={"type": "UN", "repeated": "AVISIT", "subject": "USUBJID"}, visit="t")
    with pytest.raises(ModelError, match="names its coordinates"):
        fit_residual(d, "FEV1 ~ ARMCD", "SP(EXP)(t)", visit="AVISIT", subject="USUBJID")


def test_spatial_on_two_coordinates_uses_euclidean_distance():
    d = _trial().assign(u=lambda x: x["t"] * 0.5)
    fit = fit_residual(d, "FEV1 ~ ARMCD + sp_exp(t, u | USUBJID)")
    one = fit_residual(d, "FEV1 ~ ARMCD + sp_exp(t | USUBJID)")
    # the points (t, t/2) are sqrt(1.25) * t apart: the same model with the range scaled by sqrt(1.25)
    assert fit.loglik == pytest.approx(one.loglik, rel=1e-8)
    assert fit.covparm("SP(EXP)").estimate == pytest.approx(np.sqrt(1.25) * one.covparm("SP(EXP)").estimate, rel=1e-4)
