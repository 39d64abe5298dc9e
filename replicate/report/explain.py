"""The explanation of a reference block in words, one line each: the same in every output.

`replicate run` prints it under a case's discrepancies; the pytest plugin puts it under its table of the
values that disagree, and the JUnit report into each ``<failure>``, so that a CI failure says why and not
only what (issue #18).
"""

from __future__ import annotations

from typing import Any


def why_lines(block: Any) -> list[str]:
    """The diagnoses ("why: ...") and the printout's own contradictions of one block's comparison."""
    lines = [f"why: {d.text}" for d in block.diagnoses]
    lines += [
        f"inconsistent printout: {f.where} = {f.printed}, but {f.check} gives {f.low:.6g} to {f.high:.6g}"
        for f in block.inconsistent
    ]
    return lines
