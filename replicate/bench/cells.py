"""How the benchmark names programs and writes times and memory in a table cell.

Shared by the goals, the Markdown report and the HTML page.
"""

from __future__ import annotations

import math
from typing import Any

LABEL = {
    "native": "replicate (native)",
    "native_crossprod": "replicate: cross-products",
    "native_optimize": "replicate: optimization",
    "lme4": "lme4",
    "statsmodels": "statsmodels MixedLM",
    "lmerTest": "lmerTest",
    "pbkrtest": "pbkrtest",
}
COLOUR = {
    "native": "#1565c0",
    "native_crossprod": "#64b5f6",
    "native_optimize": "#8d6e63",
    "lme4": "#c62828",
    "statsmodels": "#2e7d32",
    "lmerTest": "#ef6c00",
    "pbkrtest": "#6a1b9a",
}
SECTION_TITLE = {
    "satterthwaite": "Satterthwaite df alone (fit made beforehand)",
    "fit_satterthwaite": "fit, then summary with Satterthwaite df",
    "kenward_roger": "Kenward-Roger (fit made beforehand)",
}
PHASE_TITLE = {"fit": "fit (REML)", "satterthwaite": "Satterthwaite df", "kenward_roger": "Kenward-Roger"}


def peak_mb(p: dict[str, Any]) -> float | None:
    """The largest of a measurement's memory numbers (RSS rise, Python or R heap peak), MB."""
    vals = [float(v) for k in ("rss_peak_mb", "py_peak_mb", "r_peak_mb") if (v := p.get(k)) is not None]
    return max(vals) if vals else None


def fmt_mb(v: float | None) -> str:
    return "n/a" if v is None else (f"{v / 1024:.2f} GB" if v >= 1024 else f"{v:.0f} MB")


def fmt_time(s: float | None) -> str:
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def cell(m: dict[str, Any] | None, spread: bool = True) -> str:
    if not m:
        return "—"
    if "median_s" in m:
        out = fmt_time(m["median_s"])
        if spread and m.get("n_runs", 1) > 1:
            out += f" ({fmt_time(m['min_s'])}–{fmt_time(m['max_s'])})"
        return out
    if "skipped" in m:
        return "n/a"
    return "error"


def ratio_cell(row: dict[str, Any], peer: str) -> str:
    r = (row.get("ratios") or {}).get(peer)
    return "—" if not r else f"**{r['median']:.1f}x**"
