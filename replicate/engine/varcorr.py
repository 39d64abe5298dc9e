"""Variance components in lme4's ``as.data.frame(VarCorr(fit))`` layout."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design import Design
from .arrays import Floats


def unique_group_names(groups: list[str]) -> list[str]:
    """R's ``make.unique``: repeated names get ``.1``, ``.2``, ... (``Subject.1``)."""
    seen: dict[str, int] = {}
    used = set(groups)
    out = []
    for g in groups:
        if g not in seen:
            seen[g] = 0
            out.append(g)
            continue
        while True:
            seen[g] += 1
            cand = f"{g}.{seen[g]}"
            if cand not in used:
                break
        used.add(cand)
        out.append(cand)
    return out


def varcorr_frame(design: Design, lams: list[Floats], sigma2: float) -> pd.DataFrame:
    """Rows per term: variances, then covariances (lower triangle, column-major), then Residual.

    Args:
        design: the design (terms in the order theta is stored).
        lams: relative covariance factor of each design term.
        sigma2: residual variance.
    """
    rows: list[dict[str, object]] = []
    names = unique_group_names([t.group for t in design.reterms])
    for t, grp, lam in zip(design.reterms, names, lams):
        cov = sigma2 * lam @ lam.T
        sd = np.sqrt(np.diag(cov))
        for i, col in enumerate(t.columns):
            rows.append({"grp": grp, "var1": col, "var2": np.nan, "vcov": cov[i, i], "sdcor": sd[i]})
        for j in range(t.k):
            for i in range(j + 1, t.k):
                denom = sd[i] * sd[j]
                corr = cov[i, j] / denom if denom > 0 else np.nan
                rows.append({"grp": grp, "var1": t.columns[j], "var2": t.columns[i], "vcov": cov[i, j], "sdcor": corr})
    rows.append({"grp": "Residual", "var1": np.nan, "var2": np.nan, "vcov": sigma2, "sdcor": float(np.sqrt(sigma2))})
    frame = pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])
    frame[["var1", "var2"]] = frame[["var1", "var2"]].astype(object)
    return frame
