"""The df question in words: which definition gives a printed df, and each program's rule.

Two uses: a reference block that prints df without declaring ``options.df`` gets
its df matched against every df definition the engine computes (so the report says
"df 496 is nlme's within-group df" rather than "not comparable"), and ``replicate
show`` prints, under its df table, one sentence per program of the case naming
that program's rule in its own terms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .design import Design
from .errors import ReplicateError
from .inference import fixed_df, kr_settings
from .inference.design_levels import groups, varies_within
from .printed import Printed, printed_unit
from .reference_block import ReferenceBlock
from .results import FitResult
from .vocab import DfMethod, program_name

# (method, Kenward-Roger setting: None for the block's / pbkrtest's, "sas" for SAS's), label in words
CANDIDATES: list[tuple[str, str | None, str]] = [
    ("residual", None, "the residual df (n - p)"),
    ("containment", None, "SAS's containment df (ddfm=contain)"),
    ("between-within", None, "SAS's between-within df (ddfm=bw)"),
    ("hlm", None, "HLM's df (J - S - 1 at level 2, N - p for a fixed level-1 coefficient)"),
    ("nlme", None, "nlme's df (the level at which the variable varies)"),
    ("satterthwaite", None, "lmerTest's Satterthwaite df"),
    ("kenward-roger", None, "pbkrtest's Kenward-Roger df (expected information)"),
    ("kenward-roger", "sas", "SAS's Kenward-Roger df (ddfm=kr, observed information)"),
]


def _all_df(fit: FitResult, design: Design) -> list[tuple[str, str, pd.Series]]:

    out = []
    for method, who, label in CANDIDATES:
        kr = kr_settings({}, who) if who else kr_settings({})
        try:
            out.append((method if who is None else f"{method}-{who}", label, fixed_df(fit, design, method, kr=kr)))
        except (ReplicateError, ValueError, ArithmeticError, np.linalg.LinAlgError):
            continue
    return out


def _matches(ref: Printed, value: float) -> bool:
    if ref.bound or not math.isfinite(value):
        return False
    unit = printed_unit(ref) or 0.0
    return abs(value - ref.value) <= max(0.5 * unit * (1 + 1e-9), 2e-4 * abs(ref.value))


def nlme_levels(design: Design, name: str) -> str:
    """nlme's df of ``name`` spelled out for a two-level model (within or between groups)."""

    gs = groups(design)
    if len(gs) != 1:
        return ""
    g = gs[0]
    N, J = design.n, g.nlevels
    inner = [j for j in range(design.p) if varies_within(design.X[:, j], g.index)]
    const = [j for j in range(design.p) if np.ptp(design.X[:, j]) == 0]
    outer = [j for j in range(design.p) if j not in inner and j not in const]
    j = list(design.fixed_names).index(name)
    if j in outer:
        return f"between-group df J - p_2 - 1 = {J} - {len(outer)} - 1"
    return f"within-group df N - J - p_1 = {N} - {J} - {len(inner)}"


def df_sentence(fit: FitResult, design: Design, name: str, ref: Any, kr: Any = None) -> str | None:
    """Which of the engine's df definitions reproduce a printed df of coefficient ``name``, in words."""
    r = ref.get("value") if isinstance(ref, dict) else ref
    if not isinstance(r, Printed):
        r = Printed(float(str(r)), str(r))
    rows = [
        (key, label, float(s[name]))
        for key, label, s in _all_df(fit, design)
        if name in s.index and np.isfinite(s[name])
    ]
    hits = [(key, label, v) for key, label, v in rows if _matches(r, v)]
    others = ", ".join(f"{key} {v:.4g}" for key, _, v in rows if (key, _, v) not in hits)
    if not hits:
        return f"df {r.text} of {name} is none of the engine's definitions ({others}); declare options.df to compare"
    words = []
    for key, label, v in hits:
        extra = f": {nlme_levels(design, name)}" if key == "nlme" and nlme_levels(design, name) else ""
        words.append(f"{label}{extra}")
    return (
        f"df {r.text} of {name} is "
        + "; it is also ".join(words)
        + (f"; the other definitions give {others}" if others else "")
        + "; the block does not declare options.df, so it is not compared"
    )


def rule_sentences(blocks: Sequence[ReferenceBlock], fit: FitResult, design: Design) -> list[str]:
    """One sentence per program of the case naming its df rule, with this model's numbers."""

    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    names = list(fit.fixed.index)

    def vals(method: str, kr: Any = None) -> str:
        try:
            s = fixed_df(fit, design, method, kr=kr or kr_settings({}))
        except (ReplicateError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            return f"(not computed: {getattr(exc, 'message', exc)})"
        return ", ".join(f"{n} {s[n]:.4g}" for n in names)

    for blk in blocks:
        sw, df = blk.software, str(blk.options.df or "")
        sw = program_name(sw)
        if (sw, df) in seen or not df:
            continue
        seen.add((sw, df))
        if df == "hlm":
            out.append(
                "HLM: each gamma gets the df of the equation it is entered in: J - S - 1 for a coefficient "
                "in the level-2 equation of a random level-1 coefficient (S: level-2 predictors there), "
                f"N - p for a level-1 coefficient without a random part; here {vals('hlm')}"
            )
        elif df == "nlme":
            parts = "; ".join(f"{n}: {nlme_levels(design, n)}" for n in names if nlme_levels(design, n))
            out.append(
                "nlme: inner/outer, each coefficient gets the df of the innermost level at which its "
                f"variable varies ({parts}); here {vals('nlme')}"
            )
        elif df in ("kenward-roger", "kenward-roger-2"):
            who = "SAS ddfm=kr" if sw == "SAS" else f"{sw}"
            info, par = kr_settings(blk.options.as_dict(), blk.software)
            out.append(
                f"{who}: Kenward-Roger with the {info} information, {par} parameterization; "
                f"here {vals(df, (info, par))}"
            )
        elif df == "satterthwaite":
            out.append(f"{sw} (lmerTest): Satterthwaite; here {vals('satterthwaite')}")
        elif df == "containment":
            out.append(
                f"{sw} ddfm=contain: the rank contribution of the smallest random effect containing the "
                f"effect; here {vals('containment')}"
            )
        elif df == "between-within":
            out.append(
                f"{sw} ddfm=bw: between-subject df for effects constant within subjects, else within; "
                f"here {vals('between-within')}"
            )
        elif df == "residual":
            out.append(f"{sw}: residual df n - p; here {vals('residual')}")
    out += kr_difference(blocks, fit, design)
    return out


def kr_difference(blocks: Sequence[ReferenceBlock], fit: FitResult, design: Design) -> list[str]:
    """Why pbkrtest's and SAS's Kenward-Roger df differ here, when a KR block is in the case and they do."""

    if not any(b.options.df in (DfMethod.KENWARD_ROGER, DfMethod.KENWARD_ROGER_2) for b in blocks):
        return []
    pb, sas = kr_settings({}), kr_settings({}, "sas")
    try:
        a, b = fixed_df(fit, design, "kenward-roger", kr=pb), fixed_df(fit, design, "kenward-roger", kr=sas)
    except (ReplicateError, ValueError, ArithmeticError, np.linalg.LinAlgError):
        return []
    diff = [n for n in a.index if abs(a[n] - b[n]) > 1e-6 * max(1.0, abs(b[n]))]
    if not diff:
        return ["pbkrtest's and SAS's Kenward-Roger df agree here (the information matrices coincide)"]
    pairs = ", ".join(f"{n} {a[n]:.4g} vs {b[n]:.4g}" for n in diff)
    return [
        (
            f"pbkrtest's and SAS's Kenward-Roger df differ ({pairs}) because pbkrtest inverts the expected "
            f"information of the variance parameters and SAS the observed one ({pb[1]} parameterization in both; "
            "SAS's type=chol or fa0 would use the Cholesky one)"
        )
    ]
