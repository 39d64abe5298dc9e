"""The benchmark's goals, and its results as Markdown and as an HTML page with SVG plots."""

from __future__ import annotations

import html
import math
from typing import Any

from .suites import PROGRAMS

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

# Goal thresholds.
INSTEVAL_RATIO = 5.0
KR_RATIO = 20.0
LINEAR_SLOPE = 1.15
FLAT_SLOPE = 0.3
BIG_FIT_SECONDS = 30.0
BIG_FIT_MB = 4096.0
MIN_ROWS_FOR_ORDER = 100_000  # a slope over smaller sizes mostly measures fixed costs


# ------------------------------------------------------------------ goals


def _ratio(row: dict[str, Any] | None, peer: str) -> float | None:
    r = (row or {}).get("ratios", {}).get(peer)
    return None if not r else r["median"]


def _goal(gid: str, text: str, status: str, detail: str, **numbers: Any) -> dict[str, Any]:
    return {"id": gid, "goal": text, "status": status, "detail": detail, "numbers": numbers}


def evaluate_goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of the issue as met / not met / not measured, with the numbers."""
    fits = {r["id"]: r for r in result.get("fits", [])}
    inf = {r["id"]: r for r in result.get("inference", [])}
    scal = {s["sweep"]: s for s in result.get("scaling", [])}
    goals = []

    ratios = {i: _ratio(r, "lme4") for i, r in fits.items() if _ratio(r, "lme4") is not None}
    text = "faster than lme4 on every model"
    if not ratios:
        goals.append(_goal("faster_than_lme4", text, "not measured", "no lme4 fit timed in this run"))
    else:
        worst = min(ratios, key=ratios.get)  # type: ignore[arg-type]
        slower = sorted(i for i, v in ratios.items() if v <= 1.0)
        detail = (
            f"{len(ratios) - len(slower)} of {len(ratios)} fits faster; smallest ratio {ratios[worst]:.2f}x "
            f"({worst})" + (f"; not faster: {', '.join(slower)}" if slower else "")
        )
        goals.append(
            _goal(
                "faster_than_lme4",
                text,
                "met" if not slower else "not met",
                detail,
                ratios={k: round(v, 2) for k, v in ratios.items()},
            )
        )

    text = f"InstEval at least {INSTEVAL_RATIO:g} times faster than lme4"
    r1 = _ratio(fits.get("fit/insteval/ML"), "lme4")
    r2 = _ratio(fits.get("fit/insteval_dept_service/ML"), "lme4")
    if r1 is None:
        goals.append(_goal("insteval_5x", text, "not measured", "InstEval not timed against lme4 in this run"))
    else:
        d = f"(1 | dept): {r1:.1f}x" + (f"; (0 + service | dept): {r2:.1f}x" if r2 is not None else "")
        ok = r1 >= INSTEVAL_RATIO and (r2 is None or r2 >= INSTEVAL_RATIO)
        goals.append(_goal("insteval_5x", text, "met" if ok else "not met", d, insteval=r1, insteval_dept_service=r2))

    text = f"Kenward-Roger at least {KR_RATIO:g} times faster than pbkrtest on High School and Beyond"
    r = _ratio(inf.get("kenward_roger/hsb_ses"), "pbkrtest")
    if r is None:
        goals.append(_goal("kr_20x", text, "not measured", "kenward_roger/hsb_ses not timed against pbkrtest"))
    else:
        others = {
            k.split("/")[1]: _ratio(v, "pbkrtest")
            for k, v in inf.items()
            if k.startswith("kenward_roger/") and k != "kenward_roger/hsb_ses"
        }
        d = f"hsb_ses (MathAch ~ SES + (SES | School)): {r:.0f}x" + "".join(
            f"; {k}: {v:.0f}x" for k, v in others.items() if v is not None
        )
        goals.append(_goal("kr_20x", text, "met" if r >= KR_RATIO else "not met", d, hsb_ses=r, **others))

    text = (
        f"fit time linear in rows once the cross-products are formed (fit: slope of log time on log rows "
        f"<= {LINEAR_SLOPE}; the optimization after the cross-products, at fixed groups: slope <= {FLAT_SLOPE})"
    )
    parts, nums, ok, seen = [], {}, True, False
    for sweep_name in ("rows_ri", "rows_rs", "fixedgroups_ri", "fixedgroups_rs"):
        sw = scal.get(sweep_name)
        if _largest(sw, "fit", "native") < MIN_ROWS_FOR_ORDER:
            continue
        fit_s, cp_s, opt_s = (_slope(sw, "fit", p) for p in ("native", "native_crossprod", "native_optimize"))
        if fit_s is None:
            continue
        seen = True
        nums[f"{sweep_name}_fit"] = fit_s
        ok &= fit_s <= LINEAR_SLOPE
        text_part = f"{sweep_name}: fit {fit_s:.2f}"
        if cp_s is not None:
            nums[f"{sweep_name}_crossproducts"] = cp_s
            text_part += f", cross-products {cp_s:.2f}"
        if opt_s is not None:
            nums[f"{sweep_name}_optimization"] = opt_s
            text_part += f", optimization {opt_s:.2f}"
            if sweep_name.startswith("fixedgroups"):
                ok &= opt_s <= FLAT_SLOPE
        parts.append(text_part)
    goals.append(
        _goal(
            "linear_in_rows",
            text,
            ("met" if ok else "not met") if seen else "not measured",
            ("slopes over the larger sizes: " + "; ".join(parts))
            if parts
            else f"no sweep over rows reaching {MIN_ROWS_FOR_ORDER:,} rows in this run",
            **nums,
        )
    )

    text = f"10^6 rows in 10^5 groups, random intercept: fit under {BIG_FIT_SECONDS:g} s and {BIG_FIT_MB / 1024:g} GB"
    pt = _point(scal.get("rows_ri"), "fit", "native", 1_000_000, 100_000)
    if pt is None or "median_s" not in pt:
        goals.append(_goal("million_rows", text, "not measured", "the 10^6-row random-intercept fit was not run"))
    else:
        mem = [v for v in (pt.get("rss_peak_mb"), pt.get("py_peak_mb")) if v is not None]
        peak = max(mem) if mem else None
        ok = pt["median_s"] < BIG_FIT_SECONDS and (peak is None or peak < BIG_FIT_MB)
        d = (
            f"{pt['median_s']:.2f} s (median of {pt['n_runs']}); peak memory: "
            f"RSS +{_mb(pt.get('rss_peak_mb'))}, Python allocations {_mb(pt.get('py_peak_mb'))}"
        )
        goals.append(
            _goal(
                "million_rows",
                text,
                "met" if ok else "not met",
                d,
                seconds=pt["median_s"],
                rss_peak_mb=pt.get("rss_peak_mb"),
                py_peak_mb=pt.get("py_peak_mb"),
            )
        )
    return goals


def peak_mb(p: dict[str, Any]) -> float | None:
    """The largest of a measurement's memory numbers (RSS rise, Python or R heap peak), MB."""
    vals = [p.get(k) for k in ("rss_peak_mb", "py_peak_mb", "r_peak_mb")]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


def _mb(v: float | None) -> str:
    return "n/a" if v is None else (f"{v / 1024:.2f} GB" if v >= 1024 else f"{v:.0f} MB")


def _slope(sweep: dict[str, Any] | None, phase: str, prog: str) -> float | None:
    for s in (sweep or {}).get("slopes", []):
        if s["phase"] == phase and s["program"] == prog:
            return s.get("slope_larger")
    return None


def _largest(sweep: dict[str, Any] | None, phase: str, prog: str) -> int:
    """Largest number of rows at which the program finished in a sweep (0 if none)."""
    return max(
        (
            p["rows"]
            for p in (sweep or {}).get("points", [])
            if p["phase"] == phase and p["program"] == prog and "median_s" in p
        ),
        default=0,
    )


def _point(sweep: dict[str, Any] | None, phase: str, prog: str, rows: int, groups: int) -> dict[str, Any] | None:
    for p in (sweep or {}).get("points", []):
        if p["phase"] == phase and p["program"] == prog and p["rows"] == rows and p["groups"] == groups:
            return p
    return None


# --------------------------------------------------------------- Markdown


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


def _esc(text: Any) -> str:
    return str(text).replace("|", "\\|")


def render_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    o = result["options"]
    lines = [f"# Benchmark: replicate against lme4, lmerTest, pbkrtest and statsmodels ({m['date']})", ""]
    lines += [f"Command: `{result['command']}`", ""]
    lines += _machine_lines(result)
    lines += [
        "",
        (
            "Times are wall-clock medians with the range of the timed runs in brackets, after one warm-up "
            f"run (up to {o['reps']} runs; fewer where a run is long: see the JSON). **x** = the peer's median "
            "time / ours (above 1: we are faster). Peers run in this process; R's start-up and the transfer of "
            "the data to R are not timed."
        ),
        "",
    ]

    goals = result.get("goals", [])
    if goals:
        lines += ["## Goals", "", "| goal | status | numbers |", "|---|---|---|"]
        for g in goals:
            lines.append(f"| {_esc(g['goal'])} | **{g['status']}** | {_esc(g['detail'])} |")
        lines.append("")

    fits = result.get("fits", [])
    if fits:
        lines += [
            "## Model fits",
            "",
            (
                "| model | method | rows | q | ours | lme4 | x lme4 | statsmodels | x statsm. | "
                "obj. lme4 − ours | evals |"
            ),
            "|---|---|---:|---:|---|---|---:|---|---:|---:|---:|",
        ]
        for r in fits:
            if "skipped" in r:
                lines.append(f"| {r['model']} | {r['method']} | | | skipped: {_esc(r['skipped'][:80])} | | | | | | |")
                continue
            d = (r.get("lme4") or {}).get("objective_minus_native")
            lines.append(
                f"| {r['model']} | {r['method']} | {r['n']:,} | {r['q']:,} | {cell(r.get('native'))} | "
                f"{cell(r.get('lme4'))} | {ratio_cell(r, 'lme4')} | {cell(r.get('statsmodels'))} | "
                f"{ratio_cell(r, 'statsmodels')} | {'—' if d is None else f'{d:.1e}'} | "
                f"{r.get('native_evaluations', '—')} |"
            )
        notes = [
            f"{r['model']} {r['method']}: statsmodels {r['statsmodels']['skipped']}"
            for r in fits
            if isinstance(r.get("statsmodels"), dict) and "skipped" in r["statsmodels"]
        ]
        errors = [
            f"{r['id']} {p}: {r[p]['error']}"
            for r in fits
            for p in ("native", "lme4", "statsmodels")
            if isinstance(r.get(p), dict) and "error" in r[p]
        ]
        if notes or errors:
            lines += [""] + [f"- {_esc(x)}" for x in dict.fromkeys(notes + errors)]
        lines.append("")

    inf = result.get("inference", [])
    if inf:
        lines += [
            "## Inference",
            "",
            "| model | what | rows | ours | peer | peer's time | x | max rel. diff. df |",
            "|---|---|---:|---|---|---|---:|---:|",
        ]
        for r in inf:
            if "skipped" in r:
                lines.append(f"| {r['model']} | {r['section']} | | skipped: {_esc(r['skipped'][:80])} | | | | |")
                continue
            peer = r["peer"]
            pm = r.get(peer) or {}
            dd = pm.get("max_rel_diff_df")
            lines.append(
                f"| {r['model']} | {SECTION_TITLE[r['section']]} | {r['n']:,} | {cell(r.get('native'))} | "
                f"{peer} | {cell(pm)} | {ratio_cell(r, peer)} | {'—' if dd is None else f'{dd:.1e}'} |"
            )
        lines.append("")

    scal = result.get("scaling", [])
    if scal:
        lines += [
            "## Scaling",
            "",
            (
                "Simulated two-level data (seed in the JSON), REML. Peak memory: the rise of the process's "
                "resident set (Linux VmHWM, reset before the run after returning free memory with "
                "malloc_trim: every allocation, Python, BLAS and R alike, but a lower bound where an allocator "
                "reuses pages it keeps) and the peak of the heap: Python allocations traced by tracemalloc "
                "(numpy arrays included) on our warm-up run, R's own heap (gc max used) for lme4, lmerTest "
                "and pbkrtest. A program stops after a size over its budget "
                f"({o['budget']:g} s) or when the last two sizes predict more than twice the budget."
            ),
            "",
        ]
        for sw in scal:
            lines += _sweep_markdown(sw)
    lines += [
        "",
        (f"Total time {result.get('duration_s', 0):.0f} s; load average at the end {result.get('loadavg_end')}."),
        "",
    ]
    return "\n".join(lines)


def _machine_lines(result: dict[str, Any]) -> list[str]:
    m = result["machine"]
    pk = m.get("packages", {})
    pools = (
        "; ".join(
            f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} "
            f"thread{'' if p.get('num_threads') == 1 else 's'})"
            for p in m.get("threadpools", [])
        )
        or "not known (threadpoolctl not installed)"
    )
    out = [
        "| machine | |",
        "|---|---|",
        f"| CPU | {m['cpu_model']}, {m['cores_logical']} logical cores ({m['cores_usable']} usable) |",
        f"| memory | {m['memory_gb']} GB |",
        f"| load average (1, 5, 15 min) | start {m['loadavg_start']}, end {result.get('loadavg_end')} |",
        (
            f"| BLAS (ours) | {pools}; --threads {result['options']['threads'] or 'not set'} "
            f"({result.get('threads_note', '')}) |"
        ),
        (
            f"| Python | {m['python']}; numpy {pk.get('numpy')}, scipy {pk.get('scipy')}, pandas {pk.get('pandas')}, "
            f"statsmodels {pk.get('statsmodels')}, rpy2 {pk.get('rpy2')} |"
        ),
        f"| replicate | {m['replicate']} (commit {(m.get('git_commit') or 'unknown')[:12]}) |",
    ]
    r = result.get("r", {})
    if r.get("used"):
        v = r.get("versions", {})
        out.append(
            f"| R | {v.get('R')}; lme4 {v.get('lme4')}, lmerTest {v.get('lmerTest')}, "
            f"pbkrtest {v.get('pbkrtest')}, Matrix {v.get('Matrix')}; BLAS {v.get('R_BLAS')} |"
        )
    else:
        out.append(f"| R | not used: {_esc(r.get('reason', ''))} |")
    return out


def _sweep_markdown(sw: dict[str, Any]) -> list[str]:
    """Per sweep: times (with the empirical order) and peak memory, one row per phase and program."""
    lines = [f"### {sw['sweep']}: `{sw['formula']}`", "", sw["description"] + ".", ""]
    pts = sw["points"]
    sizes = [tuple(s) for s in sw["sizes"]]
    chains = list(dict.fromkeys((p["phase"], p["program"]) for p in pts))
    by = {(p["rows"], p["groups"], p["phase"], p["program"]): p for p in pts}
    order = {(s["phase"], s["program"]): s for s in sw["slopes"]}
    size_head = " | ".join(f"{n:,} / {g:,}" for n, g in sizes)
    lines += [
        f"Time (median) at rows / groups, and the empirical order (slope of log time on log {sw['axis']}):",
        "",
        f"| phase | program | {size_head} | order, larger sizes | order, all |",
        "|---|---|" + "---:|" * len(sizes) + "---:|---:|",
    ]
    for ph, prog in chains:
        sl = order.get((ph, prog), {})
        a, b = sl.get("slope_larger"), sl.get("slope_all")
        cells = " | ".join(cell(by.get((n, g, ph, prog)), spread=False) for n, g in sizes)
        lines.append(
            f"| {PHASE_TITLE[ph]} | {prog} | {cells} | {'—' if a is None else f'{a:.2f}'} | "
            f"{'—' if b is None else f'{b:.2f}'} |"
        )
    stops = [f"- {k.replace('/', ' ', 1)}: {v}" for k, v in sw["stopped"].items()]
    skips = dict.fromkeys(
        f"- {p['phase']} {p['program']} at {p['rows']:,} / {p['groups']:,}: {p['skipped']}"
        for p in pts
        if "skipped" in p and not p["skipped"].startswith("stopped")
    )
    if stops or skips:
        lines += [""] + stops + list(skips)
    lines += [
        "",
        "Peak memory: RSS rise / traced Python heap (ours) or R heap (lme4, lmerTest, pbkrtest):",
        "",
        f"| phase | program | {size_head} |",
        "|---|---|" + "---:|" * len(sizes),
    ]
    for ph, prog in chains:
        if prog == "native_crossprod":
            continue
        cells = []
        for n, g in sizes:
            p = by.get((n, g, ph, prog)) or {}
            if "median_s" not in p:
                cells.append("—")
                continue
            c = _mb(p.get("rss_peak_mb"))
            heap = p.get("py_peak_mb", p.get("r_peak_mb"))
            cells.append(c + (f" / {_mb(heap)}" if heap is not None else ""))
        lines.append(f"| {PHASE_TITLE[ph]} | {prog} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


# ------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f4f4f4}td.l,th.l{text-align:left}
.met{color:#1b7a1b;font-weight:bold}.notmet{color:#b3261e;font-weight:bold}.muted{color:#777}
.plots{display:flex;flex-wrap:wrap;gap:1rem}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def loglog_svg(
    series: dict[str, list[tuple[float, float]]], title: str, xlabel: str, ylabel: str, yfmt: str = "time"
) -> str:
    """A self-contained log-log line chart: one polyline and its points per series."""
    pts = [(x, y) for s in series.values() for x, y in s if x > 0 and y > 0]
    if not pts:
        return f"<p class='muted'>{_e(title)}: nothing finished.</p>"
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
        (f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' aria-label='{_e(title)}'>"),
        f"<text x='{left}' y='16' font-size='13' font-weight='bold'>{_e(title)}</text>",
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
            f"<text x='{left - 4}' y='{y + 3:.1f}' font-size='10' text-anchor='end'>{_e(ylab(e))}</text>"
        )
    parts.append(
        f"<text x='{left + pw / 2}' y='{h - 6}' font-size='11' text-anchor='middle'>{_e(xlabel)}</text>"
        f"<text x='12' y='{top + ph / 2}' font-size='11' text-anchor='middle' "
        f"transform='rotate(-90 12 {top + ph / 2})'>{_e(ylabel)}</text>"
    )
    for i, (name, s) in enumerate(series.items()):
        s = sorted((x, y) for x, y in s if x > 0 and y > 0)
        colour = COLOUR.get(name, "#555")
        if len(s) > 1:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
            parts.append(f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='2'/>")
        for x, y in s:
            val = fmt_time(y) if yfmt == "time" else _mb(y)
            parts.append(
                f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='3.5' fill='{colour}'>"
                f"<title>{_e(LABEL.get(name, name))}: {x:,.0f} -> {_e(val)}</title></circle>"
            )
        ly = top + 12 + 16 * i
        parts.append(
            f"<line x1='{left + pw + 10}' x2='{left + pw + 28}' y1='{ly - 4}' y2='{ly - 4}' "
            f"stroke='{colour}' stroke-width='2'/><text x='{left + pw + 32}' y='{ly}' font-size='10'>"
            f"{_e(LABEL.get(name, name))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(result: dict[str, Any]) -> str:
    """Self-contained page: goals, machine, and per sweep the time and memory plots."""
    md_tables = render_markdown(result)
    body = [
        "<h1>Benchmark: replicate against lme4, lmerTest, pbkrtest and statsmodels</h1>",
        f"<p class='muted'>{_e(result['machine']['date'])} · {_e(result['command'])}</p>",
    ]
    goals = result.get("goals", [])
    if goals:
        body.append("<h2>Goals</h2><table><tr><th class='l'>goal</th><th>status</th><th class='l'>numbers</th></tr>")
        for g in goals:
            cls = "met" if g["status"] == "met" else ("notmet" if g["status"] == "not met" else "muted")
            body.append(
                f"<tr><td class='l'>{_e(g['goal'])}</td><td class='{cls}'>{_e(g['status'])}</td>"
                f"<td class='l'>{_e(g['detail'])}</td></tr>"
            )
        body.append("</table>")
    for sw in result.get("scaling", []):
        body.append(
            f"<h2>Scaling: {_e(sw['sweep'])} — <code>{_e(sw['formula'])}</code></h2>"
            f"<p>{_e(sw['description'])}.</p><div class='plots'>"
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
                f"<tr><td class='l'>{_e(s['phase'])}</td><td class='l'>{_e(s['program'])}</td>"
                f"<td>{s['finished']}</td><td>{'—' if sl is None else f'{sl:.2f}'}</td>"
                f"<td>{'—' if sa is None else f'{sa:.2f}'}</td>"
                f"<td class='l'>{_e(sw['stopped'].get(s['phase'] + '/' + s['program'], ''))}</td></tr>"
            )
        body.append("</table>")
    body.append(
        "<h2>All tables (Markdown)</h2><pre style='white-space:pre-wrap;font-size:.8rem'>" + _e(md_tables) + "</pre>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>replicate benchmark</title>"
        f"<style>{_CSS}</style></head><body>" + "".join(body) + "</body></html>\n"
    )
