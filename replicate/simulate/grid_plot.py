"""The grid study's HTML page: the Type I error of each method across the first factor, in SVG.

One panel per null coefficient, estimation method and combination of the other factors; in
each, one line per df method and SE kind, the x axis the first factor's values (evenly
spaced, in the grid's order), bars of +- 1.96 Monte Carlo SEs and a dashed line at the
nominal level. Self-contained: no script, no network.
"""

from __future__ import annotations

import html
from typing import Any

from .grid import Grid, short_name

PALETTE = ("#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#8d6e63", "#546e7a")
Point = tuple[float, float] | None  # (value, MCSE), None where not computed


def line_plot_svg(
    title: str, xs: list[str], series: dict[str, list[Point]], reference: float, *, width: int = 460
) -> str:
    """SVG: one polyline per series over evenly spaced categories, with error bars and a reference line."""
    e = html.escape
    vals = [p for pts in series.values() for p in pts if p is not None]
    if not vals:
        return f"<p>{e(title)}: nothing computed.</p>"
    lo = min([reference] + [v - 1.96 * s for v, s in vals])
    hi = max([reference] + [v + 1.96 * s for v, s in vals])
    pad = (hi - lo) * 0.08 or 0.01
    lo, hi = max(lo - pad, 0.0), hi + pad
    left, top, plot_h, legend_w = 48, 28, 180, 190
    h = top + plot_h + 40

    def sx(i: int) -> float:
        return left + (i + 0.5) * width / max(len(xs), 1)

    def sy(v: float) -> float:
        return top + (hi - v) / (hi - lo) * plot_h

    parts = [
        (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{left + width + legend_w}' height='{h}' role='img' "
            f"aria-label='{e(title)}'><text x='4' y='16' font-size='13' font-weight='bold'>{e(title)}</text>"
        ),
        (
            f"<line x1='{left}' x2='{left + width}' y1='{sy(reference):.1f}' y2='{sy(reference):.1f}' stroke='#888' "
            "stroke-dasharray='4 3'/>"
        ),
        f"<text x='{left - 4}' y='{sy(hi) + 4:.1f}' font-size='10' text-anchor='end'>{hi:.3g}</text>",
        f"<text x='{left - 4}' y='{sy(lo):.1f}' font-size='10' text-anchor='end'>{lo:.3g}</text>",
    ]
    for i, x in enumerate(xs):
        parts.append(f"<text x='{sx(i):.1f}' y='{top + plot_h + 16}' font-size='10' text-anchor='middle'>{e(x)}</text>")
    for k, (label, pts) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        done = [(i, p) for i, p in enumerate(pts) if p is not None]
        if len(done) > 1:
            path = " ".join(f"{sx(i):.1f},{sy(v):.1f}" for i, (v, _) in done)
            parts.append(f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='1.5'/>")
        for i, (v, s) in done:
            parts.append(
                f"<line x1='{sx(i):.1f}' x2='{sx(i):.1f}' y1='{sy(v - 1.96 * s):.1f}' y2='{sy(v + 1.96 * s):.1f}' "
                f"stroke='{colour}'/><circle cx='{sx(i):.1f}' cy='{sy(v):.1f}' r='3' fill='{colour}'>"
                f"<title>{e(label)} at {e(xs[i])}: {v:.4f} (MCSE {s:.4f})</title></circle>"
            )
        ly = top + 12 * k + 6
        parts.append(
            f"<rect x='{left + width + 12}' y='{ly - 7}' width='10' height='3' fill='{colour}'/>"
            f"<text x='{left + width + 26}' y='{ly}' font-size='10'>{e(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_grid_html(grid: Grid, tests: list[dict[str, Any]], alpha: float) -> str:
    """The page: one plot of Type I error against the first factor per panel (see the module text)."""
    e = html.escape
    body = [f"<h1>Grid study: {e(grid.title)}</h1>"]
    if not grid.factors:
        return "".join(body) + "<p>No grid: a single condition.</p>"
    first, first_values = grid.factors[0]
    x_name = short_name(first)
    others = [short_name(p) for p, _ in grid.factors[1:]]
    body.append(
        f"<p>Rejection rate of beta = 0 where the true value is 0, against {e(x_name)}; bars: ± 1.96 Monte Carlo "
        f"SE; dashed line: alpha = {alpha:g}.</p>"
    )
    nulls = sorted({(t["coefficient"], t["estimation"]) for t in tests if t["true"] == 0})
    for coef, est in nulls:
        rows = [t for t in tests if t["coefficient"] == coef and t["estimation"] == est]
        panels = sorted({tuple(t[o] for o in others) for t in rows}, key=str)
        for panel in panels:
            inside = [t for t in rows if tuple(t[o] for o in others) == panel]
            series: dict[str, list[Point]] = {}
            for t in inside:
                label = f"{t['df']} / {t['se']}"
                pts = series.setdefault(label, [None] * len(first_values))
                pts[first_values.index(t[x_name])] = (t["rejection"], t["rejection_mcse"])
            where = ", ".join(f"{o}={v}" for o, v in zip(others, panel, strict=True))
            title = f"{coef} ({est})" + (f", {where}" if where else "")
            body.append(line_plot_svg(title, [str(v) for v in first_values], series, alpha))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
        + e(grid.title)
        + "</title></head><body style='font-family:system-ui,sans-serif;margin:2rem'>"
        + "".join(body)
        + "</body></html>\n"
    )
