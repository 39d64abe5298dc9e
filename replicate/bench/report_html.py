"""The benchmark's results as one self-contained HTML page: the Markdown tables and SVG scaling plots."""

from __future__ import annotations

from typing import Any

from .cells import PHASE_TITLE, peak_mb
from .report import render_markdown
from .suites import PROGRAMS
from .svg import esc_html, loglog_svg

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f4f4f4}td.l,th.l{text-align:left}
.met{color:#1b7a1b;font-weight:bold}.notmet{color:#b3261e;font-weight:bold}.muted{color:#777}
.plots{display:flex;flex-wrap:wrap;gap:1rem}
"""


def render_html(result: dict[str, Any]) -> str:
    """Self-contained page: goals, machine, and per sweep the time and memory plots."""
    md_tables = render_markdown(result)
    body = [
        "<h1>Benchmark: replicate against lme4, lmerTest, pbkrtest and statsmodels</h1>",
        f"<p class='muted'>{esc_html(result['machine']['date'])} · {esc_html(result['command'])}</p>",
    ]
    goals = result.get("goals", [])
    if goals:
        body.append("<h2>Goals</h2><table><tr><th class='l'>goal</th><th>status</th><th class='l'>numbers</th></tr>")
        for g in goals:
            cls = "met" if g["status"] == "met" else ("notmet" if g["status"] == "not met" else "muted")
            body.append(
                f"<tr><td class='l'>{esc_html(g['goal'])}</td><td class='{cls}'>{esc_html(g['status'])}</td>"
                f"<td class='l'>{esc_html(g['detail'])}</td></tr>"
            )
        body.append("</table>")
    for sw in result.get("scaling", []):
        body.append(
            f"<h2>Scaling: {esc_html(sw['sweep'])} — <code>{esc_html(sw['formula'])}</code></h2>"
            f"<p>{esc_html(sw['description'])}.</p><div class='plots'>"
        )
        axis = "rows" if sw["axis"] == "rows" else "groups"
        for phase in dict.fromkeys(p["phase"] for p in sw["points"]):
            series: dict[str, list[tuple[float, float]]] = {}
            mem: dict[str, list[tuple[float, float]]] = {}
            for prog in PROGRAMS:
                done = [p for p in sw["points"] if p["phase"] == phase and p["program"] == prog and "median_s" in p]
                if done:
                    series[prog] = [(p["x"], p["median_s"]) for p in done]
                peaks = [(p["x"], peak_mb(p)) for p in done if prog != "native_crossprod"]
                if any(v is not None for _, v in peaks):
                    mem[prog] = [(x, v) for x, v in peaks if v is not None]
            body.append(loglog_svg(series, f"{PHASE_TITLE[phase]}: time", axis, "seconds"))
            body.append(
                loglog_svg(
                    mem, f"{PHASE_TITLE[phase]}: peak memory", axis, "MB (largest of RSS rise, traced heap)", yfmt="mem"
                )
            )
        body.append("</div>")
        body.append(
            "<table><tr><th class='l'>phase</th><th class='l'>program</th><th>sizes</th>"
            "<th>slope (larger sizes)</th><th>slope (all)</th><th class='l'>stopped</th></tr>"
        )
        for s in sw["slopes"]:
            sl, sa = s.get("slope_larger"), s.get("slope_all")
            body.append(
                f"<tr><td class='l'>{esc_html(s['phase'])}</td><td class='l'>{esc_html(s['program'])}</td>"
                f"<td>{s['finished']}</td><td>{'—' if sl is None else f'{sl:.2f}'}</td>"
                f"<td>{'—' if sa is None else f'{sa:.2f}'}</td>"
                f"<td class='l'>{esc_html(sw['stopped'].get(s['phase'] + '/' + s['program'], ''))}</td></tr>"
            )
        body.append("</table>")
    body.append(
        "<h2>All tables (Markdown)</h2><pre style='white-space:pre-wrap;font-size:.8rem'>"
        + esc_html(md_tables)
        + "</pre>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>replicate benchmark</title>"
        f"<style>{_CSS}</style></head><body>" + "".join(body) + "</body></html>\n"
    )
