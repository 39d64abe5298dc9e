"""Validation of a study's ``truth`` section: the true fixed effects and random-effect covariance."""

from __future__ import annotations

from typing import Any

import numpy as np

from .checker import TRUTH_KEYS, Checker, kind_of
from .studytypes import INTERCEPT, DesignSpec, Truth


def check_truth(ck: Checker, value: Any, design: DesignSpec) -> Truth:
    path = ("truth",)
    t = ck.mapping(value, path, TRUTH_KEYS, required=("fixed",))
    fpath = path + ("fixed",)
    fixed_raw = t["fixed"]
    if not isinstance(fixed_raw, dict):
        raise ck.error(f"must be a mapping of coefficient -> true value, not {kind_of(fixed_raw)}", fpath)
    names = {p.name for p in design.predictors}
    fixed: list[tuple[str, float]] = []
    used: set[str] = set()
    seen_terms: set[frozenset] = set()
    for k, v in fixed_raw.items():
        k = str(k)
        val = ck.number(v, fpath + (k,))
        if k != INTERCEPT:
            parts = k.split(":")
            bad = [p for p in parts if p not in names]
            if bad:
                raise ck.error(
                    f"{k!r}: {bad[0]!r} is not a predictor of the design",
                    fpath + (k,),
                    hint="coefficients are (Intercept), predictors and interactions such as x:w",
                )
            if len(set(parts)) != len(parts) or frozenset(parts) in seen_terms:
                raise ck.error(f"{k!r} repeats a variable or another term", fpath + (k,))
            seen_terms.add(frozenset(parts))
            used.update(parts)
        fixed.append((k, val))
    if INTERCEPT not in dict(fixed):
        raise ck.error("the model needs an intercept: add '(Intercept): <value>'", fpath)
    fixed.sort(key=lambda kv: (kv[0] != INTERCEPT,))
    unused = [p.name for p in design.predictors if p.name not in used]
    if unused:
        raise ck.error(
            f"predictor {unused[0]!r} has no coefficient in truth.fixed",
            fpath,
            hint="give its true effect (0 for a null effect)",
        )
    missing_slopes = [s for s in design.random_slopes if s not in dict(fixed)]
    if missing_slopes:
        raise ck.error(f"random slope {missing_slopes[0]!r} needs a fixed effect in truth.fixed", fpath)

    has_icc = "icc" in t
    if has_icc and ("intercept_variance" in t or "residual_variance" in t):
        raise ck.error(
            "give either icc (and total_variance) or intercept_variance and residual_variance", path + ("icc",)
        )
    if has_icc:
        icc = ck.number(t["icc"], path + ("icc",), low=0.0, high=1.0, high_open=True)
        total = ck.number(t.get("total_variance", 1.0), path + ("total_variance",), low=0.0, low_open=True)
        t00, s2 = icc * total, (1.0 - icc) * total
    else:
        if "total_variance" in t:
            raise ck.error("total_variance goes with icc", path + ("total_variance",))
        for k in ("intercept_variance", "residual_variance"):
            if k not in t:
                raise ck.error(f"required key {k!r} is missing (or give icc)", path + (k,))
        t00 = ck.number(t["intercept_variance"], path + ("intercept_variance",), low=0.0)
        s2 = ck.number(t["residual_variance"], path + ("residual_variance",), low=0.0, low_open=True)
    cols = (INTERCEPT,) + design.random_slopes
    k = len(cols)
    sv_raw = t.get("slope_variances", {}) or {}
    spath = path + ("slope_variances",)
    if not isinstance(sv_raw, dict):
        raise ck.error(f"must be a mapping of slope -> variance, not {kind_of(sv_raw)}", spath)
    for name in sv_raw:
        if name not in design.random_slopes:
            raise ck.error(f"{name!r} has no random slope in design.random_slopes", spath + (name,))
    var = [t00]
    for s in design.random_slopes:
        if s not in sv_raw:
            raise ck.error(f"the random slope of {s!r} needs its variance", spath + (s,))
        var.append(ck.number(sv_raw[s], spath + (s,), low=0.0))
    corr = np.eye(k)
    c_raw = t.get("correlations", {}) or {}
    cpath = path + ("correlations",)
    if not isinstance(c_raw, dict):
        raise ck.error(f"must be a mapping of 'a,b' -> correlation, not {kind_of(c_raw)}", cpath)
    for key, v in c_raw.items():
        parts = [p.strip() for p in str(key).split(",")]
        if len(parts) != 2 or any(p not in cols for p in parts) or parts[0] == parts[1]:
            raise ck.error(
                f"{key!r} must name two random-effect columns as 'a,b'",
                cpath + (key,),
                hint="columns: " + ", ".join(cols),
            )
        r = ck.number(v, cpath + (key,), low=-1.0, high=1.0)
        i, j = cols.index(parts[0]), cols.index(parts[1])
        corr[i, j] = corr[j, i] = r
    sd = np.sqrt(np.asarray(var))
    cov = corr * np.outer(sd, sd)
    if np.min(np.linalg.eigvalsh(corr)) < -1e-12:
        raise ck.error("the correlations do not form a valid (positive semi-definite) matrix", cpath)
    return Truth(fixed=tuple(fixed), cov=tuple(tuple(float(x) for x in row) for row in cov), sigma2=float(s2))
