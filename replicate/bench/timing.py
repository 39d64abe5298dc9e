"""Timing one benchmark: warm-up, repeated runs, summary statistics, memory.

A measurement is a plain dict (it goes to JSON as is):

* ``runs``: wall-clock seconds of each timed run (``time.perf_counter``);
* ``median_s``, ``q1_s``, ``q3_s`` (quartiles, linear interpolation), ``min_s``,
  ``max_s``, ``n_runs``;
* ``warmup_s``: the untimed first run, when there was one;
* ``loadavg_before`` / ``loadavg_after``: the 1, 5 and 15 minute load averages;
* memory (see :func:`measure`): ``rss_peak_mb``, ``py_peak_mb``, ``r_peak_mb``;
* ``note``: anything unusual (fewer runs than asked, and why).

or ``{"skipped": reason}`` / ``{"error": message}``.
"""

from __future__ import annotations

import contextlib
import gc
import math
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from .machine import MemoryProbe, loadavg


def summarize(runs: Sequence[float]) -> dict[str, Any]:
    """Median, quartiles and range of the timed runs."""
    a = np.asarray(runs, dtype=float)
    q1, med, q3 = (float(x) for x in np.percentile(a, [25, 50, 75]))
    return {
        "median_s": med,
        "q1_s": q1,
        "q3_s": q3,
        "min_s": float(a.min()),
        "max_s": float(a.max()),
        "n_runs": int(a.size),
        "runs": [float(x) for x in a],
    }


@contextlib.contextmanager
def python_peak() -> Iterator[dict[str, float]]:
    """Peak of Python allocations (tracemalloc; numpy reports its buffers to it) during the block, in MB.

    Memory that C libraries allocate themselves (BLAS work space, SuperLU's
    factors, R) is invisible to tracemalloc.
    """
    out: dict[str, float] = {}
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    try:
        yield out
    finally:
        _, peak = tracemalloc.get_traced_memory()
        if not was_tracing:
            tracemalloc.stop()
        out["py_peak_mb"] = round(max(peak - base, 0) / 1024**2, 1)


def measure(
    fn: Callable[[], Any],
    *,
    reps: int,
    warmup: bool = True,
    time_cap: float | None = None,
    tracemalloc_warmup: bool = False,
    extra_probe: Callable[[], AbstractContextManager[dict[str, float]]] | None = None,
    keep: Callable[[Any], Any] | None = None,
) -> tuple[dict[str, Any], Any]:
    """Time ``fn``: a warm-up, then ``reps`` timed runs; memory on the warm-up.

    Args:
        fn: the work to time (no arguments).
        reps: timed runs wanted.
        warmup: run once first, untimed. Its run also carries the memory
            probes, so that they never touch a timed run. Without a warm-up
            (a large size whose code path smaller sizes have warmed up), the
            memory probes ride on the first timed run, except tracemalloc.
        time_cap: seconds allowed for the timed runs: the number of runs is
            cut to what fits, judged from the warm-up (at least one). A warm-up
            longer than the cap is itself the only measurement, unless it was
            traced (then one clean run is timed).
        tracemalloc_warmup: also trace Python allocations during the warm-up
            (``py_peak_mb``).
        extra_probe: another memory probe (R's heap) yielding a dict to merge.
        keep: applied to each result; the last one is returned (e.g. keep the
            fitted object for later use).

    Returns:
        The measurement dict and ``keep(last result)`` (or the last result).

    Exceptions from ``fn`` propagate; the caller records them.
    """
    out: dict[str, Any] = {"loadavg_before": loadavg()}
    notes: list[str] = []
    last: Any = None
    mem: dict[str, Any] = {}

    def probed_run(trace: bool) -> float:
        nonlocal last
        with contextlib.ExitStack() as stack:
            rss = stack.enter_context(MemoryProbe())
            extra = stack.enter_context(extra_probe()) if extra_probe else {}
            py = stack.enter_context(python_peak()) if trace else {}
            t0 = time.perf_counter()
            res = fn()
            elapsed = time.perf_counter() - t0
        mem["rss_peak_mb"] = rss.peak_mb
        mem.update(extra)
        mem.update(py)
        last = keep(res) if keep else res
        return elapsed

    runs: list[float] = []
    n = max(1, int(reps))
    gc.collect()  # once per measurement: a full collection takes ~0.1 s with pandas and statsmodels loaded
    if warmup:
        w = probed_run(tracemalloc_warmup)
        out["warmup_s"] = w
        if tracemalloc_warmup:
            notes.append("warm-up traced by tracemalloc (slower)")
        if time_cap is not None and w > time_cap and not tracemalloc_warmup:
            runs = [w]
            n = 0
            notes.append(
                f"one run: the warm-up took {w:.1f} s, more than the {time_cap:g} s cap, so it is the measurement"
            )
        elif time_cap is not None and w > time_cap:  # a traced warm-up is slower: time one clean run
            n = 1
            notes.append(f"one timed run: the (traced) warm-up took {w:.1f} s, more than the {time_cap:g} s cap")
        elif time_cap is not None:
            fit_in = max(1, math.floor(time_cap / max(w, 1e-9)))
            if fit_in < n:
                notes.append(f"{fit_in} of {n} runs (time cap {time_cap:g} s)")
                n = fit_in
    for i in range(n):
        if i == 0 and not warmup:
            runs.append(probed_run(False))
            notes.append("no separate warm-up (smaller sizes warmed the code up)")
            if time_cap is not None and runs[0] > time_cap / 2:
                break
            continue
        t0 = time.perf_counter()
        res = fn()
        runs.append(time.perf_counter() - t0)
        last = keep(res) if keep else res
        if time_cap is not None and sum(runs) > time_cap:
            if i + 1 < n:
                notes.append(f"{i + 1} of {reps} runs (time cap {time_cap:g} s)")
            break
    out.update(summarize(runs))
    out.update(mem)
    out["loadavg_after"] = loadavg()
    if notes:
        out["note"] = "; ".join(notes)
    return out, last


def ratio(peer: dict[str, Any] | None, native: dict[str, Any] | None) -> dict[str, float] | None:
    """How many times longer the peer took than ours: median / median, and a conservative
    bound (peer's fastest run / our slowest run)."""
    if not peer or not native or "median_s" not in peer or "median_s" not in native:
        return None
    if native["median_s"] <= 0:
        return None
    return {
        "median": peer["median_s"] / native["median_s"],
        "conservative": peer["min_s"] / native["max_s"] if native["max_s"] > 0 else math.nan,
    }


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of log(y) on log(x) (the empirical order), or None for < 2 points."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y and y > 0]
    if len(pts) < 2 or len({p[0] for p in pts}) < 2:
        return None
    lx = np.array([p[0] for p in pts])
    ly = np.array([p[1] for p in pts])
    return float(np.polyfit(lx, ly, 1)[0])
