"""Kenward-Roger inference: against pbkrtest live, against a dense reference, and its memory use.

The live comparisons fit each model with lme4 (tight optimizer tolerances, so
both fits agree to many more digits than the comparison needs) and ask
pbkrtest for ``vcovAdj``, ``Lb_ddf`` per coefficient and ``KRmodcomp`` with a
restriction matrix. Data go to R as data frames through pandas2ri; no data is
pasted into R code. Without R / rpy2 / pbkrtest the live tests skip, unless
``REPLICATE_REQUIRE_R=1``, in which case they fail.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

from replicate.design import build_design
from replicate.engines import get_engine
from replicate.errors import ModelError, NotImplementedOption
from replicate.inference import Inference, fixed_df, fixed_se, kr_settings
from replicate.inference.kenward_roger import (
    adjustment,
    kenward_roger,
    kr_pieces,
    reparameterization,
    varpar_layout,
    varpar_values,
)
from replicate.inference.kr_blocks import BlockStructure
from replicate.inference.marginal import hessian, sparse_z
from replicate.spec import parse_formula
from tests.rsupport import fit_formula as fit_native
from tests.rsupport import from_r, need_r, to_r

RTOL = 1e-5  # "4+ significant digits" needs < 5e-4; the fits agree far better

R_KR = """
function(df, formula, Ls, reml, wname) {
  ctrl <- lme4::lmerControl(optCtrl = list(ftol_abs = 1e-14, xtol_abs = 1e-12,
                                           ftol_rel = 1e-15, xtol_rel = 1e-12))
  wv <- if (nchar(wname)) df[[wname]] else NULL
  fm <- lme4::lmer(stats::as.formula(formula), data = df, REML = reml, control = ctrl, weights = wv)
  V <- pbkrtest::vcovAdj(fm)
  V0 <- stats::vcov(fm)
  p <- length(lme4::fixef(fm))
  ddf <- vapply(seq_len(p), function(k) {
    L <- matrix(0, 1, p); L[1, k] <- 1
    pbkrtest::Lb_ddf(L, V0, V)
  }, numeric(1))
  tests <- lapply(Ls, function(L) {
    t <- pbkrtest::KRmodcomp(fm, L)$test
    c(F = t["Ftest", "stat"], ndf = t["Ftest", "ndf"], ddf = t["Ftest", "ddf"],
      scale = t["Ftest", "F.scaling"], p = t["Ftest", "p.value"])
  })
  list(names = names(lme4::fixef(fm)), vcov_adj = as.matrix(V), ddf = ddf, tests = tests)
}
"""


# ---------------------------------------------------------------- R session


@pytest.fixture(scope="module")
def ro():
    """rpy2's robjects with lme4 and pbkrtest loaded."""
    return need_r("lme4", "pbkrtest")


def _to_pandas(ro, expr: str) -> pd.DataFrame:
    return from_r(ro, expr).reset_index(drop=True)


def pbkrtest_kr(
    ro, df: pd.DataFrame, formula: str, Ls: list[np.ndarray], reml: bool = True, weights: str | None = None
) -> dict:
    """pbkrtest's vcovAdj, per-coefficient ddf and KRmodcomp F tests."""
    rlist = (
        ro.ListVector(
            {f"L{i}": ro.r["matrix"](ro.FloatVector(L.ravel(order="F")), nrow=L.shape[0]) for i, L in enumerate(Ls)}
        )
        if Ls
        else ro.r("list()")
    )
    out = ro.r(R_KR)(to_r(ro, df), formula, rlist, reml, weights or "")
    names = list(out.rx2("names"))
    res = {
        "names": names,
        "vcov_adj": np.asarray(out.rx2("vcov_adj")),
        "ddf": np.asarray(out.rx2("ddf")),
        "tests": [dict(zip(["F", "ndf", "ddf", "scale", "p"], np.asarray(t))) for t in out.rx2("tests")],
    }
    return res


# ---------------------------------------------------------------- data


def sleepstudy(ro) -> pd.DataFrame:
    return _to_pandas(ro, "lme4::sleepstudy")


def hsb(ro, nschools: int = 50) -> pd.DataFrame:
    """High School and Beyond (nlme::MathAchieve + MathAchSchool), the first schools only."""
    stud = _to_pandas(ro, "as.data.frame(nlme::MathAchieve)")
    sch = _to_pandas(ro, "as.data.frame(nlme::MathAchSchool)")
    stud["School"] = stud["School"].astype(str)
    sch["School"] = sch["School"].astype(str)
    df = stud.merge(sch[["School", "Sector"]], on="School", how="left")
    df["Sector"] = pd.Categorical(df["Sector"].astype(str), categories=["Public", "Catholic"])
    df["cses"] = df["SES"] - df["MEANSES"]
    keep = sorted(df["School"].unique())[:nschools]
    df = df[df["School"].isin(keep)]
    return df[["School", "MathAch", "SES", "MEANSES", "cses", "Sector"]].reset_index(drop=True)


def classroom(path) -> pd.DataFrame:
    df = pd.read_csv(path / "classroom.csv")
    df = df.dropna(subset=["mathknow"]).reset_index(drop=True)
    df["schoolid"] = df["schoolid"].astype(str)
    df["classid"] = df["classid"].astype(str)
    return df[["mathgain", "ses", "mathknow", "schoolid", "classid"]]


def contrast(names: list[str], rows: list[str]) -> np.ndarray:
    L = np.zeros((len(rows), len(names)))
    for i, r in enumerate(rows):
        L[i, names.index(r)] = 1.0
    return L


def assert_matches(ours, ref: dict, Ls: list[np.ndarray]) -> None:
    names = list(ours.fixed.index)
    assert names == ref["names"]
    np.testing.assert_allclose(ours.df.to_numpy(), ref["ddf"], rtol=RTOL)
    np.testing.assert_allclose(ours.se.to_numpy(), np.sqrt(np.diag(ref["vcov_adj"])), rtol=RTOL)
    scale = np.sqrt(np.outer(np.diag(ref["vcov_adj"]), np.diag(ref["vcov_adj"])))
    np.testing.assert_allclose(ours.vcov_adj.to_numpy() / scale, ref["vcov_adj"] / scale, atol=RTOL)
    for L, t in zip(Ls, ref["tests"]):
        mine = ours.ftest(L)
        assert mine["ndf"] == int(t["ndf"])
        for key in ("F", "ddf", "scale", "p"):
            assert mine[key] == pytest.approx(t[key], rel=RTOL), key


# ---------------------------------------------------------------- live comparisons


@pytest.mark.r
def test_sleepstudy_random_slope(ro):
    df = sleepstudy(ro)
    formula = "Reaction ~ Days + (Days | Subject)"
    fit, design = fit_native(formula, df)
    Ls = [np.eye(2)]
    ref = pbkrtest_kr(ro, df, formula, Ls)
    ours = kenward_roger(fit, design)
    assert_matches(ours, ref, Ls)
    # balanced: the KR df are exactly the between-subject df
    np.testing.assert_allclose(ours.df.to_numpy(), 17.0, rtol=1e-8)


@pytest.mark.r
def test_sleepstudy_unbalanced_ml_fit(ro):
    """An ML fit: pbkrtest refits by REML and mixes the ML vcov into get_Lb_ddf."""
    df = sleepstudy(ro)
    df = df[~((df["Days"] > 6) & (df["Subject"].astype(str) < "335"))].reset_index(drop=True)
    formula = "Reaction ~ Days + (Days | Subject)"
    fit, design = fit_native(formula, df, "ML")
    ref = pbkrtest_kr(ro, df, formula, [], reml=False)
    ours = kenward_roger(fit, design)
    assert ours.refit_reml
    assert_matches(ours, ref, [])


@pytest.mark.r
def test_sleepstudy_weighted(ro):
    """Prior weights: pbkrtest leaves them out of Sigma; weights="pbkrtest" reproduces that."""
    df = sleepstudy(ro)
    df["w"] = 1.0 + (df["Days"].to_numpy() % 3) / 2.0
    formula = "Reaction ~ Days + (Days | Subject)"
    fit, design = fit_native(formula, df, weights="w")
    Ls = [np.eye(2)]
    ref = pbkrtest_kr(ro, df, formula, Ls, weights="w")
    assert_matches(kenward_roger(fit, design, weights="pbkrtest"), ref, Ls)
    # with the model's own Sigma the balanced design keeps its exact df
    ours = kenward_roger(fit, design)
    np.testing.assert_allclose(ours.df.to_numpy(), 17.0, rtol=1e-8)
    assert abs(ref["ddf"][0] - 17.0) > 1.0


@pytest.mark.r
def test_hsb_level2_predictor(ro):
    df = hsb(ro)
    formula = "MathAch ~ MEANSES * cses + Sector + (cses | School)"
    fit, design = fit_native(formula, df)
    names = list(fit.fixed.index)
    Ls = [contrast(names, ["MEANSES", "MEANSES:cses"])]
    ref = pbkrtest_kr(ro, df, formula, Ls)
    ours = kenward_roger(fit, design)
    assert_matches(ours, ref, Ls)
    assert 40 < ours.df["MEANSES"] < 50  # a level-2 predictor: about the number of schools


@pytest.mark.r
def test_hsb_random_slope_ses(ro):
    df = hsb(ro, nschools=30)
    formula = "MathAch ~ SES + (SES | School)"
    fit, design = fit_native(formula, df)
    ref = pbkrtest_kr(ro, df, formula, [])
    assert_matches(kenward_roger(fit, design), ref, [])


@pytest.mark.r
def test_classroom_nested(ro, data_dir):
    df = classroom(data_dir)
    formula = "mathgain ~ ses + mathknow + (1 | schoolid/classid)"
    fit, design = fit_native(formula, df)
    names = list(fit.fixed.index)
    Ls = [contrast(names, ["ses", "mathknow"])]
    ref = pbkrtest_kr(ro, df, formula, Ls)
    assert_matches(kenward_roger(fit, design), ref, Ls)


@pytest.mark.r
def test_penicillin_crossed(ro):
    df = _to_pandas(ro, "lme4::Penicillin")
    formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"
    fit, design = fit_native(formula, df)
    ref = pbkrtest_kr(ro, df, formula, [])
    assert_matches(kenward_roger(fit, design), ref, [])


# ---------------------------------------------------------------- dense reference (no R)


def dense_kr(design, fit, information="expected"):
    """Kenward-Roger with explicit n x n matrices, straight from the definitions (small n only)."""
    n = design.n
    w = design.weights if design.weights is not None else np.ones(n)
    Z = sparse_z(design).toarray()
    X, y = design.X, design.y
    layout = varpar_layout(design)
    gam = varpar_values(design, np.asarray(fit.theta), fit.sigma2)
    offs = np.cumsum([0] + [t.nlevels * t.k for t in design.reterms])
    Gs = []
    for t, a, b, _ in layout[:-1]:
        term = design.reterms[t]
        E = np.zeros((term.k, term.k))
        E[a, b] = E[b, a] = 1.0
        Zt = Z[:, offs[t] : offs[t + 1]]
        Gs.append(Zt @ np.kron(np.eye(term.nlevels), E) @ Zt.T)
    Gs.append(np.diag(1.0 / w))
    S = sum(g * G for g, G in zip(gam, Gs))
    A = np.linalg.inv(S)
    Phi = np.linalg.inv(X.T @ A @ X)
    Pm = A - A @ X @ Phi @ X.T @ A
    s = len(Gs)
    P = [-X.T @ A @ G @ A @ X for G in Gs]
    Q = [[X.T @ A @ Gi @ A @ Gj @ A @ X for Gj in Gs] for Gi in Gs]
    info = np.empty((s, s))
    for i in range(s):
        for j in range(s):
            tr = np.trace(Pm @ Gs[i] @ Pm @ Gs[j])
            if information == "expected":
                info[i, j] = 0.5 * tr
            else:
                info[i, j] = -0.5 * tr + y @ Pm @ Gs[i] @ Pm @ Gs[j] @ Pm @ y
    W = np.linalg.inv(info)
    U = sum(W[i, j] * (Q[i][j] - P[i] @ Phi @ P[j]) for i in range(s) for j in range(s))
    PhiA = Phi + 2 * Phi @ U @ Phi
    dfs = []
    for k in range(design.p):
        a = np.array([(Phi @ Pi @ Phi)[k, k] for Pi in P]) / Phi[k, k]
        dfs.append(2.0 / (a @ W @ a))
    return PhiA, np.array(dfs), W, gam, Gs


def _simulated(kind: str, seed: int = 3) -> tuple[str, pd.DataFrame, str | None]:
    rng = np.random.default_rng(seed)
    if kind == "slope_weighted":
        g = np.repeat(np.arange(12), rng.integers(2, 9, 12))
        n = g.shape[0]
        x = rng.normal(size=n)
        y = 1 + 0.4 * x + rng.normal(size=12)[g] + 0.5 * rng.normal(size=12)[g] * x + rng.normal(size=n)
        df = pd.DataFrame(
            {"y": y, "x": x, "z": rng.normal(size=12)[g], "g": [f"s{i:02d}" for i in g], "w": rng.uniform(0.5, 2.0, n)}
        )
        return "y ~ x + z + (x | g)", df, "w"
    if kind == "nested":
        school = np.repeat(np.arange(8), 12)
        klass = school * 3 + rng.integers(0, 3, school.shape[0])
        keep = rng.uniform(size=school.shape[0]) < 0.8
        school, klass = school[keep], klass[keep]
        n = school.shape[0]
        x = rng.normal(size=n)
        y = x + rng.normal(size=8)[school] + 0.7 * rng.normal(size=24)[klass] + rng.normal(size=n)
        df = pd.DataFrame({"y": y, "x": x, "school": school.astype(str), "klass": klass.astype(str)})
        return "y ~ x + (1 | school/klass)", df, None
    if kind in ("uncorrelated", "k3"):
        g = np.repeat(np.arange(10), rng.integers(3, 10, 10))
        n = g.shape[0]
        x = rng.normal(size=n)
        x2 = rng.normal(size=n)
        y = (
            x
            + rng.normal(size=10)[g]
            + 0.6 * rng.normal(size=10)[g] * x
            + 0.4 * rng.normal(size=10)[g] * x2
            + rng.normal(size=n)
        )
        df = pd.DataFrame({"y": y, "x": x, "x2": x2, "g": g.astype(str)})
        return ("y ~ x + x2 + (x || g)" if kind == "uncorrelated" else "y ~ x + x2 + (x + x2 | g)"), df, None
    # crossed, unbalanced, with a random slope on one factor
    a = rng.integers(0, 7, 90)
    b = rng.integers(0, 5, 90)
    x = rng.normal(size=90)
    y = 2 + x + rng.normal(size=7)[a] + 0.5 * rng.normal(size=7)[a] * x + rng.normal(size=5)[b] + rng.normal(size=90)
    df = pd.DataFrame({"y": y, "x": x, "a": a.astype(str), "b": b.astype(str)})
    return "y ~ x + (x | a) + (1 | b)", df, None


@pytest.mark.parametrize("kind", ["slope_weighted", "nested", "crossed", "uncorrelated", "k3"])
@pytest.mark.parametrize("information", ["expected", "observed"])
def test_matches_dense_reference(kind, information):
    formula, df, weights = _simulated(kind)
    design = build_design(parse_formula(formula), df, weights=weights)
    fit = get_engine("native").fit(design, "REML")
    ours = kenward_roger(fit, design, information=information)
    PhiA, dfs, W, gam, _ = dense_kr(design, fit, information)
    np.testing.assert_allclose(ours.varpar.to_numpy(), gam, rtol=1e-10)
    np.testing.assert_allclose(ours.W.to_numpy(), W, rtol=1e-7, atol=1e-9 * np.abs(W).max())
    np.testing.assert_allclose(ours.vcov_adj.to_numpy(), PhiA, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ours.df.to_numpy(), dfs, rtol=1e-7)


@pytest.mark.parametrize("kind", ["nested", "crossed"])
def test_large_component_path(kind, monkeypatch):
    """Components above kr_blocks.LARGE are worked with sparse Z'Z; same numbers."""
    from replicate.inference import kr_blocks

    formula, df, weights = _simulated(kind)
    design = build_design(parse_formula(formula), df, weights=weights)
    fit = get_engine("native").fit(design, "REML")
    monkeypatch.setattr(kr_blocks, "LARGE", 3)
    assert any(b.large for b in kr_blocks.BlockStructure(design).batches)
    ours = kenward_roger(fit, design, information="observed")
    PhiA, dfs, W, _, _ = dense_kr(design, fit, "observed")
    np.testing.assert_allclose(ours.W.to_numpy(), W, rtol=1e-7, atol=1e-9 * np.abs(W).max())
    np.testing.assert_allclose(ours.vcov_adj.to_numpy(), PhiA, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ours.df.to_numpy(), dfs, rtol=1e-7)


def test_observed_information_is_reml_hessian():
    """The observed information is half the Hessian of -2 log REML likelihood in pbkrtest's parameters."""
    formula, df, weights = _simulated("slope_weighted", seed=5)
    design = build_design(parse_formula(formula), df, weights=weights)
    fit = get_engine("native").fit(design, "REML")
    _, _, _, gam, Gs = dense_kr(design, fit)
    X, y = design.X, design.y

    def m2ll(g):
        S = sum(gi * G for gi, G in zip(g, Gs))
        A = np.linalg.inv(S)
        XtAX = X.T @ A @ X
        beta = np.linalg.solve(XtAX, X.T @ A @ y)
        r = y - X @ beta
        return np.linalg.slogdet(S)[1] + np.linalg.slogdet(XtAX)[1] + r @ A @ r

    H = hessian(m2ll, gam, d=0.01)
    ours = kenward_roger(fit, design, information="observed")
    np.testing.assert_allclose(np.linalg.inv(ours.W.to_numpy()), H / 2, rtol=1e-5, atol=1e-8 * np.abs(H).max())


def test_variants_and_contrasts():
    formula, df, _ = _simulated("nested")
    design = build_design(parse_formula(formula), df)
    fit = get_engine("native").fit(design, "REML")
    kr = kenward_roger(fit, design)
    first = kenward_roger(fit, design, variant="firstorder")
    pd.testing.assert_frame_equal(kr.vcov_adj, first.vcov_adj)
    kr2 = kenward_roger(fit, design, variant="kr2")
    pd.testing.assert_frame_equal(kr.vcov_adj, kr2.vcov_adj)  # linear parameters: no R_ij, no bias
    assert np.all(kr2.bias.to_numpy() == 0.0)
    with pytest.raises(NotImplementedOption):
        kenward_roger(fit, design, variant="satterthwaite")
    with pytest.raises(NotImplementedOption, match="parameterization"):
        kenward_roger(fit, design, parameterization="log-cholesky")
    # a single row: ddf equals the per-coefficient df, the scaling is 1
    t1 = kr.ftest(np.array([[0.0, 1.0]]))
    assert t1["ddf"] == pytest.approx(kr.df["x"], rel=1e-10)
    assert t1["scale"] == pytest.approx(1.0, rel=1e-10)
    assert t1["F"] == pytest.approx((kr.fixed["x"] / kr.se["x"]) ** 2, rel=1e-10)
    # a rank-deficient L is reduced to its row space, as pbkrtest does
    t2 = kr.ftest(np.array([[1.0, 0.0], [0.0, 1.0]]))
    t3 = kr.ftest(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    for key in ("F", "ndf", "ddf", "scale", "p"):
        assert t3[key] == pytest.approx(t2[key], rel=1e-8)


# ---------------------------------------------------------------- KR2 and the Cholesky parameterization


def dense_cholesky(design, fit, information="expected"):
    """KR 1997 / first-order / KR2 pieces in the Cholesky parameters, from Sigma(psi) built densely.

    The derivatives of Sigma come from central differences of the function
    ``psi -> Sigma`` (exact here: Sigma is quadratic in psi), so nothing of the
    Jacobian bookkeeping of the module is reused.
    """
    n = design.n
    w = design.weights if design.weights is not None else np.ones(n)
    Z = sparse_z(design).toarray()
    X, y = design.X, design.y
    offs = np.cumsum([0] + [t.nlevels * t.k for t in design.reterms])
    psi0, *_ = reparameterization(design, np.asarray(fit.theta), fit.sigma2, "cholesky")
    tri = [[(a, b) for b in range(t.k) for a in range(b, t.k)] for t in design.reterms]

    def sigma(psi):
        S = psi[-1] * np.diag(1.0 / w)
        pos = 0
        for t, term in enumerate(design.reterms):
            L = np.zeros((term.k, term.k))
            for a, b in tri[t]:
                L[a, b] = psi[pos]
                pos += 1
            Zt = Z[:, offs[t] : offs[t + 1]]
            S = S + Zt @ np.kron(np.eye(term.nlevels), L @ L.T) @ Zt.T
        return S

    s, h = psi0.shape[0], 1e-3
    E = np.eye(s) * h
    S1 = [(sigma(psi0 + E[i]) - sigma(psi0 - E[i])) / (2 * h) for i in range(s)]
    S2 = [
        [
            (
                sigma(psi0 + E[i] + E[j])
                - sigma(psi0 + E[i] - E[j])
                - sigma(psi0 - E[i] + E[j])
                + sigma(psi0 - E[i] - E[j])
            )
            / (4 * h * h)
            for j in range(s)
        ]
        for i in range(s)
    ]
    A = np.linalg.inv(sigma(psi0))
    Phi = np.linalg.inv(X.T @ A @ X)
    Pm = A - A @ X @ Phi @ X.T @ A
    Py = Pm @ y
    P = [-X.T @ A @ Si @ A @ X for Si in S1]
    Q = [[X.T @ A @ Si @ A @ Sj @ A @ X for Sj in S1] for Si in S1]
    R = [[X.T @ A @ S2[i][j] @ A @ X for j in range(s)] for i in range(s)]
    IE = np.array([[0.5 * np.trace(Pm @ S1[i] @ Pm @ S1[j]) for j in range(s)] for i in range(s)])
    if information == "expected":
        info = IE
    else:  # minus the second derivative of the REML log-likelihood, score terms included
        info = np.array(
            [
                [
                    -IE[i, j] + 0.5 * np.trace(Pm @ S2[i][j]) + Py @ S1[i] @ Pm @ S1[j] @ Py - 0.5 * Py @ S2[i][j] @ Py
                    for j in range(s)
                ]
                for i in range(s)
            ]
        )
    W = np.linalg.inv(info)
    U = sum(W[i, j] * (Q[i][j] - P[i] @ Phi @ P[j]) for i in range(s) for j in range(s))
    Rsum = sum(W[i, j] * R[i][j] for i in range(s) for j in range(s))
    c = np.array(
        [sum(W[t, u] * np.trace(Pm @ S2[t][u] @ Pm @ S1[r]) for t in range(s) for u in range(s)) for r in range(s)]
    )
    bias = -0.25 * np.linalg.solve(IE, c)
    first = Phi + 2 * Phi @ U @ Phi
    kr = first - 0.5 * Phi @ Rsum @ Phi
    kr2 = kr + Phi @ sum(b * Pi for b, Pi in zip(bias, P)) @ Phi
    return {"firstorder": first, "kr": kr, "kr2": kr2}, W, bias, psi0


@pytest.mark.parametrize("kind", ["nested", "crossed"])
@pytest.mark.parametrize("information", ["expected", "observed"])
def test_cholesky_form_matches_dense_reference(kind, information):
    formula, df, weights = _simulated(kind)
    design = build_design(parse_formula(formula), df, weights=weights)
    fit = get_engine("native").fit(design, "REML")
    dense, W, bias, psi = dense_cholesky(design, fit, information)
    for variant in ("firstorder", "kr", "kr2"):
        ours = kenward_roger(fit, design, variant=variant, information=information, parameterization="cholesky")
        np.testing.assert_allclose(ours.varpar.to_numpy(), psi, rtol=1e-12)
        # the observed information is transformed from the linear one, dropping the score term:
        # exact at the optimum, so the tolerance is the optimizer's
        rtol = 1e-7 if information == "expected" else 1e-4
        np.testing.assert_allclose(ours.W.to_numpy(), W, rtol=rtol, atol=rtol * np.abs(W).max())
        np.testing.assert_allclose(ours.vcov_adj.to_numpy(), dense[variant], rtol=rtol, atol=1e-12)
        np.testing.assert_allclose(ours.bias.to_numpy(), bias, rtol=rtol, atol=1e-9)


@pytest.mark.parametrize("kind", ["nested", "crossed", "slope_weighted"])
def test_kr2_restores_invariance(kind):
    """KR2 and first-order KR in the Cholesky form give the linear form's numbers; KR 1997 shrinks the SEs."""
    formula, df, weights = _simulated(kind)
    design = build_design(parse_formula(formula), df, weights=weights)
    fit = get_engine("native").fit(design, "REML")
    for information in ("expected", "observed"):
        lin = kenward_roger(fit, design, information=information)
        chol = {
            v: kenward_roger(fit, design, variant=v, information=information, parameterization="cholesky")
            for v in ("kr", "firstorder", "kr2")
        }
        for v in ("firstorder", "kr2"):
            np.testing.assert_allclose(chol[v].vcov_adj.to_numpy(), lin.vcov_adj.to_numpy(), rtol=1e-9, atol=1e-14)
        for r in chol.values():  # the df formula is the same in every variant and invariant
            np.testing.assert_allclose(r.df.to_numpy(), lin.df.to_numpy(), rtol=1e-9)
        # the second-derivative term alone makes the SEs smaller (or the matrix indefinite)
        d = np.diag(chol["kr"].vcov_adj.to_numpy()) - np.diag(lin.vcov_adj.to_numpy())
        assert np.all(d < 0)
        assert np.any(chol["kr2"].bias.to_numpy() != 0.0)


def test_reml_bias_matches_the_sampling_distribution():
    """The bias KR2 adds, checked on a balanced one-way layout where REML is the ANOVA estimator.

    At the true values, the first-order bias of the REML estimate of the
    between-group SD is ``-Var(s_u^2) / (8 sigma_u^3)`` with the exact
    variance of the ANOVA estimator, and it agrees with the mean of the
    estimator's exact sampling distribution (simulated from its chi-square
    form) up to the next order. The residual variance is unbiased.
    """
    a, n, su2, se2 = 30, 5, 1.0, 1.0
    g = np.repeat(np.arange(a), n)
    df = pd.DataFrame({"y": np.zeros(a * n), "g": g.astype(str)})
    design = build_design(parse_formula("y ~ 1 + (1 | g)"), df)
    theta = np.array([np.sqrt(su2 / se2)])
    pc = kr_pieces(BlockStructure(design), theta, se2)
    _, J, H, _ = reparameterization(design, theta, se2, "cholesky")
    bias = adjustment(pc, "expected", J, H).bias
    var = 2.0 / n**2 * ((se2 + n * su2) ** 2 / (a - 1) + se2**2 / (a * (n - 1)))
    assert bias[0] == pytest.approx(-var / (8 * su2**1.5), rel=1e-10)
    assert abs(bias[1]) < 1e-12
    assert np.all(adjustment(pc, "expected").bias == 0.0)  # linear parameters: unbiased
    rng = np.random.default_rng(0)
    reps = 400_000
    msa = (se2 + n * su2) * rng.chisquare(a - 1, reps) / (a - 1)
    mse = se2 * rng.chisquare(a * (n - 1), reps) / (a * (n - 1))
    sd = np.sqrt(np.maximum((msa - mse) / n, 0.0))
    mc, mc_se = sd.mean() - np.sqrt(su2), sd.std() / np.sqrt(reps)
    assert abs(mc - bias[0]) < 3 * mc_se + 0.05 * abs(bias[0])


def test_cholesky_form_refuses_a_singular_fit():
    formula, df, _ = _simulated("k3")
    design = build_design(parse_formula(formula), df)
    fit = get_engine("native").fit(design, "REML")
    assert fit.singular
    with pytest.raises(ModelError, match="singular"):
        kenward_roger(fit, design, variant="kr2", parameterization="cholesky")


def test_observed_information_df_is_satterthwaite():
    """For one coefficient, KR's df with the observed information is Satterthwaite's (lmerTest's) df."""
    for kind in ("nested", "crossed", "slope_weighted"):
        formula, df, weights = _simulated(kind)
        design = build_design(parse_formula(formula), df, weights=weights)
        fit = get_engine("native").fit(design, "REML")
        obs = kenward_roger(fit, design, information="observed").df
        np.testing.assert_allclose(obs.to_numpy(), fixed_df(fit, design, "satterthwaite").to_numpy(), rtol=1e-4)


def test_dispatch_of_kr_definitions():
    formula, df, _ = _simulated("nested")
    design = build_design(parse_formula(formula), df)
    fit = get_engine("native").fit(design, "REML")
    assert kr_settings({}) == ("expected", "linear")
    assert kr_settings({}, "sas") == ("observed", "linear")
    assert kr_settings({"information": "expected", "parameterization": "cholesky"}, "sas") == ("expected", "cholesky")
    lin = fixed_se(fit, design, "kenward-roger")
    shrunk = fixed_se(fit, design, "kenward-roger", kr=("expected", "cholesky"))
    kr2 = fixed_se(fit, design, "kenward-roger-2", kr=("expected", "cholesky"))
    assert np.all(shrunk < lin)
    np.testing.assert_allclose(kr2.to_numpy(), lin.to_numpy(), rtol=1e-9)
    obs = fixed_df(fit, design, "kenward-roger-2", kr=("observed", "linear"))
    exp_ = fixed_df(fit, design, "kenward-roger-2")
    assert not np.allclose(obs.to_numpy(), exp_.to_numpy(), rtol=1e-6)


# ---------------------------------------------------------------- no n x n matrix


def test_large_design_without_n_by_n_matrices():
    """100,000 rows in 2,000 groups: peak memory of the KR computation stays tiny next to n^2 doubles."""
    rng = np.random.default_rng(11)
    G, n = 2000, 100_000
    g = rng.integers(0, G, n)
    x = rng.normal(size=n)
    zg = rng.normal(size=G)
    y = 1 + 0.5 * x + 0.3 * zg[g] + rng.normal(size=G)[g] + 0.5 * rng.normal(size=G)[g] * x + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "x": x, "z": zg[g], "g": pd.Categorical(g)})
    design = build_design(parse_formula("y ~ x * z + (x | g)"), df)
    fit = get_engine("native").fit(design, "REML")
    tracemalloc.start()
    try:
        kr = kenward_roger(fit, design)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200e6, f"peak {peak / 1e6:.0f} MB"
    assert peak < n * n * 8 / 1000
    assert np.all(np.isfinite(kr.df)) and np.all(kr.df > 1000)
    np.testing.assert_allclose(kr.se.to_numpy(), fit.se.to_numpy(), rtol=1e-2)


def test_cholesky_observed_information_needs_an_optimum():
    from replicate.engine.fit import fit_at

    formula, df, _ = _simulated("nested")
    design = build_design(parse_formula(formula), df)
    fit = get_engine("native").fit(design, "REML")
    off = fit_at(design, "REML", np.asarray(fit.theta) * 1.15)
    kenward_roger(off, design, information="observed")  # the linear form is exact anywhere
    kenward_roger(off, design, information="expected", parameterization="cholesky")
    with pytest.raises(NotImplementedOption, match="at an optimum only"):
        kenward_roger(off, design, information="observed", parameterization="cholesky")


def test_ml_fit_is_refitted_once_and_sas_ml_kr_is_refused():
    from replicate.quantities.fixed import kr_checked
    from replicate.reference_block import ReferenceBlock

    def _kr_checked(block, fit, method):
        return kr_checked(ReferenceBlock.of(0, block), method, str(fit.method))

    formula, df, _ = _simulated("nested")
    design = build_design(parse_formula(formula), df)
    native = get_engine("native")
    fit = native.fit(design, "ML")
    refits: list[str] = []

    def counted(d, method):  # the run's engine, counted: KR's REML refit goes through it, once per fit
        refits.append(method)
        return native.fit(d, method)

    inf = Inference(fit, design, refit=counted)
    a = inf.kenward_roger()
    b = inf.kenward_roger("kr2", "observed")
    assert a.refit_reml and b.refit_reml
    assert refits == ["REML"]  # one refit, shared by every variant and setting
    assert "_inference" not in fit.extra  # nothing hidden in the frozen fit
    other = build_design(parse_formula(formula), df)  # another design object: its own cache, its own refit
    assert Inference(fit, other, refit=counted).kenward_roger().df.equals(a.df) and refits == ["REML", "REML"]
    assert _kr_checked({"software": "pbkrtest"}, fit, "kenward-roger") == "kenward-roger"
    with pytest.raises(NotImplementedOption, match="ML estimates"):
        _kr_checked({"software": "sas"}, fit, "kenward-roger-2")
    assert _kr_checked({"software": "sas"}, fit, "satterthwaite") == "satterthwaite"
