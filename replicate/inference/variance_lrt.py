"""lmerTest's ``ranova``: likelihood-ratio tests for dropping each random term.

``ranova`` drops each random term (or, for a term with slopes, each of its
left-hand side terms, keeping the intercept), refits, and reports the
likelihood-ratio statistic with the naive chi-square p-value (lmerTest) and,
where the null lies on the boundary in a known way, the chi-bar-square p-value:
``0.5 chi2_0 + 0.5 chi2_1`` for one variance (Self & Liang 1987), and
``0.5 chi2_{k-1} + 0.5 chi2_k`` for reducing a k-dimensional unstructured block
to k - 1 dimensions, which also drops k - 1 covariances (Stram & Lee 1994); the mixtures are
in :mod:`replicate.inference.chibar`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from ..design import Design, ReTerm
from ..engine import fit_design
from ..errors import ModelError
from ..results import FitResult
from ..spec import RandomTerm, parse_formula
from .chibar import chibar_pvalue, mixture_text
from .type3_hypotheses import match_pieces


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


def _same_term(rt: RandomTerm, t: ReTerm) -> bool:
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


def _npar(fit: FitResult, design: Design) -> int:
    """The fit's number of parameters: the engine's count, else fixed effects, theta and sigma."""
    return int(fit.npar) if fit.npar is not None else design.p + len(np.asarray(fit.theta)) + 1


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
    npar0 = _npar(fit, design)
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
            ll, npar = float(f.loglik), _npar(f, red.design)
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
                "mixture": mixture_text(red.mixture),
            }
        )
        labels.append(red.label)
    table = pd.DataFrame(rows, index=labels)
    table.insert(2, "AIC", -2.0 * table["logLik"] + 2.0 * table["npar"])
    table.attrs["heading"] = "ANOVA-like table for random-effects: Single term deletions"
    return table


__all__ = ["Reduction", "ranova", "reductions"]
