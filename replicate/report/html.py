"""Self-contained HTML report: tables, a heat map of verdicts, forest plots and printed-digit gaps.

Everything (styles, SVG plots) is inline, so the file can be attached to a CI
run or mailed and opened anywhere without network access.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict

from ..compare import AGREES, DISCREPANCY, EXPLAINED, NOT_COMPARABLE, WITHIN
from ..fitguard import fit_record, fit_summary
from ..outcome import CaseResult
from .case_plots import df_charts, digit_gaps, forests, optimum_profiles
from .stamp import RunInfo, html_stamp

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f4f4f4}
td.l,th.l{text-align:left}
.agrees{background:#e3f4e1}.within{background:#f1f8d9}.discrepancy{background:#fbe0dc}
.explained{background:#fdf1d6}.nc{background:#eee;color:#777}
.status-agrees{color:#1b7a1b}.status-discrepancy,.status-error,.status-invalid{color:#b3261e}
.diag{background:#fff8e6;border-left:4px solid #e0a000;padding:.4rem .8rem;margin:.4rem 0}
.muted{color:#777}
"""

_VERDICT_CLASS: dict[str, str] = {
    AGREES: "agrees",
    WITHIN: "within",
    DISCREPANCY: "discrepancy",
    EXPLAINED: "explained",
    NOT_COMPARABLE: "nc",
}


def _e(x: object) -> str:
    return html.escape(str(x))


def _fmt(x: float | None) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6g}"


# worst first: a cell takes the colour of its worst value
_VERDICT_ORDER = (DISCREPANCY, NOT_COMPARABLE, EXPLAINED, WITHIN, AGREES)
_VERDICT_FILL = {
    AGREES: "#8fd18a",
    WITHIN: "#d4ec9a",
    EXPLAINED: "#f6cf7a",
    DISCREPANCY: "#e57368",
    NOT_COMPARABLE: "#dddddd",
}


def _cell_text(values: list) -> str:
    """The digits shown in a heat-map cell: "exact" when every value is exactly equal, else the fewest digits."""
    if all(v.abs_diff == 0 for v in values):
        return "exact"
    digits = [v.lre for v in values if v.lre is not None and v.abs_diff != 0]
    return f"{min(digits):.1f}" if digits else ""


def heatmap(results: list[CaseResult]) -> str:
    """SVG: rows = case/program, columns = quantity kind; colour = the worst verdict, text = fewest digits."""
    kinds = ["estimate", "se", "t", "df", "p", "variance", "sd", "corr", "loglik", "count"]
    rows: list[tuple[str, dict[str, list]]] = []
    for r in results:
        for b in r.blocks:
            cell: dict[str, list] = defaultdict(list)
            for v in b.values:
                cell[v.kind].append(v)
            rows.append((f"{r.case_id} · {b.software}", {k: cell[k] for k in kinds}))
    if not rows:
        return "<p class='muted'>No compared values.</p>"
    cw, ch, left, top = 62, 22, 330, 60
    w, h = left + cw * len(kinds) + 10, top + ch * len(rows) + 40
    parts = [
        (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' "
            "aria-label='verdict per case and quantity' id='heatmap'>"
        )
    ]
    for j, k in enumerate(kinds):
        x = left + j * cw + cw / 2
        parts.append(f"<text x='{x}' y='{top - 8}' font-size='11' text-anchor='middle'>{k}</text>")
    for i, (label, cells) in enumerate(rows):
        y = top + i * ch
        parts.append(f"<text x='{left - 6}' y='{y + 15}' font-size='11' text-anchor='end'>{_e(label[:52])}</text>")
        for j, k in enumerate(kinds):
            vals = cells[k]
            if not vals:
                parts.append(
                    f"<rect x='{left + j * cw}' y='{y}' width='{cw - 2}' height='{ch - 2}' fill='#f7f7f7'>"
                    f"<title>{_e(label)} {k}: no values</title></rect>"
                )
                continue
            worst = next(vd for vd in _VERDICT_ORDER if any(v.verdict == vd for v in vals))
            text = _cell_text(vals)
            parts.append(
                f"<rect x='{left + j * cw}' y='{y}' width='{cw - 2}' height='{ch - 2}' fill='{_VERDICT_FILL[worst]}' "
                f"class='cell-{_VERDICT_CLASS[worst]}'><title>{_e(label)} {k}: {worst} "
                f"({len(vals)} values; {text or 'no digits'})</title></rect>"
            )
            if text:
                parts.append(
                    f"<text x='{left + j * cw + cw / 2 - 1}' y='{y + 15}' font-size='11' "
                    f"text-anchor='middle'>{text}</text>"
                )
    y = top + ch * len(rows) + 14
    for j, vd in enumerate(reversed(_VERDICT_ORDER)):
        x = left + j * 110
        parts.append(f"<rect x='{x}' y='{y}' width='12' height='12' fill='{_VERDICT_FILL[vd]}'/>")
        parts.append(f"<text x='{x + 16}' y='{y + 10}' font-size='11'>{vd}</text>")
    parts.append("</svg>")
    return "".join(parts)


def render_html(results: list[CaseResult], run: RunInfo | None = None) -> str:
    counts: dict[str, int] = defaultdict(int)
    for r in results:
        counts[r.status] += 1
    body = [
        "<h1>replicate report</h1>",
        "<p>" + ", ".join(f"{v} {_e(k)}" for k, v in sorted(counts.items())) + "</p>",
        f"<p class='muted'>Run {_e(run.run_id)}</p>" if run else "",
        f"<div class='diag'>{_e(run.note(len(results)))}</div>" if run and run.interrupted else "",
        "<h2>Verdict per case and quantity</h2>",
        (
            "<p class='muted'>Each cell takes the colour of the worst verdict among the values of its kind "
            "(agrees, within tolerance, explained, discrepancy); its text is the fewest agreeing significant "
            "digits (LRE), or <em>exact</em> when every value is exactly equal.</p>"
        ),
        heatmap(results),
        (
            "<h2>Cases</h2><table><tr><th class='l'>case</th><th class='l'>status</th><th>values</th>"
            "<th>discrepancies</th></tr>"
        ),
    ]
    for r in results:
        vals = [v for b in r.blocks for v in b.values]
        bad = sum(v.verdict == DISCREPANCY for v in vals)
        body.append(
            f"<tr><td class='l'><a href='#{_e(r.case_id)}'>{_e(r.case_id)}</a></td>"
            f"<td class='l status-{_e(r.status)}'>{_e(r.status)}</td><td>{len(vals)}</td><td>{bad}</td></tr>"
        )
    body.append("</table>")
    for r in results:
        body.append(
            f"<h2 id='{_e(r.case_id)}'>{_e(r.case_id)} — <span class='status-{_e(r.status)}'>{_e(r.status)}</span></h2>"
        )
        if r.title:
            body.append(f"<p>{_e(r.title)}</p>")
        if r.error:
            body.append(f"<div class='diag'>{_e(r.error)}</div>")
        for m in r.messages:
            body.append(f"<p class='muted'>{_e(m)}</p>")
        for rec in [fit_record(m, f) for m, f in r.fits.items()] + r.native_fits:
            cls = "diag" if not rec["converged"] else "muted"
            body.append(f"<p class='{cls} fit'>{_e(fit_summary(rec))}</p>")
        body.append(forests(r))
        body.append(digit_gaps(r))
        body.append(df_charts(r))
        body.append(optimum_profiles(r))
        for b in r.blocks:
            body.append(
                f"<h3>{_e(b.label)}: {_e(b.software)} {_e(b.version)}</h3>"
                f"<p class='muted'>{_e(b.call)}<br>source: {_e(b.source)}<br>options: {_e(b.options)}</p>"
            )
            if b.error:
                body.append(f"<div class='diag'>{_e(b.error)}</div>")
                continue
            for d in b.diagnoses:
                rest = d.text[len(d.kind) + 2 :] if d.text.startswith(d.kind + ": ") else d.text
                body.append(f"<div class='diag'><b>{_e(d.kind)}</b>: {_e(rest)}</div>")
            for f in b.inconsistent:
                body.append(
                    f"<div class='diag'><b>inconsistent printout</b>: {_e(f.where)} = {_e(f.printed)}, "
                    f"but {_e(f.check)} gives {_fmt(f.low)} to {_fmt(f.high)}</div>"
                )
            for f in b.boundaries:
                body.append(
                    f"<div class='diag'><b>boundary fit</b>: {_e(f.where)} = {_e(f.printed)}: {_e(f.check)}</div>"
                )
            if b.values:
                body.append(
                    "<table><tr><th class='l'>value</th><th>reference</th><th>engine</th>"
                    "<th>rel. diff</th><th>digits</th><th class='l'>verdict</th><th class='l'>note</th></tr>"
                )
                for v in b.values:
                    body.append(
                        f"<tr class='{_VERDICT_CLASS[v.verdict]}'><td class='l'>{_e(v.section)} "
                        f"{_e(v.name)} {_e(v.quantity)}</td><td>{_e(v.reference)}</td><td>{_fmt(v.engine)}"
                        f"</td><td>{_fmt(v.rel_diff)}</td><td>{_fmt(v.lre)}</td>"
                        f"<td class='l'>{_e(v.verdict)}</td><td class='l'>{_e(v.note)}</td></tr>"
                    )
                body.append("</table>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>replicate report</title>"
        + (html_stamp(run) if run else "")
        + f"<style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
