"""A job summary for a CI system that shows Markdown inline (GitHub Actions' ``$GITHUB_STEP_SUMMARY``).

Short where everything agrees, detailed where it does not: one line of counts, a table of the cases that
did not agree, and for each of them a collapsible section (``<details>``) with the values that disagree and
the explanation in words, so the reason is on the job's page without opening an artifact.
"""

from __future__ import annotations

from ..compare import DISCREPANCY
from ..outcome import OK, CaseResult
from .explain import why_lines
from .stamp import RunInfo, markdown_stamp


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_github(results: list[CaseResult], run: RunInfo | None = None) -> str:
    counts: dict[str, int] = {}
    for r in results:
        counts[str(r.status)] = counts.get(str(r.status), 0) + 1
    bad = [r for r in results if r.status != OK]
    lines = ([markdown_stamp(run)] if run is not None else []) + ["## replicate", ""]
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    lines.append(f"{len(results)} cases: {summary}" + (f" (run {run.run_id})" if run else ""))
    if run is not None and run.interrupted:
        lines += ["", f"**{run.note(len(results))}**"]
    if not bad:
        lines += ["", "Every reference number agrees with the engine."]
        return "\n".join(lines) + "\n"
    lines += ["", "| case | status | values that disagree |", "|---|---|---|"]
    for r in bad:
        n = sum(v.verdict == DISCREPANCY for b in r.blocks for v in b.values)
        lines.append(f"| `{_cell(r.case_id)}` | {_cell(r.status)} | {n} |")
    for r in bad:
        lines += ["", f"<details><summary><code>{_cell(r.case_id)}</code>: {_cell(r.status)}</summary>", ""]
        if r.error:
            lines += [f"- {_cell(r.error)}"]
        for b in r.blocks:
            if b.error:
                lines.append(f"- [{_cell(b.label)}] {_cell(b.error.splitlines()[0])}")
            for v in b.values:
                if v.verdict == DISCREPANCY:
                    eng = f"{v.engine:.6g}" if v.engine is not None else "—"
                    lines.append(
                        f"- [{_cell(b.label)}] {_cell(v.section)} {_cell(v.name)} {_cell(v.quantity)}: "
                        f"printed {_cell(v.reference)}, engine {eng}"
                    )
            lines += [f"- [{_cell(b.label)}] {_cell(w)}" for w in why_lines(b)]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
