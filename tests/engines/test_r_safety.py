"""Nothing from a case file reaches R as code.

Three barriers, each tested here:

1. the formula grammar (replicate/spec.py) refuses calls outside its fixed list and stray
   text before anything else happens;
2. a name reaches R (response, model columns, grouping factors) only if it is
   a plain ASCII R identifier (or identifiers joined by ':'): any other name is
   handed to R under a generated name (``.col1``, ``.resp1``, ``.fac1``) and
   mapped back afterwards, so it never reaches R at all;
3. the lme4 engine builds its formula from symbols (``as.name``) and passes the
   data as values, so even a name that got past barrier 2 is only a symbol, and
   factor levels written in R syntax are only data.

The payloads try to create a file; the tests check it never appears.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import replicate
from replicate.design import Design, ReTerm, build_design
from replicate.engines.r import frames as r_frames
from replicate.engines.r.frames import check_r_name, model_frame
from replicate.engines.r.lme4 import Lme4Engine
from replicate.engines.r.nlme import NlmeEngine
from replicate.errors import ModelError
from replicate.spec import parse_formula
from tests.rsupport import require_engine

PWNED = Path("/tmp/pwned")


@pytest.fixture(scope="module")
def lme4():
    return require_engine(Lme4Engine)


@pytest.fixture(scope="module")
def nlme():
    return require_engine(NlmeEngine)


@pytest.fixture(autouse=True)
def _no_pwned_file():
    existed = PWNED.exists()
    mtime = PWNED.stat().st_mtime if existed else None
    yield
    if existed:
        assert PWNED.stat().st_mtime == mtime, "/tmp/pwned was touched"
    else:
        assert not PWNED.exists(), "/tmp/pwned was created"


def _frame(names: dict[str, str], n_groups: int = 12, per: int = 5, seed: int = 0) -> pd.DataFrame:
    """y, x and g with a group effect, under the given column names."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per)
    x = rng.normal(size=g.size)
    y = 1.0 + 0.5 * x + np.repeat(rng.normal(size=n_groups), per) + rng.normal(scale=0.7, size=g.size)
    return pd.DataFrame({names.get("y", "y"): y, names.get("x", "x"): x, names.get("g", "g"): g})


# ----------------------------------------------------- 1. the grammar


@pytest.mark.parametrize(
    "formula",
    [
        'y ~ x + (1|g) + system("touch /tmp/pwned")',
        'y ~ x + (1|g); system("touch /tmp/pwned")',
        'y ~ x + (1|g)\nsystem("touch /tmp/pwned")',
        'y ~ x + I(system("touch /tmp/pwned")) + (1|g)',
        'y ~ x + (1|g) + `a`)+system("touch /tmp/pwned")',
        'y ~ x + (1 | system("touch /tmp/pwned"))',
        'system("touch /tmp/pwned") ~ x + (1|g)',
    ],
)
def test_grammar_refuses_code_in_formulas(formula):
    with pytest.raises(ModelError):
        parse_formula(formula)
    with pytest.raises(ModelError):
        replicate.fit(formula, _frame({}))


# ----------------------------------------------- 2. the name check


@pytest.mark.parametrize(
    "name",
    [
        '`a`);system("touch /tmp/pwned");(`',
        'a);system("touch /tmp/pwned");(b',
        "x; q()",
        "q()",
        "a b",
        "x\\",
        'x"',
        "x'",
        "x`",
        ".hidden",
        "_x",
        "1x",
        "TRUE",
        "if",
        "function",
        "NA_real_",
        "a::b",
        "a:",
        ":a",
        "a:if",
        "ünï",
        "x\n",
        "",
        "a$b",
        "a[1]",
        "a@b",
        "x~y",
        "x+y",
        "x#",
    ],
)
def test_check_r_name_refuses(name):
    with pytest.raises(ModelError):
        check_r_name(name, "column")


@pytest.mark.parametrize(
    "name", ["x", "ses", "mathkind", "x.1", "x_1", "X", "T", "classid:schoolid", "ses:sexfgirl", "sectorCatholic"]
)
def test_check_r_name_accepts_identifiers(name):
    assert check_r_name(name, "column") == name


def test_plain_names_refuse_colons():
    with pytest.raises(ModelError):
        check_r_name("a:b", "response", allow_colon=False)


def _design_with(names: dict[str, str]) -> Design:
    df = _frame(names)
    q = {k: "`" + v + "`" for k, v in names.items()}
    formula = f"{q.get('y', 'y')} ~ {q.get('x', 'x')} + (1 | {q.get('g', 'g')})"
    return build_design(parse_formula(formula), df)


def _names_handed_to_r(mf) -> list[str]:
    return [mf.response, *mf.fixed, *(g for g, _, _ in mf.terms), *(c for _, cols, _ in mf.terms for c in cols)] + [
        str(c) for c in mf.frame.columns
    ]


@pytest.mark.parametrize("role", ["y", "x", "g"])
@pytest.mark.parametrize("bad", ['a);system("touch /tmp/pwned");(b', "x; q()", "g) + (1"])
def test_model_frame_never_hands_unsafe_names_to_r(role, bad):
    """A column with R syntax in its name is parsed fine by the grammar (back-quoted)
    but never handed to R: it goes under a generated name that maps back to it."""
    design = _design_with({role: bad})
    mf = model_frame(design)
    handed = _names_handed_to_r(mf)
    assert not any(bad in name or "(" in name or ";" in name for name in handed)
    assert all(name.startswith(".") or check_r_name(name, "column") == name for name in handed)
    if role == "y":
        assert mf.response == ".resp1"
    elif role == "x":
        assert mf.fixed == (".col1",) and mf.design_name(".col1") == bad
    else:
        assert [g for g, _, _ in mf.terms] == [".fac1"] and mf.group_names == (bad,)


def test_backquotes_cannot_be_smuggled_through_the_grammar():
    """The grammar has no escape for '`', so a name holding one cannot be referenced."""
    with pytest.raises(ModelError):
        parse_formula("y ~ `" + '`a`);system("touch /tmp/pwned");(`' + "` + (1 | g)")


def test_hand_built_design_with_unsafe_names_is_renamed():
    n = 6
    t = ReTerm(
        'g);system("touch /tmp/pwned");(g',
        np.array([0, 0, 1, 1, 2, 2]),
        ("a", "b", "c"),
        ("(Intercept)",),
        np.ones((n, 1)),
    )
    d = Design(
        y=np.arange(n, dtype=float),
        X=np.ones((n, 1)),
        fixed_names=("(Intercept)",),
        reterms=(t,),
        rows=np.arange(n),
        response="y",
    )
    mf = model_frame(d)
    assert [g for g, _, _ in mf.terms] == [".fac1"] and mf.group_names == (t.group,)
    assert list(mf.frame.columns) == ["y", ".fac1"]
    # group columns chosen by an engine are checked, never renamed silently
    with pytest.raises(ModelError, match="grouping factor"):
        model_frame(d, group_columns=[t.group])


# ----------------------------------------- 3. live R: refused or harmless


def _check_unsafe_name_fit(fit, design, role: str, bad: str) -> None:
    """The fit ran under generated names, reports the design's names, and equals the native fit."""
    assert bad not in fit.extra["r_call"]
    if role == "x":
        assert list(fit.fixed.index) == ["(Intercept)", bad]
    if role == "g":
        assert list(fit.ngroups) == [bad]
        assert bad in set(fit.varcorr["grp"])
    native = replicate.get_engine("native").fit(design, "REML")
    assert fit.loglik == pytest.approx(native.loglik, rel=1e-8)
    assert np.allclose(fit.fixed.to_numpy(), native.fixed.to_numpy(), rtol=1e-5, atol=1e-8)


@pytest.mark.r
@pytest.mark.parametrize("role", ["y", "x", "g"])
def test_lme4_fits_unsafe_names_under_generated_names(lme4, tmp_path, role):
    marker = tmp_path / "pwned"
    bad = f'a);system("touch {marker}");(b'
    design = _design_with({role: bad})
    fit = lme4.fit(design, "REML")
    assert not marker.exists()
    _check_unsafe_name_fit(fit, design, role, bad)


@pytest.mark.r
@pytest.mark.parametrize("role", ["y", "x", "g"])
def test_nlme_fits_unsafe_names_under_generated_names(nlme, tmp_path, role):
    """nlme pastes variable names into text it parses, so no name of the case may
    reach it: unsafe ones go under generated names."""
    marker = tmp_path / "pwned"
    bad = f'a);system("touch {marker}");(b'
    design = _design_with({role: bad})
    fit = nlme.fit(design, "REML")
    assert not marker.exists()
    _check_unsafe_name_fit(fit, design, role, bad)


@pytest.mark.r
@pytest.mark.parametrize("role", ["x", "g"])
def test_lme4_symbols_are_harmless_even_past_the_name_check(lme4, tmp_path, monkeypatch, role):
    """Defence in depth: with the name check switched off, a column named with R
    code is only a symbol in the formula lme4 receives; the fit runs and nothing
    is executed."""
    marker = tmp_path / "pwned"
    bad = f'a);system("touch {marker}");(b'
    design = _design_with({role: bad})
    monkeypatch.setattr(r_frames, "check_r_name", lambda name, what, allow_colon=True: name)
    fit = lme4.fit(design, "REML")
    assert not marker.exists()
    if role == "x":
        assert list(fit.fixed.index) == ["(Intercept)", bad]
        assert np.isfinite(fit.extra["satterthwaite_df"]).all()
    else:
        assert list(fit.ngroups) == [bad]
    assert "`" + bad + "`" in fit.extra["r_call"]  # a back-quoted symbol, never code
    lme4.kenward_roger(fit)
    assert not marker.exists()


@pytest.mark.r
def test_group_levels_in_r_syntax_are_only_data(lme4, tmp_path):
    """Level labels are data values: a level reading like R code stays a label."""
    marker = tmp_path / "pwned"
    df = _frame({})
    labels = {i: f'"); system("touch {marker}"); ("{i}' for i in range(12)}
    labels[0] = "x; q()"
    df["g"] = df["g"].map(labels)
    design = build_design(parse_formula("y ~ x + (1 | g)"), df)
    fit = lme4.fit(design, "REML")
    assert not marker.exists()
    assert set(fit.ranef()["g"].index) == set(labels.values())
    native = replicate.fit("y ~ x + (1 | g)", df)
    assert fit.loglik == pytest.approx(native.loglik, rel=1e-9)
    import rpy2.robjects as ro

    assert int(ro.r("1L + 1L")[0]) == 2  # R is still alive (q() never ran)


@pytest.mark.r
def test_nlme_group_levels_in_r_syntax_are_only_data(nlme, tmp_path):
    marker = tmp_path / "pwned"
    df = _frame({})
    df["g"] = df["g"].map(lambda i: f'"); system("touch {marker}"); ("{i}')
    fit = nlme.fit(build_design(parse_formula("y ~ x + (1 | g)"), df), "REML")
    assert not marker.exists()
    assert fit.ngroups == {"g": 12}
