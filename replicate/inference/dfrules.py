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

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..design import Design, ReTerm
from ..errors import ModelError, NotImplementedOption

if TYPE_CHECKING:
    from ..results import FitResult
    from ..spec import ModelSpec

INTERCEPT = "(Intercept)"


# ------------------------------------------------------------------ helpers


def _names(design: Design) -> list[str]:
    return list(design.fixed_names)


def _col_terms(design: Design) -> list[str]:
    if design.column_term and len(design.column_term) == design.p:
        return list(design.column_term)
    return list(design.fixed_names)  # designs built by hand: one term per column


def _term_vars(term: str) -> tuple[str, ...]:
    return () if term == INTERCEPT else tuple(term.split(":"))


def _groups(design: Design) -> list[ReTerm]:
    """One ReTerm per distinct grouping factor, outermost (fewest levels) first."""
    seen: dict[str, ReTerm] = {}
    for t in design.reterms:
        seen.setdefault(t.group, t)
    return sorted(seen.values(), key=lambda t: t.nlevels)


def _nested(inner: np.ndarray, outer: np.ndarray) -> bool:
    pairs = np.unique(np.stack([inner, outer], axis=1), axis=0)
    return np.unique(pairs[:, 0]).size == pairs.shape[0]


def _hierarchy(design: Design) -> list[ReTerm]:
    """Grouping factors outer to inner, each nested in the previous one."""
    gs = _groups(design)
    for outer, inner in itertools.pairwise(gs):
        if not _nested(inner.index, outer.index):
            raise ModelError(
                f"grouping factors {outer.group!r} and {inner.group!r} are not nested",
                hint="this df rule is defined for nested (hierarchical) designs only",
            )
    return gs


def _top_group(design: Design, group: str | None) -> ReTerm:
    gs = _groups(design)
    if not gs:
        raise ModelError("the model has no random-effect terms")
    if group is None:
        return gs[0]
    for t in gs:
        if t.group == group:
            return t
    raise ModelError(
        f"{group!r} is not a grouping factor of the model", hint="one of: " + ", ".join(t.group for t in gs)
    )


def varies_within(values: np.ndarray, index: np.ndarray, *, tol: float = 0.0) -> bool:
    """Whether ``values`` differ inside at least one group of ``index``.

    ``tol=0`` compares exactly, as nlme's ``inner_perc``; otherwise differences
    up to ``tol * (1 + |value|)`` count as equal.
    """
    values = np.asarray(values, dtype=float)
    _, first = np.unique(index, return_index=True)
    ref = np.empty(int(index.max()) + 1)
    ref[index[first]] = values[first]
    diff = np.abs(values - ref[index])
    if tol == 0.0:
        return bool(np.any(diff != 0))
    return bool(np.any(diff > tol * (1.0 + np.abs(values))))


def _rank(G: np.ndarray, rtol: float = 1e-10) -> int:
    """Rank of a Gram matrix A'A (columns scaled to unit length first)."""
    if G.shape[0] == 0:
        return 0
    d = np.sqrt(np.clip(np.diag(G), 0, None))
    keep = d > 0
    if not keep.any():
        return 0
    Gs = G[np.ix_(keep, keep)] / np.outer(d[keep], d[keep])
    ev = np.linalg.eigvalsh((Gs + Gs.T) / 2)
    return int(np.sum(ev > rtol * ev.max()))


def _series(values: Sequence[float], design: Design) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=_names(design))


def variable_levels(
    design: Design,
    spec: ModelSpec | None = None,
    data: pd.DataFrame | None = None,
    group: str | None = None,
    *,
    tol: float = 1e-10,
) -> dict[str, int]:
    """Level (1 or 2) of every variable in the fixed part, relative to a grouping factor.

    HLM notation (``spec.levels``) is used as given. Otherwise a variable is
    level 2 if constant within every group of ``group`` (the top-level factor by
    default), judged from ``data`` (the frame the design was built from) when
    given, else from the X columns of the variable's main effect; a variable
    seen only inside interactions and not in ``data`` counts as level 1.
    """
    g = _top_group(design, group)
    terms = _col_terms(design)
    variables: list[str] = []
    for t in terms:
        for v in _term_vars(t):
            if v not in variables:
                variables.append(v)
    given = dict(spec.levels) if spec is not None and spec.levels else {}
    out: dict[str, int] = {}
    for v in variables:
        if v in given:
            out[v] = int(given[v])
            continue
        if data is not None and v in data.columns:
            col = data[v]
            if len(col) != design.n:
                col = col.iloc[design.rows] if len(design.rows) == design.n else col
            vals = col.to_numpy()
            if pd.api.types.is_numeric_dtype(col):
                out[v] = 1 if varies_within(vals.astype(float), g.index, tol=tol) else 2
            else:
                codes, _ = pd.factorize(pd.Series(vals))
                out[v] = 1 if varies_within(codes.astype(float), g.index) else 2
            continue
        cols = [j for j, t in enumerate(terms) if t == v]
        if cols:
            out[v] = 1 if any(varies_within(design.X[:, j], g.index, tol=tol) for j in cols) else 2
        else:
            out[v] = 1
    return out


# -------------------------------------------------------------------- rules


def residual_df(fit: FitResult | None, design: Design, spec: ModelSpec | None = None) -> pd.Series:
    """``n - rank(X)`` for every coefficient."""
    G = design.X.T @ design.X
    return _series([design.n - _rank(G)] * design.p, design)


def _random_column_vars(design: Design, spec: ModelSpec | None) -> dict[str, tuple[str, ...]]:
    """Variables of each random-effect column name (``(Intercept)`` -> ())."""
    known = set(spec.variables()) if spec is not None else set()
    terms = _col_terms(design)
    by_fixed = {n: _term_vars(t) for n, t in zip(design.fixed_names, terms)}
    for t in terms:
        known.update(_term_vars(t))
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


def _random_effects(design: Design, spec: ModelSpec | None) -> list[tuple[str, frozenset, sp.csr_matrix]]:
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
    ranks = [_rank(G[:p, :p])]
    pos = p
    contrib = []
    for name, _, Z in effects:
        pos += Z.shape[1]
        ranks.append(_rank(G[:pos, :pos]))
        contrib.append((name, ranks[-1] - ranks[-2]))
    return contrib, design.n - ranks[-1]


def containment_df(fit: FitResult | None, design: Design, spec: ModelSpec | None = None) -> pd.Series:
    """SAS ``ddfm=contain`` for each coefficient (same value for all columns of a term)."""
    effects = _random_effects(design, spec)
    contrib, resid = containment_ranks(design, spec)
    out = []
    for term in _col_terms(design):
        fv = set(_term_vars(term))
        cands = [c for (name, v, _), (_, c) in zip(effects, contrib) if fv <= v]
        out.append(min(cands) if cands else resid)
    return _series(out, design)


def _is_classification(design: Design, term: str) -> bool:
    if term == INTERCEPT:
        return False
    names = [n for n, t in zip(design.fixed_names, _col_terms(design)) if t == term]
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
    s = _top_group(design, subject)
    for t in design.reterms:
        if not _nested(t.index, s.index):
            raise ModelError(
                f"grouping factor {t.group!r} is not nested in the subject {s.group!r}",
                hint="SAS does not process such data by subjects; ddfm=bw has no effect there",
            )
    terms = _col_terms(design)
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
    between = s.nlevels - _rank(Xb.T @ Xb)
    residual = design.n - _rank(design.X.T @ design.X)
    within = residual - between
    return _series([within if term_within[t] else between for t in terms], design)


def nlme_df(fit: FitResult | None, design: Design, spec: ModelSpec | None = None) -> pd.Series:
    """``nlme::lme``'s df per coefficient (``summary(fit)$tTable[, "DF"]``).

    The grouping factors must be nested (as ``random = ~ ... | a/b``); the
    number of groups at each level is that of the corresponding lme4 factor
    (``b:a`` for the inner level).
    """
    levels = _hierarchy(design)
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
    return _series(out, design)


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
    gs = _groups(design)
    if len(gs) != 1:
        raise NotImplementedOption("hlm df are implemented for two-level models (one grouping factor) only")
    g = gs[0]
    J, N, p = g.nlevels, design.n, design.p
    lev = variable_levels(design, spec, data, g.group)
    random_cols = {c for t in design.reterms for c in t.columns}
    keys: list[str] = []  # level-1 column of each X column: which beta_q it belongs to
    has_w: list[bool] = []
    for name, term in zip(design.fixed_names, _col_terms(design)):
        vs = _term_vars(term)
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
    return _series(out, design)
