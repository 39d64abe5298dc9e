"""Subjects grouped by their pattern of observed visits, with the cross-products each pattern needs.

All subjects of one group level who were seen at the same visit positions share one covariance
block, so the likelihood needs, per pattern, only the sums over its subjects of the outer products
of their rows of ``Z = [X y]``: ``S[a, b] = sum_i Z_i[a]' Z_i[b]`` (an m x m x q x q array). Building
them is linear in the number of subjects; after that a likelihood evaluation costs nothing per
subject. Weights (SAS's WEIGHT statement, V = W^-1/2 R W^-1/2) scale the rows of Z by sqrt(w).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import DataError


@dataclass(frozen=True)
class Pattern:
    """Subjects of one group level observed at the same visit positions.

    Attributes:
        group: group level code (0 without GROUP=).
        visits: observed visit positions (0-based, increasing).
        count: number of subjects.
        S: m x m x q x q sums of outer products of the subjects' rows of [X y].
    """

    group: int
    visits: np.ndarray
    count: int
    S: np.ndarray


@dataclass(frozen=True)
class Blocks:
    """The data of a repeated-measures fit, reduced to patterns.

    Attributes:
        patterns: the visit patterns.
        n: number of observations; p: columns of X; k: number of visit levels.
        n_groups: number of GROUP= levels (1 without).
        n_subjects: number of subjects.
        log_weights: sum of log weights (0 without weights).
    """

    patterns: tuple[Pattern, ...]
    n: int
    p: int
    k: int
    n_groups: int
    n_subjects: int
    log_weights: float = 0.0


def make_blocks(
    X: np.ndarray,
    y: np.ndarray,
    subject: np.ndarray,
    visit: np.ndarray,
    k: int,
    group: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> Blocks:
    """Group rows into visit patterns.

    Args:
        X, y: fixed-effect design and response, n rows.
        subject: integer subject codes, 0 .. n_subjects-1.
        visit: integer visit positions, 0 .. k-1.
        k: number of visit levels.
        group: integer group codes (constant within a subject) or None.
        weights: positive row weights or None.

    Raises:
        DataError: a subject has a visit twice, or belongs to two groups.
    """
    n, p = X.shape
    subject = np.asarray(subject, dtype=np.int64)
    visit = np.asarray(visit, dtype=np.int64)
    group = np.zeros(n, dtype=np.int64) if group is None else np.asarray(group, dtype=np.int64)
    Z = np.column_stack([X, y]).astype(float)
    log_w = 0.0
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        Z = Z * np.sqrt(w)[:, None]
        log_w = float(np.sum(np.log(w)))
    order = np.lexsort((visit, subject))
    subject, visit, group, Z = subject[order], visit[order], group[order], Z[order]
    dup = (subject[1:] == subject[:-1]) & (visit[1:] == visit[:-1])
    if dup.any():
        raise DataError(
            f"subject code {int(subject[1:][dup][0])} has visit position {int(visit[1:][dup][0])} more than once",
            field="visit",
            hint="each subject may have each visit level once (SAS: the repeated effect must differ within a subject)",
        )
    n_subj = int(subject.max()) + 1 if n else 0
    starts = np.searchsorted(subject, np.arange(n_subj + 1))
    sizes = np.diff(starts)
    g_first = group[np.minimum(starts[:-1], n - 1)]
    if np.any(group != g_first[subject]):
        raise DataError(
            "a subject belongs to more than one GROUP= level",
            field="group",
            hint="the group factor must be constant within each subject",
        )
    seen = np.zeros((n_subj, k), dtype=bool)
    seen[subject, visit] = True
    keys = np.column_stack([g_first, seen.astype(np.int64)])
    present = sizes > 0
    uniq, inverse = np.unique(keys[present], axis=0, return_inverse=True)
    subj_ids = np.flatnonzero(present)
    patterns = []
    for u, key in enumerate(uniq):
        members = subj_ids[inverse.ravel() == u]
        visits = np.flatnonzero(key[1:])
        rows = starts[members][:, None] + np.arange(len(visits))[None, :]
        Zp = Z[rows]
        S = np.einsum("sai,sbj->abij", Zp, Zp, optimize=True)
        patterns.append(Pattern(int(key[0]), visits, len(members), S))
    n_groups = int(group.max()) + 1 if n else 1
    return Blocks(tuple(patterns), n, p, int(k), n_groups, int(present.sum()), log_w)
