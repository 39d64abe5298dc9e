"""lme4's theta from a block's printed variance components, and the box of thetas their rounding allows.

Used to compare at a program's own optimum (``options.optimum: reference``) and by the diagnosis.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from .block_names import component_columns
from .design import Design
from .engine.arrays import Floats
from .engine.theta import theta_from_covariance
from .printed import Printed, printed_number, printed_unit
from .reference_block import ReferenceBlock


def _variance(quantities: dict[str, Any]) -> float | None:
    """A printed variance, else the square of the printed SD."""
    var = printed_number(quantities.get("variance"))
    if var is None:
        sd = printed_number(quantities.get("sd"))
        var = None if sd is None else sd**2
    return var


def printed_covariance(block: ReferenceBlock, group: str, columns: Sequence[str]) -> Floats | None:
    """The covariance matrix of one random-effect term (grouping factor ``group``, engine ``columns``) from the
    block's printed variances (or SDs) and covariances (or correlations), if complete."""
    random = block.section("random")
    inv_names = {v: k for k, v in block.names.items()}
    grp = random.get(inv_names.get(group, group)) or random.get(group)
    if grp is None:
        return None
    by_cols = {frozenset(component_columns(block, str(k))): q for k, q in grp.items()}
    k = len(columns)
    G = np.zeros((k, k))
    for i, c in enumerate(columns):
        q = by_cols.get(frozenset([c]))
        var = None if q is None else _variance(q)
        if var is None:
            return None
        G[i, i] = var
    for i in range(k):
        for j in range(i + 1, k):
            q = by_cols.get(frozenset([columns[i], columns[j]]))
            if q is None:
                return None
            cov = printed_number(q.get("cov"))
            corr = printed_number(q.get("corr"))
            if cov is None and corr is not None:
                cov = corr * math.sqrt(G[i, i] * G[j, j])
            if cov is None:
                return None
            G[i, j] = G[j, i] = cov
    return G


def reference_theta(block: ReferenceBlock, design: Design) -> tuple[Floats, float] | None:
    """lme4's theta and sigma from a block's printed variance components, if complete."""
    s2 = _variance(block.section("random").get("Residual") or {})
    if s2 is None or s2 <= 0:
        return None
    theta: list[float] = []
    for t in design.reterms:
        G = printed_covariance(block, t.group, t.columns)
        block_theta = None if G is None else theta_from_covariance(G / s2)
        if block_theta is None:
            return None
        theta.extend(block_theta)
    return np.asarray(theta, dtype=np.float64), math.sqrt(s2)


MAX_BOX_CORNERS = 64


def reference_theta_box(block: ReferenceBlock, design: Design) -> list[Floats]:
    """theta at the corners of the box the printed variance components round from.

    Each printed variance, SD, covariance or correlation lies within half a
    unit of its last printed digit of the program's own value; the corners of
    that box (at most :data:`MAX_BOX_CORNERS`; none if there are more) bound
    what the program's variance components can have been.
    """
    random = block.section("random")
    leaves: list[tuple[tuple[str, ...], Printed]] = []

    def used(prefix: tuple[str, ...], qs: dict[str, Any]) -> None:
        # the quantity reference_theta reads: the variance before the SD, the covariance before the correlation
        for q in ("variance", "sd") if ("variance" in qs or "sd" in qs) else ("cov", "corr"):
            v = qs.get(q)
            if isinstance(v, Printed) and not v.bound:
                leaves.append((prefix + (q,), v))
                return

    for grp, comps in random.items():
        if grp == "Residual":
            used((grp,), comps)
        else:
            for comp, qs in comps.items():
                used((grp, comp), qs)
    if not leaves or 2 ** len(leaves) > MAX_BOX_CORNERS:
        return []
    out: list[Floats] = []
    for signs in itertools.product((-0.5, 0.5), repeat=len(leaves)):
        rnd: dict[str, dict[str, Any]] = {
            grp: dict(comps) if grp == "Residual" else {c: dict(qs) for c, qs in comps.items()}
            for grp, comps in random.items()
        }
        for (path, v), sg in zip(leaves, signs):
            unit = printed_unit(v) or 0.0
            target = rnd[path[0]] if len(path) == 2 else rnd[path[0]][path[1]]
            target[path[-1]] = Printed(v.value + sg * unit, v.text)
        got = reference_theta(replace(block, values={**block.values, "random": rnd}), design)
        if got is not None:
            out.append(got[0])
    return out
