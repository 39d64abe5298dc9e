"""Tests and summaries of variance components: HLM's chi-square and reliability,
the ICC, and lmerTest's ``ranova`` likelihood-ratio tests with boundary p-values.

HLM (Raudenbush & Bryk 2002, sections 3.5-3.6 and 4.4) tests ``tau_qq = 0`` for
each random level-1 coefficient without refitting: in every level-2 unit with
enough data for its own OLS regression it compares the unit's OLS estimate
``beta_hat_qj`` with the fitted level-2 prediction ``W_j' gamma_hat_q``,

    chi2_q = sum_j (beta_hat_qj - W_j' gamma_hat_q)^2 / V_qqj,
    V_j = sigma_hat^2 (X_j' X_j)^-1,

on ``J' - S_q - 1`` df (J' units used, S_q level-2 predictors of coefficient q).
The level-1 coefficients without a random part are fixed at their estimates
before the unit regressions. The reliability of ``beta_hat_qj`` is
``tau_qq / (tau_qq + V_qqj)``; HLM prints its average over the units used.
Units "with sufficient data" are those whose X_j'X_j is invertible with a
condition number below 1e6 (HLM's checks, per its FAQ).

``ranova`` drops each random term (or, for a term with slopes, each of its
left-hand side terms, keeping the intercept), refits, and reports the
likelihood-ratio statistic with the naive chi-square p-value (lmerTest) and,
where the null lies on the boundary in a known way, the chi-bar-square p-value:
``0.5 chi2_0 + 0.5 chi2_1`` for one variance (Self & Liang 1987), and
``0.5 chi2_{k-1} + 0.5 chi2_k`` for reducing a k-dimensional unstructured block
to k - 1 dimensions, which also drops k - 1 covariances (Stram & Lee 1994).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from ..design import Design, ReTerm
from ..engine import fit_design
from ..errors import ModelError, NotImplementedOption
from ..results import FitResult
from ..spec import parse_formula
from .covparms import theta_factors
from .type3_hypotheses import match_pieces

COND_MAX = 1e6  # HLM's condition-number check on X_j'X_j


# ------------------------------------------------------------- HLM chi-square


@dataclass(frozen=True)
class UnitRegressions:
    """Per-unit OLS regressions behind HLM's chi-square and reliability.

    Attributes:
        group: grouping factor.
        coefficients: random level-1 coefficients (column names).
        tau: their variances (diagonal of T).
        used: boolean per unit: enough data for the unit's OLS fit.
        beta_hat: OLS estimates (units x coefficients), NaN where not used.
        v: sampling variances V_qqj (units x coefficients).
        predicted: level-2 predictions ``W_j' gamma_hat_q`` (units x coefficients).
        n_predictors: level-2 columns (including gamma_q0) per coefficient.
    """

    group: str
    coefficients: tuple[str, ...]
    tau: np.ndarray
    used: np.ndarray
    beta_hat: np.ndarray
    v: np.ndarray
    predicted: np.ndarray
    n_predictors: np.ndarray


def _group_constant(
    values: np.ndarray, index: np.ndarray, nlev: int, mask: np.ndarray, tol: float
) -> tuple[bool, np.ndarray]:
    """Whether ``values[mask]`` is constant within each group; returns the group values."""
    lo = np.full(nlev, np.inf)
    hi = np.full(nlev, -np.inf)
    np.minimum.at(lo, index[mask], values[mask])
    np.maximum.at(hi, index[mask], values[mask])
    seen = np.isfinite(lo)
    scale = max(1.0, float(np.max(np.abs(values[mask])))) if mask.any() else 1.0
    ok = bool(np.all(hi[seen] - lo[seen] <= tol * scale))
    return ok, np.where(seen, lo, 0.0)


def unit_regressions(fit: FitResult, design: Design, *, level1_columns: Sequence[str] = ()) -> UnitRegressions:
    """Per-unit OLS regressions of a two-level model, as HLM2 computes them.

    Args:
        fit: fit of ``design`` (REML or ML; the estimates of gamma, sigma^2 and
            T are used).
        design: a design with one grouping factor.
        level1_columns: fixed-effect columns entered at level 1 with a fixed
            slope in HLM although they are constant within units (HLM then
            subtracts them instead of treating them as level-2 predictors;
            seed 000's "URBAN as level-1 covariate").
    """
    groups = list(dict.fromkeys(t.group for t in design.reterms))
    if len(groups) != 1:
        raise NotImplementedOption(
            f"HLM's chi-square tests are implemented for two-level models (one grouping factor), not {groups}",
            hint="HLM3's level-2 and level-3 tests are not implemented",
        )
    group = groups[0]
    first = design.reterms[0]
    index = np.asarray(first.index)
    J = first.nlevels
    cols: dict[str, np.ndarray] = {}
    for t in design.reterms:
        if not np.array_equal(np.asarray(t.index), index):
            raise ModelError(f"terms of grouping factor {group!r} disagree on the units")
        for j, c in enumerate(t.columns):
            cols.setdefault(c, np.asarray(t.Xre[:, j], dtype=float))
    names = tuple(cols)
    R = np.column_stack([cols[c] for c in names])
    k = R.shape[1]
    X = np.asarray(design.X, dtype=float)
    gamma = fit.fixed.to_numpy(dtype=float)
    # assign fixed columns to the level-2 equations of the random coefficients
    assigned: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(k)]
    level1 = []
    for c, name in enumerate(design.fixed_names):
        target = None
        if name not in level1_columns:
            for q in range(k):
                nz = R[:, q] != 0
                if not np.all(X[~nz, c] == 0):
                    continue
                ratio = np.zeros(len(X))
                ratio[nz] = X[nz, c] / R[nz, q]
                ok, w = _group_constant(ratio, index, J, nz, 1e-8)
                if ok:
                    target = (q, w)
                    break
        if target is None:
            level1.append(c)
        else:
            assigned[target[0]].append((c, target[1]))
    ystar = np.asarray(design.y, dtype=float) - X[:, level1] @ gamma[level1]
    wts = np.ones(design.n) if design.weights is None else np.asarray(design.weights, dtype=float)
    sigma2 = float(fit.sigma2)
    beta_hat = np.full((J, k), np.nan)
    v = np.full((J, k), np.nan)
    used = np.zeros(J, dtype=bool)
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(J + 1))
    for j in range(J):
        rows = order[bounds[j] : bounds[j + 1]]
        if len(rows) < k:
            continue
        Rj = R[rows] * np.sqrt(wts[rows])[:, None]
        XtX = Rj.T @ Rj
        sv = np.linalg.svd(XtX, compute_uv=False)
        if sv[-1] <= 0 or sv[0] / sv[-1] >= COND_MAX:
            continue
        inv = np.linalg.inv(XtX)
        beta_hat[j] = inv @ (Rj.T @ (ystar[rows] * np.sqrt(wts[rows])))
        v[j] = sigma2 * np.diag(inv)
        used[j] = True
    predicted = np.zeros((J, k))
    for q in range(k):
        for c, w in assigned[q]:
            predicted[:, q] += gamma[c] * w
    tau = _coefficient_variances(fit, design, names)
    return UnitRegressions(group, names, tau, used, beta_hat, v, predicted, np.array([len(a) for a in assigned]))


def _coefficient_variances(fit: FitResult, design: Design, names: tuple[str, ...]) -> np.ndarray:
    """tau_qq of each random column (its term's G block; ``(x || g)`` terms are separate blocks)."""
    if fit.theta is None:
        raise NotImplementedOption("HLM's tests need the native engine's fit (theta)")
    var: dict[str, float] = {}
    for t, L in zip(design.reterms, theta_factors(design, np.asarray(fit.theta, dtype=float))):
        G = float(fit.sigma2) * (L @ L.T)
        for j, c in enumerate(t.columns):
            var.setdefault(c, float(G[j, j]))
    return np.array([var[c] for c in names])


def hlm_variance_tests(fit: FitResult, design: Design, *, level1_columns: Sequence[str] = ()) -> pd.DataFrame:
    """HLM's "Final estimation of variance components" table for a two-level model.

    Returns:
        One row per random coefficient: ``group``, ``coefficient``, ``sd``,
        ``variance`` (tau_qq), ``df`` (J' - S_q - 1), ``chisq``, ``p``,
        ``units_used`` (J') and ``units`` (J). When J' < J, ``attrs["note"]``
        holds HLM's note on units without sufficient data.
    """
    u = unit_regressions(fit, design, level1_columns=level1_columns)
    Jp = int(u.used.sum())
    rows = []
    for q, name in enumerate(u.coefficients):
        dev = u.beta_hat[u.used, q] - u.predicted[u.used, q]
        chisq = float(np.sum(dev**2 / u.v[u.used, q]))
        df = Jp - int(u.n_predictors[q])
        rows.append(
            {
                "group": u.group,
                "coefficient": name,
                "sd": float(np.sqrt(u.tau[q])),
                "variance": float(u.tau[q]),
                "df": df,
                "chisq": chisq,
                "p": float(stats.chi2.sf(chisq, df)) if df > 0 else np.nan,
                "units_used": Jp,
                "units": len(u.used),
            }
        )
    table = pd.DataFrame(rows)
    if Jp < len(u.used):
        table.attrs["note"] = (
            f"The chi-square statistics reported above are based on only {Jp} of "
            f"{len(u.used)} units that had sufficient data for computation."
        )
    return table


def reliability(fit: FitResult, design: Design, *, level1_columns: Sequence[str] = ()) -> pd.Series:
    """HLM's reliability of each random level-1 coefficient's OLS estimate.

    The average over units with sufficient data of ``tau_qq / (tau_qq + V_qqj)``.
    """
    u = unit_regressions(fit, design, level1_columns=level1_columns)
    vals = [float(np.mean(u.tau[q] / (u.tau[q] + u.v[u.used, q]))) for q in range(len(u.coefficients))]
    return pd.Series(vals, index=list(u.coefficients), name="reliability")


def icc(fit: FitResult, group: str | None = None) -> float:
    """Intraclass correlation of a random-intercept model: ``tau_00 / (sum of taus + sigma^2)``.

    Args:
        fit: a fit whose random terms are all intercept-only.
        group: which grouping factor's share to report when there are several
            (e.g. schools in a three-level model); required then.
    """
    vc = fit.varcorr
    re = vc[vc["grp"] != "Residual"]
    if len(re) == 0 or not (re["var1"] == "(Intercept)").all() or re["var2"].notna().any():
        raise ModelError(
            "the ICC is defined here for random-intercept models", hint="every random term must be (1 | group)"
        )
    if group is None:
        if len(re) != 1:
            raise ModelError(
                f"several grouping factors ({', '.join(re['grp'])}); name one", hint="icc(fit, group='schoolid')"
            )
        group = str(re["grp"].iloc[0])
    if group not in set(re["grp"]):
        raise ModelError(f"no random intercept for {group!r}", hint=f"one of {', '.join(re['grp'])}")
    tau = float(re.loc[re["grp"] == group, "vcov"].iloc[0])
    return tau / (float(re["vcov"].sum()) + float(fit.sigma2))


# ------------------------------------------------------------------- ranova


@dataclass(frozen=True)
class Reduction:
    """One row of ``ranova``: the model with one random term reduced.

    Attributes:
        label: lmerTest's row name (``(1 | g)``, ``x in (1 + x | g)``).
        design: the reduced design.
        mixture: chi-bar-square weights ``{df: weight}``, or None if unknown.
    """

    label: str
    design: Design
    mixture: dict[int, float] | None


def _term_columns(t: ReTerm, lhs_term: tuple[str, ...]) -> list[int]:
    return [j for j, c in enumerate(t.columns) if c != "(Intercept)" and match_pieces(c, lhs_term) is not None]


def _same_term(rt, t: ReTerm) -> bool:
    """Whether design term ``t`` is the expansion of the formula's random term ``rt``."""
    if t.group != rt.group_name or ("(Intercept)" in t.columns) != rt.intercept:
        return False
    owned = [set(_term_columns(t, lhs)) for lhs in rt.terms]
    slopes = {j for j, c in enumerate(t.columns) if c != "(Intercept)"}
    return all(owned) and set().union(*owned) == slopes if owned else not slopes


def _with_term(design: Design, pos: int, new: ReTerm | None) -> Design:
    terms = list(design.reterms)
    if new is None:
        del terms[pos]
    else:
        terms[pos] = new
    return replace(design, reterms=tuple(terms))


def reductions(design: Design, *, reduce_terms: bool = True) -> list[Reduction]:
    """The reduced models ``ranova`` fits, in lmerTest's order (formula order of the terms).

    A term without slopes is dropped. A term with slopes (``reduce_terms``)
    loses each of its droppable left-hand-side terms in turn; when none would
    remain it becomes ``(1 | g)``, as lmerTest does (so ``(0 + x | g)`` is
    compared with ``(1 | g)``, a non-nested pair: no chi-bar p-value).
    """
    spec = parse_formula(design.formula)
    used: set[int] = set()
    out: list[Reduction] = []
    for rt in spec.random:
        # lme4 reorders terms by their number of levels (ties reversed): match on group and columns
        pos = next(
            (i for i, t in enumerate(design.reterms) if i not in used and _same_term(rt, t)),
            next((i for i, t in enumerate(design.reterms) if i not in used and t.group == rt.group_name), None),
        )
        if pos is None:
            raise ModelError(f"random term {rt.text()} not found in the design")
        used.add(pos)
        t = design.reterms[pos]
        form = f"{rt.lhs_text()} | {rt.group_name}"
        if not rt.terms or not reduce_terms:
            out.append(Reduction(f"({form})", _with_term(design, pos, None), {0: 0.5, 1: 0.5} if t.k == 1 else None))
            continue
        scope = [a for a in rt.terms if not any(set(a) < set(b) for b in rt.terms)]
        for scp in scope:
            drop = _term_columns(t, scp)
            label = f"{':'.join(scp)} in ({form})"
            if len(rt.terms) == 1:  # nothing left: lmerTest puts (1 | g)
                new = ReTerm(t.group, t.index, t.levels, ("(Intercept)",), np.ones((len(t.index), 1)))
            else:
                keep = [j for j in range(t.k) if j not in drop]
                new = ReTerm(t.group, t.index, t.levels, tuple(t.columns[j] for j in keep), t.Xre[:, keep])
            if any(
                i != pos and u.group == new.group and u.columns == new.columns for i, u in enumerate(design.reterms)
            ):
                # R's formula update merges the repeated term: the term is simply dropped
                out.append(Reduction(label, _with_term(design, pos, None), {0: 0.5, 1: 0.5} if t.k == 1 else None))
                continue
            nested = set(new.columns) <= set(t.columns) and new.k == t.k - 1 and len(drop) == 1
            out.append(Reduction(label, _with_term(design, pos, new), {t.k - 1: 0.5, t.k: 0.5} if nested else None))
    return out


def _lm_loglik(design: Design, reml: bool) -> tuple[float, int]:
    """Log-likelihood of the model without random effects, as R's ``logLik.lm`` (REML or ML)."""
    X = np.asarray(design.X, dtype=float)
    y = np.asarray(design.y, dtype=float)
    w = np.ones(design.n) if design.weights is None else np.asarray(design.weights, dtype=float)
    sw = np.sqrt(w)
    Xw, yw = X * sw[:, None], y * sw
    beta, *_ = np.linalg.lstsq(Xw, yw, rcond=None)
    rss = float(np.sum((yw - Xw @ beta) ** 2))
    n, p = design.n, design.p
    N = n - p if reml else n
    ll = 0.5 * (float(np.sum(np.log(w))) - N * (np.log(2 * np.pi) + 1.0 - np.log(N) + np.log(rss)))
    if reml:
        ll -= 0.5 * float(np.linalg.slogdet(Xw.T @ Xw)[1])
    return ll, p + 1


def chibar_pvalue(stat: float, mixture: dict[int, float] | None) -> float:
    """Upper tail of a chi-bar-square mixture ``sum_k w_k chi2_k`` (chi2_0 is a point mass at 0)."""
    if mixture is None or not np.isfinite(stat):
        return np.nan
    total = 0.0
    for df, w in mixture.items():
        total += w * ((1.0 if stat <= 0 else 0.0) if df == 0 else float(stats.chi2.sf(max(stat, 0.0), df)))
    return total


def _mixture_text(mixture: dict[int, float] | None) -> str:
    if mixture is None:
        return ""
    return " + ".join(f"{w:g} chi2({df})" for df, w in sorted(mixture.items()))


def ranova(fit: FitResult, design: Design, *, reduce_terms: bool = True) -> pd.DataFrame:
    """lmerTest's ``ranova``: likelihood-ratio tests for dropping each random term.

    Reduced models keep the fit's criterion (REML or ML), as lmerTest does; a
    model left without random terms is the linear model (``logLik.lm``).

    Returns:
        Rows ``<none>`` and one per reduction with ``npar``, ``logLik``, ``AIC``,
        ``LRT``, ``Df``, ``Pr(>Chisq)`` (naive chi-square, lmerTest's) and
        ``Pr(>Chisq) chi-bar`` (boundary-corrected, see the module docstring)
        with the mixture used in ``mixture``.
    """
    reml = fit.method == "REML"
    npar0 = int(fit.npar) if fit.npar is not None else design.p + len(np.asarray(fit.theta)) + 1
    rows = [
        {
            "npar": npar0,
            "logLik": float(fit.loglik),
            "LRT": np.nan,
            "Df": np.nan,
            "Pr(>Chisq)": np.nan,
            "Pr(>Chisq) chi-bar": np.nan,
            "mixture": "",
        }
    ]
    labels = ["<none>"]
    for red in reductions(design, reduce_terms=reduce_terms):
        if red.design.reterms:
            f = fit_design(red.design, fit.method)
            ll, npar = float(f.loglik), int(f.npar)
        else:
            ll, npar = _lm_loglik(red.design, reml)
        lrt = 2.0 * (float(fit.loglik) - ll)
        df = npar0 - npar
        rows.append(
            {
                "npar": npar,
                "logLik": ll,
                "LRT": lrt,
                "Df": df,
                "Pr(>Chisq)": float(stats.chi2.sf(lrt, df)) if df > 0 else np.nan,
                "Pr(>Chisq) chi-bar": chibar_pvalue(lrt, red.mixture),
                "mixture": _mixture_text(red.mixture),
            }
        )
        labels.append(red.label)
    table = pd.DataFrame(rows, index=labels)
    table.insert(2, "AIC", -2.0 * table["logLik"] + 2.0 * table["npar"])
    table.attrs["heading"] = "ANOVA-like table for random-effects: Single term deletions"
    return table


__all__ = [
    "Reduction",
    "UnitRegressions",
    "chibar_pvalue",
    "hlm_variance_tests",
    "icc",
    "ranova",
    "reductions",
    "reliability",
    "unit_regressions",
]
