"""lme4's two tables of estimates: ``Random effects:`` and ``Fixed effects:``.

The random-effects table prints a group's name once, on its first row, and a
term's correlations with the group's earlier terms to the right of its
standard deviation. The fixed-effects table has lmerTest's ``df`` column or
not, ``Pr(>|t|)`` or not, and significance stars after the numbers.
"""

from __future__ import annotations

import re

from ..printed import Printed
from .numbers import Section, cells, is_ruler, split_label, strip_stars, tokens
from .printout import Builder
from .r_tables import coefficient_rows, find_header, header_tokens, unwrap


def random_effects(sec: Section, b: Builder) -> None:
    """``Random effects:`` (or a ``print(VarCorr(fit))`` table found by its header)."""
    lines = sec.lines if sec.match.re.pattern.startswith("^Groups") else sec.body
    header: list[str] | None = None
    group: str | None = None
    group_cols: list[str] = []
    started = False
    for ln in lines:
        s = ln.stripped
        if not s or is_ruler(s):
            continue
        if header is None:
            if re.match(r"^Groups\s+Name\b", s):
                header = header_tokens(s)
            else:
                b.skip(ln, "expected the 'Groups Name Variance Std.Dev.' header")
            continue
        toks = tokens(s)
        labels, vals = split_label(toks)
        if not vals:
            if started:
                break  # a row ends with numbers: this line is past the table
            b.skip(ln, "no numbers in a random-effects row")
            continue
        started = True
        nv = sum(1 for h in header if h in ("Variance", "Std.Dev."))
        if len(vals) < nv:
            b.skip(ln, f"expected {nv} numbers (Variance, Std.Dev.), found {len(vals)}")
            continue
        nums = cells(vals)
        q: dict[str, Printed | None] = {}
        k = 0
        for h in header:
            if h == "Variance":
                q["variance"] = nums[k]
                k += 1
            elif h == "Std.Dev.":
                q["sd"] = nums[k]
                k += 1
        corrs = nums[nv:]
        if len(labels) == 1 and labels[0] == "Residual":
            if corrs:
                b.skip(ln, "the residual row has more numbers than Variance and Std.Dev.")
                continue
            b.add_residual(ln, q)
            group = None
            continue
        if len(labels) == 2:
            if labels[0] != group:
                group, group_cols = labels[0], []
            name = labels[1]
        elif len(labels) == 1 and group is not None:
            name = labels[0]
        else:
            b.skip(ln, "cannot tell the group and the name of this random-effects row")
            continue
        if len(corrs) > len(group_cols):
            b.skip(ln, f"{len(corrs)} correlations but only {len(group_cols)} earlier terms in group {group}")
            continue
        b.add_random_row(ln, group, name, q, group_cols, corrs)
        group_cols.append(name)


_FIXED_FIELDS = [
    ("estimate", re.compile(r"^Estimate$")),
    ("se", re.compile(r"^Std\. ?Error$")),
    ("df", re.compile(r"^df$")),
    ("t", re.compile(r"^t value$")),
    ("z", re.compile(r"^z value$")),  # glmer's Wald z
    ("p", re.compile(r"^Pr\(")),
]


def _label_and_values(text: str) -> tuple[list[str], list[str]]:
    """A fixed-effects row's label and numbers, its significance stars left out."""
    toks, _stars = strip_stars(tokens(text))
    return split_label(toks)


def _fixed_header(text: str) -> list[str] | None:
    return header_tokens(text) if "Estimate" in text else None


def fixed_effects(sec: Section, b: Builder) -> None:
    """``Fixed effects:`` (or a ``coef(summary(fit))`` table found by its header)."""
    lines = sec.lines if sec.match.re.pattern.startswith("^Estimate") else sec.body
    rest = iter(unwrap(lines))
    header = find_header(rest, b, _fixed_header, "Estimate Std. Error ...")
    if header is None:
        return
    fields = [next((name for name, rx in _FIXED_FIELDS if rx.match(h)), None) for h in header]
    if "z value" in header:
        b.set_info("test", "z")
    rows = coefficient_rows(
        rest, b, width=len(header), columns=", ".join(header), split=_label_and_values, ruler_ends=True
    )
    for ln, labels, vals in rows:
        q = {f: c for f, c in zip(fields, cells(vals)) if f}
        b.add_fixed(ln, " ".join(labels), q)
