"""One chunk of replicates: draw, fit by each estimation method, record the numbers.

This module is what executors run (in a worker process, a Dask worker or the
calling process). :func:`run_chunk` takes plain data and returns plain data
(JSON-ready), so it pickles cheaply and its result can be saved as is.

A record holds, per replicate and estimation method, the estimates, each SE
kind, each df method, and the variance components, aligned with the study's
coefficient and variance-component lists; a number that could not be computed
is None and the reason is kept in ``errors``. Coverage, rejection rates and
their Monte Carlo errors are computed from these records later
(:mod:`replicate.simulate.summary`), so a finished chunk never needs refitting.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np

from ..engine import fit_design
from ..inference import fixed_df, fixed_se
from .blas import single_threaded_blas
from .config import INFINITE_DF, Study, load_study
from .generate import DesignFactory, design_rng, draw_design, draw_response, replicate_rng


def _num(x: Any) -> float | None:
    """A float for JSON: None for NaN (not computed), +-1e300 for an infinite df (normal reference)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    if math.isnan(v):
        return None
    if math.isinf(v):
        return INFINITE_DF if v > 0 else -INFINITE_DF
    return v


def _aligned(series, names: tuple[str, ...]) -> list[float | None]:
    return [_num(series[n]) if n in series.index else None for n in names]


def variance_components(study: Study, fit) -> list[float | None]:
    """The fit's variances and covariances in the order of ``study.variance_components``."""
    vc = fit.varcorr
    cols = study.random_columns
    out: list[float | None] = []
    g = study.design.group
    grp = vc[vc["grp"] == g]
    lookup: dict[tuple[str, str | None], float] = {}
    for _, row in grp.iterrows():
        v2 = row["var2"] if isinstance(row["var2"], str) else None
        lookup[(str(row["var1"]), v2)] = float(row["vcov"])
    for c in cols:
        out.append(_num(lookup.get((c, None), float("nan"))))
    for j in range(len(cols)):
        for i in range(j + 1, len(cols)):
            out.append(_num(lookup.get((cols[j], cols[i]), float("nan"))))
    out.append(_num(fit.sigma2))
    return out


def analyze(study: Study, design, method: str) -> dict[str, Any]:
    """Fit one design by ``method`` and compute every requested df and SE."""
    names = study.coefficients
    rec: dict[str, Any] = {"ok": False, "errors": {}}
    try:
        fit = fit_design(design, method)
    except Exception as exc:  # noqa: BLE001 - a failed fit is a result of the study
        rec["errors"]["fit"] = f"{type(exc).__name__}: {exc}"[:300]
        return rec
    rec["ok"] = True
    rec["converged"] = bool(fit.converged)
    rec["singular"] = bool(fit.singular)
    rec["estimate"] = _aligned(fit.fixed, names)
    rec["vc"] = variance_components(study, fit)
    rec["se"] = {}
    for kind in study.methods.se:
        try:
            rec["se"][kind] = _aligned(fixed_se(fit, design, kind), names)
        except Exception as exc:  # noqa: BLE001
            rec["se"][kind] = [None] * len(names)
            rec["errors"][f"se:{kind}"] = f"{type(exc).__name__}: {exc}"[:300]
    rec["df"] = {}
    for m in study.methods.df:
        try:
            rec["df"][m] = _aligned(fixed_df(fit, design, m), names)
        except Exception as exc:  # noqa: BLE001
            rec["df"][m] = [None] * len(names)
            rec["errors"][f"df:{m}"] = f"{type(exc).__name__}: {exc}"[:300]
    if not rec["errors"]:
        del rec["errors"]
    return rec


def run_replicate(study: Study, r: int, factory: DesignFactory | None = None, fixed_design=None) -> dict[str, Any]:
    """Draw replicate ``r`` and analyse it by every estimation method."""
    factory = factory or DesignFactory(study)
    rng = replicate_rng(study, r)
    drawn = fixed_design if fixed_design is not None else draw_design(study, rng)
    y = draw_response(study, drawn, rng)
    out: dict[str, Any] = {"r": int(r), "n": int(drawn.n)}
    try:
        design = factory.build(drawn, y)
    except Exception as exc:  # noqa: BLE001
        out["error"] = f"{type(exc).__name__}: {exc}"[:300]
        return out
    out["n"] = int(design.n)
    for method in study.methods.estimation:
        out[method] = analyze(study, design, method)
    return out


def run_chunk(study_data: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Replicates ``start .. stop - 1`` of the study given as plain data.

    Returns a JSON-ready dict with the records and the time taken.
    """
    t0 = time.perf_counter()
    study = load_study(study_data)
    factory = DesignFactory(study)
    fixed = draw_design(study, design_rng(study)) if study.design.hold_fixed else None
    records = []
    with warnings.catch_warnings(), single_threaded_blas(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for r in range(start, stop):
            records.append(run_replicate(study, r, factory, fixed))
    return {"start": int(start), "stop": int(stop), "records": records, "seconds": round(time.perf_counter() - t0, 4)}
