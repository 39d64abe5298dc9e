"""The numbers of a SAS PROC MIXED listing of a REPEATED model, in a case block's repeated-measures sections.

When Model Information names the R-side structure (``model_info["residual"]``,
:mod:`replicate.references.sas_repeated`) and Dimensions shows no random effects
(``Columns in Z  0``; a RANDOM statement's TYPE= is named in Model Information
too), the listing's tables go to the
sections a block of a model with ``model.residual`` prints (README,
"Repeated measures", "In case files"):

  * ``covparms``: Covariance Parameter Estimates by SAS's label (``UN(2,1)``,
    ``AR(1)``, ``Residual``) -> estimate, se, z, p, lower, upper; under GROUP=
    the row ``UN(1,1)  USUBJID  Sex F`` is ``"UN(1,1) / F"``, the label the
    engine gives a GROUP= level's parameter;
  * ``type3``: Type 3 Tests of Fixed Effects -> num_df, den_df, F, p, and with
    CHISQ chisq, p_chisq;
  * ``fit``: the Fit Statistics as the G-side reader reads them, and the Null
    Model Likelihood Ratio Test as ``null_lrt_chisq``, ``null_lrt_df``, ``null_lrt_p``;
  * ``lsmeans``, ``diffs``, ``slices``, ``estimates``, ``contrasts``, ``rmatrix``
    and ``rcorr``: :mod:`replicate.references.sas_repeated_tables`.

``fixed`` is read by the G-side reader (Solution for Fixed Effects). Nothing
goes to ``random``: a REPEATED model's covariance parameters are no G-side
variances. A row that cannot be read (a Group column without GROUP= in Model
Information, a label with more words than Cov Parm, Subject and Group) is an
unparsed line with the reason, never a guess. In a listing without a REPEATED
structure these tables are read as before (the G-side reader, or not at all).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .numbers import Line, Section, cells, is_cell, title_re
from .printout import Builder
from .sas_columns import header_columns, row_problem
from .sas_estimates import covparms as gside_covparms
from .sas_repeated_tables import contrasts, diffs, estimates, lsmeans, r_matrix, slices
from .sas_sections import SasState, joined, once, read_rows

_I = re.IGNORECASE

#: The titles of the tables only a REPEATED model's sections take (before sas_text's "ignore" pattern).
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("rcorr", re.compile(r"^Estimated\s+R\s+Correlation\b.*$", _I)),
    ("rmatrix", re.compile(r"^Estimated\s+R\s+Matrix\b.*$", _I)),
    ("rsplit", re.compile(r"^Estimated\s+R\s*$", _I)),
    ("lsmeans", title_re("Least Squares Means")),
    ("diffs", title_re("Differences of Least Squares Means")),
    ("slices", title_re("Tests of Effect Slices")),
    ("estimates", title_re("Estimates")),
    ("contrasts", title_re("Contrasts")),
]

_COV_SPECS = [
    ("estimate", r"\bEstimate\b"),
    ("se", r"\bStandard\b|\bStdErr\b|\bStd\s*Err"),
    ("z", r"\bValue\b|\bZValue\b"),
    ("p", r"Pr\s*>?\s*Z\b|\bProbZ\b"),
    ("Alpha", r"\bAlpha\b"),
    ("lower", r"\bLower\b"),
    ("upper", r"\bUpper\b"),
]
_SAS_COLUMN = {"estimate": "Estimate", "se": "Standard Error", "z": "Z Value", "p": "Pr > Z", "Alpha": "Alpha"}
_SAS_COLUMN |= {"lower": "Lower", "upper": "Upper"}
_COVPARMS = "Covariance Parameter Estimates"


def repeated(b: Builder) -> dict[str, str] | None:
    """Model Information's REPEATED structure (``{type, subject, group, repeated}``) when Dimensions shows no
    random effects (``Columns in Z  0``), else None.

    Model Information names the structure of a RANDOM statement's TYPE= too; only Dimensions' ``Columns in
    Z`` tells a REPEATED-only model from one with random effects, so a listing without it is read as before.
    """
    found = b.info.get("residual")
    dims = b.tables.get("Dimensions", {})
    z = [row["value"] for label, row in dims.items() if re.match(r"^Columns in Z\b", label, _I) and "value" in row]
    if not isinstance(found, dict) or len(z) != 1 or z[0].value != 0:
        return None
    return found


def covparms(sec: Section, b: Builder, state: SasState) -> None:
    """Covariance Parameter Estimates: a REPEATED model's into ``covparms``, any other's as the G-side reads them."""
    res = repeated(b)
    if res is None:
        gside_covparms(sec, b, state)
        return
    once(sec, state)
    header, rows = read_rows(sec, b)
    cols = header_columns(header, _COV_SPECS)
    if "estimate" not in cols:
        for ln, _t in rows:
            b.skip(ln, "no 'Estimate' column in the covariance parameter header")
        return
    has_subject = bool(re.search(r"\bSubject\b", joined(header)))
    has_group = bool(re.search(r"\bGroup\b", joined(header)))
    section = b.extra.setdefault("covparms", {})
    n = len(cols)
    for ln, toks in rows:
        if len(toks) <= n or not all(is_cell(t) for t in toks[-n:]) or any(is_cell(t) for t in toks[:-n]):
            b.skip(ln, f"expected a covariance parameter and {n} numbers ({', '.join(_SAS_COLUMN[c] for c in cols)})")
            continue
        vals = cells(toks[-n:])
        problem = row_problem([_SAS_COLUMN[c] for c in cols], vals)
        if problem:
            b.skip(ln, problem)
            continue
        key = _label(ln, toks[:-n], res, has_subject, has_group, b, state)
        if key is None:
            continue
        if key in section:
            b.skip(ln, f"covariance parameter {key!r} was already read; a second row is not merged")
            continue
        q = dict(zip(cols, vals))
        section[key] = {k: v for k, v in q.items() if v is not None and k != "Alpha"}
        for c, v in q.items():
            b.add_cell(_COVPARMS, " ".join(toks[:-n]), _SAS_COLUMN[c], v)


def _label(
    ln: Line, label: list[str], res: dict[str, str], has_subject: bool, has_group: bool, b: Builder, state: SasState
) -> str | None:
    """The section's key of a row's label (Cov Parm, then Subject and Group when printed); None when unread."""
    cp, rest = label[0], label[1:]
    subject, group = res.get("subject"), res.get("group")
    if has_subject and rest and subject and rest[0] == subject:
        if subject not in state.subjects:
            state.subjects.append(subject)
        rest = rest[1:]
    if not rest:
        return cp
    if not has_group:
        b.skip(ln, f"cannot tell the covariance parameter {cp!r} from {' '.join(rest)!r} (no Group column)")
        return None
    if group is None:
        b.skip(ln, "a Group column, but Model Information names no Group Effect: cannot tell the group's level")
        return None
    if rest[0] != group or len(rest) < 2:
        b.skip(ln, f"expected the group as '{group} <level>' after {cp!r}, found {' '.join(rest)!r}")
        return None
    return f"{cp} / {' '.join(rest[1:])}"


_TYPE3 = {
    "Num DF": "num_df",
    "Den DF": "den_df",
    "F Value": "F",
    "Pr > F": "p",
    "Chi-Square": "chisq",
    "Pr > ChiSq": "p_chisq",
}
_ORDER = ["covparms", "type3", "lsmeans", "diffs", "slices", "estimates", "contrasts", "rmatrix", "rcorr"]
_NULL_LRT = {"Chi-Square": "null_lrt_chisq", "DF": "null_lrt_df", "Pr > ChiSq": "null_lrt_p"}


_REPEATED_STATEMENT = re.compile(r"(?:^|;|\n)[ \t#]*repeated\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:/|;)", _I)


def finish(b: Builder, text: str) -> None:
    """Put a REPEATED model's Type 3 tests and Null Model LRT (read into ``tables``) in its sections, and take
    the repeated effect, which Model Information does not print, from SAS code pasted with the listing
    (``REPEATED AVISIT / ...``; one effect named by every REPEATED statement, else nothing)."""
    res = repeated(b)
    if res is None:
        return
    effects = {m.group(1) for m in _REPEATED_STATEMENT.finditer(text)}
    if "repeated" not in res and len(effects) == 1:
        res["repeated"] = effects.pop()
    elif "repeated" not in res and effects:
        b.note(f"the pasted SAS code names several repeated effects ({', '.join(sorted(effects))}): none is taken")
    type3 = b.tables.get("Type III Tests of Fixed Effects", {})
    for effect, row in type3.items():
        b.extra.setdefault("type3", {})[effect] = {_TYPE3[c]: v for c, v in row.items() if c in _TYPE3}
    for col, v in b.tables.get("Null Model Likelihood Ratio Test", {}).get("test", {}).items():
        if col in _NULL_LRT:
            b.add_fit(_NULL_LRT[col], v)
    b.extra = {k: b.extra[k] for k in sorted(b.extra, key=_ORDER.index)}


def _only_repeated(read: Callable[[Section, Builder, SasState], None]) -> Callable[[Section, Builder, SasState], None]:
    """A table read into a REPEATED model's sections, and passed over (as before) in any other listing."""

    def handler(sec: Section, b: Builder, state: SasState) -> None:
        if repeated(b) is not None:
            read(sec, b, state)

    return handler


HANDLERS: dict[str, Callable[[Section, Builder, SasState], None]] = {
    "covparms": covparms,
    "lsmeans": _only_repeated(lsmeans),
    "diffs": _only_repeated(diffs),
    "slices": _only_repeated(slices),
    "estimates": _only_repeated(estimates),
    "contrasts": _only_repeated(contrasts),
    "rmatrix": _only_repeated(r_matrix("rmatrix")),
    "rcorr": _only_repeated(r_matrix("rcorr")),
    "rsplit": _only_repeated(r_matrix("split")),
}
