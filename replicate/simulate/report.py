"""Study reports: Markdown and JSON tables, and a self-contained HTML page with SVG plots.

Each plot is a dot plot: one row per method, the estimate as a dot, a bar of
+- 1.96 Monte Carlo standard errors, a dashed reference line (0 for bias, the
nominal level for coverage and Type I error, 1 for a variance's mean relative
to its true value) and, where an exact value is known, a hollow diamond for it.
Everything is inline, so the page opens anywhere without network access.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from .config import Study
from .summary import Summary

# ----------------------------------------------------------------- numbers


def _f(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, int):
        return str(x)
    ax = abs(x)
    if ax != 0 and (ax < 1e-3 or ax >= 1e5):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}f}"


def _pm(x: Any, se: Any, digits: int = 4) -> str:
    """``value (MCSE)``."""
    return f"{_f(x, digits)} ({_f(se, digits)})"


def _md(text: Any) -> str:
    """A Markdown table cell: '|' would end the cell."""
    return str(text).replace("|", "\\|")


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def describe_study(study: Study) -> list[str]:
    """Plain-text lines describing the design, truth and methods."""
    d = study.design
    preds = ", ".join(f"{p.name} (level {p.level}, {p.distribution})" for p in d.predictors) or "none"
    T = study.truth.cov_matrix
    lines = [
        f"- design: {d.groups} groups ({d.group}), {d.sizes.describe()}"
        + ("; sizes and predictors held fixed" if d.hold_fixed else ""),
        f"- predictors: {preds}" + (f"; random slopes: {', '.join(d.random_slopes)}" if d.random_slopes else ""),
        f"- model: `{study.formula}`",
        "- true fixed effects: " + ", ".join(f"{k} = {v:g}" for k, v in study.truth.fixed),
        "- true variance components: "
        + ", ".join(f"{n} = {v:g}" for n, v in study.variance_components)
        + f" (ICC {study.truth.icc:.3g})",
        (
            f"- estimation: {', '.join(study.methods.estimation)}; df: {', '.join(study.methods.df)}; "
            f"SE: {', '.join(study.methods.se)}"
        ),
        (
            f"- replicates: {study.replicates}, seed {study.seed}, chunks of {study.chunk_size}; "
            f"tests at alpha = {study.alpha:g}, intervals at {100 * (1 - study.alpha):g} %"
        ),
    ]
    if d.missing:
        lines.append("- missing values (MCAR): " + ", ".join(f"{k} {v:.0%}" for k, v in d.missing))
    T_off = T.shape[0] > 1
    if T_off:
        lines.append("- random-effect covariance matrix: " + json.dumps([[round(x, 6) for x in r] for r in T.tolist()]))
    return lines


def _method_label(row: dict[str, Any], se_kinds: tuple[str, ...]) -> str:
    label = f"{row['estimation']} · {row['df']} df"
    if len(se_kinds) > 1 or se_kinds != ("model",):
        label += f" · {row['se']} SE"
    return label


# ---------------------------------------------------------------- markdown


def render_markdown(study: Study, summary: Summary, meta: dict[str, Any]) -> str:
    out = [f"# Simulation study: {study.title}", ""]
    if study.description:
        out += [study.description.strip(), ""]
    out += describe_study(study)
    out += [
        (
            f"- completed: {summary.replicates} replicates in {meta.get('seconds', float('nan')):.1f} s "
            f"({meta.get('executor', '?')})"
        ),
        "",
    ]
    for note in summary.notes:
        out += [f"> {note}", ""]

    out += [
        "## Fits",
        "",
        "| estimation | fitted | failed | not converged | singular | errors |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for f in summary.fits:
        errs = "; ".join(f"{k} ×{v}" for k, v in f["errors"].items()) or ""
        out.append(
            f"| {f['estimation']} | {f['fitted']} | {f['failed']} | {f['not_converged']} | {f['singular']} | {errs} |"
        )
    out.append("")

    se_kinds = study.methods.se
    nominal = 100 * (1 - study.alpha)
    out += [
        "## Tests and intervals",
        "",
        (
            f"Share of replicates rejecting beta = 0 at alpha = {study.alpha:g} (the Type I error where the true "
            f"value is 0, else the power) and coverage of the {nominal:g} % intervals; Monte Carlo SE in "
            "parentheses; 'exact' where the design has a closed form."
        ),
        "",
    ]
    for c in study.coefficients:
        rows = [t for t in summary.tests if t["coefficient"] == c]
        if not rows:
            continue
        what = "Type I error" if rows[0]["true"] == 0 else "power"
        out += [
            f"### {c} (true value {rows[0]['true']:g})",
            "",
            f"| estimation | df | SE | median df | {what} (MCSE) | exact | coverage (MCSE) | exact |",
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for t in rows:
            out.append(
                f"| {t['estimation']} | {t['df']} | {t['se']} | {_f(t['median_df'], 2)} | "
                f"{_pm(t['rejection'], t['rejection_mcse'])} | {_f(t.get('theory_rejection'))} | "
                f"{_pm(t['coverage'], t['coverage_mcse'])} | {_f(t.get('theory_coverage'))} |"
            )
        out.append("")

    out += [
        "## Fixed effects",
        "",
        "| coefficient | true | estimation | bias (MCSE) | RMSE (MCSE) | empirical SE | "
        + " | ".join(f"mean {k} SE" for k in se_kinds)
        + " |",
        "|---|---:|---|---:|---:|---:|" + "---:|" * len(se_kinds),
    ]
    for r in summary.fixed:
        out.append(
            f"| {_md(r['coefficient'])} | {r['true']:g} | {r['estimation']} | {_pm(r.get('bias'), r.get('bias_mcse'))} | "
            f"{_pm(r.get('rmse'), r.get('rmse_mcse'))} | {_pm(r.get('emp_se'), r.get('emp_se_mcse'))} | "
            + " | ".join(_f(r.get(f"mean_se_{k}")) for k in se_kinds)
            + " |"
        )
    out.append("")

    out += [
        "## Variance components",
        "",
        (
            "| parameter | true | estimation | mean | bias (MCSE) | mean / true (MCSE) | RMSE (MCSE) | "
            "share at 0 | exact mean | exact mean / true |"
        ),
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary.variance:
        exact = r.get("theory_mean")
        ratio = exact / r["true"] if exact is not None and r["true"] else None
        out.append(
            f"| {_md(r['parameter'])} | {r['true']:g} | {r['estimation']} | {_f(r.get('mean'))} | "
            f"{_pm(r.get('bias'), r.get('bias_mcse'))} | {_pm(r.get('relative'), r.get('relative_mcse'))} | "
            f"{_pm(r.get('rmse'), r.get('rmse_mcse'))} | {_f(r.get('share_zero'), 3)} | {_f(exact)} | "
            f"{_f(ratio)} |"
        )
    out.append("")
    ml = [r for r in summary.variance if r["estimation"] == "ML" and r.get("theory_factor") is not None]
    for r in ml:
        out += [
            (
                f"ML's `{r['parameter']}`: mean / true = {_pm(r.get('relative'), r.get('relative_mcse'))}; "
                f"the approximation (J - p) / J = {r['theory_factor']:.4f}; the exact expectation (level-1 noise "
                f"and the boundary included) gives {r['theory_mean'] / r['true']:.4f}."
            ),
            "",
        ]
    return "\n".join(out) + "\n"


def render_json(study: Study, summary: Summary, meta: dict[str, Any]) -> str:
    doc = {
        "format": 1,
        "study": study.to_dict(),
        "fingerprint": study.fingerprint(),
        "meta": meta,
        "formula": study.formula,
        "coefficients": list(study.coefficients),
        "variance_components": [n for n, _ in study.variance_components],
        **summary.to_dict(),
    }
    return json.dumps(_json_safe(doc), indent=1) + "\n"


# -------------------------------------------------------------------- SVG


def dot_plot(
    title: str,
    rows: list[tuple[str, float, float, float | None]],
    reference: float | None,
    *,
    xlabel: str = "",
    width: int = 420,
) -> str:
    """SVG: one row per (label, value, MCSE, exact-or-None), bars of +- 1.96 MCSE."""
    rows = [r for r in rows if r[1] is not None and math.isfinite(r[1])]
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
                        (_method_label(t, se_kinds), t["rejection"], t["rejection_mcse"], t.get("theory_rejection"))
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
                    (_method_label(t, se_kinds), t["coverage"], t["coverage_mcse"], t.get("theory_coverage"))
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
                    _f(t["median_df"], 2),
                    _pm(t["rejection"], t["rejection_mcse"]),
                    t["kind"],
                    _f(t.get("theory_rejection")),
                    _pm(t["coverage"], t["coverage_mcse"]),
                    _f(t.get("theory_coverage")),
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
                    _pm(r.get("bias"), r.get("bias_mcse")),
                    _pm(r.get("rmse"), r.get("rmse_mcse")),
                    _pm(r.get("emp_se"), r.get("emp_se_mcse")),
                ]
                + [_f(r.get(f"mean_se_{k}")) for k in se_kinds]
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
                    _f(r.get("mean")),
                    _pm(r.get("bias"), r.get("bias_mcse")),
                    _pm(r.get("relative"), r.get("relative_mcse")),
                    _pm(r.get("rmse"), r.get("rmse_mcse")),
                    _f(r.get("share_zero"), 3),
                    _f(r.get("theory_mean")),
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
