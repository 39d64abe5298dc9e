"""Plots of the HTML report that answer "do the programs agree, and by how much?" (issue #18).

- :func:`forest`: one coefficient across every program and the engine, on one shared axis (the names each
  program printed mapped together), so that a 1% SE difference shows as bars of visibly different length.
- :func:`printed_digits`: per value, the difference engine - printed in units of the last printed digit,
  coloured by verdict: an agreeing value lies within half a unit; a discrepancy stands far outside.

Plain inline SVG: the report stays one self-contained file that needs no network and no script.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..vocab import Verdict

VERDICT_FILL = {
    Verdict.AGREES: "#2e7d32",
    Verdict.WITHIN: "#9e9d24",
    Verdict.EXPLAINED: "#ef8f00",
    Verdict.DISCREPANCY: "#c62828",
    Verdict.NOT_COMPARABLE: "#9e9e9e",
}


@dataclass(frozen=True)
class Interval:
    """One program's estimate and SE of a coefficient (``se`` None when not printed)."""

    label: str
    estimate: float
    se: float | None
    verdict: str  # the worse of the estimate's and the SE's verdicts; "engine" for the engine's own row


@dataclass(frozen=True)
class DigitGap:
    """One value: (engine - printed) / unit of the last printed digit."""

    label: str
    units: float
    verdict: str
    printed: str
    engine: float


def _e(x: object) -> str:
    return html.escape(str(x))


def _fill(verdict: str) -> str:
    return "#1565c0" if verdict == "engine" else VERDICT_FILL.get(Verdict(verdict), "#616161")


def forest(term: str, rows: Sequence[Interval], *, z: float = 1.96) -> str:
    """SVG: estimate +- z SE per program on one axis shared by all of them."""
    if not rows:
        return ""
    ends = [x for r in rows for x in (r.estimate - z * (r.se or 0.0), r.estimate + z * (r.se or 0.0))]
    lo, hi = min(ends), max(ends)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    pad = (hi - lo) * 0.05 or max(abs(hi), 1.0) * 0.05
    lo, hi = lo - pad, hi + pad
    left, width, rowh = 210, 440, 20
    h = 34 + rowh * len(rows) + 14

    def sx(x: float) -> float:
        return left + (x - lo) / (hi - lo) * width

    parts = [
        (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{left + width + 20}' height='{h}' class='forest' "
            f"data-term='{_e(term)}'><text x='4' y='14' font-size='12' font-weight='bold'>{_e(term)}</text>"
        )
    ]
    for i, r in enumerate(rows):
        y = 32 + i * rowh
        colour = _fill(r.verdict)
        parts.append(f"<text x='{left - 8}' y='{y + 4}' font-size='11' text-anchor='end'>{_e(r.label)}</text>")
        if r.se is not None and math.isfinite(r.se):
            parts.append(
                f"<line x1='{sx(r.estimate - z * r.se):.1f}' x2='{sx(r.estimate + z * r.se):.1f}' y1='{y}' "
                f"y2='{y}' stroke='{colour}' stroke-width='2' class='bar'/>"
            )
        se_text = f" ± {z} × {r.se:.6g}" if r.se is not None else " (no SE printed)"
        parts.append(
            f"<circle cx='{sx(r.estimate):.1f}' cy='{y}' r='4' fill='{colour}' class='point-{_e(r.verdict)}'>"
            f"<title>{_e(r.label)}: {r.estimate:.8g}{se_text} ({_e(r.verdict)})</title></circle>"
        )
    axis = 32 + rowh * len(rows) - 6
    parts.append(f"<line x1='{left}' x2='{left + width}' y1='{axis}' y2='{axis}' stroke='#bbb'/>")
    parts.append(
        f"<text x='{left}' y='{h - 2}' font-size='10'>{lo:.5g}</text>"
        f"<text x='{left + width}' y='{h - 2}' font-size='10' text-anchor='end'>{hi:.5g}</text></svg>"
    )
    return "".join(parts)


def printed_digits(title: str, gaps: Sequence[DigitGap], *, limit: float = 10.0) -> str:
    """SVG: one bar per value, (engine - printed) in units of the last printed digit, clipped at +-limit."""
    if not gaps:
        return ""
    left, width, rowh = 260, 400, 16
    h = 40 + rowh * len(gaps)
    mid = left + width / 2

    def sx(u: float) -> float:
        return mid + max(-limit, min(limit, u)) / limit * (width / 2)

    parts = [
        (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{left + width + 60}' height='{h}' class='digits'>"
            f"<text x='4' y='14' font-size='12' font-weight='bold'>{_e(title)}</text>"
        ),
        f"<rect x='{sx(-0.5):.1f}' y='22' width='{sx(0.5) - sx(-0.5):.1f}' height='{h - 30}' fill='#e8f5e9'/>",
        f"<line x1='{mid}' x2='{mid}' y1='22' y2='{h - 8}' stroke='#888'/>",
    ]
    for i, g in enumerate(gaps):
        y = 28 + i * rowh
        x0, x1 = sorted((mid, sx(g.units)))
        clipped = "»" if abs(g.units) > limit else ""
        parts.append(f"<text x='{left - 6}' y='{y + 9}' font-size='10' text-anchor='end'>{_e(g.label)}</text>")
        parts.append(
            f"<rect x='{x0:.1f}' y='{y}' width='{max(x1 - x0, 1.0):.1f}' height='{rowh - 4}' "
            f"fill='{_fill(g.verdict)}' class='gap-{_e(g.verdict)}'><title>{_e(g.label)}: printed {_e(g.printed)}, "
            f"engine {g.engine:.10g}: {g.units:+.3g} units of the last printed digit</title></rect>"
        )
        parts.append(f"<text x='{left + width + 6}' y='{y + 9}' font-size='10'>{g.units:+.2g}{clipped}</text>")
    parts.append(
        f"<text x='{left}' y='{h - 2}' font-size='10'>-{limit:g}</text>"
        f"<text x='{left + width}' y='{h - 2}' font-size='10' text-anchor='end'>+{limit:g}</text></svg>"
    )
    return "".join(parts)


def df_dots(term: str, definitions: Sequence[tuple[str, float]], printed: Sequence[tuple[str, float]]) -> str:
    """SVG: one coefficient's denominator df under every definition (dots, log axis) and as each program
    printed it (diamonds), so that HLM's 22 beside nlme's 496 and Satterthwaite's 22.7 is one glance."""
    values = [d for _, d in [*definitions, *printed] if d > 0 and math.isfinite(d)]
    if not values:
        return ""
    lo, hi = math.log10(min(values)) - 0.1, math.log10(max(values)) + 0.1
    left, width = 20, 640
    rows = len(definitions) + len(printed)
    h = 40 + 16 * rows

    def sx(d: float) -> float:
        return left + (math.log10(d) - lo) / (hi - lo) * width

    parts = [
        (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{left + width + 180}' height='{h}' class='dfdots' "
            f"data-term='{_e(term)}'><text x='4' y='14' font-size='12' font-weight='bold'>df of {_e(term)}</text>"
        )
    ]
    for i, (label, d) in enumerate([*definitions, *printed]):
        if not (d > 0 and math.isfinite(d)):
            continue
        y = 30 + 16 * i
        x = sx(d)
        if i < len(definitions):
            parts.append(
                f"<circle cx='{x:.1f}' cy='{y}' r='4' fill='#1565c0'><title>{_e(label)}: {d:.6g}</title></circle>"
            )
        else:
            parts.append(
                f"<rect x='{x - 4:.1f}' y='{y - 4}' width='8' height='8' fill='#6a1b9a' transform='rotate(45 {x:.1f} {y})'>"
                f"<title>printed by {_e(label)}: {d:.6g}</title></rect>"
            )
        parts.append(f"<text x='{x + 8:.1f}' y='{y + 4}' font-size='10'>{_e(label)} {d:.4g}</text>")
    parts.append(
        f"<text x='{left}' y='{h - 2}' font-size='10'>{10**lo:.3g}</text>"
        f"<text x='{left + width}' y='{h - 2}' font-size='10' text-anchor='end'>{10**hi:.3g} (log scale)</text></svg>"
    )
    return "".join(parts)


def profile_line(title: str, points: Sequence[tuple[float, float]], program: str) -> str:
    """SVG: the profiled log-likelihood along the line from the engine's optimum (t = 0) to the point where
    ``program`` stopped (t = 1), both marked."""
    pts = [(t, ll) for t, ll in points if math.isfinite(ll)]
    if len(pts) < 2:
        return ""
    lo, hi = min(ll for _, ll in pts), max(ll for _, ll in pts)
    if hi == lo:
        hi, lo = hi + 1e-9, lo - 1e-9
    t0, t1 = min(t for t, _ in pts), max(t for t, _ in pts)
    left, width, top, height = 70, 420, 24, 150

    def sx(t: float) -> float:
        return left + (t - t0) / (t1 - t0) * width

    def sy(ll: float) -> float:
        return top + (hi - ll) / (hi - lo) * height

    path = " ".join(f"{'M' if k == 0 else 'L'}{sx(t):.1f},{sy(ll):.1f}" for k, (t, ll) in enumerate(pts))
    parts = [
        (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{left + width + 160}' height='{top + height + 30}' "
            f"class='profile'><text x='4' y='14' font-size='12' font-weight='bold'>{_e(title)}</text>"
        ),
        f"<path d='{path}' fill='none' stroke='#333' stroke-width='1.5'/>",
    ]
    for t, label, colour in ((0.0, "engine's optimum", "#1565c0"), (1.0, f"{program} stopped here", "#c62828")):
        ll = min(pts, key=lambda p: abs(p[0] - t))[1]
        parts.append(
            f"<circle cx='{sx(t):.1f}' cy='{sy(ll):.1f}' r='5' fill='{colour}' class='mark'>"
            f"<title>{_e(label)}: log-likelihood {ll:.10g}</title></circle>"
            f"<text x='{sx(t) + 8:.1f}' y='{sy(ll) - 6:.1f}' font-size='10'>{_e(label)}</text>"
        )
    parts.append(
        f"<text x='4' y='{top + 8}' font-size='10'>{hi:.8g}</text><text x='4' y='{top + height}' font-size='10'>"
        f"{lo:.8g}</text><text x='{left}' y='{top + height + 22}' font-size='10'>t: theta = engine + t (program -"
        f" engine)</text></svg>"
    )
    return "".join(parts)
