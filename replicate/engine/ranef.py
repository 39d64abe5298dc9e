"""Conditional modes of the random effects per grouping factor (lme4's ``ranef``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..design import Design


def ranef_frames(
    design: Design, b: tuple[np.ndarray, ...], condvar: Callable[[], tuple[np.ndarray, ...]]
) -> dict[str, pd.DataFrame]:
    """One DataFrame per grouping factor: rows = levels, columns = term columns.

    Terms on the same grouping factor (``(x || g)``) are joined side by side, as
    lme4's ``ranef`` does. Conditional variances are in
    ``frame.attrs["condVar"]``, an array ``(nlevels, K, K)`` (lme4's ``postVar``
    with the level axis first); entries between two different terms of one
    factor are NaN (not computed).
    """
    cv = condvar()
    by_group: dict[str, list[int]] = {}
    for i, t in enumerate(design.reterms):
        by_group.setdefault(t.group, []).append(i)
    out: dict[str, pd.DataFrame] = {}
    for group, idx in by_group.items():
        levels = list(design.reterms[idx[0]].levels)
        cols: list[str] = []
        parts = []
        for i in idx:
            t = design.reterms[i]
            if list(t.levels) != levels:
                raise ValueError(f"terms on grouping factor {group!r} have different levels")
            cols.extend(t.columns)
            parts.append(b[i])
        frame = pd.DataFrame(np.hstack(parts), index=pd.Index(levels, name=group), columns=cols)
        kk = len(cols)
        var = np.full((len(levels), kk, kk), np.nan)
        pos = 0
        for i in idx:
            k = design.reterms[i].k
            var[:, pos : pos + k, pos : pos + k] = cv[i]
            pos += k
        frame.attrs["condVar"] = var
        out[group] = frame
    return out
