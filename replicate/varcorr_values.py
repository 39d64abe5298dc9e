"""A variance component of a fit, by group and column(s), as the case format names it."""

from __future__ import annotations

import math
import re

from .results import FitResult


def varcorr_value(fit: FitResult, grp: str, comp: str, quantity: str) -> float | None:
    """variance/sd of one column, or cov/corr of a pair ``"a, b"``, of group ``grp``; None when absent."""
    vc = fit.varcorr
    # lme4 names the terms of (x || g) g, g.1, g.2, ...: a block names them all g
    same = vc["grp"].astype(str).str.fullmatch(re.escape(grp) + r"(\.\d+)?")
    vc = vc[same].assign(grp=grp)
    parts = [c.strip() for c in comp.split(",")]
    if len(parts) == 1:
        row = vc[(vc["grp"] == grp) & (vc["var1"] == parts[0]) & vc["var2"].isna()]
        if row.empty:
            return None
        v = float(row["vcov"].iloc[0])
        return {"variance": v, "sd": math.sqrt(max(v, 0.0))}.get(quantity)
    a, b = parts[0], parts[1]
    row = vc[(vc["grp"] == grp) & (((vc["var1"] == a) & (vc["var2"] == b)) | ((vc["var1"] == b) & (vc["var2"] == a)))]
    if row.empty:
        return None
    return {"cov": float(row["vcov"].iloc[0]), "corr": float(row["sdcor"].iloc[0])}.get(quantity)
