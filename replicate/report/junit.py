"""JUnit XML: one test case per (case, reference block).

Text from case files (labels, ids, error messages) may hold characters that XML
1.0 cannot carry at all, such as ``\\x02`` (the case schema allows them): they are
written as visible ``\\xNN`` escapes, so the file always parses.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

from ..compare import DISCREPANCY
from ..fitguard import fit_record, fit_summary
from ..outcome import INVALID, SKIPPED, BlockResult, CaseResult
from .explain import why_lines
from .stamp import RunInfo

# Characters outside XML 1.0's Char production: C0 controls but tab, newline and
# carriage return; surrogates; U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: object) -> str:
    """``text`` with every character XML 1.0 forbids written as ``\\xNN`` (or ``\\uNNNN``)."""

    def esc(m: re.Match[str]) -> str:
        c = ord(m.group(0))
        return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"

    return _NOT_XML.sub(esc, str(text))


def render_junit(results: list[CaseResult], run: RunInfo | None = None) -> str:
    suite = ET.Element("testsuite", name="replicate")
    if run is not None:
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="replicate.run_id", value=xml_safe(run.run_id))
        ET.SubElement(props, "property", name="replicate.interrupted", value=str(run.interrupted).lower())
        if run.interrupted:
            ET.SubElement(props, "property", name="replicate.note", value=run.note(len(results)))
    n = fail = err = skip = 0
    for r in results:
        items: list[BlockResult | None] = [*r.blocks] or [None]
        for b in items:
            n += 1
            name = f"{r.case_id}::{b.label}" if b else r.case_id
            tc = ET.SubElement(
                suite,
                "testcase",
                classname=xml_safe(r.case_id),
                name=xml_safe(name),
                file=xml_safe(r.path),
                time=f"{r.seconds:.3f}",
            )
            records = [fit_record(m, fr) for m, fr in r.fits.items() if b is None or m == b.method] + r.native_fits
            if records:  # the engine's flags, as properties (first) and as text (last, in system-out)
                props = ET.SubElement(tc, "properties")
                for rec in records:
                    m = rec["method"]
                    for key in ("converged", "singular"):
                        ET.SubElement(props, "property", name=xml_safe(f"{m} {key}"), value=str(rec[key]).lower())
            if r.status == SKIPPED:
                skip += 1
                ET.SubElement(tc, "skipped", message=xml_safe("; ".join(r.messages)))
            elif r.error or (b and b.error):
                err += 1
                why = r.error or (b.error if b else None) or ""
                e = ET.SubElement(
                    tc,
                    "error",
                    message=xml_safe(why.splitlines()[0]),
                    type=INVALID if r.status == INVALID else "error",
                )
                e.text = xml_safe(why)
            elif b:
                bad = [v for v in b.values if v.verdict == DISCREPANCY]
                if bad:
                    fail += 1
                    f = ET.SubElement(tc, "failure", message=f"{len(bad)} value(s) disagree")
                    f.text = xml_safe(
                        "\n".join(
                            [
                                f"{v.section} {v.name} {v.quantity}: reference {v.reference}, "
                                f"engine {v.engine!r}, digits {v.lre}"
                                for v in bad
                            ]
                            + why_lines(b)
                        )
                    )
            if records:
                ET.SubElement(tc, "system-out").text = xml_safe("\n".join(fit_summary(rec) for rec in records))
    suite.set("tests", str(n))
    suite.set("failures", str(fail))
    suite.set("errors", str(err))
    suite.set("skipped", str(skip))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
