"""The study report as one self-contained HTML page: tables and SVG dot plots.

Each plot is a dot plot: one row per method, the estimate as a dot, a bar of
+- 1.96 Monte Carlo standard errors, a dashed reference line (0 for bias, the
nominal level for coverage and Type I error, 1 for a variance's mean relative
to its true value) and, where an exact value is known, a hollow diamond for it.
Everything is inline, so the page opens anywhere without network access.
"""

from __future__ import annotations

import html
import math
from typing import Any

from .config import Study
from .report import describe_study, fmt_df, fmt_num, fmt_pm, method_label
from .summary import Summary


def dot_plot(
    title: str,
    given: list[tuple[str, float | None, float | None, float | None]],
    reference: float | None,
    *,
    xlabel: str = "",
    width: int = 420,
) -> str:
    """SVG: one row per (label, value, MCSE, exact-or-None), bars of +- 1.96 MCSE; rows without a value are left out."""
    rows = [(label, v, se, ex) for label, v, se, ex in given if v is not None and math.isfinite(v)]
    if not rows:
        return ""
    lo_vals, hi_vals = [], []
    for _, v, se, ex in rows:
        s = se if se is not None and math.isfinite(se) else 0.0
        lo_vals.append(v - 1.96 * s)
        hi_vals.append(v + 1.96 * s)
        if ex is not None and math.isfinite(ex):
            lo_vals.append(ex)
            hi_vals.append(ex)
    if reference is not None:
        lo_vals.append(reference)
        hi_vals.append(reference)
    lo, hi = min(lo_vals), max(hi_vals)
    pad = (hi - lo) * 0.08 or max(abs(hi), 1.0) * 0.05
    lo, hi = lo - pad, hi + pad
    left, rowh, top = 260, 20, 30
    h = top + rowh * len(rows) + 28

    def sx(x: float) -> float:
        return left + (x - lo) / (hi - lo) * width

    e = html.escape
    parts = [
        (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{left + width + 20}' height='{h}' class='dotplot' "
            f"role='img' aria-label='{e(title)}'>"
        ),
        f"<text x='4' y='16' font-size='13' font-weight='bold'>{e(title)}</text>",
    ]
    if reference is not None:
        x = sx(reference)
        parts.append(
            f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top - 10}' y2='{h - 24}' stroke='#888' stroke-dasharray='4 3'/>"
        )
    for i, (label, v, se, ex) in enumerate(rows):
        y = top + i * rowh + 6
        s = se if se is not None and math.isfinite(se) else 0.0
        parts.append(f"<text x='{left - 8}' y='{y + 4}' font-size='11' text-anchor='end'>{e(label)}</text>")
        parts.append(
            f"<line x1='{sx(v - 1.96 * s):.1f}' x2='{sx(v + 1.96 * s):.1f}' y1='{y}' y2='{y}' "
            "stroke='#333' stroke-width='1.5'/>"
        )
        if ex is not None and math.isfinite(ex):
            cx = sx(ex)
            parts.append(
                f"<path d='M{cx:.1f},{y - 5} L{cx + 5:.1f},{y} L{cx:.1f},{y + 5} L{cx - 5:.1f},{y} Z' "
                f"fill='none' stroke='#c62828'><title>exact: {ex:.4g}</title></path>"
            )
        parts.append(
            f"<circle cx='{sx(v):.1f}' cy='{y}' r='4' fill='#1565c0'><title>{e(label)}: {v:.4g} "
            f"(MCSE {s:.2g})</title></circle>"
        )
    axis_y = h - 10
    parts.append(
        f"<text x='{left}' y='{axis_y}' font-size='10' fill='#555'>{lo:.3g}</text>"
        f"<text x='{left + width}' y='{axis_y}' font-size='10' text-anchor='end' fill='#555'>{hi:.3g}</text>"
        f"<text x='{left + width / 2}' y='{axis_y}' font-size='10' text-anchor='middle' fill='#555'>"
        f"{e(xlabel)}</text></svg>"
    )
    return "".join(parts)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f4f4f4}
td.l,th.l{text-align:left}.muted{color:#666}.plots{display:flex;flex-wrap:wrap;gap:1rem}
"""


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    e = html.escape
    th = "".join(f"<th class='l'>{e(h)}</th>" if i < left else f"<th>{e(h)}</th>" for i, h in enumerate(header))
    body = []
    for r in rows:
        body.append(
            "<tr>"
            + "".join(f"<td class='l'>{e(c)}</td>" if i < left else f"<td>{e(c)}</td>" for i, c in enumerate(r))
            + "</tr>"
        )
    return f"<table><tr>{th}</tr>{''.join(body)}</table>"


def render_html(study: Study, summary: Summary, meta: dict[str, Any]) -> str:
    e = html.escape
    se_kinds = study.methods.se
    body = [f"<h1>Simulation study: {e(study.title)}</h1>"]
    if study.description:
        body.append(f"<p>{e(study.description)}</p>")
    body.append(
        "<ul>" + "".join(f"<li>{e(line[2:].replace('`', ''))}</li>" for line in describe_study(study)) + "</ul>"
    )
    body.append(
        f"<p class='muted'>{summary.replicates} replicates in {meta.get('seconds', float('nan')):.1f} s "
        f"({e(str(meta.get('executor', '?')))}). Bars: ± 1.96 Monte Carlo SE; dashed line: the target; "
        "hollow diamond: the exact value where known.</p>"
    )
    for note in summary.notes:
        body.append(f"<p class='muted'>{e(note)}</p>")

    plots = []
    nominal = 1 - study.alpha
    for c in study.coefficients:
        rows = [t for t in summary.tests if t["coefficient"] == c]
        if not rows:
            continue
        if rows[0]["true"] == 0:
            plots.append(
                dot_plot(
                    f"Type I error: {c}",
                    [
                        (method_label(t, se_kinds), t["rejection"], t["rejection_mcse"], t.get("theory_rejection"))
                        for t in rows
                    ],
                    study.alpha,
                    xlabel="rejection rate",
                )
            )
        plots.append(
            dot_plot(
                f"Coverage: {c}",
                [
                    (method_label(t, se_kinds), t["coverage"], t["coverage_mcse"], t.get("theory_coverage"))
                    for t in rows
                ],
                nominal,
                xlabel=f"coverage of {100 * nominal:g} % intervals",
            )
        )
    body.append("<h2>Tests and intervals</h2><div class='plots'>" + "".join(plots) + "</div>")

    bias_plots = []
    for c in study.coefficients:
        rows = [r for r in summary.fixed if r["coefficient"] == c]
        bias_plots.append(
            dot_plot(
                f"Bias: {c}",
                [(r["estimation"], r.get("bias"), r.get("bias_mcse"), None) for r in rows],
                0.0,
                xlabel="mean estimate − true",
            )
        )
    for name, true in study.variance_components:
        rows = [r for r in summary.variance if r["parameter"] == name]
        if true != 0:
            bias_plots.append(
                dot_plot(
                    f"Mean / true: {name}",
                    [
                        (
                            r["estimation"],
                            r.get("relative"),
                            r.get("relative_mcse"),
                            r["theory_mean"] / true if r.get("theory_mean") is not None else None,
                        )
                        for r in rows
                    ],
                    1.0,
                    xlabel="mean estimate / true value",
                )
            )
        else:
            bias_plots.append(
                dot_plot(
                    f"Bias: {name}",
                    [(r["estimation"], r.get("bias"), r.get("bias_mcse"), None) for r in rows],
                    0.0,
                    xlabel="mean estimate − true",
                )
            )
    body.append("<h2>Bias</h2><div class='plots'>" + "".join(bias_plots) + "</div>")

    body.append(
        "<h2>Fits</h2>"
        + _table(
            ["estimation", "fitted", "failed", "not converged", "singular", "errors"],
            [
                [
                    f["estimation"],
                    str(f["fitted"]),
                    str(f["failed"]),
                    str(f["not_converged"]),
                    str(f["singular"]),
                    "; ".join(f"{k} ×{v}" for k, v in f["errors"].items()),
                ]
                for f in summary.fits
            ],
        )
    )
    body.append(
        "<h2>Tests</h2>"
        + _table(
            [
                "coefficient",
                "estimation",
                "df",
                "SE",
                "true",
                "median df",
                "rejection (MCSE)",
                "kind",
                "exact",
                "coverage (MCSE)",
                "exact coverage",
            ],
            [
                [
                    t["coefficient"],
                    t["estimation"],
                    t["df"],
                    t["se"],
                    f"{t['true']:g}",
                    fmt_df(t["median_df"]),
                    fmt_pm(t["rejection"], t["rejection_mcse"]),
                    t["kind"],
                    fmt_num(t.get("theory_rejection")),
                    fmt_pm(t["coverage"], t["coverage_mcse"]),
                    fmt_num(t.get("theory_coverage")),
                ]
                for t in summary.tests
            ],
            left=4,
        )
    )
    body.append(
        "<h2>Fixed effects</h2>"
        + _table(
            ["coefficient", "estimation", "true", "bias (MCSE)", "RMSE (MCSE)", "empirical SE"]
            + [f"mean {k} SE" for k in se_kinds],
            [
                [
                    r["coefficient"],
                    r["estimation"],
                    f"{r['true']:g}",
                    fmt_pm(r.get("bias"), r.get("bias_mcse")),
                    fmt_pm(r.get("rmse"), r.get("rmse_mcse")),
                    fmt_pm(r.get("emp_se"), r.get("emp_se_mcse")),
                ]
                + [fmt_num(r.get(f"mean_se_{k}")) for k in se_kinds]
                for r in summary.fixed
            ],
            left=2,
        )
    )
    body.append(
        "<h2>Variance components</h2>"
        + _table(
            [
                "parameter",
                "estimation",
                "true",
                "mean",
                "bias (MCSE)",
                "mean / true (MCSE)",
                "RMSE (MCSE)",
                "share at 0",
                "exact mean",
            ],
            [
                [
                    r["parameter"],
                    r["estimation"],
                    f"{r['true']:g}",
                    fmt_num(r.get("mean")),
                    fmt_pm(r.get("bias"), r.get("bias_mcse")),
                    fmt_pm(r.get("relative"), r.get("relative_mcse")),
                    fmt_pm(r.get("rmse"), r.get("rmse_mcse")),
                    fmt_num(r.get("share_zero"), 3),
                    fmt_num(r.get("theory_mean")),
                ]
                for r in summary.variance
            ],
            left=2,
        )
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{e(study.title)}</title><style>{_CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )
