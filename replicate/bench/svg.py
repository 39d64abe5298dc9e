"""A self-contained log-log line chart in SVG, for the scaling curves."""

from __future__ import annotations

import html
import math
from typing import Any

from .cells import COLOUR, LABEL, fmt_mb, fmt_time


def esc_html(x: Any) -> str:
    return html.escape(str(x))


def loglog_svg(
    series: dict[str, list[tuple[float, float]]], title: str, xlabel: str, ylabel: str, yfmt: str = "time"
) -> str:
    """A self-contained log-log line chart: one polyline and its points per series."""
    pts = [(x, y) for s in series.values() for x, y in s if x > 0 and y > 0]
    if not pts:
        return f"<p class='muted'>{esc_html(title)}: nothing finished.</p>"
    w, h, left, right, top, bottom = 540, 320, 62, 170, 28, 42
    lx0 = math.floor(math.log10(min(p[0] for p in pts)))
    lx1 = math.ceil(math.log10(max(p[0] for p in pts)))
    ly0 = math.floor(math.log10(min(p[1] for p in pts)))
    ly1 = math.ceil(math.log10(max(p[1] for p in pts)))
    lx1, ly1 = max(lx1, lx0 + 1), max(ly1, ly0 + 1)
    pw, ph = w - left - right, h - top - bottom

    def sx(x: float) -> float:
        return left + (math.log10(x) - lx0) / (lx1 - lx0) * pw

    def sy(y: float) -> float:
        return top + ph - (math.log10(y) - ly0) / (ly1 - ly0) * ph

    def ylab(e: int) -> str:
        v = 10.0**e
        if yfmt == "time":
            return fmt_time(v)
        return f"{v:,.0f} MB" if v >= 1 else f"{v:g} MB"

    parts = [
        (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' aria-label='{esc_html(title)}'>"
        ),
        f"<text x='{left}' y='16' font-size='13' font-weight='bold'>{esc_html(title)}</text>",
        f"<rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#999'/>",
    ]
    for e in range(lx0, lx1 + 1):
        x = sx(10.0**e)
        parts.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top}' y2='{top + ph}' stroke='#e5e5e5'/>"
            f"<text x='{x:.1f}' y='{top + ph + 14}' font-size='10' text-anchor='middle'>10^{e}</text>"
        )
    for e in range(ly0, ly1 + 1):
        y = sy(10.0**e)
        parts.append(
            f"<line x1='{left}' x2='{left + pw}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e5e5e5'/>"
            f"<text x='{left - 4}' y='{y + 3:.1f}' font-size='10' text-anchor='end'>{esc_html(ylab(e))}</text>"
        )
    parts.append(
        f"<text x='{left + pw / 2}' y='{h - 6}' font-size='11' text-anchor='middle'>{esc_html(xlabel)}</text>"
        f"<text x='12' y='{top + ph / 2}' font-size='11' text-anchor='middle' "
        f"transform='rotate(-90 12 {top + ph / 2})'>{esc_html(ylabel)}</text>"
    )
    for i, (name, s) in enumerate(series.items()):
        s = sorted((x, y) for x, y in s if x > 0 and y > 0)
        colour = COLOUR.get(name, "#555")
        if len(s) > 1:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
            parts.append(f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='2'/>")
        for x, y in s:
            val = fmt_time(y) if yfmt == "time" else fmt_mb(y)
            parts.append(
                f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='3.5' fill='{colour}'>"
                f"<title>{esc_html(LABEL.get(name, name))}: {x:,.0f} -> {esc_html(val)}</title></circle>"
            )
        ly = top + 12 + 16 * i
        parts.append(
            f"<line x1='{left + pw + 10}' x2='{left + pw + 28}' y1='{ly - 4}' y2='{ly - 4}' "
            f"stroke='{colour}' stroke-width='2'/><text x='{left + pw + 32}' y='{ly}' font-size='10'>"
            f"{esc_html(LABEL.get(name, name))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
