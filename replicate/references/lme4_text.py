"""lme4 and lmerTest printouts: ``summary(lmer)``, ``anova()``, ``ranova()``.

Reads
  * the title (``Linear mixed model fit by REML. t-tests use Satterthwaite's
    method [...]``, also the older wording split over lines), ``Formula:``,
    ``Data:``, ``Subset:``, ``Weights:``;
  * ``REML criterion at convergence:`` or the ML table
    ``AIC BIC logLik deviance df.resid`` (``-2*log(L)`` in newer lme4);
  * ``Random effects:`` (Groups / Name / Variance / Std.Dev. / Corr, a group
    name printed once for its rows, correlations on the following rows), also
    a ``print(VarCorr(fit))`` table on its own;
  * ``Number of obs: 1190, groups:  schoolid, 107`` (several groups with ``;``);
  * ``Fixed effects:`` with or without lmerTest's ``df`` column, ``Pr(>|t|)``
    and significance stars, also a ``coef(summary(fit))`` table on its own;
  * ``anova(m1, m2)`` model comparisons (old and new layouts), lmerTest's
    ``anova(m)`` (Type III with Satterthwaite's method) and ``ranova(m)``
    into ``tables``;
  * optimizer and convergence messages into ``model_info["messages"]``.

Lines may carry knitr's ``## `` or reprex's ``#> `` prefix; columns may be
separated by tabs; a value or header that a narrow page wrapped onto the
next line (``<2e-1`` / ``6 ***``) is joined back.
"""

from __future__ import annotations

import re

from ..errors import ReferenceError_
from ..printed import Printed
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
    parse_number,
    prepare,
    repeat_starts,
    split_label,
    squash,
    strip_stars,
    tokens,
)
from .printout import Builder, ParsedPrintout

EXPECTED = "'Random effects:', 'Fixed effects:', 'REML criterion at convergence:', 'Number of obs:'"

_I = re.IGNORECASE
PATTERNS = [
    ("title", re.compile(r"^(?:Linear|Generalized linear|Nonlinear) mixed model fit by\b", _I)),
    ("reml", re.compile(r"^REML criterion at convergence:\s*(?P<v>\S+)")),
    ("scaled", re.compile(r"^Scaled residuals:")),
    ("random", re.compile(r"^Random effects:\s*$")),
    ("nobs", re.compile(r"^Number of obs:")),
    ("fixed", re.compile(r"^Fixed effects:\s*$")),
    ("nlme_fixed", re.compile(r"^Fixed effects:\s*\S")),
    ("ignore", re.compile(r"^Correlation of Fixed Effects:|^Signif\. codes:|^Residuals?:|^Call:|^Coefficients:")),
    ("ranova", re.compile(r"^ANOVA-like table for random-effects")),
    ("models", re.compile(r"^Models:\s*$")),
    ("anova_f", re.compile(r"^(?:Type (?:III|II|I) )?Analysis of Variance Table")),
    (
        "message",
        re.compile(
            r"^(?:optimizer \(|boundary \(singular\) fit|Model failed to converge|"
            r"convergence code|fixed-effect model matrix is rank deficient|"
            r"Model is nearly unidentifiable|unable to evaluate scaled gradient|"
            r"Some predictor variables are on very different scales|"
            r"refitting model\(s\) with ML|summary from lme4 is returned|"
            r"some computational error has occurred in lmerTest)",
            _I,
        ),
    ),
    ("anova_table", re.compile(r"^(?:npar|Df)\b.*\bAIC\b.*\bBIC\b.*\blogLik\b")),
]
HEADERS = [
    ("random", re.compile(r"^Groups\s+Name\s+(?:Variance|Std\.\s*Dev\.)"), re.compile(r"^Random effects:")),
    ("fixed", re.compile(r"^Estimate\s+Std\.\s*Error\b"), re.compile(r"^Fixed effects:")),
]

# Column headers made of several words, and R's p-value headers.
_MULTI = re.compile(
    r"Std\.\s*Error|Std\.\s*Dev\.|\b[tzF]\s+value\b|\bSum\s+Sq\b|\bMean\s+Sq\b|\bChi\s+Df\b|"
    r"Pr\s*\(\s*>\s*\|?\s*[A-Za-z]+\s*\|?\s*\)|-2\s*\*\s*log\s*\(\s*L\s*\)"
)
# A piece of a row or header that a narrow page wrapped onto the next line.
_FRAGMENT = re.compile(r"^\s*(?P<frag>[0-9)][0-9.eE+)\-]*)\s*(?P<stars>\*{1,3}|\.)?\s*$")


def header_tokens(text: str) -> list[str]:
    """Split an R table header into column names (``Std. Error`` stays one name)."""
    out: list[str] = []
    pos = 0
    for m in _MULTI.finditer(text):
        out.extend(text[pos : m.start()].split())
        out.append(collapse(m.group()))
        pos = m.end()
    out.extend(text[pos:].split())
    return out


def unwrap(lines: list[Line]) -> list[Line]:
    """Join fragments that a wrap moved to their own line back to the line above.

    ``(Intercept) 41.1 0.47 4165 87.5 <2e-1`` + ``6 ***`` ->
    ``... <2e-16 ***``; ``... t value Pr(> t`` + ``)`` -> ``... Pr(> t)``.
    """
    out: list[Line] = []
    for ln in lines:
        m = _FRAGMENT.match(ln.text)
        if m and out and out[-1].stripped and not _FRAGMENT.match(out[-1].text):
            prev = out[-1]
            text = prev.text.rstrip() + m.group("frag") + (" " + m.group("stars") if m.group("stars") else "")
            out[-1] = prev.with_text(text)
            continue
        if m and out and not out[-1].stripped:
            # a fragment after blank lines: attach to the last non-blank line
            k = len(out) - 1
            while k >= 0 and not out[k].stripped:
                k -= 1
            if k >= 0 and not _FRAGMENT.match(out[k].text):
                prev = out[k]
                out[k] = prev.with_text(
                    prev.text.rstrip() + m.group("frag") + (" " + m.group("stars") if m.group("stars") else "")
                )
                continue
        out.append(ln)
    return out


def parse(text: str, software: str = "lme4", *, first_line: int = 1) -> ParsedPrintout:
    """Parse an lme4 / lmerTest printout (see the module docstring)."""
    lines = prepare(text, knitr=True, first_line=first_line)
    b = Builder(software)
    sections = find_sections(lines, PATTERNS, HEADERS)
    seen: dict[str, int] = {}
    for sec in sections:
        if sec.kind in _ONCE:
            check_one_summary(sec, seen)
        if sec.kind in _COUNTED:
            b.sections += 1
        _HANDLERS[sec.kind](sec, b)
    return b.build("lme4/lmerTest", EXPECTED)


def part_starts(lines: list[Line]) -> list[int]:
    """Indices of the lines where a new model's printout begins (for splitting a paste).

    A part begins where a section that a summary prints once (title, random
    effects, fixed effects, REML criterion, number of obs) appears again,
    together with the messages printed just before it.
    """
    return repeat_starts(lines, find_sections(lines, PATTERNS, HEADERS), _ONCE, lead=("message",))


_ONCE = ("title", "random", "fixed", "reml", "nobs")


# ------------------------------------------------------------------ handlers

_INFO_KEY = re.compile(r"^(Formula|Data|Subset|Weights|Control|Offset):\s*(.*)$")


def _title(sec: Section, b: Builder) -> None:
    title_lines = [sec.title.stripped]
    rest = sec.body
    i = 0
    while i < len(rest):
        s = rest[i].stripped
        if _INFO_KEY.match(s) or "AIC" in s or has_number(s):
            break
        if s:
            title_lines.append(s)
        i += 1
    title = " ".join(title_lines)
    b.set_info("title", title)
    low = squash(title)
    if "fitbyreml" in low:
        b.set_info("method", "REML")
    elif "fitbymaximumlikelihood" in low:
        b.set_info("method", "ML")
    m = re.search(r"t-tests use (.*?)(?:\s*\[|$)", title)
    if m:
        b.set_info("df_method", m.group(1).strip())
    if "satterthwaite" in low:
        b.set_info("df", "satterthwaite")
    elif "kenward" in low:
        b.set_info("df", "kenward-roger")
    m = re.search(r"\[\s*'?(\w+)'?\s*\]", title)
    if m:
        b.set_info("class", m.group(1))
    header: list[str] | None = None
    for ln in rest[i:]:
        s = ln.stripped
        m = _INFO_KEY.match(s)
        if m:
            b.set_info(m.group(1).lower(), m.group(2).strip())
            continue
        if not s:
            continue
        toks = header_tokens(s)
        if "AIC" in toks and "BIC" in toks:
            header = toks
            continue
        if header is not None:
            vals = tokens(s)
            if not all(is_cell(v) for v in vals):
                continue
            if len(vals) != len(header):
                b.skip(ln, f"expected {len(header)} numbers under {' '.join(header)}, found {len(vals)}")
                header = None
                continue
            for name, cell in zip(header, cells(vals)):
                key = {
                    "AIC": "aic",
                    "BIC": "bic",
                    "logLik": "loglik",
                    "deviance": "deviance",
                    "-2*log(L)": "deviance",
                }.get(name)
                if key:
                    b.add_fit(key, cell)
                b.add_cell("Fit Statistics", name, "value", cell)
            header = None
            continue


def _reml(sec: Section, b: Builder) -> None:
    v = parse_number(sec.match.group("v"))
    if v is None:
        b.skip(sec.title, "the REML criterion is not a number")
        return
    b.add_fit("reml_criterion", v)
    b.set_info("method", "REML")


def _nobs(sec: Section, b: Builder) -> None:
    s = collapse(sec.title.stripped)
    m = re.match(r"^Number of obs:\s*(?P<n>[^,\s]+)\s*(?:,\s*groups:\s*(?P<g>.*))?$", s)
    if not m:
        b.skip(sec.title, "cannot read 'Number of obs: N, groups: g, n'")
        return
    n = parse_number(m.group("n"))
    if n is None:
        b.skip(sec.title, "the number of observations is not a number")
    else:
        b.add_fit("nobs", n)
    if m.group("g"):
        for part in m.group("g").split(";"):
            part = part.strip()
            if not part:
                continue
            name, sep, count = part.rpartition(",")
            cnt = parse_number(count)
            if not sep or not name.strip() or cnt is None:
                b.skip(sec.title, f"cannot read the group count {part!r}")
                continue
            b.add_ngroups(name.strip(), cnt)


def _random(sec: Section, b: Builder) -> None:
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
    ("t", re.compile(r"^[tz] value$")),
    ("p", re.compile(r"^Pr\(")),
]


def _fixed(sec: Section, b: Builder) -> None:
    lines = sec.lines if sec.match.re.pattern.startswith("^Estimate") else sec.body
    lines = unwrap(lines)
    header: list[str] | None = None
    fields: list[str | None] = []
    started = False
    held: list[Line] = []
    for ln in lines:
        s = ln.stripped
        if not s:
            continue
        if header is None:
            if "Estimate" in s:
                header = header_tokens(s)
                fields = []
                for h in header:
                    f = next((name for name, rx in _FIXED_FIELDS if rx.match(h)), None)
                    fields.append(f)
                if "z value" in header:
                    b.set_info("test", "z")
            else:
                b.skip(ln, "expected the 'Estimate Std. Error ...' header")
            continue
        if started and is_ruler(s):
            break  # '---' before the significance codes ends the table
        toks, _stars = strip_stars(tokens(s))
        labels, vals = split_label(toks)
        if not vals and started:
            held.append(ln)  # past the table, or a line of text inside it: the next row tells
            continue
        if held and (len(vals) != len(header) or not labels):
            break  # a row ends with numbers: the text was past the table
        for h in held:
            b.skip(h, "a line of text inside the fixed-effects table (the rows after it are read)")
        held = []
        if not vals or not labels:
            b.skip(ln, "not a row of the fixed-effects table")
            continue
        started = True
        if len(vals) != len(header):
            b.skip(ln, f"expected {len(header)} numbers ({', '.join(header)}), found {len(vals)}")
            continue
        q = {f: c for f, c in zip(fields, cells(vals)) if f}
        b.add_fixed(ln, " ".join(labels), q)


def _nlme_fixed(sec: Section, b: Builder) -> None:
    raise ReferenceError_(
        "this looks like nlme output ('Fixed effects:' followed by a formula)",
        line=sec.title.no,
        field="software",
        hint="parse it with software 'nlme'",
    )


def _models(sec: Section, b: Builder) -> None:
    models = {}
    for ln in sec.body:
        m = re.match(r"^(\S+):\s*(.+)$", ln.stripped)
        if m:
            models[m.group(1)] = m.group(2).strip()
        elif ln.stripped:
            break
    b.set_info("anova_models", models)


def _r_table(lines: list[Line], b: Builder, table: str) -> None:
    """A table of rows 'name  n n n ...' under a header of column names.

    Empty cells come last (R leaves the test columns of the first model empty),
    so numbers are given to the columns from the left.
    """
    header: list[str] | None = None
    started = False
    for ln in unwrap(lines):
        s = ln.stripped
        if not s or is_ruler(s):
            continue
        if header is None:
            if not has_number(s):
                header = header_tokens(s)
            continue
        toks, _stars = strip_stars(tokens(s))
        labels, vals = split_label(toks)
        if not vals and started:
            break  # a row ends with numbers: this line is past the table
        if not labels or not vals:
            b.skip(ln, f"not a row of the {table} table")
            continue
        started = True
        if len(vals) > len(header):
            b.skip(ln, f"{len(vals)} numbers under {len(header)} columns ({' '.join(header)})")
            continue
        row = " ".join(labels)
        if row in b.tables.get(table, {}):
            b.skip(ln, f"row {row!r} appears twice")
            continue
        b.tables.setdefault(table, {}).setdefault(row, {})
        for col, cell in zip(header, cells(vals)):
            b.add_cell(table, row, col, cell)


def _ranova(sec: Section, b: Builder) -> None:
    body = sec.body
    i = 0
    while i < len(body):
        s = body[i].stripped
        if s.startswith("Model:"):
            formula = s[len("Model:") :].strip()
            j = i + 1
            while not formula and j < len(body):
                formula = body[j].stripped
                j += 1
            b.set_info("ranova_model", formula)
            i = j
            continue
        if re.match(r"^npar\b|^Df\b", s) or ("logLik" in s and "LRT" in s):
            break
        i += 1
    _r_table(body[i:], b, b.table_name("ranova"))


def _anova_table(sec: Section, b: Builder) -> None:
    _r_table(sec.lines, b, b.table_name("anova"))


def _anova_f(sec: Section, b: Builder) -> None:
    title = sec.title.stripped
    m = re.search(r"with (.*)$", title)
    if m:
        b.set_info("anova_df_method", m.group(1).strip())
    body = sec.body
    i = 0
    while i < len(body) and not re.search(r"\bF value\b|\bSum Sq\b|\bnpar\b", body[i].text):
        i += 1
    _r_table(body[i:], b, b.table_name("anova"))


def _message(sec: Section, b: Builder) -> None:
    msgs = b.info.setdefault("messages", [])
    msgs.append(sec.title.stripped)


_QUANTILE_KEYS = {"Min": "min", "1Q": "q1", "Median": "median", "3Q": "q3", "Max": "max"}


def _scaled(sec: Section, b: Builder) -> None:
    """``Scaled residuals:`` then ``Min 1Q Median 3Q Max`` and one row of numbers -> fit.scaled_residuals."""
    body = [ln for ln in sec.lines[1:] if ln.stripped]
    if len(body) < 2 or [_QUANTILE_KEYS.get(t) for t in body[0].stripped.split()] != list(_QUANTILE_KEYS.values()):
        b.skip(sec.title, "cannot read the scaled residuals (expected 'Min 1Q Median 3Q Max' and a row)")
        return
    nums = [parse_number(t) for t in tokens(body[1].stripped)]
    if len(nums) != 5 or any(n is None for n in nums):
        b.skip(body[1], "the scaled residuals are not five numbers")
        return
    b.add_fit("scaled_residuals", dict(zip(_QUANTILE_KEYS.values(), nums)))


def _ignore(sec: Section, b: Builder) -> None:
    """Sections that are read past (scaled residuals, correlations, signif. codes)."""


# Sections that show the text is lme4 output (messages and ignored sections alone do not).
_COUNTED = {"title", "reml", "random", "nobs", "fixed", "ranova", "anova_table", "anova_f"}
_HANDLERS = {
    "title": _title,
    "reml": _reml,
    "random": _random,
    "nobs": _nobs,
    "fixed": _fixed,
    "nlme_fixed": _nlme_fixed,
    "ranova": _ranova,
    "models": _models,
    "anova_table": _anova_table,
    "anova_f": _anova_f,
    "message": _message,
    "ignore": _ignore,
    "scaled": _scaled,
}
