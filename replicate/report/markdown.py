"""Markdown report: one line per case, then each discrepancy in a table.

Short enough for a CI job summary or a pull-request comment.
"""

from __future__ import annotations

from ..compare import DISCREPANCY, NOT_COMPARABLE
from ..fitguard import fit_record, fit_summary
from ..outcome import CaseResult
from .stamp import RunInfo, markdown_stamp


def _fmt(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.6g}"


def summary_counts(results: list[CaseResult]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in results:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def render_markdown(results: list[CaseResult], run: RunInfo | None = None) -> str:
    counts = summary_counts(results)
    lines = ["# replicate report", ""]
    if run is not None:
        lines[:0] = [markdown_stamp(run)]
        lines += [f"Run: `{run.run_id}`", ""]
        if run.interrupted:
            lines += [f"**{run.note(len(results))}**", ""]
    engines = sorted({f"{r.engine} ({r.engine_version})" for r in results if r.engine_version})
    if engines:
        lines.append("Engine: " + ", ".join(engines))
        lines.append("")
    lines.append("Cases: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) if counts else "No cases.")
    lines += [
        "",
        "| case | status | blocks | values agreeing | discrepancies | min digits | printout checks |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        vals = [v for b in r.blocks for v in b.values]
        agree = sum(1 for v in vals if v.verdict not in (DISCREPANCY, NOT_COMPARABLE))
        disc = sum(1 for v in vals if v.verdict == DISCREPANCY)
        digits = [v.lre for v in vals if v.lre is not None and v.kind != "count"]
        checks = [f for b in r.blocks for f in b.consistency if not f.boundary]
        held = sum(f.ok for f in checks)
        lines.append(
            f"| `{r.case_id}` | {r.status} | {len(r.blocks)} | {agree}/{len(vals)} | {disc} | "
            f"{min(digits) if digits else '—'} | {held}/{len(checks)} |"
        )
    for r in results:
        problems = [(b, v) for b in r.blocks for v in b.values if v.verdict == DISCREPANCY]
        errors = ([r.error] if r.error else []) + [f"{b.label}: {b.error}" for b in r.blocks if b.error]
        incons = [(b, f) for b in r.blocks for f in b.inconsistent]
        bounds = [(b, f) for b in r.blocks for f in b.boundaries]
        refusals = [(b, v) for b in r.blocks for v in b.values if v.quantity == "refused"]
        if not problems and not errors and not incons and not bounds and not refusals:
            continue
        lines += ["", f"## `{r.case_id}` — {r.status}", ""]
        if r.title:
            lines += [r.title, ""]
        for e in errors:
            lines.append(f"- {e.splitlines()[0]}")
        if problems:
            lines += [
                "",
                "| block | value | reference | engine | rel. diff | digits | note |",
                "|---|---|---|---|---|---|---|",
            ]
            for b, v in problems:
                lines.append(
                    f"| {b.label} | {v.section} {v.name} {v.quantity} | {v.reference} | "
                    f"{_fmt(v.engine)} | {_fmt(v.rel_diff)} | {_fmt(v.lre)} | {v.note} |"
                )
            diag = [(b, d) for b in r.blocks for d in b.diagnoses]
            if diag:
                lines += ["", "Diagnosis:", ""]
                for b, d in diag:
                    lines.append(f"- [{b.label}] {d.text}")
        if incons:
            lines += ["", "Inconsistent printout (the printed numbers contradict each other):", ""]
            for b, f in incons:
                lines.append(f"- [{b.label}] {f.where} = {f.printed}: {f.check} gives {_fmt(f.low)} to {_fmt(f.high)}")
        if bounds:
            lines += ["", "Boundary (singular) fits in the printout:", ""]
            lines += [f"- [{b.label}] {f.where} = {f.printed}: {f.check}" for b, f in bounds]
        if refusals:
            lines += ["", "Tests the program refused:", ""]
            lines += [f"- [{b.label}] {v.name} ({v.verdict}): {v.note}" for b, v in refusals]
    fits = [(r, fit_record(m, f)) for r in results for m, f in r.fits.items()]
    fits += [(r, rec) for r in results for rec in r.native_fits]
    if fits:
        lines += ["", "## Fits", "", "The engine's convergence and singularity flags and messages, per case:", ""]
        for r, rec in fits:
            lines.append(f"- `{r.case_id}`: {fit_summary(rec)}")
    not_comp = [(r, b, v) for r in results for b in r.blocks for v in b.values if v.verdict == NOT_COMPARABLE]
    if not_comp:
        lines += [
            "",
            "## Not comparable",
            "",
            f"{len(not_comp)} reference value(s) have no engine counterpart yet:",
            "",
        ]
        reasons: dict[str, int] = {}
        for _, _, v in not_comp:
            reasons[v.note] = reasons.get(v.note, 0) + 1
        for why, k in sorted(reasons.items(), key=lambda kv: -kv[1]):
            lines.append(f"- {k} × {why}")
    return "\n".join(lines) + "\n"
