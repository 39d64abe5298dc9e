"""Scaling curves: time and memory of each program as the rows or the groups grow.

Each sweep walks its sizes from small to large; a program whose time, extrapolated
from its last two sizes, would exceed twice the budget is not run at the next size,
and one over the budget or failing stops there. :func:`slopes` reads the empirical
order (slope of log time on log size) of each program's curve.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from typing import Any

from .models import Sweep, simulated_design
from .options import PROGRAMS, Options, error_cell, finished, measure_cell, scaling_line
from .peers import (
    RSession,
    native_crossproducts,
    native_fit,
    native_kenward_roger,
    native_optimize,
    native_satterthwaite,
    statsmodels_fit,
    statsmodels_supports,
)
from .timing import loglog_slope


def run_sweep(sw: Sweep, o: Options, r: RSession | None, log: Callable[[str], None]) -> dict[str, Any]:
    """Time every program of the sweep at each size; a dict of points, slopes and why programs stopped."""
    chains: list[tuple[str, str]] = []
    for ph in sw.phases:
        chains.append((ph, "native"))
        if ph == "fit":
            chains += [("fit", "native_crossprod"), ("fit", "native_optimize"), ("fit", "statsmodels")]
        if r:
            chains.append((ph, {"fit": "lme4", "satterthwaite": "lmerTest", "kenward_roger": "pbkrtest"}[ph]))
    history: dict[tuple[str, str], list[tuple[int, float]]] = {c: [] for c in chains}
    stopped: dict[tuple[str, str], str] = {}
    points: list[dict[str, Any]] = []
    t_sweep = time.perf_counter()

    def gate(chain: tuple[str, str], x: int) -> str | None:
        """Why this program is not run at size x (budget), or None."""
        if chain in stopped:
            return stopped[chain]
        hist = history[chain]
        if len(hist) >= 2:
            (x0, t0), (x1, t1) = hist[-2], hist[-1]
            if x0 != x1 and t0 > 0 and t1 > 0:
                pred = t1 * (x / x1) ** (math.log(t1 / t0) / math.log(x1 / x0))
                if pred > 2 * o.budget:
                    return (
                        f"not run: predicted {pred:.0f} s from the last two sizes, over twice the {o.budget:g} s budget"
                    )
        return None

    def record(chain: tuple[str, str], size: tuple[int, int], m: dict[str, Any]) -> None:
        x = sw.x(size)
        points.append({"rows": size[0], "groups": size[1], "x": x, "phase": chain[0], "program": chain[1], **m})
        if finished(m):
            history[chain].append((x, m["median_s"]))
            if m["median_s"] > o.budget:
                stopped[chain] = f"stopped: {m['median_s']:.1f} s at {sw.axis} = {x:,}, over the {o.budget:g} s budget"
        elif "error" in m:
            stopped[chain] = f"stopped after an error at {sw.axis} = {x:,}"

    def warm(chain: tuple[str, str]) -> bool:
        hist = history[chain]
        return not hist or hist[-1][1] < 3.0

    for size in sw.sizes:
        n, g = size
        x = sw.x(size)
        try:
            t0 = time.perf_counter()
            design = simulated_design(sw.formula, n, g)
            build_s = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001
            for c in chains:
                record(c, size, error_cell(exc))
            continue
        log(f"scaling/{sw.name}: {n:,} rows, {g:,} groups (data and design {build_s:.1f} s)")
        fit = fm = rm = None
        for chain in chains:
            phase, prog = chain
            why = gate(chain, x)
            if why:
                record(chain, size, {"skipped": why})
                log(scaling_line(chain, points[-1]))
                continue
            reps, cap, w = o.scaling_reps, o.scaling_cap, warm(chain)
            m: dict[str, Any]
            if prog == "native":
                if phase == "fit":
                    m, fit = measure_cell(native_fit(design, "REML"), r, reps=reps, cap=cap, trace=w, warmup=w)
                    if fit is not None and fit.optinfo is not None:
                        m["evaluations"] = fit.optinfo.evaluations
                elif fit is None:
                    m = {"skipped": "no native fit at this size"}
                elif phase == "satterthwaite":
                    m, _ = measure_cell(native_satterthwaite(fit, design), r, reps=reps, cap=cap, trace=w, warmup=w)
                else:
                    m, _ = measure_cell(native_kenward_roger(fit, design), r, reps=reps, cap=cap, trace=w, warmup=w)
            elif prog == "native_crossprod":
                m, _ = measure_cell(native_crossproducts(design), r, reps=reps, cap=cap, warmup=w)
            elif prog == "native_optimize":
                try:
                    m, _ = measure_cell(native_optimize(design, "REML"), r, reps=reps, cap=cap, warmup=w)
                except Exception as exc:  # noqa: BLE001 - building the cross-products failed
                    m = error_cell(exc)
            elif prog == "statsmodels":
                ok, why = statsmodels_supports(design)
                m = (
                    measure_cell(statsmodels_fit(design, "REML"), r, reps=reps, cap=cap, warmup=w)[0]
                    if ok
                    else {"skipped": why}
                )
            else:  # R programs
                if prog != "lme4" and fm is None:
                    record(chain, size, {"skipped": "needs an lme4 fit, not made at this size"})
                    log(scaling_line(chain, points[-1]))
                    continue
                if rm is None:
                    try:
                        rm = r.prepare(design, "REML")  # type: ignore[union-attr]
                    except Exception as exc:  # noqa: BLE001
                        record(chain, size, error_cell(exc))
                        continue
                if prog == "lme4":
                    m, fm = measure_cell(rm.fit(), r, reps=reps, cap=cap, r_heap=True, warmup=w)
                elif prog == "lmerTest":
                    m, _ = measure_cell(rm.satterthwaite(fm), r, reps=reps, cap=cap, r_heap=True, warmup=w)
                else:
                    m, _ = measure_cell(rm.kenward_roger(fm), r, reps=reps, cap=cap, r_heap=True, warmup=w)
            record(chain, size, m)
            log(scaling_line(chain, m))
        del design, fit, fm, rm
        gc.collect()
        if r:
            r.collect()
    return {
        "id": f"scaling/{sw.name}",
        "sweep": sw.name,
        "formula": sw.formula,
        "axis": sw.axis,
        "description": sw.description,
        "sizes": [list(s) for s in sw.sizes],
        "points": points,
        "slopes": slopes(points, sw.axis),
        "stopped": {f"{a}/{b}": v for (a, b), v in stopped.items()},
        "duration_s": time.perf_counter() - t_sweep,
    }


def slopes(points: list[dict[str, Any]], axis: str) -> list[dict[str, Any]]:
    """Empirical order of each program's curve: slope of log time on log size.

    ``larger`` uses the sizes within a factor of 30 of the largest size the
    program finished (at least two), where fixed costs no longer dominate;
    ``all`` uses every finished size. The groups sweep reads the slope against
    the number of groups (rows fixed); a negative slope there means the cost
    grows as the groups get fewer and larger.
    """
    out = []
    keys = sorted(
        {(p["phase"], p["program"]) for p in points},
        key=lambda k: (k[0], PROGRAMS.index(k[1]) if k[1] in PROGRAMS else 99),
    )
    for phase, prog in keys:
        pts = [
            (p["x"], p["median_s"], p.get("rss_peak_mb"))
            for p in points
            if p["phase"] == phase and p["program"] == prog and "median_s" in p
        ]
        if not pts:
            out.append({"phase": phase, "program": prog, "finished": 0})
            continue
        xs = [x for x, _, _ in pts]
        ts = [t for _, t, _ in pts]
        big = [(x, t) for x, t, _ in pts if x * 30 >= max(xs)]
        if len(big) < 2:
            big = sorted(zip(xs, ts))[-2:]
        out.append(
            {
                "phase": phase,
                "program": prog,
                "finished": len(pts),
                "largest": max(xs),
                "slope_larger": loglog_slope([b[0] for b in big], [b[1] for b in big]),
                "slope_all": loglog_slope(xs, ts),
                "larger_sizes": [b[0] for b in big],
            }
        )
    return out
