"""nlme printouts: ``summary(lme)``, ``VarCorr(lme)``, ``anova(lme)``.

Reads
  * ``Linear mixed-effects model fit by REML`` (or ``maximum likelihood``),
    `` Data:``, ``Subset:`` and the ``AIC BIC logLik`` table;
  * ``Random effects:`` with one ``Formula: ~1 | school`` block per level,
    either as a row of names over a ``StdDev:`` row or, for a general
    covariance matrix, as a ``StdDev Corr`` table (correlations under the
    abbreviated names); the ``Residual`` column or row;
  * ``Fixed effects: y ~ x`` with ``Value Std.Error DF t-value p-value``;
  * ``Number of Observations: N`` and ``Number of Groups: N`` (or a row of
    group names over a row of counts, names such as ``classid %in% schoolid``);
  * ``VarCorr(fit)`` (``school = pdLogChol(1)`` then ``Variance StdDev``);
  * ``anova(fit)`` (``numDF denDF F-value p-value``) and ``anova(m1, m2)``
    (``Model df AIC BIC logLik Test L.Ratio p-value``) into ``tables``.

Group names are kept as printed (``classid %in% schoolid``); see
:func:`replicate.references.names.nlme_group_to_lme4`.
"""

from __future__ import annotations

import re

from ..errors import ReferenceError_
from ..printed import Printed
from .nlme_gls import correlation_block, general_block, residual_info, variance_block
from .numbers import (
    Line,
    Section,
    cells,
    check_one_summary,
    collapse,
    find_sections,
    has_number,
    is_cell,
    is_ruler,
    merge_runs,
    parse_number,
    prepare,
    repeat_starts,
    split_label,
    tokens,
)
from .printout import Builder, ParsedPrintout
from .r_tables import coefficient_rows, find_header

EXPECTED = "'Linear mixed-effects model fit by', 'Random effects:', 'Fixed effects: y ~ x', 'Number of Observations:'"

PATTERNS = [
    ("title", re.compile(r"^(?:Linear|Nonlinear) mixed-effects model fit by\b")),
    ("random", re.compile(r"^Random effects:\s*$")),
    ("fixed", re.compile(r"^Fixed effects:\s*(?P<f>.*)$")),
    ("corr", re.compile(r"^Correlation Structure:\s*(?P<name>.*?)\s*$")),
    ("varfunc", re.compile(r"^Variance function:\s*$")),
    ("matrix", re.compile(r"^Correlation:\s*$")),
    ("ignore", re.compile(r"^Standardized Within-Group Residuals:")),
    ("nobs", re.compile(r"^Number of Observations:\s*(?P<n>\S+)")),
    ("ngroups", re.compile(r"^Number of Groups:\s*(?P<n>.*)$")),
    ("anova", re.compile(r"^numDF\s+denDF\s+F-value\b")),
    ("anova_models", re.compile(r"^Model\s+df\s+AIC\s+BIC\s+logLik\b")),
    ("lme4", re.compile(r"^(?:REML criterion at convergence:|Number of obs:|Linear mixed model fit by\b)")),
]
HEADERS = [
    ("varcorr", re.compile(r"^Variance\s+StdDev\b|^\S.*=\s*pd[A-Za-z]+\("), re.compile(r"^Variance\s+StdDev\b")),
]
_COUNTED = {"title", "random", "fixed", "nobs", "ngroups", "anova", "anova_models", "varcorr"}


def parse(text: str, software: str = "nlme", *, first_line: int = 1) -> ParsedPrintout:
    """Parse an nlme printout (see the module docstring)."""
    lines = prepare(text, knitr=True, first_line=first_line)
    b = Builder(software)
    seen: dict[str, int] = {}
    groups: list[str] = []
    for sec in merge_runs(find_sections(lines, PATTERNS, HEADERS), "varcorr"):
        if sec.kind == "corr":  # the residual structure beside the random effects (lme's correlation =)
            correlation_block(sec, b)
        elif sec.kind == "varfunc":  # lme's weights = (varIdent)
            variance_block(sec, b)
        if sec.kind in _ONCE:
            check_one_summary(sec, seen)
        if sec.kind in _COUNTED:
            b.sections += 1
        if sec.kind == "title":
            _title(sec, b)
        elif sec.kind == "random":
            groups.extend(_random(sec, b))
        elif sec.kind == "fixed":
            _fixed(sec, b)
        elif sec.kind == "nobs":
            n = parse_number(sec.match.group("n"))
            if n is None:
                b.skip(sec.title, "the number of observations is not a number")
            else:
                b.add_fit("nobs", n)
        elif sec.kind == "ngroups":
            _ngroups(sec, b, groups)
        elif sec.kind == "anova":
            _table(sec.lines, b, b.table_name("anova"))
        elif sec.kind == "anova_models":
            _anova_models(sec, b)
        elif sec.kind == "varcorr":
            _varcorr(sec, b)
        elif sec.kind == "matrix" and _after_structure(b):
            general_block(sec, b)
        elif sec.kind == "lme4":
            raise ReferenceError_(
                "this looks like lme4 output",
                line=sec.title.no,
                field="software",
                hint="parse it with software 'lme4' or 'lmerTest'",
            )
    residual_info(b)
    return b.build("nlme", EXPECTED)


def _after_structure(b: Builder) -> bool:
    """A `` Correlation:`` matrix is corSymm's when a General structure was just read and its matrix is not yet."""
    corr = b.info.get("nlme_correlation") or {}
    return str(corr.get("structure", "")).lower() == "general" and "Correlation Structure" not in b.tables


_ONCE = ("title", "random", "fixed", "nobs", "ngroups")


def part_starts(lines: list[Line]) -> list[int]:
    """Indices of the lines where a new model's printout begins (a once-printed section repeats)."""
    return repeat_starts(lines, find_sections(lines, PATTERNS, HEADERS), _ONCE)


def _title(sec: Section, b: Builder) -> None:
    t = sec.title.stripped
    b.set_info("title", t)
    if re.search(r"fit by REML", t):
        b.set_info("method", "REML")
    elif re.search(r"fit by maximum likelihood", t):
        b.set_info("method", "ML")
    header: list[str] | None = None
    for ln in sec.body:
        s = ln.stripped
        m = re.match(r"^(Data|Subset|Weights):\s*(.*)$", s)
        if m:
            b.set_info(m.group(1).lower(), m.group(2).strip())
            continue
        if not s:
            continue
        toks = s.split()
        if "AIC" in toks and "logLik" in toks:
            header = toks
            continue
        if header is not None:
            vals = tokens(s)
            if len(vals) != len(header) or not all(is_cell(v) for v in vals):
                b.skip(ln, f"expected {len(header)} numbers under {' '.join(header)}")
            else:
                for name, cell in zip(header, cells(vals)):
                    key = {"AIC": "aic", "BIC": "bic", "logLik": "loglik"}.get(name)
                    if key:
                        b.add_fit(key, cell)
                    b.add_cell("Fit Statistics", name, "value", cell)
            header = None


def _merge_in(toks: list[str]) -> list[str]:
    """Join ``a %in% b`` into one name."""
    out: list[str] = []
    i = 0
    while i < len(toks):
        if toks[i] == "%in%" and out and i + 1 < len(toks):
            out[-1] = f"{out[-1]} %in% {toks[i + 1]}"
            i += 2
            continue
        out.append(toks[i])
        i += 1
    return out


def _random(sec: Section, b: Builder) -> list[str]:
    """Read the 'Random effects:' blocks; returns the groups in order."""
    groups: list[str] = []
    group: str | None = None
    names: list[str] | None = None  # names over a StdDev: row
    table_cols: list[str] | None = None  # a StdDev/Corr table's rows so far
    for ln in sec.body:
        s = ln.stripped
        if not s or is_ruler(s):
            continue
        m = re.match(r"^Formula:\s*(?P<f>.*?)\|\s*(?P<g>.+?)\s*$", s)
        if m:
            group = collapse(m.group("g"))
            groups.append(group)
            b.info.setdefault("random_formulas", {})[group] = collapse(m.group("f")) + " | " + group
            names, table_cols = None, None
            continue
        if s.startswith("Structure:"):
            b.info.setdefault("structures", {})[group or ""] = s[len("Structure:") :].strip()
            continue
        if s.startswith("StdDev:"):
            vals = tokens(s[len("StdDev:") :])
            if names is None or len(names) != len(vals) or not all(is_cell(v) for v in vals):
                b.skip(ln, "a StdDev: row that does not match the names above it")
                names = None
                continue
            for nm, cell in zip(names, cells(vals)):
                if nm == "Residual":
                    b.add_residual(ln, {"sd": cell})
                elif group is None:
                    b.skip(ln, f"StdDev of {nm} before any 'Formula: ~ ... | group' line")
                else:
                    b.add_random(ln, group, nm, {"sd": cell})
            names = None
            continue
        if re.match(r"^StdDev\b", s):
            table_cols = []
            continue
        if table_cols is not None:
            toks = tokens(s)
            if len(toks) < 2 or not is_cell(toks[1]):
                b.skip(ln, "not a row of the StdDev/Corr table")
                continue
            name, sd = toks[0], parse_number(toks[1])
            if name == "Residual":
                b.add_residual(ln, {"sd": sd})
                continue
            if group is None:
                b.skip(ln, "a random-effects row before any 'Formula:' line")
                continue
            corr = [t for t in toks[2:] if is_cell(t)]
            if len(corr) > len(table_cols):
                b.skip(ln, f"{len(corr)} correlations but only {len(table_cols)} earlier terms")
                continue
            b.add_random_row(ln, group, name, {"sd": sd}, table_cols, cells(corr))
            table_cols.append(name)
            continue
        if not has_number(s):
            names = _merge_in(s.split())
            continue
        b.skip(ln, "not part of a random-effects block")
    return groups


def _fixed(sec: Section, b: Builder) -> None:
    f = sec.match.group("f").strip()
    if f:
        b.set_info("formula", f)
    fields = {"Value": "estimate", "Std.Error": "se", "DF": "df", "t-value": "t", "p-value": "p", "z-value": "t"}
    rest = iter(sec.body)
    header = find_header(rest, b, _fixed_header, "Value Std.Error DF t-value p-value")
    if header is None:
        return
    rows = coefficient_rows(rest, b, width=len(header), columns=" ".join(header), split=_label_and_values)
    for ln, labels, vals in rows:
        q = {fields[h]: c for h, c in zip(header, cells(vals)) if h in fields}
        b.add_fixed(ln, " ".join(labels), q)


def _fixed_header(text: str) -> list[str] | None:
    return text.split() if "Value" in text.split() else None


def _label_and_values(text: str) -> tuple[list[str], list[str]]:
    return split_label(tokens(text))


def _ngroups(sec: Section, b: Builder, groups: list[str]) -> None:
    inline = sec.match.group("n").strip()
    if inline:
        n = parse_number(inline)
        if n is None:
            b.skip(sec.title, "the number of groups is not a number")
        elif len(groups) == 1:
            b.add_ngroups(groups[0], n)
        else:
            b.skip(sec.title, "a single number of groups but the random-effects groups are not known")
        return
    rest = [ln for ln in sec.body if ln.stripped]
    if len(rest) < 2:
        b.skip(sec.title, "expected a row of group names over a row of counts")
        return
    names_ln, vals_ln = rest[0], rest[1]
    names = _merge_in(names_ln.stripped.split())
    vals = tokens(vals_ln.stripped)
    if len(names) != len(vals) or not all(parse_number(v) for v in vals):
        b.skip(vals_ln, "group names and counts do not line up")
        return
    for nm, v in zip(names, vals):
        b.add_ngroups(nm, parse_number(v))


def _varcorr(sec: Section, b: Builder) -> None:
    group: str | None = None
    header: list[str] | None = None
    cols: list[str] = []
    for ln in sec.lines:
        s = ln.stripped
        if not s:
            continue
        m = re.match(r"^(?P<g>\S.*?)\s*=\s*pd[A-Za-z]+\(.*\)\s*(?P<h>.*)$", s)
        if m:
            group, cols = collapse(m.group("g")), []
            if m.group("h"):
                header = m.group("h").split()
            continue
        if re.match(r"^Variance\s+StdDev\b", s):
            header = s.split()
            continue
        if header is None:
            b.skip(ln, "expected the 'Variance StdDev' header")
            continue
        toks = tokens(s)
        if len(toks) < 3 or not is_cell(toks[1]) or not is_cell(toks[2]):
            break  # not 'name variance sd ...': past the table
        name = toks[0]
        nums = cells(toks[1:3])
        q: dict[str, Printed | None] = {"variance": nums[0], "sd": nums[1]}
        if name == "Residual":
            b.add_residual(ln, q)
            continue
        if group is None:
            b.skip(ln, "a VarCorr row before its 'group = pdClass(...)' line")
            continue
        corr = [t for t in toks[3:] if is_cell(t)]
        if len(corr) > len(cols):
            b.skip(ln, f"{len(corr)} correlations but only {len(cols)} earlier terms")
            continue
        b.add_random_row(ln, group, name, q, cols, cells(corr))
        cols.append(name)


def _table(lines: list[Line], b: Builder, table: str) -> None:
    header = lines[0].stripped.split()
    for ln in lines[1:]:
        s = ln.stripped
        if not s:
            continue
        labels, vals = split_label(tokens(s))
        if not vals:
            break  # a row ends with numbers: this line is past the table
        if not labels:
            b.skip(ln, f"not a row of the {table} table")
            continue
        if len(vals) != len(header):
            b.skip(ln, f"expected {len(header)} numbers ({' '.join(header)}), found {len(vals)}")
            continue
        row = " ".join(labels)
        for col, cell in zip(header, cells(vals)):
            b.add_cell(table, row, col, cell)


def _anova_models(sec: Section, b: Builder) -> None:
    table = b.table_name("anova")
    header = [h for h in sec.title.stripped.split() if h != "Test"]
    for ln in sec.body:
        s = ln.stripped
        if not s:
            continue
        s2 = re.sub(r"\b([0-9]+)\s+vs\s+([0-9]+)\b", " ", s)
        toks = tokens(s2)
        if not is_cell(toks[-1]):
            break  # a row ends with numbers: this line is past the table
        if len(toks) < 2 or is_cell(toks[0]) or not all(is_cell(t) for t in toks[1:]):
            b.skip(ln, "not a row of the model comparison table")
            continue
        vals = toks[1:]
        if len(vals) > len(header):
            b.skip(ln, f"{len(vals)} numbers under {len(header)} columns")
            continue
        for col, cell in zip(header, cells(vals)):
            b.add_cell(table, toks[0], col, cell)
