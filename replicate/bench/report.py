"""The benchmark's results as Markdown (the HTML page is :mod:`replicate.bench.report_html`)."""

from __future__ import annotations

from typing import Any

from .cells import PHASE_TITLE, SECTION_TITLE, cell, fmt_mb, fmt_time, ratio_cell
from .goals import evaluate_goals
from .svg import loglog_svg

__all__ = ["evaluate_goals", "fmt_time", "loglog_svg", "render_markdown"]


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
        mem_cells: list[str] = []
        for n, g in sizes:
            p = by.get((n, g, ph, prog)) or {}
            if "median_s" not in p:
                mem_cells.append("—")
                continue
            c = fmt_mb(p.get("rss_peak_mb"))
            heap = p.get("py_peak_mb", p.get("r_peak_mb"))
            mem_cells.append(c + (f" / {fmt_mb(heap)}" if heap is not None else ""))
        lines.append(f"| {PHASE_TITLE[ph]} | {prog} | " + " | ".join(mem_cells) + " |")
    lines.append("")
    return lines
