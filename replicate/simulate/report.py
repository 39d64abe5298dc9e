"""Study reports as text: the Markdown tables and the JSON document.

The number formatting and the study description here are shared with the HTML page
(:mod:`replicate.simulate.report_html`).
"""

from __future__ import annotations

import json
import math
from typing import Any

from .config import INFINITE_DF, Study
from .summary import Summary

# ----------------------------------------------------------------- numbers


def fmt_num(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, int):
        return str(x)
    ax = abs(x)
    if ax != 0 and (ax < 1e-3 or ax >= 1e5):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}f}"


def fmt_df(x: Any) -> str:
    """A median df: two decimals, or ``∞ (z)`` for the infinite df of a z test (df method ``none``)."""
    if isinstance(x, (int, float)) and x >= INFINITE_DF:
        return "∞ (z)"
    return fmt_num(x, 2)


def fmt_pm(x: Any, se: Any, digits: int = 4) -> str:
    """``value (MCSE)``."""
    return f"{fmt_num(x, digits)} ({fmt_num(se, digits)})"


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


def method_label(row: dict[str, Any], se_kinds: tuple[str, ...]) -> str:
    label = f"{row['estimation']} · {row['df']} df"
    if len(se_kinds) > 1 or se_kinds != ("model",):
        label += f" · {row['se']} SE"
    return label


# ---------------------------------------------------------------- markdown


def _se_and_width_markdown(study: Study, summary: Summary) -> list[str]:
    """The model SE against the empirical SE, and each interval's width and bias-eliminated coverage."""
    out = [
        "## Standard errors and interval width",
        "",
        (
            "Relative error of the model SE: sqrt(mean SE²) / empirical SE - 1. Bias-eliminated coverage: "
            "intervals around the mean estimate instead of the true value (Morris, White and Crowther 2019). "
            "Monte Carlo SE in parentheses."
        ),
        "",
        "| coefficient | estimation | SE | relative error of the SE (MCSE) |",
        "|---|---|---|---:|",
    ]
    for r in summary.fixed:
        for k in study.methods.se:
            err = fmt_pm(r.get(f"se_relative_error_{k}"), r.get(f"se_relative_error_{k}_mcse"))
            out.append(f"| {_md(r['coefficient'])} | {r['estimation']} | {k} | {err} |")
    out += [
        "",
        "| coefficient | estimation | df | SE | mean width (MCSE) | bias-eliminated coverage (MCSE) |",
        "|---|---|---|---|---:|---:|",
    ]
    for t in summary.tests:
        width = fmt_pm(t.get("mean_width"), t.get("mean_width_mcse"))
        be = fmt_pm(t.get("bias_eliminated_coverage"), t.get("bias_eliminated_coverage_mcse"))
        out.append(f"| {_md(t['coefficient'])} | {t['estimation']} | {t['df']} | {t['se']} | {width} | {be} |")
    return out + [""]


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
                f"| {t['estimation']} | {t['df']} | {t['se']} | {fmt_df(t['median_df'])} | "
                f"{fmt_pm(t['rejection'], t['rejection_mcse'])} | {fmt_num(t.get('theory_rejection'))} | "
                f"{fmt_pm(t['coverage'], t['coverage_mcse'])} | {fmt_num(t.get('theory_coverage'))} |"
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
            f"| {_md(r['coefficient'])} | {r['true']:g} | {r['estimation']} | {fmt_pm(r.get('bias'), r.get('bias_mcse'))} | "
            f"{fmt_pm(r.get('rmse'), r.get('rmse_mcse'))} | {fmt_pm(r.get('emp_se'), r.get('emp_se_mcse'))} | "
            + " | ".join(fmt_num(r.get(f"mean_se_{k}")) for k in se_kinds)
            + " |"
        )
    out.append("")
    out += _se_and_width_markdown(study, summary)

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
            f"| {_md(r['parameter'])} | {r['true']:g} | {r['estimation']} | {fmt_num(r.get('mean'))} | "
            f"{fmt_pm(r.get('bias'), r.get('bias_mcse'))} | {fmt_pm(r.get('relative'), r.get('relative_mcse'))} | "
            f"{fmt_pm(r.get('rmse'), r.get('rmse_mcse'))} | {fmt_num(r.get('share_zero'), 3)} | {fmt_num(exact)} | "
            f"{fmt_num(ratio)} |"
        )
    out.append("")
    ml = [r for r in summary.variance if r["estimation"] == "ML" and r.get("theory_factor") is not None]
    for r in ml:
        out += [
            (
                f"ML's `{r['parameter']}`: mean / true = {fmt_pm(r.get('relative'), r.get('relative_mcse'))}; "
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
