"""Rule-based denominator degrees of freedom, as SAS, HLM and nlme print them.

Every function takes ``(fit, design, spec=None)`` and returns a Series indexed by
the fixed-effect names. These rules depend on the design only (never on the
estimates), so ``fit`` may be None; it is accepted so that every df method has
the same signature.

* :func:`residual_df`: ``n - rank(X)`` (SAS ``ddfm=residual``, lme4-style naive t).
* :func:`containment_df`: SAS ``ddfm=contain``. For a fixed effect A, among the
  random effects that *syntactically* contain A (their variables include all of
  A's; the intercept has none, so every random effect contains it), take the
  smallest rank contribution to ``[X Z]``, the random effects being added in
  order after X; with none, ``n - rank[X Z]``. A term ``(x | g)`` is SAS's
  ``random int x / subject=g``, i.e. the effects ``g`` and ``x*g``; the order is
  outer grouping factors first (as SAS programs list ``subject=school`` before
  ``subject=class(school)``), then the term's columns in order.
* :func:`between_within_df`: SAS ``ddfm=bw`` (Schluchter & Elashoff 1990). The
  residual df ``n - rank(X)`` is split: between-subject
  ``S - rank(X_between)`` (X_between: the columns of effects that do not change
  within any subject, the intercept included) and within-subject, the rest.
  The subject is the top-level grouping factor unless named.
* :func:`hlm_df`: HLM2 (Raudenbush & Bryk 2002, ch. 3/4; HLM manual). For
  gamma_qs in the level-2 equation of a *random* level-1 coefficient beta_q,
  ``J - S_q - 1`` (S_q: the level-2 predictors in that equation). For the
  coefficients of a level-1 coefficient without a random part, HLM uses the
  level-1 sample size: ``N - p`` by default (see :func:`hlm_df`).
* :func:`nlme_df`: ``nlme::lme``'s ``getFixDF`` (Pinheiro & Bates 2000,
  sec. 2.4.2): each column of X is estimated at the innermost grouping level
  within which it varies; df at level i = ``m_i - (m_{i-1} + p_i)``.

Where a rule needs the level of a variable and the model was given as a formula,
it is inferred from the data: a variable is level 2 if it is constant within
every group of the grouping factor (as SAS bw and nlme decide).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..design import Design
from ..errors import ModelError, NotImplementedOption
from .design_levels import (
    INTERCEPT,
    col_terms,
    groups,
    hierarchy,
    nested,
    rank,
    series,
    term_vars,
    top_group,
    variable_levels,
    varies_within,
)

if TYPE_CHECKING:
    from ..results import FitResult
    from ..spec import ModelSpec


def residual_df(fit: FitResult | None, design: Design, spec: ModelSpec | None = None) -> pd.Series:
    """``n - rank(X)`` for every coefficient."""
    G = design.X.T @ design.X
    return series([design.n - rank(G)] * design.p, design)


def _random_column_vars(design: Design, spec: ModelSpec | None) -> dict[str, tuple[str, ...]]:
    """Variables of each random-effect column name (``(Intercept)`` -> ())."""
    known = set(spec.variables()) if spec is not None else set()
    terms = col_terms(design)
    by_fixed = {n: term_vars(t) for n, t in zip(design.fixed_names, terms)}
    for term in terms:
        known.update(term_vars(term))
    out: dict[str, tuple[str, ...]] = {}
    for t in design.reterms:
        for c in t.columns:
            if c in out:
                continue
            if c == INTERCEPT:
                out[c] = ()
            elif c in by_fixed:
                out[c] = by_fixed[c]
            else:  # factor columns like 'sexM': the longest known variable that prefixes each piece
                vs = []
                for piece in c.split(":"):
                    cand = [k for k in known if piece.startswith(k)]
                    vs.append(max(cand, key=len) if cand else piece)
                out[c] = tuple(vs)
    return out


def _random_effects(design: Design, spec: ModelSpec | None) -> list[tuple[str, frozenset[str], sp.csr_matrix]]:
    """SAS-style random effects ``(name, variables, Z block)``, outer factors first."""
    cvars = _random_column_vars(design, spec)
    rows = np.arange(design.n)
    effects = []
    for t in sorted(design.reterms, key=lambda r: r.nlevels):  # stable: formula order within ties
        gvars = set(t.group.split(":"))
        for j, c in enumerate(t.columns):
            Z = sp.csr_matrix((t.Xre[:, j], (rows, t.index)), shape=(design.n, t.nlevels))
            v = frozenset(gvars | set(cvars[c]))
            name = t.group if c == INTERCEPT else f"{c}*{t.group}"
            effects.append((name, v, Z))
    return effects


def containment_ranks(design: Design, spec: ModelSpec | None = None) -> tuple[list[tuple[str, int]], int]:
    """Rank contribution of each random effect to ``[X Z]`` (in order) and ``n - rank[X Z]``."""
    effects = _random_effects(design, spec)
    X = design.X
    Zall = sp.hstack([e[2] for e in effects], format="csc") if effects else sp.csc_matrix((design.n, 0))
    ZtZ = (Zall.T @ Zall).toarray()
    ZtX = np.asarray(Zall.T @ X)
    G = np.block([[X.T @ X, ZtX.T], [ZtX, ZtZ]])
    p = X.shape[1]
    ranks = [rank(G[:p, :p])]
    pos = p
    contrib = []
    for name, _, Z in effects:
        pos += Z.shape[1]
        ranks.append(rank(G[:pos, :pos]))
        contrib.append((name, ranks[-1] - ranks[-2]))
    return contrib, design.n - ranks[-1]


def containment_df(fit: FitResult | None, design: Design, spec: ModelSpec | None = None) -> pd.Series:
    """SAS ``ddfm=contain`` for each coefficient (same value for all columns of a term)."""
    effects = _random_effects(design, spec)
    contrib, resid = containment_ranks(design, spec)
    out = []
    for term in col_terms(design):
        fv = set(term_vars(term))
        cands = [c for (name, v, _), (_, c) in zip(effects, contrib) if fv <= v]
        out.append(min(cands) if cands else resid)
    return series(out, design)


def _is_classification(design: Design, term: str) -> bool:
    if term == INTERCEPT:
        return False
    names = [n for n, t in zip(design.fixed_names, col_terms(design)) if t == term]
    return any(n != term for n in names)


def between_within_df(
    fit: FitResult | None,
    design: Design,
    spec: ModelSpec | None = None,
    *,
    subject: str | None = None,
    tol: float = 1e-10,
) -> pd.Series:
    """SAS ``ddfm=bw``: between-subject df for effects constant within every subject.

    Args:
        subject: grouping factor that defines subjects (default: the one with
            fewest levels; every other factor must be nested in it, as SAS then
            processes the data by that subject).

    Raises:
        NotImplementedOption: two or more within-subject effects involve
            classification variables (SAS then partitions the within df into
            subject-by-effect components, which is not implemented).
    """
    s = top_group(design, subject)
    for rt in design.reterms:
        if not nested(rt.index, s.index):
            raise ModelError(
                f"grouping factor {rt.group!r} is not nested in the subject {s.group!r}",
                hint="SAS does not process such data by subjects; ddfm=bw has no effect there",
            )
    terms = col_terms(design)
    col_within = [varies_within(design.X[:, j], s.index, tol=tol) for j in range(design.p)]
    term_within = {t: False for t in terms}
    for t, w in zip(terms, col_within):
        term_within[t] = term_within[t] or w
    within_class = [t for t, w in term_within.items() if w and _is_classification(design, t)]
    if len(within_class) > 1:
        raise NotImplementedOption(
            "ddfm=bw with several within-subject classification effects "
            f"({', '.join(within_class)}) partitions the within df by subject-by-effect; not implemented"
        )
    between_cols = [j for j, t in enumerate(terms) if not term_within[t]]
    Xb = design.X[:, between_cols]
    between = s.nlevels - rank(Xb.T @ Xb)
    residual = design.n - rank(design.X.T @ design.X)
    within = residual - between
    return series([within if term_within[t] else between for t in terms], design)


def nlme_df(fit: FitResult | None, design: Design, spec: ModelSpec | None = None) -> pd.Series:
    """``nlme::lme``'s df per coefficient (``summary(fit)$tTable[, "DF"]``).

    The grouping factors must be nested (as ``random = ~ ... | a/b``); the
    number of groups at each level is that of the corresponding lme4 factor
    (``b:a`` for the inner level).
    """
    levels = hierarchy(design)
    N, p = design.n, design.p
    m = [t.nlevels for t in levels]
    dfX = np.array(m + [N], dtype=float) - np.array([0] + m, dtype=float)
    X = design.X

    def const(x: np.ndarray) -> bool:
        tol = np.sqrt(np.finfo(float).eps)
        if x[0] == 0:
            return bool(np.all(np.abs(x) < tol))
        return bool(np.all(np.abs(x / x[0] - 1) < tol))

    not_int = np.array([not const(X[:, j]) for j in range(p)])
    strat = np.zeros(p, dtype=int)
    for j in np.flatnonzero(not_int):
        k = 0  # stratum 0 (outermost level) unless the column varies within some level's groups
        for q, t in enumerate(levels):
            if varies_within(X[:, j], t.index):
                k = q + 1
        strat[j] = k
    for j in np.flatnonzero(not_int):
        dfX[strat[j]] -= 1
    if not not_int.all():
        dfX[0] -= 1
    else:
        dfX[1:] += 1
    out = np.where(not_int, dfX[strat], dfX.max())
    return series(out, design)


def hlm_df(
    fit: FitResult | None,
    design: Design,
    spec: ModelSpec | None = None,
    *,
    data: pd.DataFrame | None = None,
    fixed_rule: str = "n-p",
) -> pd.Series:
    """HLM2's approximate df for each fixed effect gamma_qs.

    Each column of X is mapped to HLM's equations: its level-1 variables name
    the level-1 coefficient beta_q (none: the intercept beta_0) and its level-2
    variables are predictors in beta_q's level-2 equation. Levels come from
    ``spec.levels`` (HLM notation) or are inferred from ``data`` / X.

    * beta_q has a random part (its level-1 column is in the random-effects
      term): ``J - S_q - 1``, S_q = number of level-2 predictors for beta_q
      (Raudenbush & Bryk 2002, ch. 3, tests of single fixed effects).
    * beta_q fixed (no u_q): HLM uses the level-1 sample size. Published HLM
      output fits ``N - 2`` for a model with a random intercept and one fixed
      slope (Hox popularity data 1998 = 2000 - 2; Snijders & Bosker 2285 =
      2287 - 2; the seed's URBAN entered at level 1, 692). ``fixed_rule="n-p"``
      (default) takes ``N - p`` (p: all fixed effects); ``"n-q-1"`` takes
      ``N - Q - 1`` (Q: number of level-1 predictors). They agree on those
      outputs and differ once level-2 predictors are present.

    Raises:
        NotImplementedOption: more than one grouping factor (HLM3 rules).
    """
    if fixed_rule not in ("n-p", "n-q-1"):
        raise ValueError("fixed_rule must be 'n-p' or 'n-q-1'")
    gs = groups(design)
    if len(gs) != 1:
        raise NotImplementedOption("hlm df are implemented for two-level models (one grouping factor) only")
    g = gs[0]
    J, N, p = g.nlevels, design.n, design.p
    lev = variable_levels(design, spec, data, g.group)
    random_cols = {c for t in design.reterms for c in t.columns}
    keys: list[str] = []  # level-1 column of each X column: which beta_q it belongs to
    has_w: list[bool] = []
    for name, term in zip(design.fixed_names, col_terms(design)):
        vs = term_vars(term)
        pieces = name.split(":") if vs else []
        if len(pieces) != len(vs):  # a name that does not split like its term: keep it whole
            pieces = [name] * len(vs)
        l1 = [i for i, v in enumerate(vs) if lev.get(v, 1) == 1]
        keys.append(INTERCEPT if not l1 else ":".join(dict.fromkeys(pieces[i] for i in l1)))
        has_w.append(len(l1) < len(vs))
    n_level1 = len({k for k in keys if k != INTERCEPT})
    out = []
    for key in keys:
        if key in random_cols:
            S = sum(1 for k2, w2 in zip(keys, has_w) if k2 == key and w2)
            out.append(J - S - 1)
        elif fixed_rule == "n-p":
            out.append(N - p)
        else:
            out.append(N - n_level1 - 1)
    return series(out, design)
