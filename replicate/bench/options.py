"""What the benchmark runs and how one measurement becomes a table cell.

The sections and programs, the options of ``replicate bench``, the ``--only`` selection,
one guarded measurement (a failing program is recorded in its cell, never raised) and the
progress lines. Shared by :mod:`replicate.bench.suites` and :mod:`replicate.bench.scaling`.
"""

from __future__ import annotations

import fnmatch
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .peers import RSession
from .timing import measure, ratio

#: Sections of the benchmark and the short names ``--only`` accepts for them.
SECTIONS = ("fit", "satterthwaite", "fit_satterthwaite", "kenward_roger", "scaling")
ALIASES = {
    "fits": ("fit",),
    "models": ("fit",),
    "inference": ("satterthwaite", "fit_satterthwaite", "kenward_roger"),
    "kr": ("kenward_roger",),
    "satt": ("satterthwaite", "fit_satterthwaite"),
}

#: Programs in the order tables and plots show them.
PROGRAMS = ("native", "native_crossprod", "native_optimize", "lme4", "statsmodels", "lmerTest", "pbkrtest")
PEER_OF = {
    "fit": ("lme4", "statsmodels"),
    "satterthwaite": ("lmerTest",),
    "fit_satterthwaite": ("lmerTest",),
    "kenward_roger": ("pbkrtest",),
}


@dataclass
class Options:
    quick: bool = False
    only: list[str] = field(default_factory=list)
    reps: int = 5
    threads: int | None = None
    out: Path = Path("benchmarks/results")
    no_r: bool = False
    budget: float = 60.0
    time_cap: float = 60.0
    scaling_reps: int = 3
    scaling_cap: float = 10.0


def matches(item_id: str, tokens: list[str]) -> bool:
    """Whether ``--only`` selects an item (``fit/insteval/ML``, ``scaling/rows_ri``, ...).

    A token selects an item when it equals one of the item's ``/``-separated
    parts, names a section alias (``inference``, ``kr``, ``fits``), or is a shell
    pattern matching the whole id (``fit/hsb_*``).
    """
    if not tokens:
        return True
    parts = item_id.split("/")
    for tok in tokens:
        if tok in parts or fnmatch.fnmatchcase(item_id, tok):
            return True
        if tok in ALIASES and parts[0] in ALIASES[tok]:
            return True
    return False


def error_cell(exc: BaseException) -> dict[str, str]:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return {"error": f"{type(exc).__name__}: {exc}"[:500] + where}


def finished(m: dict[str, Any] | None) -> bool:
    """Whether a cell holds a measurement (not a skip or an error)."""
    return m is not None and "median_s" in m


def measure_cell(
    fn: Callable[[], Any],
    r: RSession | None,
    *,
    reps: int,
    cap: float,
    r_heap: bool = False,
    trace: bool = False,
    warmup: bool = True,
    keep: Callable[[Any], Any] | None = None,
) -> tuple[dict[str, Any], Any]:
    """Time ``fn`` (see :func:`~replicate.bench.timing.measure`); an exception becomes an ``error`` cell."""
    try:
        return measure(
            fn,
            reps=reps,
            warmup=warmup,
            time_cap=cap,
            tracemalloc_warmup=trace,
            extra_probe=r.heap_probe if (r_heap and r) else None,
            keep=keep,
        )
    except Exception as exc:  # noqa: BLE001 - a program failing is a result, not a crash
        return error_cell(exc), None


def fmt_seconds(m: dict[str, Any] | None) -> str:
    if not m:
        return "-"
    if "median_s" in m:
        return f"{m['median_s'] * 1e3:.1f} ms" if m["median_s"] < 1 else f"{m['median_s']:.2f} s"
    if "skipped" in m:
        return "skipped"
    return "error"


def progress_line(item: str, nat: dict[str, Any], peers: dict[str, Any]) -> str:
    parts = [f"{item:<36} ours {fmt_seconds(nat):>10}"]
    for name, m in peers.items():
        r = ratio(m, nat) if finished(m) else None
        parts.append(f"{name} {fmt_seconds(m):>10}" + (f" ({r['median']:.1f}x)" if r else ""))
        if m and "error" in m:
            parts.append(f"[{name}: {m['error'][:80]}]")
    return "  ".join(parts)


def scaling_line(chain: tuple[str, str], m: dict[str, Any]) -> str:
    extra = ""
    if "skipped" in m:
        extra = f" ({m['skipped']})"
    elif "error" in m:
        extra = f" ({m['error'][:100]})"
    elif m.get("rss_peak_mb") is not None:
        extra = f"  peak RSS +{m['rss_peak_mb']:.0f} MB"
    return f"    {chain[0]:<14} {chain[1]:<17} {fmt_seconds(m):>10}{extra}"
