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

This module finds the sections and reads the short ones; the tables of
estimates are read in :mod:`~replicate.references.lme4_effects`, the tests in
:mod:`~replicate.references.lme4_anova`, with R's table conventions from
:mod:`~replicate.references.r_tables`.
"""

from __future__ import annotations

import re

from ..errors import ReferenceError_
from .lme4_anova import anova_f, anova_table, models, ranova
from .lme4_effects import fixed_effects, random_effects
from .lme4_glmm import glmm_family, glmm_title, is_glmm_title
from .numbers import (
    Line,
    Section,
    cells,
    check_one_summary,
    collapse,
    find_sections,
    has_number,
    is_cell,
    parse_number,
    prepare,
    repeat_starts,
    squash,
    tokens,
)
from .printout import Builder, ParsedPrintout
from .r_tables import header_tokens

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

_INFO_KEY = re.compile(r"^(Formula|Data|Subset|Weights|Control|Offset|Family):\s*(.*)$")


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
    if is_glmm_title(title):  # glmer: Laplace or adaptive quadrature (before "maximum likelihood" says ML)
        glmm_title(title, b)
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
        if m and m.group(1) == "Family":
            glmm_family(m.group(2), b)
            continue
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


def _nlme_fixed(sec: Section, b: Builder) -> None:
    raise ReferenceError_(
        "this looks like nlme output ('Fixed effects:' followed by a formula)",
        line=sec.title.no,
        field="software",
        hint="parse it with software 'nlme'",
    )


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
    toks = tokens(body[1].stripped)
    nums = [n for n in map(parse_number, toks) if n is not None]
    if len(toks) != 5 or len(nums) != 5:
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
    "random": random_effects,
    "nobs": _nobs,
    "fixed": fixed_effects,
    "nlme_fixed": _nlme_fixed,
    "ranova": ranova,
    "models": models,
    "anova_table": anova_table,
    "anova_f": anova_f,
    "message": _message,
    "ignore": _ignore,
    "scaled": _scaled,
}
