"""Boundary (singular) fits, read from a printout.

A printed correlation of 1.00 or -1.00, or a printed variance (or SD) of 0, means the
program stopped on the edge of the parameter space: the random-effects covariance
matrix is singular (lme4's ``isSingular(fit)``). The printout is not wrong, but its
variance components, and tests built on them, need care, so the printout checks flag it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .findings import Finding, interval


def _text(x: Any) -> str:
    x = x.get("value") if isinstance(x, dict) else x
    return str(getattr(x, "text", x))


def boundary_findings(values: Mapping[str, Any]) -> list[Finding]:
    """A flag for each printed correlation that rounds to +-1 and each variance or SD that rounds to 0."""
    out: list[Finding] = []
    for grp, comps in (values.get("random") or {}).items():
        if grp == "Residual":
            continue
        for comp, q in (comps or {}).items():
            name = f"random {grp} {comp}"
            corr = interval(q.get("corr"))
            if corr and (corr[0] <= 1.0 <= corr[1] or corr[0] <= -1.0 <= corr[1]):
                sign = "+1" if corr[1] > 0 else "-1"
                out.append(
                    Finding(
                        f"{name} corr",
                        f"boundary (singular) fit: the correlation is printed as "
                        f"{sign} to its digits, so the covariance matrix of {grp}'s random effects "
                        "is singular (lme4: isSingular)",
                        _text(q["corr"]),
                        corr[0],
                        corr[1],
                        True,
                        boundary=True,
                    )
                )
            for key in ("variance", "sd"):
                v = interval(q.get(key))
                if v and v[0] <= 0.0 <= v[1]:
                    out.append(
                        Finding(
                            f"{name} {key}",
                            f"boundary (singular) fit: the {key} is printed as 0, "
                            "on the edge of the parameter space (lme4: isSingular)",
                            _text(q[key]),
                            v[0],
                            v[1],
                            True,
                            boundary=True,
                        )
                    )
                    break
    return out


__all__ = ["boundary_findings"]
