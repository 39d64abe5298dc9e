"""Cross-products ``[Z X y]' W [Z X y]``, computed once per fit.

MixedModels.jl's idea (Bates et al. 2025, "blocked Cholesky"): every piece of
the penalized least squares system is a function of the cross-products of the
random-effects model matrix ``Z``, the fixed-effects matrix ``X`` and the
response ``y``. Once they are stored, evaluating the profiled deviance costs
work in the number of random effects, never in the number of rows.

Terms are reordered so that the one with the most random effects comes first.
Its diagonal block ``Z1' W Z1`` is block-diagonal (one ``k x k`` block per
level) and is kept as an array of shape ``(nlevels, k, k)``. All later rows and
columns, the other terms followed by ``X`` and ``y``, form the *tail*: their
cross-products with term 1 (``A_t1``) are stored sparse or dense, and their
cross-products with each other (``A_tt``) as one dense matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..design import Design
from ..errors import FitError
from .arrays import Floats, Ints

# Largest dense tail (random effects of terms after the first + p + 1) accepted.
MAX_TAIL = 12000


@dataclass(frozen=True)
class CrossProducts:
    """Stored cross-products of one design, in the engine's internal term order.

    Attributes:
        order: design-term index of each internal term (internal term 0 is the
            leading, block-diagonal one).
        nlevels: number of levels per internal term.
        ks: number of columns per internal term.
        n: rows used.
        p: fixed-effect columns.
        a11: ``(nlevels_1, k_1, k_1)`` diagonal blocks of ``Z1' W Z1``.
        at1_dense: ``(m, nlevels_1, k_1)`` array of ``A_t1`` when stored dense.
        at1: ``A_t1`` as CSC (``m x q1``) when stored sparse, else None.
        schur_map: when ``A_t1`` is sparse, the linear map (CSC, ``m*m`` rows)
            from the stacked per-level blocks ``H`` (``nlevels_1 * k_1 * k_1``
            values) to the lower triangle of ``A_t1 H A_t1'``, flattened
            row-major; only structurally nonzero products are stored.
        att: dense ``m x m`` tail cross-products (tail terms, then X, then y).
        tail_offsets: start row of each tail term (internal terms 1..) in the tail.
        qt: number of tail random effects (rows before X).
        ldw: ``sum(log w)`` (0 without weights).
    """

    order: tuple[int, ...]
    nlevels: tuple[int, ...]
    ks: tuple[int, ...]
    n: int
    p: int
    a11: Floats
    at1_dense: Floats | None
    at1: sp.csc_matrix | None
    schur_map: sp.csc_matrix | None
    att: Floats
    tail_offsets: tuple[int, ...]
    qt: int
    ldw: float

    @property
    def m(self) -> int:
        """Size of the dense tail block."""
        return int(self.att.shape[0])

    @property
    def q1(self) -> int:
        """Random effects of the leading term."""
        return self.nlevels[0] * self.ks[0]

    def dense_at1(self) -> Floats:
        """``A_t1`` as the ``(m, nlevels_1, k_1)`` array: the form stored whenever there is no ``schur_map``.

        Raises:
            ValueError: when ``A_t1`` is stored sparse (``at1`` and ``schur_map`` are set instead).
        """
        if self.at1_dense is None:
            raise ValueError("A_t1 is stored sparse here: use at1 and schur_map")
        return self.at1_dense


def term_order(design: Design) -> tuple[int, ...]:
    """Internal order of terms: decreasing number of random effects (stable).

    Putting the largest term first keeps the dense tail as small as possible.
    """
    q = [t.nlevels * t.k for t in design.reterms]
    return tuple(sorted(range(len(q)), key=lambda i: -q[i]))


def _zmatrix(index: Ints, xre: Floats, nlevels: int, sqrtw: Floats | None) -> sp.csr_matrix:
    """Sparse ``n x (nlevels k)`` matrix of one term, rows scaled by sqrt(w)."""
    n, k = xre.shape
    data = xre if sqrtw is None else xre * sqrtw[:, None]
    cols = (index[:, None] * k + np.arange(k)[None, :]).ravel()
    indptr = np.arange(0, n * k + 1, k)
    return sp.csr_matrix((data.ravel(), cols, indptr), shape=(n, nlevels * k))


def _diag_blocks(index: Ints, xre: Floats, nlevels: int, w: Floats | None) -> Floats:
    """``(nlevels, k, k)`` blocks of ``Z' W Z`` for one term."""
    k = xre.shape[1]
    out = np.empty((nlevels, k, k))
    for a in range(k):
        for b in range(a + 1):
            v = xre[:, a] * xre[:, b]
            if w is not None:
                v = v * w
            out[:, a, b] = out[:, b, a] = np.bincount(index, weights=v, minlength=nlevels)
    return out


def _schur_map(at1: sp.csc_matrix, nlevels: int, k: int) -> sp.csc_matrix:
    """Sparse linear map ``vec(H) -> lower(A H A')`` for block-diagonal ``H``.

    ``A H A'`` is a sum over levels ``l`` and block entries ``(a, b)`` of
    ``H[l, a, b] * A[:, l k + a] A[:, l k + b]'``. Every structurally nonzero
    product of two entries of ``A`` in the same level's columns, with the first
    entry's row not above the second's, becomes one stored coefficient, so that
    one sparse matrix-vector product gives the whole lower triangle.
    """
    m = at1.shape[0]
    at1 = at1.tocsc()
    at1.sort_indices()
    cols = np.repeat(np.arange(at1.shape[1]), np.diff(at1.indptr))
    level = cols // k
    # Entries grouped by level (CSC order is by column, columns of one level
    # are adjacent), so each level's entries form one contiguous run.
    starts = np.searchsorted(level, np.arange(nlevels), side="left")
    stops = np.searchsorted(level, np.arange(nlevels), side="right")
    counts = (stops - starts)[level]
    e1 = np.repeat(np.arange(len(level)), counts)
    offs = np.arange(len(e1)) - np.repeat(np.cumsum(counts) - counts, counts)
    e2 = np.repeat(starts[level], counts) + offs
    r1, r2 = at1.indices[e1], at1.indices[e2]
    keep = r1 >= r2
    e1, e2, r1, r2 = e1[keep], e2[keep], r1[keep], r2[keep]
    vals = at1.data[e1] * at1.data[e2]
    hidx = level[e1] * k * k + (cols[e1] % k) * k + (cols[e2] % k)
    flat = r1.astype(np.int64) * m + r2
    # Every (flat, hidx) pair occurs once; entries come level by level, so a
    # CSC matrix (one column per H entry) needs no sorting when k == 1.
    if k > 1:
        order = np.argsort(hidx, kind="stable")
        vals, hidx, flat = vals[order], hidx[order], flat[order]
    indptr = np.zeros(nlevels * k * k + 1, dtype=np.int64)
    np.cumsum(np.bincount(hidx, minlength=nlevels * k * k), out=indptr[1:])
    return sp.csc_matrix((vals, flat, indptr), shape=(m * m, nlevels * k * k))


def compute_crossproducts(design: Design, storage: str = "auto") -> CrossProducts:
    """Compute and store every cross-product the deviance needs.

    Args:
        design: a checked design with at least one random-effect term.
        storage: how to store ``A_t1`` when there are tail terms: ``auto``
            (by estimated cost), ``dense`` or ``sparse``.

    Returns:
        The stored cross-products, with the dense/sparse choice for ``A_t1``
        made by estimated cost.

    Raises:
        FitError: if the dense tail would be too large for memory.
    """
    order = term_order(design)
    terms = [design.reterms[i] for i in order]
    w = None if design.weights is None else np.asarray(design.weights, dtype=float)
    sqrtw = None if w is None else np.sqrt(w)
    xy = np.column_stack([design.X, design.y]).astype(float)
    xyw = xy if sqrtw is None else xy * sqrtw[:, None]

    t1 = terms[0]
    a11 = _diag_blocks(t1.index, np.asarray(t1.Xre, float), t1.nlevels, w)
    z1 = _zmatrix(t1.index, np.asarray(t1.Xre, float), t1.nlevels, sqrtw)

    tail = terms[1:]
    qt = sum(t.nlevels * t.k for t in tail)
    m = qt + design.p + 1
    if m > MAX_TAIL:
        names = ", ".join(f"{t.group} ({t.nlevels * t.k})" for t in tail)
        raise FitError(
            f"the dense part of the random-effects system would have {m} rows "
            f"(terms after '{t1.group}': {names}); at most {MAX_TAIL} are supported",
            hint="crossed designs with several very large grouping factors need a sparse Cholesky",
        )
    offsets, pos = [], 0
    for t in tail:
        offsets.append(pos)
        pos += t.nlevels * t.k

    att = np.zeros((m, m))
    xy_cross = xyw.T @ xyw
    att[qt:, qt:] = xy_cross
    at1_xy = (z1.T @ xyw).T  # (p+1) x q1
    if tail:
        zt = sp.hstack(
            [_zmatrix(t.index, np.asarray(t.Xre, float), t.nlevels, sqrtw) for t in tail],
            format="csr",
        )
        ztt = (zt.T @ zt).toarray()
        att[:qt, :qt] = ztt
        zxy = np.asarray(zt.T @ xyw)
        att[:qt, qt:] = zxy
        att[qt:, :qt] = zxy.T
        at1_terms = (zt.T @ z1).tocsr()
        at1_full = sp.vstack([at1_terms, sp.csr_matrix(at1_xy)], format="csr")
    else:
        at1_full = None

    k1 = t1.k
    q1 = t1.nlevels * k1
    schur_map = at1 = None
    if at1_full is not None:
        at1_csc = at1_full.tocsc()
        per_level = np.add.reduceat(np.diff(at1_csc.indptr), np.arange(0, q1, k1)).astype(float)
        map_nnz = float(np.sum(per_level * (per_level + 1) / 2))
        # A sparse mat-vec runs at roughly 1/50 of dense matrix-product speed.
        cheaper = 50.0 * map_nnz < float(m) * m * q1 and map_nnz < 5e7
        if storage == "sparse" or (storage == "auto" and cheaper):
            schur_map = _schur_map(at1_csc, t1.nlevels, k1)
            at1 = at1_csc
    if schur_map is None:
        dense = at1_xy if at1_full is None else at1_full.toarray()
        at1_dense = np.ascontiguousarray(dense).reshape(m, t1.nlevels, k1)
    else:
        at1_dense = None

    ldw = 0.0 if w is None else float(np.sum(np.log(w)))
    return CrossProducts(
        order=order,
        nlevels=tuple(t.nlevels for t in terms),
        ks=tuple(t.k for t in terms),
        n=design.n,
        p=design.p,
        a11=a11,
        at1_dense=at1_dense,
        at1=at1,
        schur_map=schur_map,
        att=att,
        tail_offsets=tuple(offsets),
        qt=qt,
        ldw=ldw,
    )
