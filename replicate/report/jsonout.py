"""JSON report, schema version 1.

Layout::

    {"schema": "replicate-report", "version": 1, "created": ISO time,
     "run_id": the run's id (the same in every report of the run), "interrupted": bool,
     "cases_planned": cases the run meant to run (more than len(cases) when interrupted),
     "summary": {status: count},
     "cases": [{"id", "path", "title", "status", "error", "engine", "engine_version",
                "messages", "seconds", "nobs", "n_dropped",
                "fits": [{"method", "engine", "converged", "singular", "messages"}],
                "blocks": [{"label", "software", "version", "call", "source", "options",
                            "method", "status", "error", "counts",
                            "values": [ValueComparison fields: section, name, quantity, kind,
                                       reference, reference_value, engine, abs_diff, rel_diff,
                                       lre, verdict, note, line],
                            "diagnoses": [{"kind", "values", "text", "data"}],
                            "consistency": [{"where", "check", "printed", "low", "high",
                                             "ok", "boundary"}]}]}]}

    section is "fixed", "fixed_corr", "random", "tests" or "fit"; a consistency entry with
    "boundary": true flags a printed boundary (singular) fit and is not a failed check.

    verdict is one of "agrees", "within tolerance", "discrepancy", "explained",
    "not comparable"; case status one of "agrees", "discrepancy", "skipped",
    "error", "invalid".
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any

from ..fitguard import fit_record
from ..outcome import CaseResult
from .markdown import summary_counts
from .stamp import RunInfo

SCHEMA_VERSION = 1


def _clean(x: Any) -> Any:
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def report_dict(results: list[CaseResult], run: RunInfo | None = None) -> dict[str, Any]:
    cases = []
    for r in results:
        cases.append(
            {
                "id": r.case_id,
                "path": r.path,
                "title": r.title,
                "status": r.status,
                "error": r.error,
                "engine": r.engine,
                "engine_version": r.engine_version,
                "messages": r.messages,
                "seconds": round(r.seconds, 3),
                "nobs": r.design.n if r.design is not None else None,
                "n_dropped": r.design.n_dropped if r.design is not None else None,
                "fits": [fit_record(m, f) for m, f in r.fits.items()] + r.native_fits,
                "blocks": [
                    {
                        "label": b.label,
                        "software": b.software,
                        "version": b.version,
                        "call": b.call,
                        "source": b.source,
                        "options": b.options,
                        "method": b.method,
                        "status": b.status,
                        "error": b.error,
                        "counts": b.counts(),
                        "values": [v.to_dict() for v in b.values],
                        "diagnoses": [d.to_dict() for d in b.diagnoses],
                        "consistency": [f.to_dict() for f in b.consistency],
                    }
                    for b in r.blocks
                ],
            }
        )
    doc: dict[str, Any] = {
        "schema": "replicate-report",
        "version": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    if run is not None:
        doc.update(
            run_id=run.run_id,
            interrupted=run.interrupted,
            cases_planned=run.planned if run.planned is not None else len(results),
        )
    doc.update(summary=summary_counts(results), cases=cases)
    return _clean(doc)


def render_json(results: list[CaseResult], run: RunInfo | None = None) -> str:
    return json.dumps(report_dict(results, run), indent=2, sort_keys=False) + "\n"
