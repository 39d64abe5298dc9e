"""JUnit XML: one test case per (case, reference block)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from ..compare import DISCREPANCY
from ..fitguard import fit_record, fit_summary
from ..runner import INVALID, SKIPPED, CaseResult


def render_junit(results: list[CaseResult]) -> str:
    suite = ET.Element("testsuite", name="replicate")
    n = fail = err = skip = 0
    for r in results:
        items = r.blocks or [None]
        for b in items:
            n += 1
            name = f"{r.case_id}::{b.label}" if b else r.case_id
            tc = ET.SubElement(suite, "testcase", classname=r.case_id, name=name, file=r.path,
                               time=f"{r.seconds:.3f}")
            fits = {m: fr for m, fr in r.fits.items() if b is None or m == b.method}
            if fits:  # the engine's flags, as properties (first) and as text (last, in system-out)
                props = ET.SubElement(tc, "properties")
                for m, fr in fits.items():
                    rec = fit_record(m, fr)
                    for key in ("converged", "singular"):
                        ET.SubElement(props, "property", name=f"{m} {key}", value=str(rec[key]).lower())
            if r.status == SKIPPED:
                skip += 1
                ET.SubElement(tc, "skipped", message="; ".join(r.messages))
            elif r.error or (b and b.error):
                err += 1
                e = ET.SubElement(tc, "error", message=(r.error or b.error or "").splitlines()[0],
                                  type=INVALID if r.status == INVALID else "error")
                e.text = r.error or (b.error if b else "")
            elif b:
                bad = [v for v in b.values if v.verdict == DISCREPANCY]
                if bad:
                    fail += 1
                    f = ET.SubElement(tc, "failure", message=f"{len(bad)} value(s) disagree")
                    f.text = "\n".join(f"{v.section} {v.name} {v.quantity}: reference {v.reference}, "
                                       f"engine {v.engine!r}, digits {v.lre}" for v in bad)
            if fits:
                ET.SubElement(tc, "system-out").text = "\n".join(fit_summary(fit_record(m, fr))
                                                                 for m, fr in fits.items())
    suite.set("tests", str(n))
    suite.set("failures", str(fail))
    suite.set("errors", str(err))
    suite.set("skipped", str(skip))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
