"""SAS's split of the within-subject df among subject-by-effect interactions (DDFM=BETWITHIN).

Where several within-subject effects contain CLASS variables, SAS gives each within-subject effect
the df of its subject-by-effect interaction instead of one pooled within-subject df: the rank that
the interaction of the subject with the effect's within-subject variables adds to X, the subject
and the subject's interactions with the lower-order parts of those variables. Only variables that
change within some subject enter (Group x Time with Group constant within subjects shares
Subject x Time with Time); ranks, not level counts, so missing cells count.

For a split plot (blocks as subjects; Variety, Nitrogen and their interaction within blocks) this is
the classical (b - 1)(v - 1), (b - 1)(n - 1), (b - 1)(v - 1)(n - 1).

The subject's interaction columns are block-diagonal by subject, so a rank is computed subject by
subject: the rank of each subject's own columns, plus the rank of X after removing from each
subject's rows their projection on that subject's columns. That is linear in the number of subjects.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from ..spec import Term
from .sumcoding import SumCoding

TOL = 1e-9


def _full_dummies(term: Term, coding: SumCoding, rows: np.ndarray) -> np.ndarray:
    """Columns of ``term`` on ``rows`` with full dummy coding of CLASS variables (the intercept for ``()``)."""
    out = np.ones((len(rows), 1))
    for v in term:
        if v in coding.classes:
            block = np.eye(len(coding.classes[v]))[coding.values[v][rows]]
        else:
            block = coding.values[v][rows]
        out = (out[:, :, None] * block[:, None, :]).reshape(len(rows), -1)
    return out


def _rank(M: np.ndarray) -> int:
    if M.size == 0:
        return 0
    s = np.linalg.svd(M, compute_uv=False)
    return int(np.sum(s > TOL * max(float(s[0]), 1.0)))


def local_rank(X: np.ndarray, groups: Sequence[np.ndarray], terms: Sequence[Term], coding: SumCoding) -> int:
    """rank([X, subject x term for each term]), subject by subject."""
    total = 0
    resid = []
    for rows in groups:
        Z = np.column_stack([_full_dummies(t, coding, rows) for t in terms])
        U, s, _ = np.linalg.svd(Z, full_matrices=False)
        r = int(np.sum(s > TOL * max(float(s[0]), 1.0))) if s.size else 0
        Q = U[:, :r]
        Xi = X[rows]
        resid.append(Xi - Q @ (Q.T @ Xi))
        total += r
    return total + _rank(np.vstack(resid)) if resid else total


def within_variables(coding: SumCoding, term: Term, groups: Sequence[np.ndarray]) -> Term:
    """The variables of ``term`` that change within some subject."""
    out = []
    for v in term:
        vals = coding.values[v]
        if any(len(rows) > 1 and np.any(vals[rows] != vals[rows[0]]) for rows in groups):
            out.append(v)
    return tuple(out)


def split_within_df(X: np.ndarray, subject: np.ndarray, coding: SumCoding, effects: Sequence[str]) -> dict[str, float]:
    """The subject-by-effect df of each within-subject effect (by label)."""
    groups = [np.flatnonzero(subject == s) for s in np.unique(subject)]
    cache: dict[frozenset[Term], int] = {}

    def rank_of(terms: list[Term]) -> int:
        key = frozenset(terms)
        if key not in cache:
            cache[key] = local_rank(X, groups, sorted(key, key=len), coding)
        return cache[key]

    out: dict[str, float] = {}
    for label in effects:
        w = within_variables(coding, coding.terms[coding.labels.index(label)], groups)
        lower = [tuple(c) for k in range(len(w)) for c in itertools.combinations(w, k)]
        out[label] = float(rank_of([*lower, w]) - rank_of(lower))
    return out
