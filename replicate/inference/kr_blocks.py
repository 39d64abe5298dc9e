"""Independent blocks of a mixed model's marginal covariance, worked in q-space.

The marginal covariance of y is ``Sigma = sigma^2 W^-1 + Z D Z'`` (W the prior
weights, D block-diagonal with one copy of each term's covariance matrix per
level). Sigma is block-diagonal over the *connected components* of the graph
whose nodes are the levels of all grouping factors and whose edges join the
levels that share a row. For a nested design a component is one level of the
top grouping factor (a school with its classes); for a crossed design it is
usually the whole data set.

Everything is computed in the space of the random effects: with
``U = Z Lambda`` and ``M = I + U'U`` (one small M per component), Woodbury's
identity gives ``Sigma^-1 = sigma^-2 (I - U M^-1 U')`` and every quantity the
Kenward-Roger adjustment needs -- ``Z' Sigma^-k X``, ``Z' Sigma^-1 Z``,
``X' Sigma^-k X``, ``tr(Sigma^-2)`` -- follows from the cross-products ``Z'Z``,
``Z'X`` and ``X'X`` (see :meth:`BlockStructure.moments`). Components of equal
size are stacked into one batch and handled with batched numpy linear algebra,
so the cost is linear in the number of groups and nothing of size n x n (nor
dense q x q, unless one component spans all the random effects) is formed.

Prior weights are folded in by scaling the rows of X, Z and y by sqrt(w); the
residual term of Sigma then becomes sigma^2 I.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..design import Design
from .marginal import lambda_matrix, sparse_z

# Components with more random effects than this are worked one at a time with
# sparse Z'Z and Lambda, so that only the factorization of M costs O(m^3).
LARGE = 256


@dataclass
class Batch:
    """Components with the same number ``m`` of random effects, stacked.

    Attributes:
        cols: (G, m) global random-effect column of each local position.
        ZtZ: (G, m, m) blocks of Z'Z, or None for a batch of large components
            (see :data:`LARGE`), which keep Z'Z sparse.
        ZtX: (G, m, p) blocks of Z'X.
    """

    cols: np.ndarray
    ZtZ: np.ndarray | None
    ZtX: np.ndarray

    @property
    def large(self) -> bool:
        return self.m > LARGE

    @property
    def G(self) -> int:
        return int(self.cols.shape[0])

    @property
    def m(self) -> int:
        return int(self.cols.shape[1])


@dataclass
class Moments:
    """Sigma-weighted cross-products at one value of the variance parameters.

    With ``A = Sigma^-1`` (in the sqrt(w)-scaled rows):

    Attributes:
        B1: per batch, (G, m, p) blocks of ``Z'AX``.
        B2: per batch, (G, m, p) blocks of ``Z'A^2 X``.
        C0: per batch, (G, m, m) blocks of ``Z'AZ``.
        ZLMi: per batch, (G, m, m) blocks of ``Z'Z Lambda M^-1``; with C0 this
            gives any entry of ``Z'A^2 Z = C0 / s2 - ZLMi ZLMi' / s2^2``.
        Minv: per batch, (G, m, m) blocks of ``M^-1``.
        XtAX, XtA2X, XtA3X: (p, p) ``X'A^k X`` for k = 1, 2, 3.
        trA2: ``tr(A^2)``.
        sigma2: residual variance used.
    """

    B1: list[np.ndarray]
    B2: list[np.ndarray]
    C0: list[np.ndarray]
    ZLMi: list[np.ndarray]
    Minv: list[np.ndarray]
    XtAX: np.ndarray
    XtA2X: np.ndarray
    XtA3X: np.ndarray
    trA2: float
    sigma2: float


def _components(design: Design) -> tuple[np.ndarray, np.ndarray]:
    """Component of every (term, level) node, and the node offset of each term."""
    sizes = [t.nlevels for t in design.reterms]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    nnodes = int(offsets[-1])
    if len(design.reterms) <= 1:
        return np.arange(nnodes, dtype=np.int64), offsets
    first = design.reterms[0].index + offsets[0]
    rows, cols = [], []
    for t, term in enumerate(design.reterms[1:], start=1):
        rows.append(first)
        cols.append(term.index + offsets[t])
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    adj = sp.csr_matrix((np.ones(r.shape[0], dtype=np.int8), (r, c)), shape=(nnodes, nnodes))
    _, labels = connected_components(adj, directed=False)
    return labels.astype(np.int64), offsets


class BlockStructure:
    """Cross-products of [Z X y] arranged by independent component, formed once.

    Args:
        design: the model's design. Terms must be in lme4's order (as
            :func:`replicate.design.build_design` leaves them), so that the
            global column order of Z and the order of theta agree with lme4's.
        use_weights: scale the rows by sqrt(prior weights) (the model's
            Sigma); False builds Sigma as if the prior weights were all 1.
    """

    def __init__(self, design: Design, use_weights: bool = True) -> None:
        self.design = design
        n, p = design.n, design.p
        w = design.weights if (design.weights is not None and use_weights) else np.ones(n)
        sw = np.sqrt(w)
        self.n, self.p = n, p
        self.Xs = design.X * sw[:, None]
        self.ys = design.y * sw
        Z = sparse_z(design)
        self.Zs = sp.csr_matrix(Z.multiply(sw[:, None]))
        self.q = int(self.Zs.shape[1])
        self.XtX = self.Xs.T @ self.Xs

        # metadata of each global column: term, within-term column j, level
        term_of, j_of, node_of = [], [], []
        comp_of_node, node_off = _components(design)
        for t, term in enumerate(design.reterms):
            lev = np.repeat(np.arange(term.nlevels), term.k)
            jj = np.tile(np.arange(term.k), term.nlevels)
            term_of.append(np.full(lev.shape[0], t))
            j_of.append(jj)
            node_of.append(lev + node_off[t])
        self.term_of_col = np.concatenate(term_of).astype(np.int64) if term_of else np.zeros(0, np.int64)
        self.j_of_col = np.concatenate(j_of).astype(np.int64) if j_of else np.zeros(0, np.int64)
        node_of_col = np.concatenate(node_of).astype(np.int64) if node_of else np.zeros(0, np.int64)
        comp_of_col = comp_of_node[node_of_col]
        self.ncomponents = int(np.unique(comp_of_col).shape[0]) if self.q else 0

        # batches: components of equal size, columns in global order within each
        size_of_comp = np.bincount(comp_of_col) if self.q else np.zeros(0, np.int64)
        msize = size_of_comp[comp_of_col]
        gcol = np.arange(self.q)
        order = np.lexsort((gcol, comp_of_col, msize))
        self.batch_of_col = np.empty(self.q, np.int64)
        self.slot_of_col = np.empty(self.q, np.int64)
        self.local_of_col = np.empty(self.q, np.int64)
        ZtZ = (self.Zs.T @ self.Zs).tocsr()
        self.ZtZ_csr = ZtZ
        ZtX = np.asarray(self.Zs.T @ self.Xs)
        self.batches: list[Batch] = []
        sorted_m = msize[order]
        for b, m in enumerate(np.unique(sorted_m)):
            cols = order[sorted_m == m].reshape(-1, int(m))
            G = cols.shape[0]
            self.batch_of_col[cols] = b
            self.slot_of_col[cols] = np.arange(G)[:, None]
            self.local_of_col[cols] = np.arange(int(m))[None, :]
            self.batches.append(Batch(cols=cols, ZtZ=None, ZtX=ZtX[cols]))
        for batch, arr in zip(self.batches, self.scatter(ZtZ)):
            batch.ZtZ = arr

    # ------------------------------------------------------------ helpers

    def scatter(self, mat: sp.spmatrix) -> list[np.ndarray | None]:
        """Split a q x q sparse matrix whose entries lie within components into batch blocks.

        Batches of large components get None (they are worked from the sparse matrix).
        """
        coo = sp.coo_matrix(mat)
        coo.sum_duplicates()
        i, j, v = coo.row, coo.col, coo.data
        b_i = self.batch_of_col[i]
        if np.any(b_i != self.batch_of_col[j]) or np.any(self.slot_of_col[i] != self.slot_of_col[j]):
            raise ValueError("matrix couples different components")  # pragma: no cover - invariant
        out: list[np.ndarray | None] = []
        for b, batch in enumerate(self.batches):
            if batch.large:
                out.append(None)
                continue
            arr = np.zeros((batch.G, batch.m, batch.m))
            sel = b_i == b
            arr[self.slot_of_col[i[sel]], self.local_of_col[i[sel]], self.local_of_col[j[sel]]] = v[sel]
            out.append(arr)
        return out

    def gather_vector(self, v: np.ndarray) -> list[np.ndarray]:
        """A q-vector (or q x r array) as per-batch (G, m[, r]) blocks."""
        return [v[batch.cols] for batch in self.batches]

    def scatter_vector(self, blocks: list[np.ndarray], trailing: tuple[int, ...] = ()) -> np.ndarray:
        """Inverse of :meth:`gather_vector`."""
        out = np.zeros((self.q,) + trailing)
        for batch, blk in zip(self.batches, blocks):
            out[batch.cols] = blk
        return out

    def selector(self, term: int, a: int, b: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per batch, the action of ``E = I_levels (x) sym(e_a e_b')`` of one term.

        ``(E Y)[r] = mask[r] * Y[partner[r]]`` on the local rows of each
        component. For a == b, E picks the rows of column a; for a != b it swaps
        the rows of columns a and b of each level.

        Returns:
            partner and mask, each a list of (G, m) arrays.
        """
        partner = np.arange(self.q)
        mask = np.zeros(self.q)
        in_term = self.term_of_col == term
        ca = in_term & (self.j_of_col == a)
        cb = in_term & (self.j_of_col == b)
        idx_a = np.flatnonzero(ca)
        idx_b = np.flatnonzero(cb)
        partner[idx_a] = idx_a + (b - a)
        partner[idx_b] = idx_b + (a - b)
        mask[idx_a] = 1.0
        mask[idx_b] = 1.0
        parts, masks = [], []
        for batch in self.batches:
            parts.append(self.local_of_col[partner[batch.cols]])
            masks.append(mask[batch.cols])
        return parts, masks

    # ------------------------------------------------------------ moments

    def moments(self, theta: np.ndarray, sigma2: float) -> Moments:
        """The Sigma-weighted cross-products at ``(theta, sigma2)``.

        With ``U = Z Lambda``, ``F = U'U``, ``M = I + F`` and ``s2 = sigma2``
        (all per component), and using ``U'A = M^-1 U' / s2``:

        * ``Z'AX = (Z'X - Z'U M^-1 U'X) / s2``,
        * ``Z'A^2X = Z'AX / s2 - Z'U M^-2 U'X / s2^2``,
        * ``Z'AZ = (Z'Z - Z'U M^-1 U'Z) / s2``,
        * ``X'A^kX = (X'X - sum_{j=1..k} X'U M^-j U'X) / s2^k`` (k = 1, 2, 3),
        * ``tr(A^2) = (n - q + ||M^-1||_F^2) / s2^2``.
        """
        s2 = float(sigma2)
        Lam_g = lambda_matrix(self.design, np.asarray(theta, dtype=float)).tocsr()
        lams = self.scatter(Lam_g)
        p = self.p
        a = np.zeros((p, p))
        b2 = np.zeros((p, p))
        c3 = np.zeros((p, p))
        trM2 = 0.0
        B1s, B2s, C0s, ZLMis, Minvs = [], [], [], [], []
        for batch, Lam in zip(self.batches, lams):
            if batch.large:
                parts = [self._large_component(cols, Lam_g, zx, s2) for cols, zx in zip(batch.cols, batch.ZtX)]
                UtX, MiU, M2U, Minv, ZLMi, B1, B2, C0 = (np.stack(arrs) for arrs in zip(*parts))
            else:
                assert Lam is not None and batch.ZtZ is not None  # only large batches go without dense blocks
                LamT = np.swapaxes(Lam, 1, 2)
                ZL = batch.ZtZ @ Lam
                M = LamT @ ZL
                M[:, np.arange(batch.m), np.arange(batch.m)] += 1.0
                Minv = np.linalg.inv(M)
                Minv = 0.5 * (Minv + np.swapaxes(Minv, 1, 2))
                UtX = LamT @ batch.ZtX
                MiU = Minv @ UtX
                M2U = Minv @ MiU
                ZLMi = ZL @ Minv
                B1 = (batch.ZtX - ZL @ MiU) / s2
                B2 = B1 / s2 - (ZL @ M2U) / s2**2
                C0 = (batch.ZtZ - ZLMi @ np.swapaxes(ZL, 1, 2)) / s2
                C0 = 0.5 * (C0 + np.swapaxes(C0, 1, 2))
            a += np.einsum("gmp,gmr->pr", UtX, MiU)
            b2 += np.einsum("gmp,gmr->pr", MiU, MiU)
            c3 += np.einsum("gmp,gmr->pr", MiU, M2U)
            trM2 += float(np.sum(Minv * Minv))
            B1s.append(B1)
            B2s.append(B2)
            C0s.append(C0)
            ZLMis.append(ZLMi)
            Minvs.append(Minv)

        def sym(m: np.ndarray) -> np.ndarray:
            out: np.ndarray = 0.5 * (m + m.T)
            return out

        XtAX = sym(self.XtX - a) / s2
        XtA2X = sym(self.XtX - a - b2) / s2**2
        XtA3X = sym(self.XtX - a - b2 - c3) / s2**3
        trA2 = (self.n - self.q + trM2) / s2**2
        return Moments(B1s, B2s, C0s, ZLMis, Minvs, XtAX, XtA2X, XtA3X, trA2, s2)

    def _large_component(
        self, cols: np.ndarray, Lam_g: sp.csr_matrix, ZtX: np.ndarray, s2: float
    ) -> tuple[np.ndarray, ...]:
        """The same quantities as the batched path for one large component.

        Z'Z and Lambda stay sparse, so products with Z'Z Lambda are
        sparse-times-dense; only the inverse of M costs O(m^3).
        """
        ZtZ = self.ZtZ_csr[cols][:, cols]
        Lam = Lam_g[cols][:, cols].tocsr()
        ZL = (ZtZ @ Lam).tocsr()
        M = np.asarray((Lam.T @ ZL).todense())
        M[np.diag_indices_from(M)] += 1.0
        Minv = np.linalg.inv(M)  # M >= I: well conditioned; numpy's LAPACK is the faster one here
        Minv = 0.5 * (Minv + Minv.T)
        UtX = np.asarray(Lam.T @ ZtX)
        MiU = Minv @ UtX
        M2U = Minv @ MiU
        ZLMi = np.asarray(ZL @ Minv)
        B1 = (ZtX - ZL @ MiU) / s2
        B2 = B1 / s2 - (ZL @ M2U) / s2**2
        C0 = (np.asarray(ZtZ.todense()) - np.asarray(ZL @ ZLMi.T)) / s2
        C0 = 0.5 * (C0 + C0.T)
        return UtX, MiU, M2U, Minv, ZLMi, B1, B2, C0

    def apply_inverse(self, theta: np.ndarray, mom: Moments, v: np.ndarray) -> np.ndarray:
        """``Sigma^-1 v`` for an n-vector v (scaled rows), by Woodbury."""
        Lam = lambda_matrix(self.design, np.asarray(theta, dtype=float))
        ut = np.asarray(Lam.T @ (self.Zs.T @ v)).ravel()
        blocks = [Mi @ u[..., None] for Mi, u in zip(mom.Minv, self.gather_vector(ut))]
        wq = self.scatter_vector([blk[..., 0] for blk in blocks])
        out: np.ndarray = (v - self.Zs @ np.asarray(Lam @ wq).ravel()) / mom.sigma2
        return out
