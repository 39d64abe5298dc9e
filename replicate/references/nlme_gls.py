"""nlme ``summary(gls)`` printouts: a model with a residual structure, in a case block's repeated-measures sections.

Reads
  * ``Generalized least squares fit by REML`` (or ``maximum likelihood``),
    ``Model:``, ``Data:`` and the ``AIC BIC logLik`` row -> ``fit.aic``,
    ``fit.bic``, ``fit.loglik`` (nlme's counts: the fixed effects among the
    parameters);
  * ``Correlation Structure: AR(1)`` (``Compound symmetry``, ``ARMA(p,q)``,
    ``Exponential spatial correlation``, ...) with its ``Formula:`` and its
    ``Parameter estimate(s):`` -> ``covparms`` under nlme's names (``Phi``,
    ``Rho``, ``Phi1``, ``range``): a block maps them to SAS's labels under
    ``names:`` (``Phi: AR(1)``; nlme's ``Rho`` is a correlation where SAS's
    ``CS`` is a covariance, so it has no SAS label); a ``General``
    structure's correlation matrix (corSymm) goes to ``tables`` (SAS's UN
    parameters are covariances, not nlme's correlations);
  * ``Variance function:`` (varIdent's ``Parameter estimates:``, the SD of
    each stratum relative to the first) -> ``tables["Variance function"]``;
  * ``Coefficients:`` (``Value Std.Error t-value p-value``) -> ``fixed``, each
    row with gls's residual df from ``Degrees of freedom: N total; n - p
    residual`` (nlme's t tests use them);
  * ``Residual standard error:`` -> ``fit.sigma`` when there is no variance
    function (with one it is the first stratum's SD: kept in tables), and
    ``Degrees of freedom: N total`` -> ``fit.nobs``.

The structure and the variance function are stated in ``model_info`` (``nlme_correlation``,
``nlme_variance``). Lines inside these blocks that cannot be read are unparsed lines with the reason.
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
    find_sections,
    is_cell,
    parse_number,
    prepare,
    repeat_starts,
    split_label,
    tokens,
)
from .printout import Builder, ParsedPrintout
from .r_tables import coefficient_rows, find_header

_LME = re.compile(r"^(?:Linear|Nonlinear) mixed-effects model fit by\b")
EXPECTED = "'Generalized least squares fit by', 'Coefficients:', 'Residual standard error:'"
TITLE = re.compile(r"^Generalized least squares fit by\b", re.MULTILINE)

PATTERNS = [
    ("title", TITLE),
    ("corr", re.compile(r"^Correlation Structure:\s*(?P<name>.*?)\s*$")),
    ("varfunc", re.compile(r"^Variance function:\s*$")),
    ("coef", re.compile(r"^Coefficients:\s*$")),
    ("matrix", re.compile(r"^Correlation:\s*$")),
    ("resid", re.compile(r"^Standardized residuals:\s*$")),
    ("sigma", re.compile(r"^Residual standard error:\s*(?P<v>\S+)\s*$")),
    ("dof", re.compile(r"^Degrees of freedom:\s*(?P<n>\S+)\s+total;\s*(?P<r>\S+)\s+residual\s*$")),
]
_COUNTED = {"title", "corr", "varfunc", "coef", "sigma", "dof"}
_ONCE = ("title", "corr", "varfunc", "coef", "sigma", "dof")


def part_starts(lines: list[Line]) -> list[int]:
    """Indices of the lines where a new ``summary(gls)`` begins (a once-printed section repeats)."""
    return repeat_starts(lines, find_sections(lines, PATTERNS), _ONCE)


def is_gls(text: str) -> bool:
    """Does the text hold a ``summary(gls)`` printout?"""
    return any(TITLE.match(ln.lstrip("#> ").strip()) for ln in text.splitlines())


def parse(text: str, software: str = "nlme", *, first_line: int = 1) -> ParsedPrintout:
    """Parse a ``summary(gls)`` printout (see the module docstring)."""
    lines = prepare(text, knitr=True, first_line=first_line)
    other = next((ln for ln in lines if _LME.match(ln.stripped)), None)
    if other is not None:
        raise ReferenceError_(
            f"the text holds an lme summary (line {other.no}) beside a gls summary",
            line=other.no,
            hint="paste the gls and the lme summaries in separate files",
        )
    b = Builder(software)
    prev = ""
    rows: list[tuple[Line, str, list[Printed | None]]] = []
    residual_df: Printed | None = None
    sigma: tuple[Line, Printed] | None = None
    seen: dict[str, int] = {}
    for sec in find_sections(lines, PATTERNS):
        if sec.kind in _ONCE:
            check_one_summary(sec, seen)
        if sec.kind in _COUNTED:
            b.sections += 1
        if sec.kind == "title":
            _title(sec, b)
        elif sec.kind == "corr":
            correlation_block(sec, b)
        elif sec.kind == "matrix" and prev == "corr":
            general_block(sec, b)  # corSymm's " Correlation:" matrix right after its structure's title
        elif sec.kind == "varfunc":
            variance_block(sec, b)
        elif sec.kind == "coef":
            rows = _coefficients(sec, b)
        elif sec.kind == "sigma":
            v = parse_number(sec.match.group("v"))
            if v is None:
                b.skip(sec.title, "the residual standard error is not a number")
            else:
                sigma = (sec.title, v)
        elif sec.kind == "dof":
            n, r = parse_number(sec.match.group("n")), parse_number(sec.match.group("r"))
            if n is None or r is None:
                b.skip(sec.title, "expected 'Degrees of freedom: N total; n residual'")
            else:
                b.add_fit("nobs", n)
                residual_df = r
        prev = sec.kind if sec.kind != "matrix" or prev != "corr" else "general"
    for ln, term, vals in rows:
        est, se, t, p = vals
        b.add_fixed(ln, term, {"estimate": est, "se": se, "df": residual_df, "t": t, "p": p})
    residual_info(b)
    if sigma is not None:
        if "nlme_variance" in b.info:
            b.add_cell("Residual standard error", "sigma", "value", sigma[1])
            b.note(
                "with a variance function nlme's residual standard error is the first stratum's SD: "
                "kept in tables, not fit.sigma"
            )
        else:
            b.add_fit("sigma", sigma[1])
    return b.build("nlme gls", EXPECTED)


# (correlation structure, with a varIdent over the same visits?) -> SAS's TYPE= (README's table of structures)
_TYPES = {
    ("ar(1)", False): "AR(1)",
    ("ar(1)", True): "ARH(1)",
    ("compound symmetry", False): "CS",
    ("compound symmetry", True): "CSH",
    ("general", True): "UN",
}
_FORM = re.compile(r"^~\s*([A-Za-z_.][A-Za-z0-9_.]*|1)\s*\|\s*([A-Za-z_.][A-Za-z0-9_.]*)\s*$")


def residual_info(b: Builder) -> None:
    """``model_info["residual"]`` (SAS's REPEATED as a case's ``model.residual``) for the structures with a SAS
    TYPE= (README's table): the visit and subject from ``Formula: ~idx | Subject``, a varIdent over the same visit."""
    corr, var = b.info.get("nlme_correlation"), b.info.get("nlme_variance")
    if not corr:
        return
    m = _FORM.match(str(corr.get("formula", "")))
    hetero = bool(var)
    if var:
        v = re.match(r"^~\s*1\s*\|\s*([A-Za-z_.][A-Za-z0-9_.]*)\s*$", str(var.get("formula", "")))
        stratified = "different standard deviations per stratum" in str(var.get("structure", "")).lower()
        if not (v and m and stratified and v.group(1) == m.group(1)):
            return
    sas_type = _TYPES.get((str(corr["structure"]).lower(), hetero))
    if m and sas_type:
        residual = {"type": sas_type, "subject": m.group(2)}
        if m.group(1) != "1":  # ~ 1 | Subject: the rows' order within the subject, no named visit
            residual["repeated"] = m.group(1)
        b.set_info("residual", residual)


def _title(sec: Section, b: Builder) -> None:
    t = sec.title.stripped
    b.set_info("title", t)
    b.set_info(
        "method", "REML" if re.search(r"fit by REML", t) else "ML" if re.search(r"maximum likelihood", t) else None
    )
    header: list[str] | None = None
    for ln in sec.body:
        s = ln.stripped
        m = re.match(r"^(Model|Data|Subset):\s*(.*)$", s)
        if m:
            b.set_info("formula" if m.group(1) == "Model" else m.group(1).lower(), m.group(2).strip())
            continue
        if not s:
            continue
        toks = s.split()
        if "AIC" in toks and "logLik" in toks:
            header = toks
            continue
        vals = tokens(s)
        if header is None or len(vals) != len(header) or not all(is_cell(v) for v in vals):
            b.skip(ln, f"expected {len(header or [])} numbers under {' '.join(header or ['AIC BIC logLik'])}")
            header = None
            continue
        for name, cell in zip(header, cells(vals)):
            key = {"AIC": "aic", "BIC": "bic", "logLik": "loglik"}.get(name)
            if key:
                b.add_fit(key, cell)
            b.add_cell("Fit Statistics", name, "value", cell)
        header = None


def _pairs(body: list[Line], b: Builder, what: str, numeric_names: bool = False) -> list[tuple[str, Printed]]:
    """(name, value) from lines of names each over a line of as many numbers (nlme's named vectors; a variance
    function's strata may be named by numbers)."""
    out: list[tuple[str, Printed]] = []
    names: tuple[Line, list[str]] | None = None
    for ln in body:
        s = ln.stripped
        if not s:
            continue
        toks = tokens(s)
        if names is None:
            if all(is_cell(t) for t in toks) and not numeric_names:
                b.skip(ln, f"numbers without the names of the {what} above them")
                continue
            names = (ln, toks)
            continue
        if len(toks) != len(names[1]) or not all(is_cell(t) for t in toks):
            b.skip(names[0], f"expected a line of {len(names[1])} numbers under these {what} names")
            b.skip(ln, f"expected {len(names[1])} numbers ({' '.join(names[1])})")
            names = None
            continue
        for name, v in zip(names[1], cells(toks)):
            if v is not None:
                out.append((name, v))
        names = None
    if names is not None:
        b.skip(names[0], f"{what} names without their numbers")
    return out


def _split_block(sec: Section, b: Builder, keys: tuple[str, ...]) -> tuple[dict[str, str], list[Line]]:
    """The ``Structure:``/``Formula:`` lines of a block, and the lines after ``Parameter estimate(s):``."""
    said: dict[str, str] = {}
    rest: list[Line] = []
    started = False
    for ln in sec.body:
        s = ln.stripped
        if started:
            rest.append(ln)
            continue
        m = re.match(r"^(\w+):\s*(.*?)\s*$", s)
        if m and m.group(1) in keys:
            said[m.group(1).lower()] = m.group(2)
        elif re.match(r"^Parameter estimates?(?:\(s\))?:\s*$", s):
            started = True
        elif s:
            b.skip(ln, f"not part of the '{sec.title.stripped}' block")
    return said, rest


def correlation_block(sec: Section, b: Builder) -> None:
    said, rest = _split_block(sec, b, ("Formula",))
    b.set_info("nlme_correlation", {"structure": sec.match.group("name"), **said})
    if sec.match.group("name").lower() == "general":
        for ln in rest:
            if ln.stripped:
                b.skip(ln, "a General correlation structure prints its matrix under ' Correlation:'")
        return
    for name, v in _pairs(rest, b, "correlation parameter"):
        if name in b.extra.get("covparms", {}):
            b.skip(sec.title, f"correlation parameter {name!r} printed twice")
            continue
        b.extra.setdefault("covparms", {})[name] = {"estimate": v}
        b.add_cell("Correlation Structure", name, "estimate", v)


def general_block(sec: Section, b: Builder) -> None:
    """corSymm's lower triangle: a row of column numbers, then rows ``i  r(i,1) .. r(i,i-1)``."""
    columns: list[str] | None = None
    for ln in sec.body:
        toks = ln.stripped.split()
        if not toks:
            continue
        if columns is None:
            columns = toks
            continue
        label, vals = toks[:1], toks[1:]
        if not vals or len(vals) > len(columns) or not all(is_cell(v) for v in vals):
            b.skip(ln, "expected a row number and its correlations with the earlier visits")
            continue
        for col, v in zip(columns, cells(vals)):
            b.add_cell("Correlation Structure", f"{label[0]},{col}", "corr", v)


def variance_block(sec: Section, b: Builder) -> None:
    said, rest = _split_block(sec, b, ("Structure", "Formula"))
    b.set_info("nlme_variance", said or {"structure": "printed"})
    for name, v in _pairs(rest, b, "stratum", numeric_names=True):
        b.add_cell("Variance function", name, "ratio", v)


def _coefficients(sec: Section, b: Builder) -> list[tuple[Line, str, list[Printed | None]]]:
    rest = iter(sec.body)
    header = find_header(rest, b, _coef_header, "Value Std.Error t-value p-value")
    if header is None:
        return []
    out = []
    for ln, labels, vals in coefficient_rows(rest, b, width=4, columns=" ".join(header), split=_split):
        out.append((ln, " ".join(labels), cells(vals)))
    return out


def _coef_header(text: str) -> list[str] | None:
    toks = text.split()
    return toks if toks == ["Value", "Std.Error", "t-value", "p-value"] else None


def _split(text: str) -> tuple[list[str], list[str]]:
    return split_label(tokens(text))
